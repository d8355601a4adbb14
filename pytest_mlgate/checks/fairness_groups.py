"""Per-group metrics for fairness gates: groups, fairlearn MetricFrame point values, bootstrap draws, disparity measures.

Point estimates come from :class:`fairlearn.metrics.MetricFrame`. Bootstrap intervals of the
confusion-count metrics (selection rate, TPR, FPR, precision, accuracy, F1...) resample the joint
cells (group x truth x prediction of every model) with one multinomial draw per resample, which is
the row bootstrap in distribution but never touches the rows; built-in score and loss metrics (ROC
AUC, average precision, log loss, Brier) take the Poisson bootstrap of
:mod:`pytest_mlgate.checks.fairness_scores`; other metrics fall back to a row bootstrap whose index
draws are shared by every group and model.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.metrics import Metric
from pytest_mlgate.evaluate.models import Dataset

# name -> (numerator, denominator) as functions of the confusion counts, and why it can be undefined.
COUNTS: dict[str, tuple[Callable[..., Any], Callable[..., Any], str]] = {
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
UNDEFINED = "metric undefined in group (one class only?)"


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
    counts: np.ndarray | None = None  # rows per group, when there are no row codes (streamed data)

    @property
    def sizes(self) -> np.ndarray:
        if self.counts is not None:
            return self.counts
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
    bounds: np.ndarray | None = None  # (groups,) largest error of a binned value (streamed ROC AUC)


@dataclass
class Evaluation:
    """Per-group metrics of one or two models (candidate first) on the same bootstrap resamples."""

    groups: Groups
    metrics: list[dict[str, GroupMetric]] = field(default_factory=list)
    sampled: tuple[int, int] | None = None  # (rows used, rows in the dataset) when judged on a sample


def count_draws(truth: np.ndarray, preds: list[np.ndarray], grp: Groups, names: list[str], n_boot: int,
             rng: np.random.Generator) -> list[dict[str, GroupMetric]]:
    """Rate metrics per group and model: values from the cell MetricFrame, draws from the cell bootstrap."""
    n_groups, n_models = len(grp.labels), len(preds)
    cell = grp.codes * 2 + truth
    for pred in preds:
        cell = cell * 2 + pred
    shape = (n_groups, 2) + (2,) * n_models
    counts = np.bincount(cell, minlength=int(np.prod(shape)))
    return cell_draws(counts, grp, n_models, names, n_boot, rng)


def cell_draws(counts: np.ndarray, grp: Groups, n_models: int, names: list[str], n_boot: int,
               rng: np.random.Generator) -> list[dict[str, GroupMetric]]:
    """Rate metrics per group and model from the flat joint cells (group x truth x each model's
    prediction), whether counted from rows or folded from chunks."""
    shape = (len(grp.labels), 2) + (2,) * n_models
    total = int(counts.sum())
    draws = rng.multinomial(total, counts / total, size=n_boot).reshape((n_boot, *shape))
    out = []
    for m in range(n_models):
        own = _own_cells(counts.reshape(shape), m, n_models)
        by_group = cell_frame(own, grp, names).by_group.loc[grp.keys]
        point_cells = _per_model(counts.reshape(shape), m, n_models)
        boot_cells = _per_model(draws, m, n_models)
        per = {}
        for name in names:
            num, den, why = COUNTS[name]
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


def safe_metric(spec: Metric, pos_label: Any, classes: np.ndarray | None) -> Callable[[np.ndarray, np.ndarray], float]:
    """``spec`` as MetricFrame calls it, NaN where it is undefined (not a warning, not an error)."""
    def safe(yy: np.ndarray, out: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. ROC AUC of a group with one class: undefined, not 0.5
            try:
                return spec(yy, out, pos_label=pos_label, classes=classes)
            except (ValueError, Warning):
                return float("nan")
    return safe


def frame_values(spec: Metric, y: np.ndarray, out: np.ndarray, grp: Groups, pos_label: Any,
                 classes: np.ndarray | None) -> np.ndarray:
    """Per-group values of ``spec`` from a row-level fairlearn MetricFrame, in group code order."""
    from fairlearn.metrics import MetricFrame

    frame = MetricFrame(metrics={spec.name: safe_metric(spec, pos_label, classes)}, y_true=y, y_pred=out,
                        sensitive_features=grp.frame)
    return frame.by_group.loc[grp.keys, spec.name].to_numpy(dtype=float)


def row_draws(spec: Metric, y: np.ndarray, outputs: Sequence[np.ndarray], grp: Groups, pos_label: Any,
               classes: np.ndarray | None, n_boot: int, rng: np.random.Generator) -> list[GroupMetric]:
    """Any metric: MetricFrame point values, row bootstrap with one index draw shared by all models."""
    safe = safe_metric(spec, pos_label, classes)
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
    return [GroupMetric(spec.name, frame_values(spec, y, out, grp, pos_label, classes), boot, UNDEFINED)
            for boot, out in zip(boots, outputs)]


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


def needed_metrics(measure: str, metric: str) -> list[str]:
    if measure == "equalized_odds":
        return ["true_positive_rate", "false_positive_rate"]
    if measure == "equal_opportunity":
        return ["true_positive_rate"]
    return [metric]


def percentiles(draws: np.ndarray, confidence: float) -> tuple[float, float] | None:
    draws = draws[~np.isnan(draws)]
    if not len(draws):
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def fmt_value(value: float | None) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{value:.4g}"
