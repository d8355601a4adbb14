"""Metric values and confidence intervals read off folded statistics instead of rows.

Exact where the statistic is exact: label metrics from confusion cells (scikit-learn with the cell
counts as sample weights gives the per-row value), mean losses and R^2 from moments, confusion
intervals from the same multinomial bootstrap of the same cells (same seed, same draws), average
precision, RMSE and R^2 intervals from the same Poisson bootstrap replicates. ROC AUC
and average precision are computed on scores binned to ``1/BINS``; for ROC AUC the error is at
most ``ScoreHistogram.auc_bound()`` (reported with the check). The DeLong interval of a paired
AUC difference takes its variance from a ``JOINT_BINS`` x ``JOINT_BINS`` histogram of both
models' scores (DeLong, DeLong and Clarke-Pearson 1988, on binned scores). A multi-class ROC AUC
is the mean of the one-vs-rest AUCs on each class's bins (scikit-learn's ``multi_class="ovr"``
macro average), within the mean of the classes' bounds; its interval comes from one-vs-rest
Poisson bootstrap replicates, the same in memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.fold import Group, Grouping, Statistics
from pytest_mlgate.evaluate.metrics import BUILTIN, Metric
from pytest_mlgate.evaluate.needs import METRICS, MULTICLASS, metrics_from
from pytest_mlgate.evaluate.poisson import replicate_interval
from pytest_mlgate.evaluate.statistics import Counts

FROM_CELLS, FROM_BINS, FROM_MOMENTS = (metrics_from(s) for s in ("cells", "bins", "moments"))
FROM_CLASS_BINS = metrics_from("class bins", MULTICLASS)
STREAMED_METRICS = tuple(METRICS)


def unsupported(spec: Metric, data: Any, what: str = "metric") -> MlgateError:
    return MlgateError(f"{what} '{spec.name}' on dataset '{data.name}': not available from streamed statistics "
                       f"({len(data)} rows, engine {data.engine_name}); streamed metrics: "
                       f"{', '.join(STREAMED_METRICS)} (raise memory_budget to evaluate it in memory)")


def folded(spec: Metric) -> bool:
    """Whether ``spec`` is a built-in metric read off folded statistics (else: on the sample)."""
    return spec.name in METRICS and BUILTIN.get(spec.name) is spec


def group_of(stats: Statistics, grouping: Grouping, key: Any) -> Group:
    groups = stats.groups.get(grouping, {})
    return groups[key] if key in groups else Group()


def metric_value(spec: Metric, group: Group, stats: Statistics, model: Any, data: Any) -> float:
    """``spec`` of ``model`` on the rows of ``group``."""
    role = model.role
    if spec.name in FROM_CELLS and stats.kinds.get(role) != "value":
        y, pred, weight = _cells_of(group.cells, stats.labels.index(role))
        return _call(spec, y, pred, weight, model, data)
    if spec.name in FROM_BINS and role in group.scores:
        positive, bins, weight = group.scores[role].cells()
        return _binned(spec.name, positive, bins, weight, model, data)
    if spec.name in FROM_CLASS_BINS and role in group.class_scores:
        hists = group.class_scores[role]
        if hists.unknown:
            raise MlgateError(f"{spec.name} on model '{role}', dataset '{data.name}': {hists.unknown} rows have a "
                              f"target that is not one of the model's classes {np.asarray(model.classes).tolist()}")
        return float(np.mean([_binned(spec.name, *hists.histogram(k).cells(), model, data)
                              for k in range(len(hists.counts))]))
    if spec.name in FROM_MOMENTS:
        return _from_moments(spec, group, role, model, data)
    raise unsupported(spec, data)


def auc_bound(group: Group, role: str) -> float | None:
    """Largest possible error of the binned ROC AUC of ``role`` on ``group`` (multi-class: of the
    macro average, the mean of the classes' bounds)."""
    found = group.scores.get(role) or group.class_scores.get(role)
    return None if found is None else found.auc_bound()


def _cells_of(cells: Counts, position: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    columns, counts = cells.arrays()
    if not columns:
        return np.array([]), np.array([]), np.array([])
    return _native(columns[0]), _native(columns[1 + position]), counts.astype(float)


def _native(values: np.ndarray) -> np.ndarray:
    """Object arrays of plain scalars back to a numeric array when they are numbers."""
    try:
        return np.asarray(values.tolist())
    except (TypeError, ValueError):
        return values


def _call(spec: Metric, y: np.ndarray, out: np.ndarray, weight: np.ndarray, model: Any, data: Any) -> float:
    if not len(y):
        raise MlgateError(f"{spec.name} on model '{model.role}', dataset '{data.name}': no rows")
    try:
        return spec(y, out, pos_label=model.pos_label, classes=model.classes, sample_weight=weight)
    except ValueError as exc:
        raise MlgateError(f"{spec.name} on model '{model.role}', dataset '{data.name}': {exc}") from None


def _binned(name: str, positive: np.ndarray, bins: np.ndarray, weight: np.ndarray, model: Any, data: Any) -> float:
    import sklearn.metrics as skm

    fn = skm.roc_auc_score if name == "roc_auc" else skm.average_precision_score
    try:
        return float(fn(positive, bins, sample_weight=weight))
    except ValueError as exc:
        raise MlgateError(f"{name} on model '{model.role}', dataset '{data.name}': {exc}") from None


def _from_moments(spec: Metric, group: Group, role: str, model: Any, data: Any) -> float:
    loss = "mse" if spec.name in ("rmse", "r2") else spec.name
    moments = group.losses.get((loss, role))
    if moments is None or not moments.n:
        raise unsupported(spec, data)
    if spec.name == "rmse":
        return float(moments.mean ** 0.5)
    if spec.name == "r2":
        total = group.target.m2
        return 1.0 - moments.mean * moments.n / total if total else float("nan")
    return float(moments.mean)


# ---------------------------------------------------------------- intervals


def interval(spec: Metric, group: Group, stats: Statistics, models: list[Any], data: Any, *,
             confidence: float, n_boot: int, seed: int) -> tuple[float, float, str]:
    """CI of one model's metric, or of the paired difference of two, from ``group``'s statistics:
    the same methods as :func:`pytest_mlgate.evaluate.stats.interval` on rows."""
    from pytest_mlgate.evaluate import stats as rowstats

    roles = [m.role for m in models]
    if spec.pairing == "confusion" and all(stats.kinds.get(r) != "value" for r in roles):
        counts, labels = _cell_array(group.cells, [stats.labels.index(r) for r in roles])
        rng = np.random.default_rng(seed)
        low, high = rowstats.confusion_from_counts(spec.name, counts, labels, len(roles), models[0].pos_label,
                                                   confidence, n_boot, rng)
        return low, high, "confusion bootstrap"
    if spec.pairing == "mean" and spec.row_loss is not None:
        moments = group.diffs.get(spec.name) if len(roles) == 2 else group.losses.get((spec.name, roles[0]))
        if moments is not None and moments.n > 1:
            return (*rowstats.normal_from_moments(moments.mean, moments.variance(1) ** 0.5, moments.n,
                                                  confidence), "paired normal")
    if spec.pairing == "delong" and all(r in group.scores for r in roles):
        return (*delong(group, roles, confidence), "DeLong (binned scores)")
    if spec.pairing == "delong" and all(("class scores", r, "0") in group.replicates for r in roles):
        return (*replicate_interval(spec.name, group.replicates, roles, confidence), "Poisson bootstrap")
    if spec.pairing == "poisson" and group.replicates:
        return (*replicate_interval(spec.name, group.replicates, roles, confidence), "Poisson bootstrap")
    raise unsupported(spec, data, "interval of")


def _cell_array(cells: Counts, positions: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Cells marginalised to (y, outputs at ``positions``...) as the flat count array that
    ``stats.confusion_from_counts`` expects, with the sorted labels."""
    columns, counts = cells.arrays()
    picked = [_native(columns[0])] + [_native(columns[1 + p]) for p in positions]
    import pandas as pd

    codes, labels = pd.factorize(np.concatenate(picked), sort=True)
    k = len(labels)
    codes = codes.reshape(len(picked), -1)
    cell = codes[0]
    for row in codes[1:]:
        cell = cell * k + row
    return np.bincount(cell, weights=counts, minlength=k ** len(picked)).astype(np.int64), np.asarray(labels)


def delong(group: Group, roles: list[str], confidence: float) -> tuple[float, float]:
    """DeLong's interval for one AUC or a paired difference, from score histograms."""
    from scipy import stats

    if len(roles) == 1:
        neg, pos = group.scores[roles[0]].counts.astype(float)
        m, n = pos.sum(), neg.sum()
        v10, v01 = _components(neg, pos)
        estimate = float(pos @ v10 / m) if m else float("nan")
        variance = _cov(v10[:, None], v10[:, None], pos[:, None]) / m + _cov(v01[:, None], v01[:, None],
                                                                             neg[:, None]) / n
    else:
        neg2, pos2 = group.joint.counts.astype(float)
        m, n = pos2.sum(), neg2.sum()
        first = _components(neg2.sum(axis=1), pos2.sum(axis=1))
        second = _components(neg2.sum(axis=0), pos2.sum(axis=0))
        grids10 = (first[0][:, None], second[0][None, :])
        grids01 = (first[1][:, None], second[1][None, :])
        cov = [[_cov(grids10[i], grids10[j], pos2) / m + _cov(grids01[i], grids01[j], neg2) / n
                for j in range(2)] for i in range(2)]
        variance = cov[0][0] + cov[1][1] - 2 * cov[0][1]
        fine = []
        for role in roles:
            negf, posf = group.scores[role].counts.astype(float)
            fine.append(float(posf @ _components(negf, posf)[0] / m))
        estimate = fine[0] - fine[1]
    if m < 2 or n < 2:
        return float("nan"), float("nan")
    half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(max(variance, 0.0))
    return float(estimate - half), float(estimate + half)


def _components(neg: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components per score bin: for a positive, the share of negatives it
    beats; for a negative, the share of positives that beat it (ties in a bin count half)."""
    m, n = pos.sum(), neg.sum()
    v10 = (np.cumsum(neg) - neg / 2) / n if n else np.zeros_like(neg)
    v01 = (pos.sum() - np.cumsum(pos) + pos / 2) / m if m else np.zeros_like(pos)
    return v10, v01


def _cov(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> float:
    """Weighted sample covariance of per-cell values ``a`` and ``b`` (broadcast to ``weight``)."""
    total = weight.sum()
    if total < 2:
        return 0.0
    ma, mb = (weight * a).sum() / total, (weight * b).sum() / total
    return float((weight * (a - ma) * (b - mb)).sum() / (total - 1))
