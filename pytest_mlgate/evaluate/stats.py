"""Confidence intervals for a metric, or for the paired difference of two models' metric.

Each method stays cheap at a million rows: confusion-matrix metrics resample the joint confusion
cells (a multinomial bootstrap that never touches rows), mean losses use the normal interval of
per-row differences, ROC AUC uses DeLong's method, average precision, RMSE, R^2 and a multi-class
ROC AUC the Poisson bootstrap of :mod:`pytest_mlgate.evaluate.poisson` (the same replicates
streamed and distributed evaluation fold). Other metrics fall back to a row bootstrap.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from pytest_mlgate.evaluate.metrics import Metric
from pytest_mlgate.evaluate.poisson import fold_class_replicates, fold_replicates, replicate_interval


def interval(metric: Metric, y: np.ndarray, outputs: list[np.ndarray], *, pos_label: Any,
             classes: np.ndarray | None, confidence: float, n_boot: int,
             seed: int, rows: np.ndarray | None = None) -> tuple[float, float, str]:
    """CI of ``metric(outputs[0])`` (one output) or of ``metric(outputs[0]) - metric(outputs[1])``.

    ``rows``: the dataset positions of the rows given (default ``0..n-1``), which key the Poisson
    bootstrap's weights. Returns ``(low, high, method)``.
    """
    rng = np.random.default_rng(seed)
    if metric.pairing == "confusion":
        return (*_confusion(metric.name, y, outputs, pos_label, confidence, n_boot, rng), "confusion bootstrap")
    if metric.pairing == "mean" and metric.row_loss is not None:
        rows = [metric.row_loss(y, out, pos_label, classes) for out in outputs]
        return (*_normal(rows[0] - rows[1] if len(rows) == 2 else rows[0], confidence), "paired normal")
    if metric.pairing == "poisson" and all(np.ndim(out) == 1 for out in outputs):
        positions = np.arange(len(y)) if rows is None else rows
        found = fold_replicates(positions, np.asarray(y), {str(i): np.asarray(out) for i, out in enumerate(outputs)},
                             metric.needs, pos_label, n_boot, seed)
        return (*replicate_interval(metric.name, found, [str(i) for i in range(len(outputs))], confidence),
                "Poisson bootstrap")
    if metric.pairing == "delong" and outputs[0].ndim == 1:
        return (*_delong(np.asarray(y) == pos_label, outputs, confidence), "DeLong")
    if metric.pairing == "delong":  # multi-class probabilities: one-vs-rest replicate histograms
        return (*_class_poisson(y, outputs, classes, confidence, n_boot, seed, rows), "Poisson bootstrap")
    return (*_rows(metric, y, outputs, pos_label, classes, confidence, n_boot, rng), "row bootstrap")


def _class_poisson(y: np.ndarray, outputs: list[np.ndarray], classes: np.ndarray | None, confidence: float,
                   n_boot: int, seed: int, rows: np.ndarray | None) -> tuple[float, float]:
    """The Poisson bootstrap interval of a multi-class ROC AUC (macro average of one vs rest), or of
    a paired difference, from the replicates streamed and distributed evaluation fold."""
    y = np.asarray(y)
    labels = np.unique(y) if classes is None else np.asarray(classes)
    roles = [str(i) for i in range(len(outputs))]
    found = fold_class_replicates(np.arange(len(y)) if rows is None else rows, y, dict(zip(roles, outputs)),
                                  dict.fromkeys(roles, labels), n_boot, seed)
    return replicate_interval("roc_auc", found, roles, confidence)


def _normal(values: np.ndarray, confidence: float) -> tuple[float, float]:
    return normal_from_moments(float(np.mean(values)), float(np.std(values, ddof=1)), len(values), confidence)


def normal_from_moments(mean: float, sd: float, n: int, confidence: float) -> tuple[float, float]:
    """The normal interval of a mean from its moments (also folded over chunks)."""
    from scipy import stats

    half = stats.norm.ppf(0.5 + confidence / 2) * sd / np.sqrt(n)
    return mean - half, mean + half


def _percentiles(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def _confusion(name: str, y: np.ndarray, outputs: list[np.ndarray], pos_label: Any,
               confidence: float, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    n = len(y)
    import pandas as pd

    codes, labels = pd.factorize(np.concatenate([np.asarray(y), *map(np.asarray, outputs)]), sort=True)
    labels, k = np.asarray(labels), len(labels)
    codes = codes.reshape(len(outputs) + 1, n)
    cell = codes[0]
    for row in codes[1:]:
        cell = cell * k + row
    counts = np.bincount(cell, minlength=k ** (len(outputs) + 1))
    return confusion_from_counts(name, counts, labels, len(outputs), pos_label, confidence, n_boot, rng)


def confusion_from_counts(name: str, counts: np.ndarray, labels: np.ndarray, n_outputs: int, pos_label: Any,
                          confidence: float, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    """The confusion bootstrap from the flat joint cell counts (truth x each output over the
    sorted ``labels``): the same draws whether the counts came from rows or from folded chunks."""
    n, k = int(counts.sum()), len(labels)
    draws = rng.multinomial(n, counts / n, size=n_boot).reshape((n_boot, k) + (k,) * n_outputs)
    pos = int(np.searchsorted(labels, pos_label)) if pos_label in labels else None
    if n_outputs == 1:
        return _percentiles(_from_confusion(name, draws, pos), confidence)
    first, second = draws.sum(axis=3), draws.sum(axis=2)
    return _percentiles(_from_confusion(name, first, pos) - _from_confusion(name, second, pos), confidence)


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    return np.divide(top, bottom, out=np.zeros(np.broadcast(top, bottom).shape), where=bottom > 0)


def _from_confusion(name: str, cm: np.ndarray, pos: int | None) -> np.ndarray:
    """A metric for each of a stack of confusion matrices ``cm[b, true, predicted]``."""
    k = cm.shape[1]
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(float)
    support, predicted = cm.sum(axis=2), cm.sum(axis=1)
    if name == "accuracy":
        return tp.sum(axis=1) / cm.sum(axis=(1, 2))
    recall = _ratio(tp, support)
    if name == "balanced_accuracy":
        present = support > 0
        return (recall * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    per_class = {"recall": recall, "precision": _ratio(tp, predicted),
                 "f1": _ratio(2 * tp, support + predicted)}[name]
    if k <= 2:
        return per_class[:, pos] if pos is not None else np.zeros(len(cm))
    return per_class.mean(axis=1)


def _delong(positive: np.ndarray, outputs: list[np.ndarray], confidence: float) -> tuple[float, float]:
    """DeLong's interval for one AUC or the difference of two paired AUCs (Sun & Xu's algorithm)."""
    from scipy import stats

    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        return float("nan"), float("nan")
    v01, v10, aucs = [], [], []
    for score in outputs:
        pos, neg = score[positive], score[~positive]
        pos_order, neg_order = np.argsort(pos, kind="stable"), np.argsort(neg, kind="stable")
        pos_sorted, neg_sorted = pos[pos_order], neg[neg_order]
        # structural components, kept in row order (paired across models): the share of the other
        # class each score beats, ties counting half
        v01.append(_beaten(neg_sorted, pos_sorted, pos_order) / n)
        v10.append(1.0 - _beaten(pos_sorted, neg_sorted, neg_order) / m)
        aucs.append(float(np.mean(v01[-1])))
    cov = np.atleast_2d(np.cov(np.array(v01))) / m + np.atleast_2d(np.cov(np.array(v10))) / n
    if len(outputs) == 1:
        estimate, variance = aucs[0], cov[0, 0]
    else:
        estimate, variance = aucs[0] - aucs[1], cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    half = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(max(variance, 0.0))
    return float(estimate - half), float(estimate + half)


def _beaten(others: np.ndarray, scores: np.ndarray, order: np.ndarray) -> np.ndarray:
    """For each of the sorted ``scores``, how many sorted ``others`` lie below it (ties count
    half), returned in the rows' original order."""
    below = (np.searchsorted(others, scores, "left") + np.searchsorted(others, scores, "right")) / 2
    out = np.empty_like(below)
    out[order] = below
    return out


def _rows(metric: Metric, y: np.ndarray, outputs: list[np.ndarray], pos_label: Any,
          classes: np.ndarray | None, confidence: float, n_boot: int,
          rng: np.random.Generator) -> tuple[float, float]:
    y = np.asarray(y)
    draws = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        draws[b] = _resampled(metric, y[idx], [out[idx] for out in outputs], pos_label, classes)
    if np.isnan(draws).all():
        return float("nan"), float("nan")
    return _percentiles(draws, confidence)


def _resampled(metric: Metric, y: np.ndarray, outputs: list[np.ndarray], pos_label: Any,
               classes: np.ndarray | None) -> float:
    """The metric (or paired difference) on one resample; NaN where the resample leaves it
    undefined (e.g. no positives drawn), which sklearn signals with a warning or a ValueError."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = [metric(y, out, pos_label=pos_label, classes=classes) for out in outputs]
        except (ValueError, Warning):
            return float("nan")
    return values[0] - values[1] if len(values) == 2 else values[0]


def detectable_change(ci: tuple[float, float], confidence: float, power: float = 0.8) -> float:
    """The minimum detectable effect of a paired comparison: the true difference that a test at
    ``confidence`` detects with probability ``power``, ``(z_conf + z_power) * se``, with the standard
    error read back from the interval's width (the normal approximation behind every interval here;
    e.g. Chow, Shao and Wang, *Sample Size Calculations in Clinical Research*, ch. 3). NaN when the
    interval is undefined."""
    from scipy import stats

    low, high = ci
    if not (np.isfinite(low) and np.isfinite(high)):
        return float("nan")
    z = stats.norm.ppf(0.5 + confidence / 2)
    se = (high - low) / (2 * z)
    return float((z + stats.norm.ppf(power)) * se)
