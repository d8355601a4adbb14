"""ONNX models run by onnxruntime gate like any other model (the ``frameworks`` tox env): classifiers
with a ZipMap or a probability tensor, regressors, one input per column or one matrix input.

Skipped where onnxruntime or skl2onnx is not installed, except under ``MLGATE_REQUIRE_FRAMEWORKS=1``.
"""

from __future__ import annotations

import json

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
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate import loaders
from pytest_mlgate.evaluate.models import Dataset, ModelUnderTest

onnxruntime = require("onnxruntime", "MLGATE_REQUIRE_FRAMEWORKS")
skl2onnx = require("skl2onnx", "MLGATE_REQUIRE_FRAMEWORKS")
onnx = require("onnx", "MLGATE_REQUIRE_FRAMEWORKS")


def _per_column(frame, path):
    """A pipeline converted from a DataFrame: one ONNX input per column (names rewritten by skl2onnx)."""
    X = frame[features(frame)].astype(np.float32)
    model = Pipeline([("scale", ColumnTransformer([("num", StandardScaler(), list(X.columns))])),
                      ("forest", RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0))])
    model.fit(X, frame[TARGET])
    proto = skl2onnx.to_onnx(model, X[:1], options={RandomForestClassifier: {"zipmap": False}})
    onnx.save(proto, str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda H: session.run(["probabilities"], {i.name: H[c].to_numpy(np.float32).reshape(-1, 1)
                                                     for i, c in zip(session.get_inputs(), H.columns)})[0]


def _matrix_zipmap(frame, path):
    """One matrix input named in the model's metadata, probabilities behind a ZipMap."""
    X = frame[features(frame)].to_numpy(np.float32)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, frame[TARGET])
    proto = skl2onnx.to_onnx(model, X[:1])
    proto.metadata_props.add(key="feature_names", value=json.dumps(features(frame)))
    onnx.save(proto, str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda H: np.array([[row[0], row[1]] for row in session.run(["output_probability"],
                                                                       {"X": H.to_numpy(np.float32)})[0]])


@pytest.mark.parametrize("convert", [_per_column, _matrix_zipmap])
def test_onnx_model_approves_a_good_model_and_rejects_a_bad_one(pytester, convert):
    train, holdout, current = frames()
    own_predict = convert(train, pytester.path / "model.onnx")
    convert(shuffled(train), pytester.path / "bad.onnx")
    record = assert_approves_and_rejects(pytester, "model.onnx", "bad.onnx", train=train, holdout=holdout,
                                         current=current)
    assert_matches_own_predict(record, holdout, own_predict(holdout[features(holdout)]))


def test_onnx_regressor_and_a_matrix_input_without_names(tmp_path):
    train, holdout, _ = frames()
    X = train[features(train)].to_numpy(np.float32)
    ridge = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X, train["mean radius"])
    proto = skl2onnx.to_onnx(ridge, X[:1])
    onnx.save(proto, str(tmp_path / "ridge.onnx"))
    model = loaders.load_model(tmp_path / "ridge.onnx")
    own = onnxruntime.InferenceSession(str(tmp_path / "ridge.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"X": holdout[features(holdout)].to_numpy(np.float32)})[0].ravel()
    only_features = Dataset("holdout", holdout[features(holdout)], None)
    subject = ModelUnderTest("candidate", model)
    assert not subject.is_classifier and np.array_equal(subject.predict(only_features), own)
    with pytest.raises(MlgateError, match=r"predict failed on dataset 'holdout'.*"):
        ModelUnderTest("candidate", model).predict(Dataset("holdout", holdout, TARGET))  # id, group: too wide
