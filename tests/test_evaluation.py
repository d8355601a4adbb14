"""Models under test: one inference pass per model and dataset, labels read off probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_frame
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pytest_mlgate.evaluate.models import (
    Dataset,
    ModelUnderTest,
    predicts_most_probable,
)

FEATURES = ["income", "debt", "age", "tenure"]


@pytest.fixture(scope="module")
def data():
    return Dataset("holdout", make_frame(600, seed=5)[FEATURES + ["defaulted"]], "defaulted")


@pytest.mark.parametrize("model", [HistGradientBoostingClassifier(max_iter=20),
                                   make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=20))])
def test_sklearn_labels_come_from_probabilities_without_a_second_pass(data, model):
    model.fit(data.frame[FEATURES], data.y)
    expected = model.predict(data.frame[FEATURES])
    subject = ModelUnderTest("candidate", model)
    model.predict = None  # would raise if called
    assert predicts_most_probable(model)
    assert np.array_equal(subject.predict(data), expected)
    assert subject.calls == {("predict_proba", "holdout"): 1}


def test_other_models_use_their_own_predict_once(data):
    model = KNeighborsClassifier().fit(data.frame[FEATURES], data.y)
    subject = ModelUnderTest("candidate", model)
    assert not predicts_most_probable(model)
    for _ in range(3):
        subject.predict(data)
        subject.score(data)
    assert subject.calls == {("predict", "holdout"): 1, ("predict_proba", "holdout"): 1}


def test_metric_values_are_cached_per_model_and_dataset(data):
    model = KNeighborsClassifier().fit(data.frame[FEATURES], data.y)
    subject = ModelUnderTest("candidate", model)
    first = subject.metric("accuracy", data)
    subject.model = None  # any recomputation would now fail
    assert subject.metric("accuracy", data) == first
