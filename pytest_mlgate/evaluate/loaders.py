"""The built-in file loaders: models from .skops (safe), .joblib and .pickle; datasets from CSV and Parquet.

Other model formats register a :class:`ModelFormat` (the framework loaders in
:mod:`pytest_mlgate.evaluate.frameworks` do); this module imports none of them.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    import pandas as pd

MODEL_SUFFIXES = (".skops", ".joblib", ".pkl", ".pickle")
DATASET_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class ModelFormat:
    """A model file format: chosen by one of its ``suffixes`` or, for any other name, by ``sniff``
    (a look at the file's content); ``load`` turns the file into a model with ``predict``."""

    name: str
    suffixes: tuple[str, ...]
    sniff: Callable[[Path], bool]
    load: Callable[[Path], Any]


_FORMATS: dict[str, ModelFormat] = {}


def register_model_format(fmt: ModelFormat) -> None:
    """Load files of ``fmt`` (replacing a format registered under the same name)."""
    _FORMATS[fmt.name] = fmt


def model_suffixes() -> tuple[str, ...]:
    """Every model file suffix a built-in or registered loader reads."""
    return tuple(dict.fromkeys([*MODEL_SUFFIXES, *(s for f in _FORMATS.values() for s in f.suffixes)]))


def model_format(path: Path) -> ModelFormat | None:
    """The registered format of ``path``: one whose suffix it has and whose content it shows, else any
    whose content it shows (``model.bin`` from CatBoost is found too)."""
    suffix = path.suffix.lower()
    by_suffix = [f for f in _FORMATS.values() if suffix in f.suffixes]
    for fmt in [*by_suffix, *(f for f in _FORMATS.values() if f not in by_suffix)]:
        try:
            if fmt.sniff(path):
                return fmt
        except OSError:  # e.g. a directory, which a format of model directories may still claim
            continue
    return None


def load_model(path: Path, trusted: tuple[str, ...] = ()) -> Any:
    """Load a model from .skops (safe), .joblib, .pickle or a registered format; ``None`` for others."""
    suffix = path.suffix.lower()
    if suffix == ".skops":
        from pytest_mlgate.evaluate import skops_files

        return skops_files.load(path, trusted)
    if suffix == ".joblib":
        import joblib

        return joblib.load(path)
    if suffix in (".pkl", ".pickle"):
        with path.open("rb") as fh:
            return pickle.load(fh)
    fmt = model_format(path)
    return fmt.load(path) if fmt is not None else None


def load_dataset(path: Path, text: dict[str, Any] | None = None) -> pd.DataFrame | None:
    """Load a CSV or Parquet file as a DataFrame (the CSV columns in ``text`` read as text, with the
    dtype given); ``None`` for other formats."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype=text or None)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return None


def describe_error(what: str, path: Path, exc: BaseException) -> MlgateError:
    """A one-line error for an artifact that failed to load."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return MlgateError(f"{what}: cannot load {path}: {type(exc).__name__}: {text}".rstrip(": "))
