"""Label leakage: a single feature that alone predicts the label too well."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pytest_mlgate.checks import columns as col
from pytest_mlgate.checks.profile import (
    Profile,
)
from pytest_mlgate.decision import FAILED, PASSED, Check
from pytest_mlgate.evaluate.models import Dataset

if TYPE_CHECKING:
    pass


# ---------------------------------------------------------------- label leakage

LEAKAGE_BINS = 20


def _numeric_bins(stats: Profile, columns: list[str]) -> dict[str, np.ndarray]:
    """Quantile bins (up to LEAKAGE_BINS) of numeric columns on the sample, all columns at once;
    missing values form a bin of their own."""
    if not columns:
        return {}
    where = [stats.numeric.index(c) for c in columns]
    edges = stats.sample_quantiles(np.linspace(0, 1, LEAKAGE_BINS + 1)[1:-1])[where]
    matrix = stats.sample_matrix[where]
    bins = np.zeros(matrix.shape, dtype=np.uint8)
    for level in edges.T:  # edges at or below each value, one level for all columns at once
        bins += matrix >= level[:, None]
    bins = bins.astype(np.intp)
    bins[np.isnan(matrix)] = LEAKAGE_BINS
    return dict(zip(columns, bins))


def _category_bins(values: pd.Series) -> np.ndarray:
    """The most frequent LEAKAGE_BINS - 1 categories, the rest together (identifier-like columns
    carry no signal then), missing values apart."""
    codes, uniques = pd.factorize(values)
    if len(uniques) >= LEAKAGE_BINS:
        top = np.argsort(-np.bincount(codes[codes >= 0], minlength=len(uniques)))[:LEAKAGE_BINS - 1]
        remap = np.full(len(uniques), LEAKAGE_BINS - 1)
        remap[top] = np.arange(len(top))
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    return np.where(codes >= 0, codes, LEAKAGE_BINS).astype(np.intp)


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC of scoring each group by its positive rate, from per-group counts (ties count half)."""
    total_pos, total_neg = positive.sum(), negative.sum()
    if not total_pos or not total_neg:
        return float("nan")
    rate = positive / np.maximum(positive + negative, 1)
    order = np.argsort(rate, kind="stable")
    rate, positive, negative = rate[order], positive[order], negative[order]
    _, start = np.unique(rate, return_index=True)
    pos_g, neg_g = np.add.reduceat(positive, start), np.add.reduceat(negative, start)
    above = total_pos - np.cumsum(pos_g)
    return float((neg_g * (above + 0.5 * pos_g)).sum() / (total_pos * total_neg))


def predictive_power(groups: np.ndarray, y: np.ndarray, classes: int | None) -> float:
    """How well a feature's groups alone predict the target: for ``classes`` (y holds class codes)
    the ROC AUC of the groups' class rates (mean one-vs-rest for more than two), for a numeric
    target (``classes`` None) the correlation ratio, the share of variance the group means explain.
    0.5 (AUC) or 0 is no information; 1 predicts perfectly."""
    size = int(groups.max()) + 1
    if classes is None:
        counts = np.bincount(groups, minlength=size)
        means = np.bincount(groups, weights=y, minlength=size) / np.maximum(counts, 1)
        total = ((y - y.mean()) ** 2).sum()
        return float((counts * (means - y.mean()) ** 2).sum() / total) if total else float("nan")
    table = np.bincount(groups * classes + y, minlength=size * classes).reshape(size, classes)
    aucs = [_auc(table[:, k], table.sum(axis=1) - table[:, k]) for k in ([1] if classes == 2 else range(classes))]
    return float("nan") if all(np.isnan(aucs)) else float(np.nanmean(aucs))


def label_leakage(data: Dataset, max_score: col.Limit = 0.95, target: str | None = None,
                  columns: Iterable[str] | None = None) -> Check:
    """No single feature may predict the target almost perfectly on its own (score <= ``max_score``).

    The score is the ROC AUC of the feature's quantile bins (or categories) for a class target and
    the correlation ratio for a numeric target with many values; estimated on the seeded sample.
    """
    if (empty := col.empty("no_label_leakage", "single_feature_score", data)) is not None:
        return empty
    column = col.target(data, target, "no_label_leakage")
    stats = col.profile(data)
    features = col.columns(data, columns, [c for c in data.frame.columns if c != column], "a feature column")
    y, classes, keep = _target_sample(stats, column)
    judged_features = [f for f in features if col.limit(max_score, f, 0.95) is not None]
    numeric_bins = _numeric_bins(stats, [f for f in judged_features if f in stats.numeric])
    rows = []
    for feature in features:
        limit = col.limit(max_score, feature, 0.95)
        score = float("nan")
        if limit is not None:
            groups = numeric_bins.get(feature)
            if groups is None:
                groups = _category_bins(stats.sample_series(feature))
            score = predictive_power(groups[keep], y, classes)
        judged = limit is not None and not np.isnan(score)
        rows.append({"column": feature, "score": score if judged else None, "limit": limit,
                     "outcome": (FAILED if score > limit else PASSED) if judged else "skipped"})
    measure = "ROC AUC" if classes else "correlation ratio"
    return col.summarise("no_label_leakage", "single_feature_score", data, rows, "score",
                      lambda r: f"{r['column']} alone predicts '{column}' with {measure} {r['score']:.4f} "
                                f"{'>' if r['outcome'] == FAILED else '<='} {r['limit']:g}",
                      target=column, score=measure, sample_rows=col.SAMPLE_ROWS)


def _target_sample(stats: Profile, column: str) -> tuple[np.ndarray, int | None, np.ndarray]:
    """The sampled target (class codes, or values for a numeric target with many distinct values),
    its number of classes (None when numeric) and which sampled rows have a target."""
    sample = stats.sample_series(column)
    codes, uniques = pd.factorize(sample)
    keep = codes >= 0
    if column in stats.numeric and sample.dtype.kind == "f" and len(uniques) > LEAKAGE_BINS:
        return sample.to_numpy(dtype=np.float64)[keep], None, keep
    return codes[keep], len(uniques), keep
