"""Load a local MLflow model directory (one holding an ``MLmodel`` file).

The native flavour is preferred when the directory has one mlgate can use directly (scikit-learn,
XGBoost, LightGBM, CatBoost scikit-learn wrappers): it keeps ``predict_proba``, ``classes_`` and
``feature_names_in_``, so probability metrics work. Otherwise the ``python_function`` flavour is
wrapped: labels or scores from ``predict``, the signature's input columns for column selection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pytest_mlgate.errors import MlgateError

NATIVE = ("sklearn", "xgboost", "lightgbm", "catboost")


def is_mlflow_model(path: Path) -> bool:
    """Whether ``path`` is an MLflow model directory."""
    return path.is_dir() and (path / "MLmodel").is_file()


def load(path: Path) -> Any:
    """The model in an MLflow model directory: native flavour when usable, else pyfunc."""
    try:
        from mlflow.models import Model
    except ImportError:
        raise MlgateError(f"model {path}: an MLflow model directory needs the mlflow package "
                          "(pip install 'pytest-mlgate[mlflow]')") from None
    flavors = Model.load(str(path)).flavors
    for flavor in NATIVE:
        if flavor in flavors:
            import importlib

            native = importlib.import_module(f"mlflow.{flavor}").load_model(str(path))
            if hasattr(native, "predict") and (hasattr(native, "predict_proba") or hasattr(native, "classes_")
                                               or flavor == "sklearn"):
                return native
    if "python_function" not in flavors:
        raise MlgateError(f"model {path}: MLflow flavours {sorted(flavors)} include no python_function "
                          f"or {'/'.join(NATIVE)} flavour to predict with")
    import mlflow.pyfunc

    return PyfuncModel(mlflow.pyfunc.load_model(str(path)))


class PyfuncModel:
    """An MLflow ``PyFuncModel`` with the interface mlgate reads: ``predict`` -> a 1-d array."""

    def __init__(self, model: Any):
        self.model = model
        schema = model.metadata.get_input_schema()
        names = schema.input_names() if schema is not None and schema.has_input_names() else None
        if names:
            self.feature_names_in_ = np.asarray(names, dtype=object)

    def predict(self, X: Any) -> np.ndarray:
        out = self.model.predict(X)
        values = np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise MlgateError(f"MLflow pyfunc model returned shape {values.shape}; expected one value per row")
        return values
