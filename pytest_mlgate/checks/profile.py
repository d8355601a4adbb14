"""Vectorised column statistics shared by the data quality checks.

Counts (missing values, outliers beyond a fence, duplicate or overlapping rows, unseen categories)
are exact over every row. Estimates (quartiles, mean and standard deviation, skewness, single-feature
predictive power) come from a seeded sample of at most ``sample_rows`` rows: at 50,000 rows their
sampling error is far below any sensible threshold, and it keeps a million-row gate fast.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

SAMPLE_ROWS = 50_000
_MIX = np.uint64(0x9E3779B97F4A7C15)
_BUCKET_BITS = 22


def is_numeric(series: pd.Series) -> bool:
    """Numbers that have a size: ints and floats, not booleans."""
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)


def as_float(series: pd.Series) -> np.ndarray:
    """The column as float64 with NaN for missing values (no copy for float64 columns)."""
    if series.dtype == np.float64:
        return series.to_numpy()
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


class Profile:
    """Lazily computed per-column statistics of one frame; each is computed at most once."""

    def __init__(self, frame: pd.DataFrame, *, seed: int = 0, sample_rows: int = SAMPLE_ROWS):
        self.frame = frame
        self.rows = len(frame)
        self.seed = seed
        self.sample_rows = sample_rows
        self._floats: dict[str, np.ndarray] = {}
        self._missing: dict[str, int] = {}
        self._range: dict[str, tuple[float, float]] = {}
        self._sampled: dict[str, np.ndarray] = {}
        self._uniques: dict[str, np.ndarray] = {}

    @cached_property
    def numeric(self) -> list[str]:
        return [c for c in self.frame.columns if is_numeric(self.frame[c])]

    @cached_property
    def categorical(self) -> list[str]:
        """Text, category and boolean columns."""
        kinds = (pd.api.types.is_object_dtype, pd.api.types.is_string_dtype, pd.api.types.is_bool_dtype,
                 lambda d: isinstance(d, pd.CategoricalDtype))
        return [c for c in self.frame.columns if any(k(self.frame[c].dtype) for k in kinds)]

    @cached_property
    def sample_index(self) -> np.ndarray | None:
        """Sorted row positions of the seeded sample; ``None`` when every row is used."""
        if self.rows <= self.sample_rows:
            return None
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(self.rows, self.sample_rows, replace=False))

    def floats(self, column: str) -> np.ndarray:
        if column not in self._floats:
            self._floats[column] = as_float(self.frame[column])
        return self._floats[column]

    def missing(self, column: str) -> int:
        """Exact count of missing values; a float column's sum detects the clean case in one pass."""
        if column not in self._missing:
            series = self.frame[column]
            if series.dtype == np.float64:
                values = series.to_numpy()
                clean = np.isfinite(values.sum()) or not np.isnan(values).any()
                self._missing[column] = 0 if clean else int(np.count_nonzero(np.isnan(values)))
            elif series.dtype.kind in "iub":
                self._missing[column] = 0
            else:
                self._missing[column] = int(series.isna().sum())
        return self._missing[column]

    def value_range(self, column: str) -> tuple[float, float]:
        """Minimum and maximum of a numeric column, ignoring missing values (NaN when all missing)."""
        if column not in self._range:
            values = self.floats(column)
            if self.missing(column) == len(values):
                self._range[column] = (float("nan"), float("nan"))
            elif self.missing(column):
                self._range[column] = (float(np.nanmin(values)), float(np.nanmax(values)))
            else:
                self._range[column] = (float(values.min()), float(values.max()))
        return self._range[column]

    def sampled(self, column: str) -> np.ndarray:
        """The sampled rows' non-missing values of a numeric column."""
        if column not in self._sampled:
            values = self.floats(column)
            if self.sample_index is not None:
                values = values[self.sample_index]
            self._sampled[column] = values[~np.isnan(values)] if self.missing(column) else values
        return self._sampled[column]

    def is_binary(self, column: str) -> bool:
        """At most two distinct values (indicator columns): skewness and outlier rules do not apply."""
        low, high = self.value_range(column)
        sample = self.sampled(column)
        if np.count_nonzero((sample != low) & (sample != high)):
            return False
        values = self.floats(column)
        return not np.count_nonzero((values != low) & (values != high) & ~np.isnan(values))

    def count_outside(self, column: str, low: float, high: float) -> int:
        """Exact number of values below ``low`` or above ``high``."""
        vmin, vmax = self.value_range(column)
        if not (vmin < low or vmax > high):
            return 0
        values = self.floats(column)
        return int(np.count_nonzero((values < low) | (values > high)))

    def uniques(self, column: str) -> np.ndarray:
        """Distinct non-missing values of a column."""
        if column not in self._uniques:
            values = pd.unique(self.frame[column].dropna()) if self.missing(column) else self.frame[column].unique()
            self._uniques[column] = np.asarray(values, dtype=object)
        return self._uniques[column]

    def is_constant(self, column: str) -> bool:
        """Fewer than two distinct non-missing values."""
        if is_numeric(self.frame[column]):
            low, high = self.value_range(column)
            return not low < high
        return len(self.uniques(column)) < 2

    def sample_frame(self, columns: list[str]) -> pd.DataFrame:
        frame = self.frame[columns]
        return frame if self.sample_index is None else frame.iloc[self.sample_index]


# ---------------------------------------------------------------- row identity


def normalised(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Columns comparable across files: numbers as float64, everything else as Python objects."""
    return pd.DataFrame({c: as_float(frame[c]) if is_numeric(frame[c]) else
                         frame[c].astype(object).where(frame[c].notna(), None) for c in columns})


def row_keys(frame: pd.DataFrame, columns: list[str], width: int = 4) -> np.ndarray:
    """A 64-bit key per row from a few columns: equal rows have equal keys (the converse is checked).

    Numeric columns go first (their bits are cheap and usually distinctive); text is hashed only
    when there are not enough numeric columns.
    """
    numeric = [c for c in columns if is_numeric(frame[c])]
    chosen = (numeric + [c for c in columns if c not in numeric])[:width]
    key = np.zeros(len(frame), dtype=np.uint64)
    for column in chosen:
        if column in numeric:
            values = as_float(frame[column]) + 0.0  # folds -0.0 into 0.0
            values[np.isnan(values)] = np.nan  # one NaN bit pattern
            bits = values.view(np.uint64)
        else:
            bits = pd.util.hash_pandas_object(frame[column].astype(object), index=False).to_numpy()
        key = key * _MIX + bits
    key ^= key >> np.uint64(31)
    return key * _MIX


def _bucket(keys: np.ndarray) -> np.ndarray:
    return (keys >> np.uint64(64 - _BUCKET_BITS)).astype(np.intp)


def duplicate_candidates(keys: np.ndarray) -> np.ndarray:
    """Positions of rows whose key occurs more than once (a superset of the duplicate rows)."""
    buckets = _bucket(keys)
    crowded = np.bincount(buckets, minlength=1 << _BUCKET_BITS)[buckets] > 1
    positions = np.flatnonzero(crowded)
    repeated = pd.Series(keys[positions]).duplicated(keep=False).to_numpy()
    return positions[repeated]


def shared_candidates(keys: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``keys`` and in ``other`` whose key occurs in both (supersets of shared rows)."""
    mine_b, other_b = _bucket(keys), _bucket(other)
    in_mine, in_other = (np.zeros(1 << _BUCKET_BITS, dtype=bool) for _ in range(2))
    in_mine[mine_b] = True
    in_other[other_b] = True
    mine, theirs = np.flatnonzero(in_other[mine_b]), np.flatnonzero(in_mine[other_b])
    mine_keys, their_keys = keys[mine], other[theirs]
    return mine[np.isin(mine_keys, their_keys)], theirs[np.isin(their_keys, mine_keys)]


def shared_rows(frame: pd.DataFrame, other: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Positions of ``frame``'s rows equal, in ``columns``, to some row of ``other``."""
    mine, theirs = shared_candidates(row_keys(frame, columns), row_keys(other, columns))
    if not len(mine):
        return mine
    left = normalised(frame.iloc[mine], columns).assign(_position=mine)
    right = normalised(other.iloc[theirs], columns).drop_duplicates()
    return np.unique(left.merge(right, on=columns, how="inner")["_position"].to_numpy())


def duplicated_rows(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Positions of rows that repeat an earlier row in ``columns`` (exact, like ``DataFrame.duplicated``)."""
    candidates = duplicate_candidates(row_keys(frame, columns))
    if not len(candidates):
        return candidates
    repeats = frame.iloc[candidates][columns].duplicated().to_numpy()
    return candidates[repeats]


def jsonable(value: Any) -> Any:
    """A table cell that json can write: numbers and text as they are, anything else as text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)
