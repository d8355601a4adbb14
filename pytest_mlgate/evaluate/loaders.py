"""The built-in file loaders: models from .skops (safe), .joblib and .pickle; datasets from CSV and Parquet."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    import pandas as pd

MODEL_SUFFIXES = (".skops", ".joblib", ".pkl", ".pickle")
DATASET_SUFFIXES = (".csv", ".parquet", ".pq")


def load_model(path: Path, trusted: tuple[str, ...] = ()) -> Any:
    """Load a model from .skops (safe), .joblib, .pickle or an MLflow model directory; ``None`` otherwise."""
    from pytest_mlgate.evaluate.frameworks import mlflow_model

    if mlflow_model.is_mlflow_model(path):
        return mlflow_model.load(path)
    suffix = path.suffix.lower()
    if suffix == ".skops":
        import skops.io as sio

        untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in trusted]
        if untrusted:
            raise MlgateError(f"model {path}: untrusted types {untrusted}; "
                              "list them in [tool.mlgate] skops_trusted if you trust this file")
        return sio.load(path, trusted=list(trusted) or None)
    if suffix == ".joblib":
        import joblib

        return joblib.load(path)
    if suffix in (".pkl", ".pickle"):
        with path.open("rb") as fh:
            return pickle.load(fh)
    return None


def load_dataset(path: Path) -> pd.DataFrame | None:
    """Load a CSV or Parquet file as a DataFrame; ``None`` for other formats."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return None


def describe_error(what: str, path: Path, exc: BaseException) -> MlgateError:
    """A one-line error for an artifact that failed to load."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return MlgateError(f"{what}: cannot load {path}: {type(exc).__name__}: {text}".rstrip(": "))
