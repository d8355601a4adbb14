"""Estimated performance without labels (CBPE): coverage under covariate shift, refusal, the gate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from pytest_mlgate.checks.estimated import EstimateOptions, estimated_checks
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest
from pytest_mlgate.monitoring import estimate as cbpe

WEIGHTS, BIAS = np.array([1.2, -0.8, 0.5]), -0.5


def population(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Known truth: y ~ Bernoulli(sigmoid(x.w + b)); covariate shift moves x, not P(y | x)."""
    x = rng.normal(0, 1, (n, 3))
    x[:, 0] += shift
    x[:, 1] += shift / 2
    return x, rng.random(n) < 1 / (1 + np.exp(-(x @ WEIGHTS + BIAS)))


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy"])
def test_interval_covers_the_realized_metric_under_covariate_shift(metric):
    rng = np.random.default_rng(7)
    model = LogisticRegression().fit(*population(rng, 4000, 0.0))  # well specified: calibrated
    coverage, widths = {}, []
    for shift in (0.0, 0.75, 1.5):
        hits = 0
        for _ in range(40):
            x_ref, y_ref = population(rng, 2000, 0.0)
            full, refits = cbpe.calibrators(y_ref, model.predict_proba(x_ref)[:, 1], "sigmoid", 100, rng)
            x, y = population(rng, 1000, shift)
            score = model.predict_proba(x)[:, 1]
            evaluate = cbpe.evaluator(metric, score, score >= 0.5)
            found = cbpe.estimate(full, refits, score, evaluate, confidence=0.95, rng=rng)
            realized = evaluate(y[None, :])[0]
            hits += found.low <= realized <= found.high
            widths.append(found.high - found.low)
        coverage[shift] = hits / 40
    assert np.mean(list(coverage.values())) >= 0.90, coverage
    assert min(coverage.values()) >= 0.85, coverage
    assert np.mean(widths) < 0.12  # informative, not a trivially wide interval


def test_auc_draws_match_sklearn():
    rng = np.random.default_rng(0)
    score, labels = rng.random(300), rng.random((5, 300)) < 0.4
    expected = [roc_auc_score(row, score) for row in labels]
    assert cbpe.evaluator("roc_auc", score, None)(labels) == pytest.approx(expected, abs=1e-12)


class Scored:
    """A fitted model whose probabilities are bent by ``power`` on the logit (1: unchanged)."""

    def __init__(self, model: LogisticRegression, power: float):
        self.model, self.power, self.classes_ = model, power, model.classes_

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        p = self.model.predict_proba(x.to_numpy())[:, 1]
        bent = 1 / (1 + np.exp(-self.power * np.log(p / (1 - p))))
        return np.column_stack([1 - bent, bent])

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(x)[:, 1] >= 0.5).astype(int)


def _datasets(rng: np.random.Generator, shift: float) -> tuple[Dataset, Dataset]:
    frames = []
    for n, s in ((2000, 0.0), (1000, shift)):
        x, y = population(rng, n, s)
        frames.append(pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y.astype(int)))
    return Dataset("holdout", frames[0], "y"), Dataset("current", frames[1].assign(y=np.nan), "y")


def test_miscalibrated_model_is_refused_and_calibrated_one_is_estimated():
    rng = np.random.default_rng(3)
    fitted = LogisticRegression().fit(*population(rng, 4000, 0.0))
    reference, window = _datasets(rng, 1.0)
    options = EstimateOptions(n_boot=100)
    [refused], found = estimated_checks("roc_auc", ModelUnderTest("production", Scored(fitted, 3.0)),
                                        reference, window, options, max_drop=0.05)
    assert refused.outcome == "error" and found is None
    assert "miscalibrated" in refused.message and refused.details["ece"] > 0.05
    [check], found = estimated_checks("roc_auc", ModelUnderTest("production", Scored(fitted, 1.0)),
                                      reference, window, options, max_drop=0.05)
    assert check.outcome == "passed" and found.realized is None
    assert check.ci[0] < check.candidate < check.ci[1] and "no labels yet" in check.message


def test_labels_that_arrived_are_shown_next_to_the_estimate():
    rng = np.random.default_rng(4)
    fitted = LogisticRegression().fit(*population(rng, 4000, 0.0))
    reference, window = _datasets(rng, 0.5)
    x, y = population(rng, 1000, 0.5)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=np.where(np.arange(1000) < 600, y, np.nan))
    window = Dataset("current", frame, "y")
    model = ModelUnderTest("production", Scored(fitted, 1.0))
    [check], found = estimated_checks("roc_auc", model, reference, window, EstimateOptions(n_boot=100), min_value=0.7)
    score = model.score(window)[:600]
    assert found.realized_rows == 600
    assert found.realized == pytest.approx(roc_auc_score(y[:600], score), abs=1e-12)
    assert abs(found.estimate_on_labelled - found.realized) < 0.05
    assert "labels arrived for 600 rows" in check.message
