"""The scikit-learn-shaped wrapper every framework loader returns.

A framework model becomes one pure function from a DataFrame (its feature columns in the model's
order) to its outputs: class probabilities for a classifier, values for a
regressor. The wrapper adds what the gates read: ``classes_``, ``feature_names_in_``, labels taken
from the probabilities (one inference pass per dataset), and scikit-learn's estimator type so that
permutation importance and partial dependence accept it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

if TYPE_CHECKING:
    import pandas as pd

Predict = Callable[["pd.DataFrame"], np.ndarray]


class _FrameworkModel(BaseEstimator):
    def __init__(self, framework: str, native: Any, fn: Predict, features: Sequence[str] | None):
        self.framework = framework
        self.native = native
        self.fn = fn
        if features is not None:
            self.feature_names_in_ = np.asarray(list(features), dtype=object)
            self.n_features_in_ = len(features)

    def __repr__(self) -> str:
        return f"<{self.framework} {type(self).__name__}>"

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X: Any, y: Any = None) -> _FrameworkModel:
        """Never: a loaded model is gated as it is (scikit-learn's inspection tools only check that it exists)."""
        raise TypeError(f"{self!r} is a loaded {self.framework} model; it is not refitted")


class FrameworkClassifier(ClassifierMixin, _FrameworkModel):
    """A classifier: ``fn`` returns an (n, classes) probability matrix."""

    #: labels are ``classes_[argmax(predict_proba)]``, so the gates compute them without a second pass
    mlgate_labels_from_proba = True

    def __init__(self, framework: str, native: Any, fn: Predict, features: Sequence[str] | None,
                 classes: Sequence[Any]):
        super().__init__(framework, native, fn, features)
        self.classes_ = np.asarray(classes)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.fn(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.fn(X), axis=1)]


class FrameworkRegressor(RegressorMixin, _FrameworkModel):
    """A regressor: ``fn`` returns one value per row."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.fn(X)


def binary_proba(p: np.ndarray) -> np.ndarray:
    """The (n, 2) probability matrix of a binary model that reports the positive class only (in the
    model's own precision, as its scikit-learn wrapper computes it)."""
    p = np.asarray(p).reshape(-1)
    return np.column_stack((1 - p, p))
