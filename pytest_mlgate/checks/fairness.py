"""Fairness gates on fairlearn's MetricFrame: per-group metrics, parity, equalized odds, intervals.

Point estimates come from :class:`fairlearn.metrics.MetricFrame`. Bootstrap intervals of the
confusion-count metrics (selection rate, TPR, FPR, precision, accuracy, F1...) resample the joint
cells (group x truth x prediction of every model) with one multinomial draw per resample, which is
the row bootstrap in distribution but never touches the rows; other metrics (ROC AUC, custom) fall
back to a row bootstrap whose index draws are shared by every group and model.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, TOO_SMALL, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.metrics import Metric, resolve
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

# name -> (numerator, denominator) as functions of the confusion counts, and why it can be undefined.
_COUNTS: dict[str, tuple[Callable[..., Any], Callable[..., Any], str]] = {
    "selection_rate": (lambda tp, fp, fn, tn: tp + fp, lambda tp, fp, fn, tn: tp + fp + fn + tn, "no rows"),
    "true_positive_rate": (lambda tp, fp, fn, tn: tp, lambda tp, fp, fn, tn: tp + fn, "no positives"),
    "false_positive_rate": (lambda tp, fp, fn, tn: fp, lambda tp, fp, fn, tn: fp + tn, "no negatives"),
    "true_negative_rate": (lambda tp, fp, fn, tn: tn, lambda tp, fp, fn, tn: fp + tn, "no negatives"),
    "false_negative_rate": (lambda tp, fp, fn, tn: fn, lambda tp, fp, fn, tn: tp + fn, "no positives"),
    "precision": (lambda tp, fp, fn, tn: tp, lambda tp, fp, fn, tn: tp + fp, "no predicted positives"),
    "accuracy": (lambda tp, fp, fn, tn: tp + tn, lambda tp, fp, fn, tn: tp + fp + fn + tn, "no rows"),
    "f1": (lambda tp, fp, fn, tn: 2 * tp, lambda tp, fp, fn, tn: 2 * tp + fp + fn,
           "no positives and no predicted positives"),
}
ALIASES = {"tpr": "true_positive_rate", "recall": "true_positive_rate", "fpr": "false_positive_rate",
           "tnr": "true_negative_rate", "fnr": "false_negative_rate"}
MEASURES = ("ratio", "difference", "equalized_odds", "equal_opportunity")


def canonical(metric: str) -> str:
    """The metric's canonical name (``tpr`` and ``recall`` are ``true_positive_rate``)."""
    return ALIASES.get(metric, metric)


def _frame_metric(name: str) -> Callable[..., float]:
    """The function MetricFrame evaluates per group, on 0/1 truth and predictions with row weights."""
    import sklearn.metrics as skm
    from fairlearn import metrics as flm

    return {
        "selection_rate": lambda y, p, sample_weight=None: flm.selection_rate(
            y, p, pos_label=1, sample_weight=sample_weight),
        "true_positive_rate": lambda y, p, sample_weight=None: flm.true_positive_rate(
            y, p, pos_label=1, sample_weight=sample_weight),
        "false_positive_rate": lambda y, p, sample_weight=None: flm.false_positive_rate(
            y, p, pos_label=1, sample_weight=sample_weight),
        "true_negative_rate": lambda y, p, sample_weight=None: flm.true_negative_rate(
            y, p, pos_label=1, sample_weight=sample_weight),
        "false_negative_rate": lambda y, p, sample_weight=None: flm.false_negative_rate(
            y, p, pos_label=1, sample_weight=sample_weight),
        "precision": lambda y, p, sample_weight=None: skm.precision_score(
            y, p, pos_label=1, zero_division=0, sample_weight=sample_weight),
        "accuracy": lambda y, p, sample_weight=None: skm.accuracy_score(y, p, sample_weight=sample_weight),
        "f1": lambda y, p, sample_weight=None: skm.f1_score(
            y, p, pos_label=1, zero_division=0, sample_weight=sample_weight),
    }[name]


def cell_frame(own: np.ndarray, grp: Groups, names: Sequence[str]) -> Any:
    """MetricFrame over the confusion cells ``own[group, truth, pred]`` weighted by their counts.

    Exactly the per-row MetricFrame for these metrics, at the cost of a few dozen weighted rows.
    """
    import pandas as pd
    from fairlearn.metrics import MetricFrame

    g, truth, pred = np.nonzero(own)
    weight = own[g, truth, pred].astype(float)
    keys = [key if isinstance(key, tuple) else (key,) for key in grp.keys]
    sensitive = pd.DataFrame({c: [keys[code][i] for code in g] for i, c in enumerate(grp.columns)})
    return MetricFrame(metrics={n: _frame_metric(n) for n in names}, y_true=truth, y_pred=pred,
                       sensitive_features=sensitive, sample_params={n: {"sample_weight": weight} for n in names})


@dataclass
class Groups:
    """Row-to-group codes for one or several (intersectional) sensitive columns."""

    columns: list[str]
    codes: np.ndarray
    keys: list[Any]      # MetricFrame's by_group index entries, in code order
    labels: list[str]
    frame: Any           # the sensitive columns as a DataFrame of strings, for MetricFrame

    @property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=len(self.labels))

    @property
    def title(self) -> str:
        return "&".join(self.columns)


def groups(data: Dataset, sensitive: str | Sequence[str]) -> Groups:
    """Intersectional groups of the ``sensitive`` column(s) of ``data`` (a missing column is an error)."""
    import pandas as pd

    columns = [sensitive] if isinstance(sensitive, str) else list(sensitive)
    if not columns:
        raise MlgateError("fairness: no sensitive column given and [tool.mlgate] sensitive is empty")
    frame = pd.DataFrame({c: data.column(c) for c in columns})
    missing = int(frame.isna().any(axis=1).sum())
    if missing:
        raise MlgateError(f"dataset '{data.name}': sensitive column(s) {', '.join(columns)} have "
                          f"{missing} missing values")
    frame = frame.astype(str)
    codes = frame.groupby(columns, sort=True).ngroup().to_numpy(dtype=np.int64)
    first = np.unique(codes, return_index=True)[1]
    tuples = list(frame.iloc[first].itertuples(index=False, name=None))
    keys = tuples if len(columns) > 1 else [t[0] for t in tuples]
    labels = [", ".join(f"{c}={v}" for c, v in zip(columns, key)) for key in tuples]
    return Groups(columns, codes, keys, labels, frame)


@dataclass
class GroupMetric:
    """One metric per group for one model: point values, bootstrap draws, why some are undefined."""

    name: str
    values: np.ndarray          # (groups,), NaN where undefined
    draws: np.ndarray           # (n_boot, groups)
    undefined: str = ""         # why a NaN value is not testable


@dataclass
class Evaluation:
    """Per-group metrics of one or two models (candidate first) on the same bootstrap resamples."""

    groups: Groups
    metrics: list[dict[str, GroupMetric]] = field(default_factory=list)


def _counted(truth: np.ndarray, preds: list[np.ndarray], grp: Groups, names: list[str], n_boot: int,
             rng: np.random.Generator) -> list[dict[str, GroupMetric]]:
    """Rate metrics per group and model: values from the cell MetricFrame, draws from the cell bootstrap."""
    n_groups, n_models = len(grp.labels), len(preds)
    cell = grp.codes * 2 + truth
    for pred in preds:
        cell = cell * 2 + pred
    shape = (n_groups, 2) + (2,) * n_models
    counts = np.bincount(cell, minlength=int(np.prod(shape)))
    draws = rng.multinomial(len(truth), counts / len(truth), size=n_boot).reshape((n_boot, *shape))
    out = []
    for m in range(n_models):
        own = _own_cells(counts.reshape(shape), m, n_models)
        by_group = cell_frame(own, grp, names).by_group.loc[grp.keys]
        point_cells = _per_model(counts.reshape(shape), m, n_models)
        boot_cells = _per_model(draws, m, n_models)
        per = {}
        for name in names:
            num, den, why = _COUNTS[name]
            defined = den(*point_cells) > 0
            values = np.where(defined, by_group[name].to_numpy(dtype=float), np.nan)
            top, bottom = num(*boot_cells), den(*boot_cells)
            boot = np.divide(top, bottom, out=np.full(top.shape, np.nan), where=bottom > 0)
            per[name] = GroupMetric(name, values, boot, why)
        out.append(per)
    return out


def _own_cells(cells: np.ndarray, model: int, n_models: int) -> np.ndarray:
    """One model's ``[..., group, truth, pred]`` counts from joint cells ``[..., group, truth, pred_1...]``."""
    lead = cells.ndim - 2 - n_models
    others = tuple(lead + 2 + k for k in range(n_models) if k != model)
    return cells.sum(axis=others) if others else cells


def _per_model(cells: np.ndarray, model: int, n_models: int) -> tuple[np.ndarray, ...]:
    """``(tp, fp, fn, tn)`` per group of one model from joint cells ``[..., group, truth, pred_1...]``."""
    own = _own_cells(cells, model, n_models)
    tn, fp, fn, tp = own[..., 0, 0], own[..., 0, 1], own[..., 1, 0], own[..., 1, 1]
    return tp.astype(float), fp.astype(float), fn.astype(float), tn.astype(float)


def _resampled(spec: Metric, y: np.ndarray, outputs: Sequence[np.ndarray], grp: Groups, pos_label: Any,
               classes: np.ndarray | None, n_boot: int, rng: np.random.Generator) -> list[GroupMetric]:
    """Any metric: MetricFrame point values, row bootstrap with one index draw shared by all models."""
    from fairlearn.metrics import MetricFrame

    def safe(yy: np.ndarray, out: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. ROC AUC of a group with one class: undefined, not 0.5
            try:
                return spec(yy, out, pos_label=pos_label, classes=classes)
            except (ValueError, Warning):
                return float("nan")

    y = np.asarray(y)
    n_groups = len(grp.labels)
    members = [np.flatnonzero(grp.codes == g) for g in range(n_groups)]
    sizes = np.array([len(m) for m in members])
    # A row bootstrap is a multinomial number of rows per group, then uniform draws inside each group.
    per_group_n = rng.multinomial(len(y), sizes / len(y), size=n_boot)
    boots = [np.full((n_boot, n_groups), np.nan) for _ in outputs]
    for b in range(n_boot):
        for g in range(n_groups):
            if per_group_n[b, g]:
                idx = members[g][rng.integers(0, sizes[g], per_group_n[b, g])]
                for boot, out in zip(boots, outputs):
                    boot[b, g] = safe(y[idx], out[idx])
    result = []
    for boot, out in zip(boots, outputs):
        frame = MetricFrame(metrics={spec.name: safe}, y_true=y, y_pred=out, sensitive_features=grp.frame)
        values = frame.by_group.loc[grp.keys, spec.name].to_numpy(dtype=float)
        result.append(GroupMetric(spec.name, values, boot, "metric undefined in group (one class only?)"))
    return result


# ---------------------------------------------------------------- disparity measures


def _spread(values: np.ndarray, kind: str) -> np.ndarray:
    """``ratio`` (min / max) or ``difference`` (max - min) along the last axis, ignoring NaN."""
    with np.errstate(all="ignore"):
        valid = ~np.isnan(values)
        enough = valid.sum(axis=-1) >= 2
        low = np.where(valid, values, np.inf).min(axis=-1)
        high = np.where(valid, values, -np.inf).max(axis=-1)
        if kind == "ratio":
            result = np.where(high > 0, low / np.where(high > 0, high, 1), 1.0)
        else:
            result = high - low
    return np.where(enough, result, np.nan)


def disparity(metrics: dict[str, GroupMetric], measure: str, metric: str, judged: np.ndarray
              ) -> tuple[float, np.ndarray]:
    """A disparity measure over the judged groups: its value and its bootstrap draws."""
    def masked(name: str, draws: bool) -> np.ndarray:
        gm = metrics[name]
        source = gm.draws if draws else gm.values
        return np.where(judged & ~np.isnan(gm.values), source, np.nan)

    if measure in ("ratio", "difference"):
        return float(_spread(masked(metric, False), measure)), _spread(masked(metric, True), measure)
    if measure == "equal_opportunity":
        name = "true_positive_rate"
        return float(_spread(masked(name, False), "difference")), _spread(masked(name, True), "difference")
    tpr, fpr = ("true_positive_rate", "false_positive_rate")
    point = max(_spread(masked(tpr, False), "difference"), _spread(masked(fpr, False), "difference"))
    draws = np.fmax(_spread(masked(tpr, True), "difference"), _spread(masked(fpr, True), "difference"))
    return float(point), draws


def _needed(measure: str, metric: str) -> list[str]:
    if measure == "equalized_odds":
        return ["true_positive_rate", "false_positive_rate"]
    if measure == "equal_opportunity":
        return ["true_positive_rate"]
    return [metric]


def _percentiles(draws: np.ndarray, confidence: float) -> tuple[float, float] | None:
    draws = draws[~np.isnan(draws)]
    if not len(draws):
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{value:.4g}"


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
    grp = groups(data, sensitive)
    counted = [canonical(n) for n in names if canonical(n) in _COUNTS]
    others = [n for n in names if canonical(n) not in _COUNTS]
    if len(others) > 1:
        raise MlgateError(f"fairness: one non-rate metric at a time, got {others}")
    custom = resolve(others[0]) if others else None
    ev = Evaluation(grp, [{} for _ in models])
    rng, y, first = np.random.default_rng(seed), data.y, models[0]
    if counted:
        truth = (np.asarray(y) == first.pos_label).astype(np.int8)
        preds = [(np.asarray(_labels_output(None, m, data)) == first.pos_label).astype(np.int8) for m in models]
        for mine, got in zip(ev.metrics, _counted(truth, preds, grp, counted, n_boot, rng)):
            mine.update(got)
    if custom is not None:
        outs = [_labels_output(custom, m, data) for m in models]
        for mine, got in zip(ev.metrics, _resampled(custom, y, outs, grp, first.pos_label, first.classes,
                                                    n_boot, rng)):
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
            ci = _percentiles(gm.draws[:, g], confidence)
            row[name] = None if np.isnan(value) else float(value)
            row[f"{name}_ci"] = list(ci) if ci else None
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
        + [n for m, _, _ in measures for n in _needed(m, metric)]))
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
    names = _needed(measure, metric)
    spread = "; ".join(filter(None, (f"{n}: " + _extremes(ev.metrics[0][n], judged, ev.groups.labels)
                                     for n in names)))
    ci = _percentiles(draws, confidence)
    ci_text = f", {confidence:.0%} CI [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""
    verb = ("is below" if direction == ">=" else "exceeds") if not passed else \
        ("is at least" if direction == ">=" else "is within")
    message = f"{name} {value:.4g} {verb} {limit:g}{ci_text} ({spread})"
    return Check(name, PASSED if passed else FAILED, metric=label, dataset=dataset, candidate=value,
                 threshold=f"{direction} {limit:g}", ci=ci, message=message, kind="fairness",
                 details={**base, "measure": measure})


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
        ci = _percentiles(gm.draws[:, g], confidence)
        name = f"{metric}[{label}]"
        message = f"{name} {value:.4g} {'meets' if low_ok and high_ok else 'violates'} {threshold} " \
                  f"(group of {int(ev.groups.sizes[g])} rows)"
        checks.append(Check(name, PASSED if low_ok and high_ok else FAILED, metric=metric, dataset=dataset,
                            candidate=value, threshold=threshold, ci=ci, message=message, kind="fairness",
                            details={**base, "group": label, "measure": "group_bound"}))
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
    names = _needed(measure, metric)
    ev = measure_groups(data, [candidate, baseline], sensitive, names, n_boot=n_boot, seed=seed)
    judged, checks = _group_status(ev, names, min_size, _group_label(names), data.name)
    for g in np.flatnonzero(judged):  # a group must be testable for both models
        if any(np.isnan(ev.metrics[1][n].values[g]) for n in names):
            judged[g] = False
    (cand, c_draws), (base, b_draws) = (disparity(ev.metrics[i], measure, metric, judged) for i in (0, 1))
    if np.isnan(cand) or np.isnan(base):
        return [*checks, Check(name, NOT_APPLICABLE, metric=label, dataset=data.name, kind="fairness",
                               message=f"{name}: fewer than 2 groups large enough and testable")]
    # "worse" is a lower ratio or a larger difference.
    sign = -1.0 if measure == "ratio" else 1.0
    worse, worse_draws = sign * (cand - base) + 0.0, sign * (c_draws - b_draws) + 0.0  # no "-0"
    ci = _percentiles(worse_draws, confidence)
    passed = worse <= margin
    ci_text = f", {confidence:.0%} CI of the worsening [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""
    message = (f"{name}: candidate {cand:.4g} vs baseline {base:.4g}, worse by {worse:.4g} "
               f"({'within' if passed else 'more than'} the allowed {margin:g}){ci_text}")
    table = [{**c, **{f"baseline_{k}": v for k, v in b.items() if k not in ("group", "rows")}}
             for c, b in zip(_table(ev, 0, names, min_size, confidence), _table(ev, 1, names, min_size, confidence))]
    checks.append(Check(name, PASSED if passed else FAILED, metric=label, dataset=data.name, candidate=cand,
                        baseline=base, delta=cand - base, threshold=f"worse by <= {margin:g}", ci=ci,
                        message=message, kind="fairness",
                        details={"sensitive": ev.groups.columns, "measure": measure, "worsening": worse,
                                 "table": table, "min_size": min_size, "resamples": n_boot}))
    return checks


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
