"""Typed loading: datasets read with the column types of the reference (training) data, or of a schema.

pandas reads a file with its own defaults: missing text arrives as NaN where the model was fitted
on None, an integer column with nulls as floats, categories and datetimes as text from CSV. Each
dataset's columns are cast to the reference's types (the pandas types its Parquet file was written
from, kept in the file's pandas metadata, or the types of its loaded frame; or the dtypes of the
pandera schema configured for the dataset). A cast that keeps every value is made and the type
difference reported; one that would change or drop a value fails closed, naming the column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    import pandas as pd

BOOLEANS = {True: True, False: False, "True": True, "False": False, "true": True, "false": False}


@dataclass(frozen=True)
class Column:
    """A column's pandas dtype and, for an object column, its missing value (None or NaN)."""

    dtype: Any
    missing: Any = None


@dataclass(frozen=True)
class Mismatch:
    """A column whose type in a dataset differs from the reference's."""

    column: str
    expected: str
    found: str
    read_as: str

    def to_dict(self) -> dict[str, str]:
        return {"column": self.column, "expected": self.expected, "found": self.found, "read_as": self.read_as}


class Lossy(ValueError):
    """A cast that would change or drop values: ``column``, why, and an example value."""

    def __init__(self, column: str, reason: str, example: Any = None):
        super().__init__(f"column '{column}': {reason}" + ("" if example is None else f" (e.g. {example!r})"))
        self.column = column


def stored(schema: Any) -> dict[str, Any]:
    """The pandas dtypes a Parquet schema's columns were written from (its pandas metadata; else
    pyarrow's defaults): an object column of text stays object, though pandas 3 reads it as ``str``."""
    dtypes = dict(schema.empty_table().to_pandas().dtypes)
    for entry in (schema.pandas_metadata or {}).get("columns", []):
        if entry.get("numpy_type") == "object" and entry.get("name") in dtypes:
            dtypes[entry["name"]] = np.dtype(object)
    return dtypes


def of_parquet(arrow: Any) -> dict[str, Column]:
    """The column types of a Parquet dataset (``pyarrow.dataset``), categories read from the data."""
    import pandas as pd

    dtypes = stored(arrow.schema)
    categorical = [c for c, t in dtypes.items() if isinstance(t, pd.CategoricalDtype)]
    if categorical:  # the file's dictionaries, unified in order of appearance as pandas reads them
        frame = arrow.to_table(columns=categorical).to_pandas()
        dtypes.update({c: frame[c].dtype for c in categorical})
    return {c: Column(t) for c, t in dtypes.items()}


def of_frame(frame: pd.DataFrame) -> dict[str, Column]:
    """The column types of a loaded frame; an object column's missing value is the one it holds."""
    found = {}
    for name, dtype in frame.dtypes.items():
        missing = None
        if dtype == object:
            gaps = frame[name][frame[name].isna()]
            missing = gaps.iloc[0] if len(gaps) else None
        found[str(name)] = Column(dtype, missing)
    return found


def of_schema(schema: Any) -> dict[str, Column]:
    """The dtypes a pandera ``DataFrameSchema`` gives its columns (columns without one are left out)."""
    return {str(n): Column(c.dtype.type) for n, c in schema.columns.items() if c.dtype is not None}


def resolve(found: dict[str, Any], expected: dict[str, Column],
            has_nulls: Callable[[str], bool]) -> tuple[dict[str, Column], list[Mismatch]]:
    """The type each shared column is read as, and the columns whose type differs from the reference.

    An integer or boolean column with nulls is read as pandas reads one: float64, or object with None.
    """
    import pandas as pd

    targets, mismatches = {}, []
    for column, have in found.items():
        want = expected.get(column)
        if want is None:
            continue
        target = want
        if have != want.dtype and has_nulls(column):
            if want.dtype.kind in "iu" and not isinstance(want.dtype, pd.api.extensions.ExtensionDtype):
                target = Column(np.dtype("float64"))
            elif want.dtype == np.dtype(bool):
                target = Column(np.dtype(object), None)
        targets[column] = target
        if str(have) != str(want.dtype):
            mismatches.append(Mismatch(column, str(want.dtype), str(have), str(target.dtype)))
    return targets, mismatches


@dataclass(frozen=True)
class Typer:
    """Casts frames (a whole dataset or each of its chunks) to the resolved column types; ``expected``
    names the reference's type of each column for the error of a cast that would lose values."""

    targets: dict[str, Column]
    dataset: str = ""
    expected: dict[str, str] = field(default_factory=dict)

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        changed = {c: cast(frame[c], t, c) for c, t in self.targets.items() if c in frame.columns}
        changed = {c: s for c, s in changed.items() if s is not frame[c]}
        if changed:
            frame = frame.copy(deep=False)
            for column, series in changed.items():
                frame[column] = series
        return frame

    def key(self) -> str:
        """What the cast depends on, for cache keys of what is computed from the cast frames."""
        return repr(sorted((c, repr(t.dtype), repr(t.missing)) for c, t in self.targets.items()))

    def failure(self, exc: Lossy, where: Any) -> MlgateError:
        """The one-line error of a cast that would lose values, naming the file or URL ``where``."""
        expected = self.expected.get(exc.column) or str(self.targets[exc.column].dtype)
        return MlgateError(f"dataset '{self.dataset}': {where}: {exc}; cannot be read as the reference's type "
                           f"{expected}")


def cast(series: pd.Series, want: Column, column: str) -> pd.Series:
    """``series`` as ``want`` without changing a value, else :class:`Lossy`."""
    import pandas as pd

    dtype = want.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _categorical(series, dtype, column)
    if dtype == object:
        if series.dtype.kind in "iufcmM":
            raise Lossy(column, f"{series.dtype} values where the reference has objects (text)",
                        _first(series.dropna()))
        if series.dtype != object:  # one pass: Python objects, missing as the reference's
            return pd.Series(series.to_numpy(dtype=object, na_value=want.missing), index=series.index,
                             name=series.name, dtype=object)
        gaps = series.isna()
        if gaps.any() and not all(v is want.missing for v in series[gaps]):
            series = series.copy()
            series[gaps] = want.missing
        return series
    if series.dtype == dtype:
        return series
    if isinstance(dtype, pd.StringDtype):
        if series.dtype.kind in "iufcmMb":
            raise Lossy(column, f"{series.dtype} values where the reference has text", _first(series.dropna()))
        return series.astype(dtype)
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        return _numeric(series, dtype, column)
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return _boolean(series, column)
    if isinstance(dtype, (pd.DatetimeTZDtype, np.dtype)) and dtype.kind == "M":
        return _datetime(series, dtype, column)
    try:
        return series.astype(dtype)
    except (TypeError, ValueError) as exc:
        raise Lossy(column, f"{series.dtype} values do not convert ({str(exc).splitlines()[0]})") from None


def _first(values: pd.Series) -> Any:
    value = values.iloc[0] if len(values) else None
    return value.item() if hasattr(value, "item") else value


def _numeric(series: pd.Series, dtype: np.dtype, column: str) -> pd.Series:
    import pandas as pd

    if series.dtype.kind in "mM":
        raise Lossy(column, f"{series.dtype} values where the reference has numbers")
    values = series
    if not (isinstance(series.dtype, np.dtype) and series.dtype.kind in "iufb"):
        values = pd.to_numeric(series.astype(object), errors="coerce")
        bad = values.isna() & series.notna()
        if bad.any():
            raise Lossy(column, "text in a numeric column", _first(series[bad]))
    if dtype.kind == "f":
        return values.astype(dtype)
    floats = values.astype("float64")
    whole = floats.dropna()
    if (whole != np.round(whole)).any():
        raise Lossy(column, "fractions in an integer column", _first(whole[whole != np.round(whole)]))
    if floats.isna().any():
        return floats  # an integer column with nulls, as pandas reads one
    info = np.iinfo(dtype)
    if len(whole) and (whole.min() < info.min or whole.max() > info.max):
        raise Lossy(column, f"values outside the range of {dtype}", _first(whole[(whole < info.min) | (whole > info.max)]))
    return values.astype(dtype)


def _boolean(series: pd.Series, column: str) -> pd.Series:
    present = series.dropna()
    if series.dtype.kind in "iuf":
        odd = present[~present.isin([0, 1])]
        mapped = series.map({0: False, 1: True}, na_action="ignore")
    else:
        odd = present[~present.isin(list(BOOLEANS))]
        mapped = series.map(BOOLEANS, na_action="ignore")
    if len(odd):
        raise Lossy(column, f"{series.dtype} values that are not booleans", _first(odd))
    if mapped.isna().any():
        return mapped.astype(object).where(mapped.notna(), None)
    return mapped.astype(bool)


def _datetime(series: pd.Series, dtype: Any, column: str) -> pd.Series:
    import pandas as pd

    values = series
    if series.dtype.kind != "M":
        if series.dtype.kind in "iufcb":
            raise Lossy(column, f"{series.dtype} values where the reference has datetimes", _first(series.dropna()))
        values = pd.to_datetime(series, errors="coerce", format="ISO8601", utc=getattr(dtype, "tz", None) is not None)
        bad = values.isna() & series.notna()
        if bad.any():
            raise Lossy(column, "text that is not a datetime", _first(series[bad]))
    aware, wanted = getattr(values.dtype, "tz", None) is not None, getattr(dtype, "tz", None) is not None
    if aware != wanted:
        raise Lossy(column, f"{values.dtype} values where the reference has {dtype} (time zones differ)")
    return values.astype(dtype)


def _categorical(series: pd.Series, dtype: Any, column: str) -> pd.Series:
    """Categories: the reference's, then any new ones in sorted order (new categories are data, not errors)."""
    import pandas as pd

    known = list(dtype.categories) if dtype.categories is not None else []
    if isinstance(series.dtype, pd.CategoricalDtype) and series.dtype.ordered == dtype.ordered and (
            list(series.dtype.categories) == known):
        return series
    values = series.astype(object) if isinstance(series.dtype, pd.CategoricalDtype) else series
    present = pd.unique(values.dropna())
    if known and isinstance(known[0], str) and any(not isinstance(v, str) for v in present):
        raise Lossy(column, f"{series.dtype} values where the reference has text categories",
                    next(v for v in present if not isinstance(v, str)))
    seen = set(known)
    new = [v for v in present if v not in seen]
    try:
        new.sort()
    except TypeError:  # mixed types: a stable order all the same
        new.sort(key=repr)
    target = pd.CategoricalDtype([*known, *new], ordered=dtype.ordered)
    return series if series.dtype == target else values.astype(target)


def text_columns(expected: dict[str, Column] | None) -> dict[str, Any]:
    """The text columns of ``expected`` with their dtypes, to read from CSV as text (``"01"`` stays ``"01"``)."""
    import pandas as pd

    return {c: t.dtype for c, t in (expected or {}).items()
            if t.dtype == object or isinstance(t.dtype, pd.StringDtype)}


def read_schema(path: Any) -> dict[str, Column]:
    """The column dtypes of a pandera YAML or JSON schema file; one-line errors name the file."""
    from pandera.io import pandas_io

    if not path.is_file():
        raise MlgateError(f"schema file {path} not found ([tool.mlgate.schemas])")
    try:
        schema = pandas_io.from_json(path) if path.suffix.lower() == ".json" else pandas_io.from_yaml(path)
        return of_schema(schema)
    except Exception as exc:  # yaml, json and pandera raise many types for a bad file
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise MlgateError(f"schema file {path} is not a valid pandera schema: {type(exc).__name__}: {text}") from None
