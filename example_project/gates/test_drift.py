"""Drift gates: this week's batch (``current``) against the training data (``reference``).

They pass on the clean batch, data/current.parquet. train.py also writes a drifted batch; point
``current`` at it and the gates fail, naming the features that moved and by how much::

    pytest gates/test_drift.py --mlgate-dataset current=data/drifted.parquet
"""

import pytest


def test_no_feature_drift(mlgate):
    # KS / chi-square per feature, FDR-corrected ([tool.mlgate.drift]); a feature drifts only when the
    # shift is significant and at least 0.1 sd (Wasserstein) or PSI 0.1, or a category is new.
    mlgate.no_drift("reference", "current")


def test_no_prediction_drift(mlgate):
    mlgate.no_prediction_drift("reference", "current")


@pytest.mark.gate(severity="warn")
def test_no_label_drift(mlgate):
    mlgate.no_label_drift("reference", "current")


def test_no_concept_drift(mlgate):
    # the candidate's AUC on the labelled batch against its AUC on the holdout
    mlgate.no_concept_drift("roc_auc", "current", max_drop=0.03)
