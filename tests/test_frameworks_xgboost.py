"""XGBoost models saved natively (.json, .ubj) gate like any other model (the ``frameworks`` tox env).

Skipped where xgboost is not installed, except under ``MLGATE_REQUIRE_FRAMEWORKS=1``.
"""

from __future__ import annotations

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
