"""The monitor stage's anytime-valid checks: live and estimated metrics, the production score mean.

Each helper turns one run's figure into a :class:`~pytest_mlgate.monitoring.anytime.Statistic`
(oriented so that higher is better, with the reference level and its one-off lower bound) and
folds it into its sequence; :func:`record_sequence` adds the audit entry when a new production
model started fresh sequences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_mlgate.decision import Check
from pytest_mlgate.evaluate.metrics import Metric
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
from pytest_mlgate.evaluate.stats import interval
from pytest_mlgate.monitoring.anytime import (
    MonitorOptions,
    Statistic,
    alpha_parts,
    sequential_check,
)
from pytest_mlgate.monitoring.estimate import Estimated

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings


def window_of(data: Dataset) -> tuple[float | None, float | None, str | None]:
    """(first, last) logged time of a prediction-log window, else the data file's hash as its identity."""
    if "timestamp" in data.frame.columns and len(data.frame):
        stamps = data.frame["timestamp"]
        return stamps.min().timestamp(), stamps.max().timestamp(), None
    return None, None, data.artifact.sha256 if data.artifact else None


def _reference_low(spec: Metric, model: ModelUnderTest, reference: Dataset, alpha: float,
                   settings: Settings) -> tuple[float, float]:
    """The reference's value and its one-sided lower bound at ``alpha`` (higher-is-better units)."""
    value = model.metric(spec, reference, observe=False)
    low, high, _ = interval(spec, reference.y, [model.output(reference, spec.needs)], pos_label=model.pos_label,
                            classes=model.classes, confidence=1 - 2 * alpha, n_boot=settings.bootstrap,
                            seed=settings.seed)
    return (value, low) if spec.greater_is_better else (-value, -high)


def live_statistic(spec: Metric, model: ModelUnderTest, reference: Dataset, window: Dataset, check: Check,
                   settings: Settings) -> tuple[Statistic, float]:
    """The live metric of a ``concept_drift`` check on the labelled rows, as a statistic."""
    from scipy.stats import norm

    alpha = MonitorOptions.from_settings(settings).alpha
    seq_alpha, ref_alpha = alpha_parts(alpha, 1)
    low, high = check.ci
    se = max((high - low) / (2 * norm.ppf(0.5 + settings.confidence / 2)), 1e-9)
    sign = 1 if spec.greater_is_better else -1
    reference_value, reference_low = _reference_low(spec, model, reference, ref_alpha, settings)
    stat = Statistic(f"live[{spec.name}]", sign * check.candidate, se, reference_value, reference_low,
                     check.details["allowed_drop"], window_of(window),
                     {"rows": check.details["rows"], "low": low, "high": high})
    return stat, seq_alpha


def estimate_statistic(spec: Metric, model: ModelUnderTest, reference: Dataset, window: Dataset,
                       found: Estimated, settings: Settings, *, min_value: float | None,
                       allowed: float | None) -> tuple[Statistic, float]:
    """An estimated metric as a statistic: its label-sampling error is new on every window; the
    calibration's error is shared by all, so it widens the floor once instead (a one-off bound)."""
    from scipy.stats import norm

    alpha = MonitorOptions.from_settings(settings).alpha
    est, sign = found.estimate, 1 if spec.greater_is_better else -1
    if allowed is None:  # a floor only: the level is the floor itself, nothing sampled on the reference
        seq_alpha, part = alpha_parts(alpha, 1)
        reference_value = reference_low = sign * float(min_value)
        margin = 0.0
    else:
        seq_alpha, part = alpha_parts(alpha, 2)
        reference_value, reference_low = _reference_low(spec, model, reference, part, settings)
        margin = allowed
    margin += norm.ppf(1 - part) * est.calibration_se
    extra: dict[str, Any] = {"low": est.low, "high": est.high, "rows": est.rows, "realized": found.realized,
                             "realized_rows": found.realized_rows}
    stat = Statistic(f"estimated[{spec.name}]", sign * est.value, max(est.sampling_se, 1e-9), reference_value,
                     reference_low, margin, window_of(window), extra)
    return stat, seq_alpha


def score_mean_statistics(model: ModelUnderTest, reference: Dataset, window: Dataset, settings: Settings,
                          max_shift: float) -> tuple[list[Statistic], float]:
    """The production score's mean on the window, as two one-sided statistics (it may neither rise
    nor fall by more than ``max_shift`` beyond the reference mean's bound)."""
    from scipy.stats import norm

    alpha = MonitorOptions.from_settings(settings).alpha
    seq_alpha, part = alpha_parts(alpha / 2, 1)  # two directions, half of alpha each
    ref, cur = np.asarray(model.score(reference), float), np.asarray(model.score(window), float)
    if ref.ndim != 1:
        return [], seq_alpha
    ref_se = ref.std(ddof=1) / np.sqrt(len(ref))
    se = max(cur.std(ddof=1) / np.sqrt(len(cur)), 1e-9)
    bound = norm.ppf(1 - part) * ref_se
    stats = []
    for sign, name in ((1, "score_mean_fall"), (-1, "score_mean_rise")):
        stats.append(Statistic(f"drift[{name}]", sign * cur.mean(), se, sign * ref.mean(),
                               sign * ref.mean() - bound, max_shift, window_of(window), {"rows": len(cur)}))
    return stats, seq_alpha


def record_sequence(settings: Settings, model: ModelUnderTest, found: tuple[Statistic, float],
                    dataset: str, gate: str) -> Check:
    """Fold a statistic into the gate's sequence of it; the first run after a production change
    audits the reset."""
    stat, alpha = found
    production = model.sha256 or "unknown"
    check, reset_from = sequential_check(settings, production, stat, dataset=dataset, alpha=alpha, key=gate,
                                         label=f"{stat.name} on model '{model.role}'")
    if reset_from is not None:
        from pytest_mlgate.lifecycle.audit import open_log

        open_log(settings).append("monitor-reset", {
            "from": reset_from, "to": production, "statistic": stat.name,
            "reason": "production model changed (promotion or rollback): anytime-valid sequences start afresh"},
            model=settings.model)
    return check
