"""XGBoost models saved natively (``.json``, ``.ubj``), from a Booster or a scikit-learn wrapper.

The objective in the file says what the model is: ``binary:logistic`` and ``multi:softprob`` /
``multi:softmax`` are classifiers with probabilities, everything else a regressor. Predictions go
through ``Booster.inplace_predict`` on the DataFrame, as the scikit-learn wrapper does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.frameworks.base import (
    FrameworkClassifier,
    FrameworkRegressor,
    binary_proba,
)

PROBABILITY_OBJECTIVES = ("binary:logistic", "multi:softprob", "multi:softmax")


def load(path: Path) -> Any:
    """A scikit-learn-shaped wrapper of the Booster in ``path``."""
    import xgboost

    booster = xgboost.Booster(model_file=str(path))
    config = json.loads(booster.save_config())["learner"]
    objective = config["objective"]["name"]
    features = booster.feature_names
    if objective not in PROBABILITY_OBJECTIVES:
        if objective.startswith(("binary:", "multi:")):
            raise MlgateError(f"model {path}: XGBoost objective {objective} gives no probabilities; "
                              "train with binary:logistic or multi:softprob")
        return FrameworkRegressor("xgboost", booster, lambda X: _predict(booster, X), features)
    if objective == "multi:softmax":
        booster.set_param({"objective": "multi:softprob"})  # same trees, probabilities instead of labels
    n_classes = max(int(config["learner_model_param"].get("num_class", "0")), 2)
    classes = list(range(n_classes))  # XGBoost trains classifiers on the labels 0..k-1
    if objective == "binary:logistic":
        return FrameworkClassifier("xgboost", booster, lambda X: binary_proba(_predict(booster, X)), features,
                                   classes)
    return FrameworkClassifier("xgboost", booster, lambda X: _predict(booster, X), features, classes)


def _predict(booster: Any, X: Any) -> np.ndarray:
    return np.asarray(booster.inplace_predict(X, validate_features=False))

