"""CatBoost models saved natively (``.cbm``).

The loss function stored in the model says what it is: ``Logloss`` / ``CrossEntropy`` (binary) and
``MultiClass`` are classifiers with the class names CatBoost stored, everything else a regressor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pytest_mlgate.evaluate.frameworks.base import (
    FrameworkClassifier,
    FrameworkRegressor,
)

CLASSIFIER_LOSSES = ("Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll")


def load(path: Path) -> Any:
    """A scikit-learn-shaped wrapper of the CatBoost model in ``path``."""
    import catboost

    classifier = catboost.CatBoostClassifier().load_model(str(path))
    if str(classifier.get_all_params().get("loss_function", "")).split(":")[0] in CLASSIFIER_LOSSES:
        return FrameworkClassifier("catboost", classifier, lambda X: np.asarray(classifier.predict_proba(X)),
                                   list(classifier.feature_names_), list(classifier.classes_))
    regressor = catboost.CatBoostRegressor().load_model(str(path))  # its predict applies the loss's link
    return FrameworkRegressor("catboost", regressor, lambda X: np.asarray(regressor.predict(X)),
                              list(regressor.feature_names_))
