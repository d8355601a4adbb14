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
}


def metrics_from(statistic: str) -> tuple[str, ...]:
    """The metrics whose value is read from ``statistic``."""
    return tuple(name for name, found in METRICS.items() if found == statistic)
