"""Calibration: expected calibration error and the reliability part of the Brier score.

Both come from the same binned reliability table (``sklearn.calibration.calibration_curve``'s
uniform bins): ECE is the row-weighted mean |observed rate - mean predicted probability| over the
bins (Naeini et al. 2015), the reliability term of Murphy's (1973) Brier decomposition the weighted
mean of its square. Binary models are judged on the positive-class probability, multiclass models
on the top-label confidence against being right. Intervals are row-bootstrap percentiles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

BINS = 10
MEASURES = ("ece", "reliability")


def forecasts(model: ModelUnderTest, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(probability, outcome 0/1) per row: the positive class's probability and whether the row is
    positive, or for several classes the top-label confidence and whether the top label is right."""
    if not model.is_classifier:
        raise MlgateError(f"calibration: model '{model.role}' is not a classifier with predict_proba")
    proba = np.asarray(model.predict_proba(data), dtype=float)
    y = np.asarray(data.y)
    if proba.shape[1] == 2:
        return model.score(data).astype(float), (y == model.pos_label).astype(float)
    return proba.max(axis=1), (model.classes[proba.argmax(axis=1)] == y).astype(float)


def reliability_table(prob: np.ndarray, hit: np.ndarray, bins: int = BINS) -> list[dict[str, float]]:
    """Per non-empty uniform bin: its edges, rows, mean predicted probability and observed rate."""
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(hit, prob, n_bins=bins, strategy="uniform")
    edges = np.linspace(0, 1, bins + 1)
    counts = np.bincount(np.clip(np.searchsorted(edges[1:-1], prob, side="right"), 0, bins - 1), minlength=bins)
    return [{"low": float(edges[i]), "high": float(edges[i + 1]), "rows": int(counts[i]),
             "predicted": float(p), "observed": float(o)}
            for i, p, o in zip(np.flatnonzero(counts), predicted, observed)]


def measures(prob: np.ndarray, hit: np.ndarray, bins: int = BINS) -> dict[str, float]:
    """ECE and the Brier reliability term of one set of forecasts, from the same bins as
    :func:`reliability_table` (counted directly: this runs once per bootstrap resample)."""
    at = np.clip(np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], prob, side="right"), 0, bins - 1)
    rows = np.bincount(at, minlength=bins)
    gaps = (np.bincount(at, hit, bins) - np.bincount(at, prob, bins)) / np.maximum(rows, 1)
    weights = rows / len(prob)
    return {"ece": float(weights @ np.abs(gaps)), "reliability": float(weights @ gaps ** 2)}


def bootstrap(pairs: list[tuple[np.ndarray, np.ndarray]], measure: str, confidence: float, n_boot: int,
              seed: int, bins: int = BINS) -> tuple[float, float]:
    """Percentile interval of ``measure`` (one model) or of its paired difference (two models)."""
    rng, n = np.random.default_rng(seed), len(pairs[0][0])
    draws = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        values = [measures(p[idx], h[idx], bins)[measure] for p, h in pairs]
        draws[b] = values[0] - values[1] if len(values) == 2 else values[0]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def calibration(data: Dataset, candidate: ModelUnderTest, baseline: ModelUnderTest | None, *,
                measure: str = "ece", max_value: float | None = 0.05, max_increase: float | None = 0.02,
                bins: int = BINS, confidence: float = 0.95, n_boot: int = 1000, seed: int = 0) -> list[Check]:
    """The candidate's ``measure`` at most ``max_value``, and at most ``max_increase`` above the
    baseline's on the same rows (not applicable without a baseline); ``None`` leaves a check out."""
    if measure not in MEASURES:
        raise MlgateError(f"calibration: measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    if max_value is None and max_increase is None:
        raise MlgateError("calibration: give max_value and/or max_increase")
    mine = forecasts(candidate, data)
    value = measures(*mine, bins)[measure]
    details: dict[str, Any] = {"rows": len(data), "bins": bins, "measure": measure,
                               "reliability_table": reliability_table(*mine, bins)}
    checks = []
    if max_value is not None:
        ci = bootstrap([mine], measure, confidence, n_boot, seed, bins)
        passed = value <= max_value
        checks.append(Check(f"calibration {measure}", PASSED if passed else FAILED, metric=measure, dataset=data.name,
                            candidate=value, threshold=f"<= {max_value:g}", ci=ci, kind="calibration",
                            message=f"calibration {measure} {value:.4g} {'<=' if passed else '>'} {max_value:g} "
                                    f"({confidence:.0%} CI [{ci[0]:.4g}, {ci[1]:.4g}], {len(data)} rows)",
                            details=dict(details)))
    if max_increase is not None:
        checks.append(_versus(data, mine, baseline, measure, value, max_increase, details,
                              confidence, n_boot, seed, bins))
    return checks


def _versus(data: Dataset, mine: tuple[np.ndarray, np.ndarray], baseline: ModelUnderTest | None, measure: str,
            value: float, max_increase: float, details: dict[str, Any], confidence: float, n_boot: int, seed: int,
            bins: int) -> Check:
    name = f"calibration {measure} vs baseline"
    if baseline is None:
        return Check(name, NOT_APPLICABLE, metric=measure, dataset=data.name, kind="calibration",
                     message=f"{name}: no baseline configured, regression not applicable")
    theirs = forecasts(baseline, data)
    base = measures(*theirs, bins)[measure]
    ci = bootstrap([mine, theirs], measure, confidence, n_boot, seed, bins)
    rise, passed = value - base, value - base <= max_increase
    verb = "rose (worse)" if rise > 0 else "dropped (better)"
    return Check(name, PASSED if passed else FAILED, metric=measure, dataset=data.name, candidate=value,
                 baseline=base, delta=rise, threshold=f"rise <= {max_increase:g}", ci=ci, kind="calibration",
                 message=f"{name}: {verb} {abs(rise):.4g} from baseline {base:.4g} to {value:.4g}; allowed rise "
                         f"<= {max_increase:g}; {confidence:.0%} CI of delta [{ci[0]:.4g}, {ci[1]:.4g}]",
                 details={**details, "baseline_reliability_table": reliability_table(*theirs, bins)})


class CalibrationGates(Recorder):
    """``mlgate.calibration``."""

    def calibration(self, dataset: str | Dataset = "holdout", *, measure: str = "ece",
                    max_value: float | None = 0.05, max_increase: float | None = 0.02,
                    bins: int = BINS) -> list[Check]:
        """Calibration of the candidate's probabilities: ``measure`` (``ece`` or ``reliability``, the
        Brier score's reliability part) at most ``max_value`` and not more than ``max_increase``
        above the baseline's, with bootstrap intervals; a reliability diagram goes in the HTML report."""
        __tracebackhide__ = True
        s = self.settings
        candidate = self.model("candidate")
        if candidate is None:
            raise MlgateError("model 'candidate' is not configured")
        return self.record(*calibration(self.rows(dataset), candidate, self.model("baseline"), measure=measure,
                                        max_value=max_value, max_increase=max_increase, bins=bins,
                                        confidence=s.confidence, n_boot=s.bootstrap, seed=s.seed))
