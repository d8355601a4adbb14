"""Business gates: what the credit decisions cost and earn, in euros, and a ratchet on quality.

A refused applicant who would have repaid costs the margin the bank does not earn; an accepted
applicant who defaults costs the part of the loan that is not recovered. Prices per decision.
"""

import pytest

# {truth: {decision: cost}}: 1 = defaulted (refused by a positive prediction), 0 = repaid
COSTS = {1: {0: 1_800}, 0: {1: 250}}
COST_BUDGET = 360  # EUR per application; the candidate measures about 320 on the holdout
# what an accepted repaid loan earns, and what an accepted default loses (after recovery)
VALUE = {"tn": 300, "fn": -600}
PROFIT_FLOOR = 20  # EUR per application; the candidate earns about 38


@pytest.mark.gate(category="business", owner="credit-ops")
def test_expected_cost_per_application(mlgate):
    """The cost of wrong credit decisions stays within the budget per application, and the best
    cut-off on the current batch is reported beside the one in use."""
    mlgate.expected_cost(COSTS, unit="EUR", max_cost=COST_BUDGET, validation="current")


@pytest.mark.gate(severity="review", category="business", owner="credit-ops")
def test_no_costlier_than_production(mlgate):
    """A candidate that costs significantly more per decision than production needs an approval."""
    mlgate.expected_cost(COSTS, unit="EUR", max_relative_increase=0.05, criterion="significant")


@pytest.mark.gate(category="business", owner="credit-ops")
def test_expected_profit_per_application(mlgate):
    """Lending must make money on average."""
    mlgate.expected_value(VALUE, unit="EUR", min_value=PROFIT_FLOOR)


@pytest.mark.gate(category="performance")
def test_no_slow_decline(mlgate):
    """Compared with the best of production and the last five approved versions, so that small
    accepted drops cannot add up."""
    mlgate.no_regression("roc_auc", max_absolute_drop=0.01, criterion="significant", against="best_of_last:5")
