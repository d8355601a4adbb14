"""XGBoost models saved natively (.json, .ubj) gate like any other model (the ``frameworks`` tox env).

Skipped where xgboost is not installed, except under ``MLGATE_REQUIRE_FRAMEWORKS=1``.
"""

from __future__ import annotations

import numpy as np
import pytest
from framework_suite import (
    TARGET,
    assert_approves_and_rejects,
    assert_matches_own_predict,
    features,
    frames,
    require,
    shuffled,
)

xgboost = require("xgboost", "MLGATE_REQUIRE_FRAMEWORKS")


def _wrapper(frame, path):
    model = xgboost.XGBClassifier(n_estimators=30, max_depth=3, random_state=0)
    model.fit(frame[features(frame)], frame[TARGET])
    model.save_model(path)
    return model.predict_proba


def _booster(frame, path):
    data = xgboost.DMatrix(frame[features(frame)], frame[TARGET])
    booster = xgboost.train({"objective": "multi:softprob", "num_class": 2, "max_depth": 3, "seed": 0}, data, 30)
    booster.save_model(str(path))
    return lambda X: booster.predict(xgboost.DMatrix(X))


@pytest.mark.parametrize(("suffix", "train_model"), [(".json", _wrapper), (".ubj", _booster)])
def test_native_xgboost_file_approves_a_good_model_and_rejects_a_bad_one(pytester, suffix, train_model):
    train, holdout, current = frames()
    own_predict = train_model(train, pytester.path / f"model{suffix}")
    train_model(shuffled(train), pytester.path / f"bad{suffix}")
    record = assert_approves_and_rejects(pytester, f"model{suffix}", f"bad{suffix}", train=train,
                                         holdout=holdout, current=current)
    assert_matches_own_predict(record, holdout, own_predict(holdout[features(holdout)]))


def test_a_multiclass_booster_and_a_regressor(tmp_path):
    from sklearn.datasets import load_diabetes, load_iris

    from pytest_mlgate.evaluate import loaders
    from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

    iris = load_iris(as_frame=True).frame
    X = iris.drop(columns="target")
    booster = xgboost.train({"objective": "multi:softmax", "num_class": 3, "max_depth": 2},
                            xgboost.DMatrix(X, iris["target"]), 10)
    booster.save_model(str(tmp_path / "iris.json"))
    subject = ModelUnderTest("candidate", loaders.load_model(tmp_path / "iris.json"))
    data = Dataset("holdout", iris, "target")
    assert list(subject.classes) == [0, 1, 2]
    assert np.array_equal(subject.predict(data), booster.predict(xgboost.DMatrix(X)))  # softmax's own labels
    assert subject.calls == {("predict_proba", "holdout"): 1}

    diabetes = load_diabetes(as_frame=True).frame
    regressor = xgboost.XGBRegressor(n_estimators=20, max_depth=3).fit(diabetes.drop(columns="target"),
                                                                        diabetes["target"])
    regressor.save_model(tmp_path / "diabetes.ubj")
    subject = ModelUnderTest("candidate", loaders.load_model(tmp_path / "diabetes.ubj"))
    assert not subject.is_classifier
    assert np.array_equal(subject.predict(Dataset("holdout", diabetes, "target")),
                          regressor.predict(diabetes.drop(columns="target")))
