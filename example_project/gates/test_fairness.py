"""Fairness gates: the candidate must treat applicants alike across sex and age band.

train.py also writes a variant with a planted bias against women; these gates reject it:
``pytest gates/test_fairness.py gates/test_explainability.py --mlgate-candidate models/candidate_biased.skops``.
"""

import pytest


def test_four_fifths_rule(mlgate):
    # Predicted-default rates of every sex and every age band within 80% of each other.
    mlgate.fairness(metric="selection_rate", min_ratio=0.8)


def test_equalized_odds(mlgate):
    # Error rates (true and false positive rates) within 10 points across groups.
    mlgate.fairness(max_equalized_odds=0.10)


@pytest.mark.gate(severity="review", category="fairness")
def test_intersectional_parity(mlgate):
    # sex x age band: eight smaller groups, judged only when they hold 100 applicants or more.
    mlgate.fairness(["sex", "age_band"], min_ratio=0.8, min_size=100)


def test_no_fairness_regression(mlgate):
    # The candidate's equalized-odds gap may not exceed production's by more than 5 points.
    mlgate.fairness_no_regression(measure="equalized_odds", margin=0.05)
