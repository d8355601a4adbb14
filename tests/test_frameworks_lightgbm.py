"""LightGBM model files (``Booster.save_model``, .txt) gate like any other model (the ``frameworks``
tox env). The features have spaces, dots and non-ASCII characters, which LightGBM rewrites.

Skipped where lightgbm is not installed, except under ``MLGATE_REQUIRE_FRAMEWORKS=1``.
"""

from __future__ import annotations

import joblib
from framework_suite import (
    LIVE_GATES,
    TARGET,
    assert_approves_and_rejects,
    assert_matches_own_predict,
    features,
    frames,
    outcomes,
    require,
    run,
    shuffled,
    write_project,
)

lightgbm = require("lightgbm", "MLGATE_REQUIRE_FRAMEWORKS")


def _train(frame, path):
    data = lightgbm.Dataset(frame[features(frame)], frame[TARGET])
    booster = lightgbm.train({"objective": "binary", "num_leaves": 8, "verbose": -1, "seed": 0}, data, 40)
    booster.save_model(str(path))
    return booster


def test_native_lightgbm_file_approves_a_good_model_and_rejects_a_bad_one(pytester):
    train, holdout, current = frames()
    booster = _train(train, pytester.path / "model.txt")
    _train(shuffled(train), pytester.path / "bad.txt")
    assert "mean radius" in features(train) and "mean_radius" in booster.feature_name()
    record = assert_approves_and_rejects(pytester, "model.txt", "bad.txt", train=train, holdout=holdout,
                                         current=current)
    p = booster.predict(holdout[features(holdout)])
    assert_matches_own_predict(record, holdout, __import__("numpy").column_stack((1 - p, p)))


def test_gates_that_run_the_model_work_on_a_native_file(pytester):
    train, holdout, current = frames()
    _train(train, pytester.path / "model.txt")
    write_project(pytester, "model.txt", train=train, holdout=holdout, current=current)
    pytester.makepyfile(test_suite=LIVE_GATES)
    result, record = run(pytester)
    assert record["decision"] == "approved", record["reasons"]
    assert set(outcomes(record).values()) == {"passed"}
    drivers = next(c for g in record["gates"] for c in g["checks"] if c["metric"] == "permutation_importance")
    assert len(drivers["details"]["table"]) == len(features(train))  # every feature shuffled through the wrapper


def test_scikit_learn_wrapper_trained_on_quoted_columns_finds_them(pytester):
    train, holdout, current = frames()
    model = lightgbm.LGBMClassifier(n_estimators=40, num_leaves=8, verbose=-1, random_state=0)
    model.fit(train[features(train)], train[TARGET])
    joblib.dump(model, pytester.path / "model.joblib")
    write_project(pytester, "model.joblib", train=train, holdout=holdout, current=current)
    result, record = run(pytester)
    assert record["decision"] == "approved", record["reasons"]
    assert_matches_own_predict(record, holdout, model.predict_proba(holdout[features(holdout)]))


def test_a_missing_column_is_named_in_full(pytester):
    train, holdout, current = frames()
    _train(train, pytester.path / "model.txt")
    write_project(pytester, "model.txt", train=train, holdout=holdout.drop(columns=["worst concave points (µm²)"]),
                  current=current)
    result, record = run(pytester)
    assert record["decision"] == "rejected" and outcomes(record)["test_auc_floor"] == "error"
    message = next(g["message"] for g in record["gates"] if g["gate"].endswith("test_auc_floor"))
    assert "needs 1 column(s) missing from dataset 'holdout': 'worst_concave_points_(µm²)'" in message
    assert "'worst fractal dimension'" in message  # the dataset's columns, listed to the last one
