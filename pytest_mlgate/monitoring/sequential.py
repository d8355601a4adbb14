"""Anytime-valid monitoring: confidence sequences over the runs of a monitoring job.

Every monitoring run adds one observation per statistic: the value on a new window and its
standard error. With approximately Gaussian, independent observations ``x_t ~ N(mu_t, se_t^2)``,
``S = sum (x_t - mu_t) / se_t^2`` is a martingale with variance process ``V = sum 1 / se_t^2``,
and the one-sided normal-mixture boundary of Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform,
nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2), 2021 (eq. 14),

    S - mu V <= sqrt(2 (V + rho) log(sqrt((V + rho) / rho) / (2 alpha) + 1)),

holds at every run at once with probability at least ``1 - alpha`` (Ville's inequality; the same
mixture martingale as the mixture SPRT of Johari, Pekelis & Walsh, "Always valid inference",
KDD 2017). So the upper bound it gives for the precision-weighted mean level may be looked at after
every run, however often, and an alarm raised the first time it falls below the allowed level
keeps the false-alarm probability over the whole horizon at ``alpha``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def rho_for(looks: float, alpha: float) -> float:
    """The mixture's ``rho`` that makes the boundary tightest after ``looks`` observations of unit
    precision (Howard et al. 2021, section 3.5)."""
    log_term = -2 * math.log(alpha)
    return looks / (log_term + math.log(1 + log_term))


def radius(v: float, rho: float, alpha: float) -> float:
    """The one-sided normal-mixture boundary on ``S`` at variance process ``v``."""
    return math.sqrt(2 * (v + rho) * math.log(math.sqrt((v + rho) / rho) / (2 * alpha) + 1))


@dataclass(frozen=True)
class Sequence:
    """Running sums of one statistic's observations: ``s = sum x / se^2``, ``v = sum 1 / se^2``."""

    looks: int = 0
    s: float = 0.0
    v: float = 0.0

    def add(self, value: float, se: float) -> Sequence:
        weight = 1.0 / max(se, 1e-12) ** 2
        return Sequence(self.looks + 1, self.s + value * weight, self.v + weight)

    @property
    def mean(self) -> float:
        return self.s / self.v if self.v else math.nan

    def upper(self, alpha: float, rho: float) -> float:
        """Upper confidence bound of the weighted mean level, valid at every look at once."""
        return self.mean + radius(self.v, rho, alpha) / self.v if self.v else math.inf

    def lower(self, alpha: float, rho: float) -> float:
        """Lower confidence bound of the weighted mean level, valid at every look at once."""
        return self.mean - radius(self.v, rho, alpha) / self.v if self.v else -math.inf


def sequence_of(observations: list[tuple[float, float]]) -> Sequence:
    """The sequence of ``(value, se)`` observations, in order."""
    seq = Sequence()
    for value, se in observations:
        seq = seq.add(value, se)
    return seq


def rho_scaled(looks: float, alpha: float, se: float) -> float:
    """``rho`` in the units of observations whose standard error is about ``se``."""
    return rho_for(looks, alpha) / max(se, 1e-12) ** 2
