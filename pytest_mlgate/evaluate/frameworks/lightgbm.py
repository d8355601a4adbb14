"""LightGBM models saved natively (``Booster.save_model``: a ``.txt`` model file).

The file's ``objective=`` header says what the model is: ``binary`` and ``multiclass`` /
``multiclassova`` are classifiers (LightGBM's classes are the labels 0..k-1), everything else a
regressor. LightGBM writes spaces in feature names as underscores; the gates match such names back
to the dataset's columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pytest_mlgate.evaluate.frameworks.base import (
    FrameworkClassifier,
    FrameworkRegressor,
    binary_proba,
)


def _header(path: Path) -> dict[str, str]:
    """The ``key=value`` lines before the first tree."""
    found: dict[str, str] = {}
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh):
            if line.startswith("Tree=") or number > 50:
                break
            key, sep, value = line.rstrip("\r\n").partition("=")
            if sep:
                found[key] = value
    return found


def load(path: Path) -> Any:
    """A scikit-learn-shaped wrapper of the Booster in ``path``."""
    import lightgbm

    header = _header(path)
    booster = lightgbm.Booster(model_file=str(path))
    objective = header.get("objective", "").split(" ")[0]
    features = booster.feature_name()
    if objective == "binary":
        return FrameworkClassifier("lightgbm", booster, lambda X: binary_proba(_predict(booster, X)), features, [0, 1])
    if objective in ("multiclass", "multiclassova"):
        n_classes = int(header.get("num_class", "0"))
        return FrameworkClassifier("lightgbm", booster, lambda X: _predict(booster, X), features,
                                   list(range(n_classes)))
    return FrameworkRegressor("lightgbm", booster, lambda X: _predict(booster, X), features)


def _predict(booster: Any, X: Any) -> np.ndarray:
    return np.asarray(booster.predict(X))
