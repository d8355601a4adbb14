"""Which mergeable statistics each check family folds from the rows: one declaration.

The readouts take from here which statistic a metric's value and interval come from; the README's
streaming table says the same in words (a test keeps the two in step). Statistics are named by
the keys of ``STATISTICS``, whose values are the README's words for them.
"""

from __future__ import annotations

#: statistic -> how the README names it (and the class that folds it)
STATISTICS = {
    "cells": "confusion cells",                      # statistics.Counts of (truth, each model's label)
    "bins": "score bins",                            # statistics.ScoreHistogram
    "joint bins": "histogram of both models' scores",  # statistics.JointHistogram
    "moments": "moments",                            # statistics.Moments of per-row losses
    "replicates": "Poisson bootstrap replicates",    # poisson.ReplicateMoments / ReplicateHistogram
    "class bins": "one-vs-rest score bins per class",  # statistics.ClassHistograms
    "class replicates": "one-vs-rest Poisson bootstrap replicates per class",  # poisson.fold_class_replicates
    "sample": "seeded uniform sample",               # StreamedDataset.frame (sample_rows rows)
    "counts": "exact value counts",                  # statistics.Column.categories
    "sketches": "KLL sketches",                      # statistics.Sketch
    "nulls": "null counts",                          # statistics.Column.nulls
}

#: metric -> the statistic its value is read from
METRICS = {
    **dict.fromkeys(("accuracy", "balanced_accuracy", "precision", "recall", "f1"), "cells"),
    **dict.fromkeys(("roc_auc", "average_precision"), "bins"),
    **dict.fromkeys(("log_loss", "brier", "mae", "mse", "rmse", "r2"), "moments"),
}

#: metric -> the statistic a multi-class classifier's value is read from, where it differs
MULTICLASS = {"roc_auc": "class bins"}

#: metric -> the statistics a multi-class classifier's interval is read from, where they differ
MULTICLASS_INTERVALS = {"roc_auc": ("class replicates",)}

#: interval method (``Metric.pairing``) -> the statistics its interval is read from
INTERVALS = {
    "confusion": ("cells",),
    "mean": ("moments",),
    "delong": ("bins", "joint bins"),
    "poisson": ("replicates",),
}

#: other check families -> the statistics they read
FAMILIES = {
    "fairness": ("cells", "bins", "moments", "replicates"),
    "no_drift": ("counts", "sketches"),
    "no_label_drift": ("counts", "sketches"),
    "no_prediction_drift": ("counts", "sketches"),
    "no_missing": ("nulls",),
    "register_metric": ("sample",),   # custom metrics (registered or callables): value and row bootstrap
}


def metrics_from(statistic: str, table: dict[str, str] = METRICS) -> tuple[str, ...]:
    """The metrics whose value is read from ``statistic`` (``table``: MULTICLASS for multi-class)."""
    return tuple(name for name, found in table.items() if found == statistic)
