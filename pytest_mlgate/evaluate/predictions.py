"""Predictions scored elsewhere as the model under test: ``predictions:PATH`` names a table of ids
and outputs, joined to each dataset by ``[tool.mlgate] id_column``.

The table holds the id column and either ``proba_<class>`` columns (one per class), or a ``score``
column (the positive class's probability of a 0/1 classifier), or a ``prediction`` column alone
(a regressor's values, or labels). A ``prediction`` column next to probabilities gives the labels;
without one, labels are the most probable class. Every join fails closed: a dataset row without a
prediction, a prediction that matches no row of any configured dataset, and a repeated or missing
id are errors with counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_mlgate.errors import ConfigError, MlgateError

if TYPE_CHECKING:
    import pandas as pd

    from pytest_mlgate.config import Settings
    from pytest_mlgate.evaluate.sources import Artifact

PREFIX = "predictions:"
PROBA, SCORE, PREDICTION = "proba_", "score", "prediction"


class JoinError(LookupError):
    """Dataset rows and a predictions table do not join (the model under test adds the dataset's name)."""


class PredictionTable:
    """Outputs computed elsewhere (here: values or labels): each call joins the rows' ids to the table.

    ``feature_names_in_`` is the id column alone, so the gates pass exactly the ids to ``predict``
    and ``predict_proba``. ``mlgate_live`` is false: gates that must run a model say so.
    """

    mlgate_live = False

    def __init__(self, spec: str, table: pd.DataFrame, id_column: str, *, classes: list[Any] | None,
                 proba: np.ndarray | None, labels: np.ndarray | None,
                 universe: Callable[[], Iterable[pd.Series]]):
        import pandas as pd

        self.spec, self.id_column = spec, id_column
        self.feature_names_in_ = np.asarray([id_column], dtype=object)
        self.mlgate_labels_from_proba = labels is None
        if classes is not None:
            self.classes_ = np.asarray(classes)
        self._index = pd.Index(table[id_column])
        self._proba, self._labels, self._universe = proba, labels, universe
        self._checked_extras = False

    def __repr__(self) -> str:
        return f"<{self.spec}>"

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._labels[self._rows(X)]

    def _rows(self, X: pd.DataFrame) -> np.ndarray:
        """The table row of each dataset row; every row must have exactly one prediction."""
        ids = X.iloc[:, 0]
        _require_unique_ids(ids, f"the dataset's '{self.id_column}'", JoinError)
        rows = self._index.get_indexer(ids)
        missing = rows < 0
        if missing.any():
            raise JoinError(f"{int(missing.sum())} of {len(ids)} rows have no prediction in {self.spec} "
                              f"(ids e.g. {_examples(ids[missing])}{_dtype_hint(ids, self._index)})")
        if not self._checked_extras:
            self._check_extras()
        return rows

    def _check_extras(self) -> None:
        """Predictions whose id is in no configured dataset mean the table and the data disagree."""
        import pandas as pd

        known = [pd.Index(ids) for ids in self._universe()]
        union = known[0].append(known[1:]) if known else pd.Index([])
        extra = ~self._index.isin(union)
        if extra.any():
            raise JoinError(f"{int(extra.sum())} of {len(self._index)} predictions in {self.spec} match no row "
                              f"of any configured dataset (ids e.g. {_examples(self._index[extra])})")
        self._checked_extras = True


class PredictedProbabilities(PredictionTable):
    """A table with class probabilities: a classifier."""

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self._proba[self._rows(X)]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self._labels is None:
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return self._labels[self._rows(X)]


def locate(name: str, spec: str, settings: Settings) -> Artifact:
    """The table file of a ``predictions:PATH`` spec, hashed and checked against its pin."""
    from pytest_mlgate.evaluate.sources import file_artifact

    return file_artifact(name, spec, settings.path(spec[len(PREFIX):]), settings)


def load(artifact: Artifact, settings: Settings, universe: Callable[[], Iterable[pd.Series]]) -> PredictionTable:
    """Read and validate the table behind a ``predictions:`` spec."""
    from pytest_mlgate.evaluate.loaders import (
        DATASET_SUFFIXES,
        describe_error,
        load_dataset,
    )

    spec, id_column = f"predictions table {artifact.path}", settings.id_column
    if id_column is None:
        raise ConfigError(f"{artifact.name}: {artifact.spec} needs [tool.mlgate] id_column, the column that "
                          "joins predictions to dataset rows")
    try:
        table = load_dataset(artifact.path)
    except Exception as exc:  # a corrupt file raises anything
        raise describe_error(artifact.name, artifact.path, exc) from None
    if table is None:
        raise MlgateError(f"{spec}: not a table (supported: {', '.join(DATASET_SUFFIXES)})")
    columns = [str(c) for c in table.columns]
    if id_column not in table.columns:
        raise MlgateError(f"{spec}: no id column '{id_column}' (columns: {', '.join(columns)})")
    _require_unique_ids(table[id_column], f"{spec}: '{id_column}'")
    proba_columns = [c for c in columns if c.startswith(PROBA)]
    labels = _column(table, PREDICTION, spec, numeric=False) if PREDICTION in table.columns else None
    if len(proba_columns) >= 2:
        classes = [_class(c[len(PROBA):]) for c in proba_columns]
        proba = np.column_stack([_column(table, c, spec) for c in proba_columns])
    elif SCORE in table.columns:
        if settings.positive_label not in (1, True):
            raise MlgateError(f"{spec}: a '{SCORE}' column is the probability of class 1; with positive_label "
                              f"{settings.positive_label!r} give one {PROBA}<class> column per class")
        score = _column(table, SCORE, spec)
        classes, proba = [0, 1], np.column_stack((1.0 - score, score))
    elif labels is not None:
        return PredictionTable(spec, table, id_column, classes=None, proba=None, labels=labels, universe=universe)
    else:
        raise MlgateError(f"{spec}: no output columns: give {PROBA}<class> columns, a '{SCORE}' column or a "
                          f"'{PREDICTION}' column (columns: {', '.join(columns)})")
    return PredictedProbabilities(spec, table, id_column, classes=classes, proba=proba, labels=labels,
                                  universe=universe)


def _column(table: pd.DataFrame, name: str, spec: str, numeric: bool = True) -> np.ndarray:
    column = table[name]
    missing = int(column.isna().sum())
    if missing:
        raise MlgateError(f"{spec}: column '{name}' has {missing} missing values")
    if not numeric:
        return column.to_numpy()
    if column.dtype.kind not in "fiub":
        raise MlgateError(f"{spec}: column '{name}' must be numeric, got {column.dtype}")
    values = column.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise MlgateError(f"{spec}: column '{name}' must hold probabilities in [0, 1]")
    return values


def _class(text: str) -> Any:
    """A class label from a column name: ``proba_1`` is the integer class 1, ``proba_yes`` is "yes"."""
    try:
        return int(text)
    except ValueError:
        return text


def _require_unique_ids(ids: pd.Series, where: str, error: type[Exception] = MlgateError) -> None:
    nulls = int(ids.isna().sum())
    if nulls:
        raise error(f"{where}: {nulls} of {len(ids)} ids are missing")
    repeated = ids.duplicated(keep=False)
    if repeated.any():
        raise error(f"{where}: {int(ids[repeated].nunique())} ids occur more than once "
                          f"({int(repeated.sum())} rows; e.g. {_examples(ids[repeated].unique())})")


def _examples(values: Any, limit: int = 5) -> str:
    values = list(values)
    text = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:limit])
    return text + (", ..." if len(values) > limit else "")


def _dtype_hint(ids: pd.Series, index: pd.Index) -> str:
    if ids.dtype.kind == index.dtype.kind:
        return ""
    return f"; ids are {ids.dtype} in the dataset, {index.dtype} in the table"
