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



def log_mixture(s: float, v: float, rho: float) -> float:
    """Log of the one-sided normal-mixture martingale ``int_0^inf exp(l S - l^2 V / 2) dF(l)`` with
    F half-normal of variance ``1 / rho``: ``2 / sqrt(1 + V / rho) exp(S^2 / (2 (V + rho)))
    Phi(S / sqrt(V + rho))``. Under a level at or above the one tested it is a nonnegative
    supermartingale starting at 1 (the mixture SPRT of Johari et al. 2017, one-sided)."""
    total = v + rho
    x = s / math.sqrt(total)
    if x < -30:  # Phi(x) < 1e-197: no evidence at all (and erfc would underflow)
        return -500.0
    return math.log(2) - 0.5 * math.log(total / rho) + s * s / (2 * total) + math.log(0.5 * math.erfc(-x / math.sqrt(2)))


def change_evidence(observations: list[tuple[float, float]], floor: float, rho: float) -> float:
    """An e-process against "the level stayed at or above ``floor``" that also finds a fall which
    began after many good runs: the mixture martingale started at every run ``k``, weighted
    ``1 / (k (k + 1))`` (weights summing to 1; runs not yet started count as 1). A weighted mean of
    test supermartingales is one, so by Ville's inequality it reaches ``1 / alpha`` with probability
    at most ``alpha`` over the whole horizon (cf. Shin, Ramdas & Rinaldo, "E-detectors", 2023)."""
    t = len(observations)
    total = 1.0 / (t + 1)
    s = v = 0.0
    for k in range(t, 0, -1):  # the sequence started at run k: sums over runs k..t
        value, se = observations[k - 1]
        w = 1.0 / max(se, 1e-12) ** 2
        s, v = s + (floor - value) * w, v + w
        total += math.exp(min(log_mixture(s, v, rho), 700.0)) / (k * (k + 1))
    return total


def alarm(observations: list[tuple[float, float]], *, alpha: float, rho: float, floor: float) -> bool:
    """Whether the runs so far are evidence, valid however often anyone looked, that the level fell
    below ``floor`` at some point: the change e-process reached ``1 / alpha``."""
    return change_evidence(observations, floor, rho) >= 1 / alpha
