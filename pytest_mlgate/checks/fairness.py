"""Fairness gates: per-group metrics within bounds, parity and equalized odds, candidate vs baseline.

The group metrics and their bootstrap draws come from :mod:`pytest_mlgate.checks.fairness_groups`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_mlgate.checks.fairness_groups import (
    COUNTS,
    MEASURES,
    Evaluation,
    GroupMetric,
    canonical,
    count_draws,
    disparity,
    fmt_value,
    groups,
    needed_metrics,
    percentiles,
    row_draws,
)
from pytest_mlgate.checks.fairness_scores import disparity_bound, memory_draws, replicated
from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, TOO_SMALL, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.metrics import Metric, resolve
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

# ---------------------------------------------------------------- checks


@dataclass(frozen=True)
class Criteria:
    """Thresholds of one fairness gate; ``None`` leaves a criterion out."""

    min_ratio: float | None = None
    max_difference: float | None = None
    min_value: float | None = None
    max_value: float | None = None
    max_equalized_odds: float | None = None
    max_equal_opportunity: float | None = None

    def measures(self) -> list[tuple[str, float, str]]:
        """``(measure, limit, direction)`` for every disparity criterion set."""
        found = [("ratio", self.min_ratio, ">="), ("difference", self.max_difference, "<="),
                 ("equalized_odds", self.max_equalized_odds, "<="),
                 ("equal_opportunity", self.max_equal_opportunity, "<=")]
        return [(m, float(v), d) for m, v, d in found if v is not None]

    def any(self) -> bool:
        return bool(self.measures()) or self.min_value is not None or self.max_value is not None


def _labels_output(spec: Metric | None, model: ModelUnderTest, data: Dataset) -> np.ndarray:
    if spec is None:
        if not model.is_classifier:
            raise MlgateError(f"fairness: model '{model.role}' is not a classifier; "
                              "group rates need predicted labels")
        return model.predict(data)
    return model.output(data, spec.needs)


def measure_groups(data: Dataset, models: Sequence[ModelUnderTest], sensitive: str | Sequence[str],
                   names: Sequence[str], *, n_boot: int, seed: int) -> Evaluation:
    """Evaluate per-group metrics ``names`` for ``models`` (paired resamples when several)."""
    counted = [canonical(n) for n in names if canonical(n) in COUNTS]
    others = [n for n in names if canonical(n) not in COUNTS]
    if len(others) > 1:
        raise MlgateError(f"fairness: one non-rate metric at a time, got {others}")
    if getattr(data, "streamed", False):
        from pytest_mlgate.checks.fairness_streamed import measure, needs_rows

        if not needs_rows(others, models):
            return measure(data, models, sensitive, counted, others, n_boot=n_boot, seed=seed)
        sample = data.sample_dataset()  # the seeded uniform sample, said so in the checks
        found = measure_groups(sample, models, sensitive, names, n_boot=n_boot, seed=seed)
        found.sampled = (len(sample), len(data))
        return found
    grp = groups(data, sensitive)
    custom = resolve(others[0]) if others else None
    ev = Evaluation(grp, [{} for _ in models])
    rng, y, first = np.random.default_rng(seed), data.y, models[0]
    if counted:
        truth = (np.asarray(y) == first.pos_label).astype(np.int8)
        preds = [(np.asarray(_labels_output(None, m, data)) == first.pos_label).astype(np.int8) for m in models]
        for mine, got in zip(ev.metrics, count_draws(truth, preds, grp, counted, n_boot, rng)):
            mine.update(got)
    if custom is not None:
        outs = [_labels_output(custom, m, data) for m in models]
        if replicated(custom, models):
            found = memory_draws(custom, y, outs, grp, first, n_boot, seed)
        else:
            found = row_draws(custom, y, outs, grp, first.pos_label, first.classes, n_boot, rng)
        for mine, got in zip(ev.metrics, found):
            mine[custom.name] = got
    return ev


def _table(ev: Evaluation, model: int, names: Sequence[str], min_size: int, confidence: float
           ) -> list[dict[str, Any]]:
    rows = []
    sizes = ev.groups.sizes
    for g, label in enumerate(ev.groups.labels):
        row: dict[str, Any] = {"group": label, "rows": int(sizes[g])}
        status = "too_small" if sizes[g] < min_size else "judged"
        for name in names:
            gm = ev.metrics[model][name]
            value = gm.values[g]
            ci = percentiles(gm.draws[:, g], confidence)
            row[name] = None if np.isnan(value) else float(value)
            row[f"{name}_ci"] = list(ci) if ci else None
            if gm.bounds is not None:
                row[f"{name}_error_bound"] = float(gm.bounds[g])
            if np.isnan(value) and status == "judged":
                status = f"not testable: {gm.undefined}"
        row["status"] = status
        rows.append(row)
    return rows


def _group_label(names: Sequence[str]) -> str:
    """How per-group checks are named: the metric, or "fairness" when a measure needs several."""
    return names[0] if len(names) == 1 else "fairness"


def _group_status(ev: Evaluation, names: Sequence[str], min_size: int, metric_label: str, dataset: str
                  ) -> tuple[np.ndarray, list[Check]]:
    """Which groups are judged, and a too-small / not-testable check for every other group."""
    sizes = ev.groups.sizes
    judged = sizes >= min_size
    checks = []
    for g, label in enumerate(ev.groups.labels):
        name = f"{metric_label}[{label}]"
        if not judged[g]:
            checks.append(Check(name, TOO_SMALL, metric=metric_label, dataset=dataset, kind="fairness",
                                message=f"{name}: group has {sizes[g]} rows < {min_size}, too small to judge",
                                details={"group": label, "rows": int(sizes[g]), "min_size": min_size}))
            continue
        undefined = [n for n in names if np.isnan(ev.metrics[0][n].values[g])]
        if undefined:
            why = ev.metrics[0][undefined[0]].undefined
            judged[g] = False
            checks.append(Check(name, NOT_APPLICABLE, metric=metric_label, dataset=dataset, kind="fairness",
                                message=f"{name}: {', '.join(undefined)} not testable ({why})",
                                details={"group": label, "rows": int(sizes[g]), "undefined": undefined}))
    return judged, checks


def _extremes(gm: GroupMetric, judged: np.ndarray, labels: list[str]) -> str:
    values = np.where(judged & ~np.isnan(gm.values), gm.values, np.nan)
    if np.isnan(values).all():
        return ""
    low, high = int(np.nanargmin(values)), int(np.nanargmax(values))
    return f"lowest {labels[low]} {values[low]:.4g}, highest {labels[high]} {values[high]:.4g}"


def fairness(data: Dataset, model: ModelUnderTest, sensitive: str | Sequence[str], metric: str,
             criteria: Criteria, *, min_size: int = 30, confidence: float = 0.95, n_boot: int = 1000,
             seed: int = 0) -> list[Check]:
    """Per-group ``metric`` of ``model`` and the disparity ``criteria`` over groups of ``sensitive``.

    Groups below ``min_size`` rows and groups where a metric is undefined (e.g. no positives for a
    true positive rate) are reported as too-small / not-testable checks and left out of the measures.
    """
    metric = canonical(metric)
    measures = criteria.measures()
    names = list(dict.fromkeys(
        ([metric] if criteria.min_value is not None or criteria.max_value is not None else [])
        + [n for m, _, _ in measures for n in needed_metrics(m, metric)]))
    ev = measure_groups(data, [model], sensitive, names, n_boot=n_boot, seed=seed)
    title = ev.groups.title
    judged, checks = _group_status(ev, names, min_size, _group_label(names), data.name)
    table = _table(ev, 0, names, min_size, confidence)
    base = {"sensitive": ev.groups.columns, "groups_judged": int(judged.sum()), "table": table,
            "min_size": min_size, "confidence": confidence, "resamples": n_boot}
    for measure, limit, direction in measures:
        checks.append(_measure_check(ev, measure, metric, limit, direction, judged, title, data.name,
                                     confidence, base))
    if criteria.min_value is not None or criteria.max_value is not None:
        checks.extend(_bound_checks(ev, metric, criteria, judged, title, data.name, confidence, base))
    return _note_sample(ev, checks)


def _note_sample(ev: Evaluation, checks: list[Check]) -> list[Check]:
    """Put the sample's size in every check judged on one (the recorder notes it in the message; the
    name stays the one history and the catalog know the check by)."""
    if ev.sampled is not None:
        used, total = ev.sampled
        for check in checks:
            check.details = {**check.details, "sampled_rows": used, "rows_total": total}
    return checks


def _measure_name(measure: str, metric: str) -> str:
    return {"ratio": f"{metric} ratio", "difference": f"{metric} difference",
            "equalized_odds": "equalized odds difference",
            "equal_opportunity": "equal opportunity difference"}[measure]


def _measure_check(ev: Evaluation, measure: str, metric: str, limit: float, direction: str, judged: np.ndarray,
                   title: str, dataset: str, confidence: float, base: dict[str, Any]) -> Check:
    label = _measure_name(measure, metric)
    name = f"{label}[{title}]"
    value, draws = disparity(ev.metrics[0], measure, metric, judged)
    if np.isnan(value):
        return Check(name, NOT_APPLICABLE, metric=label, dataset=dataset, threshold=f"{direction} {limit:g}",
                     kind="fairness", details=base,
                     message=f"{name}: fewer than 2 groups large enough and testable ({int(judged.sum())})")
    passed = value >= limit if direction == ">=" else value <= limit
    names = needed_metrics(measure, metric)
    spread = "; ".join(filter(None, (f"{n}: " + _extremes(ev.metrics[0][n], judged, ev.groups.labels)
                                     for n in names)))
    ci = percentiles(draws, confidence)
    ci_text = f", {confidence:.0%} CI [{fmt_value(ci[0])}, {fmt_value(ci[1])}]" if ci else ""
    verb = ("is below" if direction == ">=" else "exceeds") if not passed else \
        ("is at least" if direction == ">=" else "is within")
    message = f"{name} {value:.4g} {verb} {limit:g}{ci_text} ({spread})"
    bound = disparity_bound(ev.metrics[0][metric], judged, measure) if metric in ev.metrics[0] else None
    return Check(name, PASSED if passed else FAILED, metric=label, dataset=dataset, candidate=value,
                 threshold=f"{direction} {limit:g}", ci=ci, message=message, kind="fairness",
                 details={**base, "measure": measure, **({} if bound is None else {"error_bound": bound})})


def _bound_checks(ev: Evaluation, metric: str, criteria: Criteria, judged: np.ndarray, title: str, dataset: str,
                  confidence: float, base: dict[str, Any]) -> list[Check]:
    gm = ev.metrics[0][metric]
    checks = []
    for g, label in enumerate(ev.groups.labels):
        if not judged[g]:
            continue
        value = float(gm.values[g])
        low_ok = criteria.min_value is None or value >= criteria.min_value
        high_ok = criteria.max_value is None or value <= criteria.max_value
        limits = [f">= {criteria.min_value:g}" if criteria.min_value is not None else "",
                  f"<= {criteria.max_value:g}" if criteria.max_value is not None else ""]
        threshold = " and ".join(filter(None, limits))
        ci = percentiles(gm.draws[:, g], confidence)
        name = f"{metric}[{label}]"
        message = f"{name} {value:.4g} {'meets' if low_ok and high_ok else 'violates'} {threshold} " \
                  f"(group of {int(ev.groups.sizes[g])} rows)"
        bound = {} if gm.bounds is None else {"error_bound": float(gm.bounds[g])}
        checks.append(Check(name, PASSED if low_ok and high_ok else FAILED, metric=metric, dataset=dataset,
                            candidate=value, threshold=threshold, ci=ci, message=message, kind="fairness",
                            details={**base, "group": label, "measure": "group_bound", **bound}))
    return checks


def fairness_regression(data: Dataset, candidate: ModelUnderTest, baseline: ModelUnderTest | None,
                        sensitive: str | Sequence[str], metric: str, measure: str, margin: float, *,
                        min_size: int = 30, confidence: float = 0.95, n_boot: int = 1000,
                        seed: int = 0) -> list[Check]:
    """The candidate's disparity ``measure`` must not be worse than the baseline's by more than ``margin``."""
    metric = canonical(metric)
    if measure not in MEASURES:
        raise MlgateError(f"fairness_no_regression: measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    label = _measure_name(measure, metric)
    title = "&".join([sensitive] if isinstance(sensitive, str) else sensitive)
    name = f"{label} vs baseline[{title}]"
    if baseline is None:
        return [Check(name, NOT_APPLICABLE, metric=label, dataset=data.name, kind="fairness",
                      message=f"{name}: no baseline configured, regression not applicable")]
    names = needed_metrics(measure, metric)
    ev = measure_groups(data, [candidate, baseline], sensitive, names, n_boot=n_boot, seed=seed)
    judged, checks = _group_status(ev, names, min_size, _group_label(names), data.name)
    for g in np.flatnonzero(judged):  # a group must be testable for both models
        if any(np.isnan(ev.metrics[1][n].values[g]) for n in names):
            judged[g] = False
    (cand, c_draws), (base, b_draws) = (disparity(ev.metrics[i], measure, metric, judged) for i in (0, 1))
    if np.isnan(cand) or np.isnan(base):
        return _note_sample(ev, [*checks, Check(name, NOT_APPLICABLE, metric=label, dataset=data.name,
                                                kind="fairness",
                                                message=f"{name}: fewer than 2 groups large enough and testable")])
    # "worse" is a lower ratio or a larger difference.
    sign = -1.0 if measure == "ratio" else 1.0
    worse, worse_draws = sign * (cand - base) + 0.0, sign * (c_draws - b_draws) + 0.0  # no "-0"
    ci = percentiles(worse_draws, confidence)
    passed = worse <= margin
    ci_text = f", {confidence:.0%} CI of the worsening [{fmt_value(ci[0])}, {fmt_value(ci[1])}]" if ci else ""
    message = (f"{name}: candidate {cand:.4g} vs baseline {base:.4g}, worse by {worse:.4g} "
               f"({'within' if passed else 'more than'} the allowed {margin:g}){ci_text}")
    bounds = [disparity_bound(ev.metrics[i][metric], judged, measure) if metric in ev.metrics[i] else None
              for i in (0, 1)]
    bound = {} if None in bounds else {"error_bound": bounds[0] + bounds[1]}  # of each value and the worsening
    table = [{**c, **{f"baseline_{k}": v for k, v in b.items() if k not in ("group", "rows")}}
             for c, b in zip(_table(ev, 0, names, min_size, confidence), _table(ev, 1, names, min_size, confidence))]
    checks.append(Check(name, PASSED if passed else FAILED, metric=label, dataset=data.name, candidate=cand,
                        baseline=base, delta=cand - base, threshold=f"worse by <= {margin:g}", ci=ci,
                        message=message, kind="fairness",
                        details={"sensitive": ev.groups.columns, "measure": measure, "worsening": worse,
                                 "table": table, "min_size": min_size, "resamples": n_boot, **bound}))
    return _note_sample(ev, checks)


# ---------------------------------------------------------------- the mixin


class FairnessGates(Recorder):
    """``mlgate.fairness`` / ``mlgate.fairness_no_regression``."""

    def _sensitive(self, sensitive: str | Sequence[str] | None) -> list[str | Sequence[str]]:
        """A given column or list (one intersectional judgement), else each configured column alone."""
        if sensitive is not None:
            return [sensitive]
        if not self.settings.sensitive:
            raise MlgateError("fairness: no sensitive column given and [tool.mlgate] sensitive is empty")
        return list(self.settings.sensitive)

    def fairness(self, sensitive: str | Sequence[str] | None = None, metric: str = "selection_rate", *,
                 min_ratio: float | None = None, max_difference: float | None = None,
                 min_value: float | None = None, max_value: float | None = None,
                 max_equalized_odds: float | None = None, max_equal_opportunity: float | None = None,
                 dataset: str | Dataset = "holdout", model: str = "candidate", min_size: int | None = None,
                 confidence: float | None = None) -> list[Check]:
        """Group fairness of ``metric`` across ``sensitive`` groups (a list means intersectional groups).

        With no criterion given, the four-fifths rule applies (``min_ratio=0.8``). ``sensitive``
        defaults to each column of ``[tool.mlgate] sensitive`` judged separately.
        """
        __tracebackhide__ = True
        criteria = Criteria(min_ratio, max_difference, min_value, max_value, max_equalized_odds,
                            max_equal_opportunity)
        if not criteria.any():
            criteria = Criteria(min_ratio=0.8)
        subject = self.model(model)
        if subject is None:
            raise MlgateError(f"model '{model}' is not configured")
        s, data = self.settings, self.dataset(dataset)
        checks = []
        for columns in self._sensitive(sensitive):
            checks += fairness(data, subject, columns, metric, criteria, min_size=min_size or s.min_slice_size,
                               confidence=confidence or s.confidence, n_boot=s.bootstrap, seed=s.seed)
        return self.record(*checks)

    def fairness_no_regression(self, sensitive: str | Sequence[str] | None = None,
                               metric: str = "selection_rate", *, measure: str = "ratio", margin: float = 0.05,
                               dataset: str | Dataset = "holdout", min_size: int | None = None,
                               confidence: float | None = None) -> list[Check]:
        """The candidate's disparity (``ratio``, ``difference``, ``equalized_odds``, ``equal_opportunity``)
        must not be worse than the baseline's by more than ``margin``, on the same rows."""
        __tracebackhide__ = True
        s, data = self.settings, self.dataset(dataset)
        checks = []
        for columns in self._sensitive(sensitive):
            checks += fairness_regression(data, self.model("candidate"), self.model("baseline"), columns, metric,
                                          measure, margin, min_size=min_size or s.min_slice_size,
                                          confidence=confidence or s.confidence, n_boot=s.bootstrap, seed=s.seed)
        return self.record(*checks)
