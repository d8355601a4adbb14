"""Anytime-valid evidence for the monitor stage: fold a run's statistic into its sequence and judge.

A gate in the monitor stage hands over its statistic on this run's window (a live metric, an
estimated metric, a score mean) with its standard error and the reference level it must hold. The
observation joins the statistic's confidence sequence (:mod:`.sequential`) in the state file
(:mod:`.state`); the check fails only when the sequence's bound, valid over every run at once,
shows the level fell further than allowed (:func:`~.sequential.change_evidence`). ``[tool.mlgate.monitor] alpha`` is the probability of
such a failure, over the whole life of a production model, while nothing changed; it is split
between the sequence and the one-off bounds it is compared with (the reference's own sampling
error, the calibration of an estimate), so their union stays at ``alpha`` (Bonferroni).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.decision import FAILED, PASSED, Check
from pytest_mlgate.errors import ConfigError
from pytest_mlgate.monitoring.sequential import change_evidence, rho_scaled, sequence_of
from pytest_mlgate.monitoring.state import Observation, StateStore

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings

KIND = "sequential"
TABLE_RUNS = 60  # runs listed (and charted) per sequential check


@dataclass(frozen=True)
class MonitorOptions:
    """``[tool.mlgate.monitor]``: alpha, state file, the look count the boundary is tuned for, and
    what automatic rollback acts on (``evidence``: only failing anytime-valid checks; ``any``)."""

    alpha: float = 0.05
    state: str | None = None
    tune_looks: int = 7
    rollback_on: str = "evidence"

    @classmethod
    def from_settings(cls, settings: Settings) -> MonitorOptions:
        table = settings.section("monitor")
        unknown = sorted(set(table) - {"alpha", "state", "tune_looks", "rollback_on", "on_alert"})
        if unknown:
            raise ConfigError(f"mlgate config: [tool.mlgate.monitor] unknown key(s) {unknown} "
                              "(known: alpha, state, tune_looks, rollback_on, on_alert)")
        alpha, looks = table.get("alpha", cls.alpha), table.get("tune_looks", cls.tune_looks)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5:
            raise ConfigError(f"mlgate config: [tool.mlgate.monitor] alpha must be a number in (0, 0.5), got {alpha!r}")
        if isinstance(looks, bool) or not isinstance(looks, int) or not 1 <= looks <= 10_000:
            raise ConfigError(f"mlgate config: [tool.mlgate.monitor] tune_looks must be an integer in [1, 10000], "
                              f"got {looks!r}")
        state, rollback_on = table.get("state"), table.get("rollback_on", cls.rollback_on)
        if state is not None and (not isinstance(state, str) or not state.strip()):
            raise ConfigError(f"mlgate config: [tool.mlgate.monitor] state must be a file path, got {state!r}")
        if rollback_on not in ("evidence", "any"):
            raise ConfigError(f"mlgate config: [tool.mlgate.monitor] rollback_on must be evidence or any, "
                              f"got {rollback_on!r}")
        return cls(float(alpha), state, looks, rollback_on)

    def state_path(self, settings: Settings) -> Path:
        """The state file: ``state``, else ``monitor-state.sqlite`` beside the audit log."""
        return settings.path(self.state) if self.state else settings.path(settings.audit).with_name(
            "monitor-state.sqlite")


@dataclass(frozen=True)
class Statistic:
    """One run's statistic, oriented so that higher is better (negate a loss), with its reference.

    ``floor_margin`` is what the level may fall below ``reference_low`` before it counts: the
    allowed drop plus any shared error bound (an estimate's calibration)."""

    name: str
    value: float
    se: float
    reference: float
    reference_low: float
    floor_margin: float
    window: tuple[float | None, float | None, str | None]
    extra: dict[str, Any]


def alpha_parts(alpha: float, one_offs: int) -> tuple[float, float]:
    """(the sequence's share, each one-off bound's share): half to the sequence, half split."""
    return (alpha / 2, alpha / 2 / one_offs) if one_offs else (alpha, 0.0)


def sequential_check(settings: Settings, production: str, stat: Statistic, *, dataset: str,
                     alpha: float, label: str, key: str = "") -> tuple[Check, str | None]:
    """Fold ``stat`` into its sequence and judge it; returns the check and the replaced production
    sha256 when this run started fresh sequences (a promotion or rollback happened)."""
    options = MonitorOptions.from_settings(settings)
    store = StateStore(options.state_path(settings))
    obs = Observation(stat.value, stat.se, *stat.window, rho=rho_scaled(options.tune_looks, alpha, stat.se),
                      extra={"reference": stat.reference, **stat.extra})
    folded = store.fold(settings.model or "model", production, f"{key}::{stat.name}", obs)
    pairs = [(o.value, o.se) for o in folded.history]
    seq, rho = sequence_of(pairs), folded.history[0].rho
    floor = stat.reference_low - stat.floor_margin
    shown = range(max(1, len(pairs) - TABLE_RUNS + 1), len(pairs) + 1)  # the report's last runs
    table = [{"look": folded.history[i - 1].look, "value": pairs[i - 1][0], "se": pairs[i - 1][1],
              "mean": sequence_of(pairs[:i]).mean, "upper": sequence_of(pairs[:i]).upper(alpha, rho),
              "floor": floor, "evidence": change_evidence(pairs[:i], floor, rho), "boundary": 1 / alpha,
              **_extra(folded.history[i - 1].extra)} for i in shown]
    evidence = table[-1]["evidence"] if table else 0.0
    passed = evidence < 1 / alpha
    note = "" if folded.folded else f"; this run's window was not folded: {folded.reason}"
    message = (f"{label}: evidence {evidence:.3g} {'<' if passed else '>='} {1 / alpha:g} that the level fell "
               f"below {floor:.4g} (reference {stat.reference:.4g}, its lower bound {stat.reference_low:.4g}, "
               f"minus {stat.floor_margin:.4g} allowed) over {seq.looks} window(s); mean {seq.mean:.4g}, "
               f"anytime-valid upper bound {seq.upper(alpha, rho):.4g}; false-alarm probability over all runs "
               f"<= {options.alpha:g}{note}")
    flat = stat.name.replace("[", " ").replace("]", "")  # a row name without nested brackets
    check = Check(f"sequential[{flat}]", PASSED if passed else FAILED, metric=stat.name, dataset=dataset,
                  candidate=seq.mean, baseline=stat.reference, delta=seq.mean - stat.reference,
                  threshold=f"evidence < {1 / alpha:g}", ci=(seq.lower(alpha, rho), seq.upper(alpha, rho)),
                  message=message, kind=KIND,
                  details={"anytime_valid": True, "alpha": options.alpha, "looks": seq.looks, "evidence": evidence,
                           "folded": folded.folded, "not_folded_because": folded.reason, "floor": floor,
                           "production": production, "table": table})
    return check, folded.reset_from


def _extra(extra: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extra.items() if k in ("realized", "realized_rows", "low", "high", "window_end")}
