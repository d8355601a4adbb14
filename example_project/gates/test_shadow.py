"""Shadow comparison: a sample of last week's logged production requests, replayed to the
candidate and to the model in production before the candidate may replace it."""

import pytest

pytestmark = pytest.mark.gate(category="shadow", owner="risk-ml@example.org")


def test_candidate_agrees_with_production_on_logged_traffic(mlgate, shadow):
    # the candidate is a different model (trees instead of a linear model): about one decision in
    # ten moves and scores differ by about 0.08 on average; no request may fail
    mlgate.shadow_errors(shadow, max_rate=0.0)
    mlgate.shadow_agreement(shadow, max_flip_rate=0.15, max_score_diff=0.12)


# warn: on a shared CI machine the tree ensemble's single-row latency swings with the load (its
# OpenMP threads compete with every other job: 4x the linear model on a quiet machine, 26x on a busy
# one), so the figure is reported; the staging gates judge latency on the served model
@pytest.mark.gate(severity="warn")
def test_candidate_is_not_much_slower_per_request(mlgate, shadow):
    mlgate.shadow_latency(shadow, max_ratio=10.0)
