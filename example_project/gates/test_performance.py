"""Performance and regression gates for the credit-risk candidate."""

import pytest


def test_auc_floor(candidate, holdout):
    # A plain assert on a metric is recorded in the gate summary too.
    assert candidate.metric("roc_auc", holdout) >= 0.75


def test_thresholds(mlgate):
    mlgate.at_least("accuracy", 0.70)
    mlgate.at_most("log_loss", 0.60)
    mlgate.at_most("brier", 0.20)


def test_no_regression_against_production(mlgate):
    # Fails only when the AUC drop beyond 1 point is statistically significant (paired DeLong test).
    mlgate.no_regression("roc_auc", max_absolute_drop=0.01, criterion="significant")
    mlgate.no_regression("log_loss", max_relative_drop=0.05)


def test_recall_by_region(mlgate):
    mlgate.at_least("recall", {"*": 0.55, "west": 0.50}, by="region")
    mlgate.no_regression("accuracy", by="region", max_absolute_drop=0.04, criterion="significant")  # ~900 rows a region: 0.03 is below what they can detect


@pytest.mark.gate(severity="review", category="performance", owner="credit-ops")
def test_older_applicants(mlgate):
    # Borderline gate: a failure here asks for a human approval instead of rejecting outright.
    mlgate.at_least("balanced_accuracy", 0.58, where="age_band == '60+'")


@pytest.mark.gate(severity="warn")
def test_precision_target(mlgate):
    # Aspirational target: reported, never blocks.
    mlgate.at_least("precision", 0.75)
