"""Business-objective gates: expected cost and value in the business's unit, with paired intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pytest_mlgate.checks.business import Objective, best_threshold, business
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

COST_GATES = """
def test_cost(mlgate):
    mlgate.expected_cost({{"fp": 20, "fn": 100}}, unit="EUR", max_cost={limit}, validation="reference")

def test_cost_vs_production(mlgate):
    mlgate.expected_cost({{1: {{0: 100}}, 0: {{1: 20}}}}, unit="EUR", max_increase=0.0)

def test_value(mlgate):
    mlgate.expected_value({{"tn": 30, "fn": -250, "fp": -30}}, unit="EUR", min_value=-1000, max_drop=0.0)
"""


def test_expected_cost_gates_approve_and_reject_on_a_seeded_cost_matrix(project):
    project.configure(candidate="strong.skops", baseline="weak.skops")
    project.gates(COST_GATES.format(limit=40))
    result = project.run()
    assert result.ret == 0, result.stdout.str()
    gates = {g["gate"].rpartition("::")[2]: g for g in project.decision["gates"]}
    cost = gates["test_cost"]["checks"][0]
    assert cost["name"] == "expected_cost (EUR)[holdout]" and cost["outcome"] == "passed"
    assert cost["threshold"] == "<= 40 EUR" and cost["ci"][0] < cost["candidate"] < cost["ci"][1]
    best = cost["details"]["best_threshold"]
    assert best["dataset"] == "reference" and 0 < best["threshold"] < 0.5  # a missed default costs 5x a refusal
    regression = gates["test_cost_vs_production"]["checks"][0]
    assert regression["name"] == "expected_cost (EUR) vs baseline[holdout]"
    assert regression["candidate"] < regression["baseline"] and regression["ci"][1] < 0  # cheaper than production
    assert regression["candidate"] == pytest.approx(cost["candidate"])  # the two spellings of one matrix agree
    value = gates["test_value"]["checks"]
    assert [c["outcome"] for c in value] == ["passed", "passed"] and value[0]["threshold"] == ">= -1000 EUR"
    result.stdout.fnmatch_lines(["*expected_cost (EUR)*<= 40 EUR*passed*"])
    assert "EUR" in (project.path / "reports" / "gates.xml").read_text()

    project.gates(COST_GATES.format(limit=10))  # too tight a budget: rejected, the message in euros
    assert project.run().ret == 1
    reasons = project.decision["reasons"]
    assert any("expected cost" in r and "EUR per prediction > 10 EUR" in r for r in reasons), reasons

    project.configure(candidate="weak.skops", baseline="strong.skops")  # a costlier candidate regresses
    project.gates(COST_GATES.format(limit=1000))
    assert project.run().ret == 1
    failed = {g["gate"].rpartition("::")[2] for g in project.decision["gates"] if g["outcome"] == "failed"}
    assert failed == {"test_cost_vs_production", "test_value"}


class Scored:
    """A fixed binary scorer: P(y=1) = sigmoid(a * x)."""

    classes_ = np.array([0, 1])

    def __init__(self, a: float):
        self.a = a

    def predict_proba(self, frame):
        p = 1 / (1 + np.exp(-self.a * frame["x"].to_numpy()))
        return np.column_stack([1 - p, p])

    def predict(self, frame):
        return (self.predict_proba(frame)[:, 1] >= 0.5).astype(int)


def _sample(n: int, rng: np.random.Generator) -> Dataset:
    x = rng.normal(0, 1, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-1.5 * x))).astype(int)
    return Dataset("holdout", pd.DataFrame({"x": x, "y": y}), "y")


def _models(threshold: float = 0.3) -> tuple[ModelUnderTest, ModelUnderTest]:
    return (ModelUnderTest("candidate", Scored(1.5), threshold=threshold),
            ModelUnderTest("baseline", Scored(0.4), threshold=threshold))


def test_intervals_cover_the_true_expected_cost_in_simulation():
    objective = Objective("cost", {"fp": 20, "fn": 100}, "EUR")
    truth_data = _sample(1_000_000, np.random.default_rng(99))
    cand, base = _models()
    truth = business(objective, truth_data, cand, base, limit=1e9, max_abs=1e9)
    true_cost, true_delta = truth[0].candidate, truth[1].delta
    rng = np.random.default_rng(7)
    covered_cost = covered_delta = 0
    runs = 300
    for _ in range(runs):
        cand, base = _models()
        checks = business(objective, _sample(400, rng), cand, base, limit=1e9, max_abs=1e9)
        covered_cost += checks[0].ci[0] <= true_cost <= checks[0].ci[1]
        covered_delta += checks[1].ci[0] <= true_delta <= checks[1].ci[1]
    # 95% intervals: the binomial spread of 300 runs puts the coverage within about +-3 points
    assert 0.91 <= covered_cost / runs <= 0.985, covered_cost
    assert 0.91 <= covered_delta / runs <= 0.985, covered_delta


def test_the_configured_threshold_decides_and_the_best_threshold_is_reported():
    objective = Objective("cost", {"fp": 20, "fn": 100}, "EUR")
    data = _sample(20_000, np.random.default_rng(1))
    at_half = business(objective, data, ModelUnderTest("candidate", Scored(1.5), threshold=0.5), None, limit=1e9)
    at_low = business(objective, data, ModelUnderTest("candidate", Scored(1.5), threshold=0.17), None, limit=1e9)
    assert at_low[0].candidate < at_half[0].candidate  # refusing more is cheaper when a default costs 5x
    best = best_threshold(objective, ModelUnderTest("candidate", Scored(1.5)), data)
    assert best["threshold"] == pytest.approx(20 / 120, abs=0.03)  # the Bayes threshold c_fp / (c_fp + c_fn)


class Linear:
    def predict(self, frame):
        return 2.0 * frame["x"].to_numpy()


def test_regressor_errors_are_priced_by_a_cost_function():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 5000)
    data = Dataset("holdout", pd.DataFrame({"x": x, "y": 2.0 * x + rng.normal(0, 1, 5000)}), "y")
    model = ModelUnderTest("candidate", Linear())

    def stockout(y_true, y_pred):  # under-forecasting costs 3 per unit, over-forecasting 1
        error = y_true - y_pred
        return np.where(error > 0, 3 * error, -error)

    check = business(Objective("cost", stockout, "USD"), data, model, None, limit=1.7)[0]
    # errors are N(0, 1): E[3 max(e, 0) + max(-e, 0)] = 4 phi(0) = 1.596
    assert check.outcome == "passed" and check.candidate == pytest.approx(4 * 0.3989, rel=0.05)
    assert check.threshold == "<= 1.7 USD" and "USD per prediction" in check.message
    assert business(Objective("cost", stockout, "USD"), data, model, None, limit=1.5)[0].outcome == "failed"
    with pytest.raises(MlgateError, match="is a regressor: price its errors with a function"):
        business(Objective("cost", {"fp": 1}, "USD"), data, model, None, limit=1.0)


def test_bad_prices_fail_with_one_line():
    data = _sample(200, np.random.default_rng(0))
    cand, _ = _models()
    with pytest.raises(MlgateError, match="label 'yes' in the cost matrix is not a class"):
        business(Objective("cost", {"yes": {0: 1}}, "EUR"), data, cand, None, limit=1)
    with pytest.raises(MlgateError, match="must return one cost per row"):
        business(Objective("cost", lambda y, p: float(np.sum(y != p)), "EUR"), data, cand, None, limit=1)
    with pytest.raises(MlgateError, match="give a limit and/or an allowed change"):
        business(Objective("cost", {"fp": 1}, "EUR"), data, cand, None)


def test_the_fast_threshold_sweep_agrees_with_pricing_every_threshold():
    data = _sample(3000, np.random.default_rng(4))
    model = ModelUnderTest("candidate", Scored(1.5))
    matrix = Objective("cost", {"fp": 20, "fn": 100, "tp": 3}, "EUR")
    function = Objective("cost", lambda y, p: np.where((y == 0) & (p == 1), 20.0, 0.0)
                         + np.where((y == 1) & (p == 0), 100.0, 0.0) + np.where((y == 1) & (p == 1), 3.0, 0.0), "EUR")
    fast, slow = best_threshold(matrix, model, data), best_threshold(function, model, data)
    assert fast["threshold"] == slow["threshold"] and fast["cost"] == pytest.approx(slow["cost"], rel=1e-12)
