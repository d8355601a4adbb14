"""CatBoost model files (.cbm) gate like any other model (the ``frameworks`` tox env).

Skipped where catboost is not installed, except under ``MLGATE_REQUIRE_FRAMEWORKS=1``.
"""

from __future__ import annotations

import numpy as np
from framework_suite import (
    TARGET,
    assert_approves_and_rejects,
    assert_matches_own_predict,
    features,
    frames,
    require,
    shuffled,
)

from pytest_mlgate.evaluate import loaders
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

catboost = require("catboost", "MLGATE_REQUIRE_FRAMEWORKS")


def _train(frame, path, **params):
    model = catboost.CatBoostClassifier(iterations=60, depth=4, verbose=0, random_seed=0, thread_count=1,
                                       allow_writing_files=False, **params)  # no catboost_info/ in the cwd
    model.fit(frame[features(frame)], frame[TARGET])
    model.save_model(str(path))
    return model


def test_native_catboost_file_approves_a_good_model_and_rejects_a_bad_one(pytester):
    train, holdout, current = frames()
    model = _train(train, pytester.path / "model.cbm")
    _train(shuffled(train), pytester.path / "bad.cbm")
    record = assert_approves_and_rejects(pytester, "model.cbm", "bad.cbm", train=train, holdout=holdout,
                                         current=current)
    assert_matches_own_predict(record, holdout, model.predict_proba(holdout[features(holdout)]))


def test_a_catboost_file_under_any_name_is_recognised_by_content(tmp_path):
    train, holdout, _ = frames()
    regressor = catboost.CatBoostRegressor(iterations=30, depth=3, verbose=0, random_seed=0, thread_count=1,
                                           allow_writing_files=False,
                                           loss_function="Poisson")
    regressor.fit(train[features(train)], train["mean radius"].round())
    regressor.save_model(str(tmp_path / "model.bin"))
    subject = ModelUnderTest("candidate", loaders.load_model(tmp_path / "model.bin"))
    assert not subject.is_classifier
    assert np.array_equal(subject.predict(Dataset("holdout", holdout, TARGET)),
                          regressor.predict(holdout[features(holdout)]))  # the Poisson link applied, as CatBoost does
