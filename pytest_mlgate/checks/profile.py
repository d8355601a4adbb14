"""Vectorised column statistics shared by the data quality checks.

Counts (missing values, outliers beyond a fence, duplicate or overlapping rows, unseen categories)
are exact over every row. Estimates (quartiles, mean and standard deviation, skewness, single-feature
predictive power) come from a seeded sample of at most ``sample_rows`` rows: at 20,000 rows their
sampling error is far below any sensible threshold, and it keeps a million-row gate fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

SAMPLE_ROWS = 20_000
_MIX = np.uint64(0x9E3779B97F4A7C15)
_BUCKET_BITS = 22


def is_numeric(series: pd.Series) -> bool:
    """Numbers that have a size: ints and floats, not booleans."""
    return _numeric_dtype(series.dtype)


def _numeric_dtype(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _categorical_dtype(dtype: Any) -> bool:
    return (isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))


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
        self._taken: dict[str, np.ndarray] = {}
        self._keys: dict[tuple[str, ...], np.ndarray] = {}
        self._sampled: dict[str, np.ndarray] = {}
        self._uniques: dict[str, np.ndarray] = {}
        self._series: dict[str, pd.Series] = {}
        self._sample_series: dict[str, pd.Series] = {}

    @cached_property
    def numeric(self) -> list[str]:
        """Integer and float columns."""
        return [c for c, dtype in self.frame.dtypes.items() if _numeric_dtype(dtype)]

    @cached_property
    def categorical(self) -> list[str]:
        """Text, category and boolean columns."""
        return [c for c, dtype in self.frame.dtypes.items() if _categorical_dtype(dtype)]

    def series(self, column: str) -> pd.Series:
        """A column (cached: building a Series from a wide frame is not free)."""
        if column not in self._series:
            self._series[column] = self.frame[column]
        return self._series[column]

    @cached_property
    def sample_index(self) -> np.ndarray | None:
        """Sorted row positions of the seeded sample; ``None`` when every row is used."""
        if self.rows <= self.sample_rows:
            return None
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(self.rows, self.sample_rows, replace=False))

    def values(self, column: str) -> np.ndarray:
        """A numeric column as a numpy array: plain int and float columns without a copy, nullable
        extension columns as float64 with NaN."""
        if column not in self._floats:
            series = self.series(column)
            plain = isinstance(series.dtype, np.dtype) and series.dtype.kind in "iuf"
            self._floats[column] = series.to_numpy() if plain else as_float(series)
        return self._floats[column]

    def missing(self, column: str) -> int:
        """Exact count of missing values."""
        if column not in self._missing:
            series = self.series(column)
            if column in self.numeric:
                self._scan(column)
            elif isinstance(series.dtype, np.dtype) and series.dtype.kind == "b":
                self._missing[column] = 0
            else:
                self._missing[column] = int(series.isna().sum())
        return self._missing[column]

    def _scan(self, column: str) -> None:
        """One visit to a numeric column while it is in the CPU cache: its missing count (its minimum
        is NaN if any value is), its range when none is missing, and its sampled values."""
        values = self.values(column)
        low = values.min() if len(values) else np.nan
        if np.isnan(low):
            self._missing[column] = int(np.count_nonzero(np.isnan(values)))
        else:
            self._missing[column] = 0
            self._range[column] = (low.item(), values.max().item())  # exact, ints as ints
        self._taken[column] = values if self.sample_index is None else values[self.sample_index]

    def value_range(self, column: str) -> tuple[float, float]:
        """Exact minimum and maximum of a numeric column (ints as ints), ignoring missing values
        (NaN when all are missing)."""
        if column not in self._range:
            missing = self.missing(column)  # the scan finds the range when nothing is missing
            values = self.values(column)
            if column not in self._range:
                self._range[column] = ((float("nan"), float("nan")) if missing == len(values) else
                                       (np.nanmin(values).item(), np.nanmax(values).item()))
        return self._range[column]

    @cached_property
    def sample_matrix(self) -> np.ndarray:
        """Numeric columns (in ``numeric`` order) on the sampled rows, NaN for missing: one row per column."""
        if not self.numeric:
            return np.empty((0, min(self.rows, self.sample_rows)))
        for column in self.numeric:
            self.missing(column)  # scans the column once, sampling it on the way
        return np.vstack([self._taken.pop(c).astype(np.float64, copy=False) for c in self.numeric])

    def sample_quantiles(self, levels: np.ndarray, rows: int = 2_000) -> np.ndarray:
        """Quantiles (numpy's linear rule) of every numeric column, from ``rows`` of the sampled rows
        spread over the sample: one row per numeric column, one column per level; NaN for a column
        with no values there. Cheap enough to place bin edges; quartiles use the whole sample."""
        step = max(1, self.sample_matrix.shape[1] // rows)
        matrix = np.sort(self.sample_matrix[:, ::step], axis=1)  # NaN sorts last
        present = np.count_nonzero(~np.isnan(matrix), axis=1)
        last = np.maximum(present - 1, 0)[:, None]
        position = np.asarray(levels)[None, :] * last
        low = np.floor(position).astype(np.intp)
        high = np.minimum(low + 1, last)
        lower, upper = np.take_along_axis(matrix, low, 1), np.take_along_axis(matrix, high, 1)
        result = lower + (upper - lower) * (position - low)
        result[present == 0, :] = np.nan
        return result

    @cached_property
    def quartiles(self) -> dict[str, tuple[float, float]]:
        """Estimated first and third quartile of each numeric column (NaN when all are missing)."""
        matrix = self.sample_matrix
        complete = ~np.isnan(matrix).any(axis=1)
        found = np.full((len(self.numeric), 2), np.nan)
        if complete.any():
            found[complete] = np.percentile(matrix[complete], [25, 75], axis=1).T
        for row in np.flatnonzero(~complete):
            present = matrix[row][~np.isnan(matrix[row])]
            if len(present):
                found[row] = np.percentile(present, [25, 75])
        return {c: (float(q1), float(q3)) for c, (q1, q3) in zip(self.numeric, found)}

    def sample_values(self, column: str) -> np.ndarray:
        """A numeric column's values on the sampled rows, missing ones as NaN (aligned with the sample)."""
        return self.sample_matrix[self.numeric.index(column)]

    def sampled(self, column: str) -> np.ndarray:
        """The sampled rows' non-missing values of a numeric column."""
        if column not in self._sampled:
            values = self.sample_values(column)
            self._sampled[column] = values[~np.isnan(values)] if self.missing(column) else values
        return self._sampled[column]

    def is_binary(self, column: str) -> bool:
        """At most two distinct values (indicator columns): skewness and outlier rules do not apply."""
        low, high = self.value_range(column)
        sample = self.sampled(column)
        if np.count_nonzero((sample != low) & (sample != high)):
            return False
        values = self.values(column)
        others = (values != low) & (values != high)
        return not np.count_nonzero(others & ~np.isnan(values) if self.missing(column) else others)

    def count_outside(self, column: str, low: float, high: float) -> int:
        """Exact number of values below ``low`` or above ``high``."""
        vmin, vmax = self.value_range(column)
        values = self.values(column)
        below = int(np.count_nonzero(values < low)) if vmin < low else 0
        return below + (int(np.count_nonzero(values > high)) if vmax > high else 0)

    def uniques(self, column: str) -> np.ndarray:
        """Distinct non-missing values of a column."""
        if column not in self._uniques:
            series = self.series(column)
            values = pd.unique(series.dropna()) if self.missing(column) else series.unique()
            self._uniques[column] = np.asarray(values, dtype=object)
        return self._uniques[column]

    def absent(self, column: str, values: list[Any]) -> list[Any]:
        """Those of ``values`` that never occur in the column (exact): the sample's values rule most
        out cheaply, and one pass over the column settles the rest."""
        seen = self._uniques.get(column)
        if seen is None:
            seen = pd.unique(self.sample_series(column).dropna())
        known = set(np.asarray(seen, dtype=object).tolist())
        rest = [v for v in values if v not in known]
        if rest and column not in self._uniques:
            series = self.series(column)
            known = set(np.asarray(pd.unique(series[series.isin(rest)]), dtype=object).tolist())
            rest = [v for v in rest if v not in known]
        return rest

    def is_constant(self, column: str) -> bool:
        """Fewer than two distinct non-missing values (two different sampled values settle it early)."""
        if column in self.numeric:
            low, high = self.value_range(column)
            return not low < high
        sample = self.sample_series(column).dropna()
        if len(sample) and (sample != sample.iloc[0]).any():
            return False
        return len(self.uniques(column)) < 2

    def row_keys(self, columns: list[str]) -> np.ndarray:
        """Cached :func:`row_keys` of this frame."""
        if tuple(columns) not in self._keys:
            nan_free = {c for c in key_columns(self.frame, columns) if c in self.numeric and not self.missing(c)}
            self._keys[tuple(columns)] = row_keys(self.frame, columns, nan_free=nan_free)
        return self._keys[tuple(columns)]

    def sample_series(self, column: str) -> pd.Series:
        """A column on the sampled rows (cached: several checks read the same text columns)."""
        if column not in self._sample_series:
            series = self.series(column)
            self._sample_series[column] = series if self.sample_index is None else series.iloc[self.sample_index]
        return self._sample_series[column]


# ---------------------------------------------------------------- row identity


def normalised(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Columns comparable across files: numbers as float64, everything else as Python objects."""
    return pd.DataFrame({c: as_float(frame[c]) if is_numeric(frame[c]) else
                         frame[c].astype(object).where(frame[c].notna(), None) for c in columns})


def key_columns(frame: pd.DataFrame, columns: list[str], width: int = 4) -> list[str]:
    """The columns :func:`row_keys` uses: numeric ones first (cheap and usually distinctive)."""
    dtypes = frame.dtypes  # not frame[c]: building a Series per column of a wide frame adds up
    numeric = [c for c in columns if _numeric_dtype(dtypes[c])]
    return (numeric + [c for c in columns if c not in numeric])[:width]


def row_keys(frame: pd.DataFrame, columns: list[str], width: int = 4, nan_free: Iterable[str] = ()) -> np.ndarray:
    """A 64-bit key per row from a few columns: equal rows have equal keys (the converse is checked;
    numbers enter at float32 precision, so rows equal up to a float's last bits do too).

    Numeric columns go first (their bits are cheap and usually distinctive); text is hashed only
    when there are not enough numeric columns. ``nan_free`` columns skip NaN canonicalisation.
    """
    key = np.zeros(len(frame), dtype=np.uint64)
    for column in key_columns(frame, columns, width):
        series = frame[column]
        if is_numeric(series):
            # float32: keys survive a float's last bits changing (CSV round trips); matches are checked
            values = as_float(series).astype(np.float32)
            values += np.float32(0.0)  # folds -0.0 into 0.0
            if column not in nan_free:
                values[np.isnan(values)] = np.nan  # one NaN bit pattern
            bits = values.view(np.uint32)  # widened while adding, without a temporary array
        else:
            bits = pd.util.hash_pandas_object(series.astype(object), index=False).to_numpy()
        key *= _MIX
        key += bits
    key ^= key >> np.uint64(31)
    key *= _MIX
    return key


_WINDOWS = (64 - _BUCKET_BITS, 64 - 2 * _BUCKET_BITS)  # two independent slices of the key's bits


def _bucket(keys: np.ndarray, shift: int, bits: int = _BUCKET_BITS) -> np.ndarray:
    """``bits`` bits of each key from ``shift`` up, as table positions (computed in place, no casts)."""
    buckets = keys >> np.uint64(shift)
    buckets &= np.uint64((1 << bits) - 1)
    return buckets.view(np.intp)


def duplicate_candidates(keys: np.ndarray) -> np.ndarray:
    """Positions of rows whose key occurs more than once (a superset of the duplicate rows).

    Two rounds of bucket counting on different bits discard almost every unique key cheaply;
    a hash table settles the few rows left."""
    positions = None  # every row, without an index array
    for shift in _WINDOWS:
        rows = len(keys) if positions is None else len(positions)
        # fewer rows left: a smaller table (4 buckets per row still) is cheaper to clear
        bits = _BUCKET_BITS if rows > (1 << _BUCKET_BITS) // 8 else _BUCKET_BITS - 2
        buckets = _bucket(keys if positions is None else keys[positions], shift, bits)
        crowded = np.bincount(buckets, minlength=1 << bits) > 1  # a bool table: cheap to look up
        positions = _kept(positions, crowded[buckets])
    return positions[pd.Series(keys[positions]).duplicated(keep=False).to_numpy()]


def shared_candidates(keys: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``keys`` and in ``other`` whose key occurs in both (supersets of shared rows)."""
    mine = theirs = None  # every row, without an index array
    for shift in _WINDOWS:
        my_buckets = _bucket(keys if mine is None else keys[mine], shift)
        their_buckets = _bucket(other if theirs is None else other[theirs], shift)
        in_theirs = _seen(their_buckets)[my_buckets]
        in_mine = _seen(my_buckets[in_theirs])[their_buckets]
        mine, theirs = _kept(mine, in_theirs), _kept(theirs, in_mine)
    mine_keys, their_keys = pd.Series(keys[mine]), pd.Series(other[theirs])
    return mine[mine_keys.isin(their_keys).to_numpy()], theirs[their_keys.isin(mine_keys).to_numpy()]


def _kept(positions: np.ndarray | None, keep: np.ndarray) -> np.ndarray:
    """The positions (``None``: every row) where ``keep`` holds."""
    return np.flatnonzero(keep) if positions is None else positions[keep]


def _seen(buckets: np.ndarray) -> np.ndarray:
    table = np.zeros(1 << _BUCKET_BITS, dtype=bool)
    table[buckets] = True
    return table


def shared_rows(frame: pd.DataFrame, other: pd.DataFrame, columns: list[str],
                keys: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Positions of ``frame``'s rows equal, in ``columns``, to some row of ``other`` (``keys``: both
    frames' :func:`row_keys`, when already known). Numbers count as equal to 12 significant digits:
    a CSV reader may not give back the last bit of a float another file stored exactly."""
    mine_keys, their_keys = keys or (row_keys(frame, columns), row_keys(other, columns))
    mine, theirs = shared_candidates(mine_keys, their_keys)
    if not len(mine):
        return mine
    left, right = normalised(frame.iloc[mine], columns), normalised(other.iloc[theirs], columns).drop_duplicates()
    numbers = [c for c in columns if left[c].dtype == np.float64 and right[c].dtype == np.float64]

    def pairable(table: pd.DataFrame, side: str) -> pd.DataFrame:
        exact = {f"{side}{c}": table[c].to_numpy() for c in numbers}
        return table.assign(**{c: table[c].astype(np.float32) for c in numbers}, **exact)

    pairs = pairable(left, "_mine_").assign(_position=mine).merge(pairable(right, "_theirs_"), on=columns)
    close = np.ones(len(pairs), dtype=bool)
    for column in numbers:
        close &= np.isclose(pairs[f"_mine_{column}"], pairs[f"_theirs_{column}"], rtol=1e-12, atol=0.0,
                            equal_nan=True)
    return np.unique(pairs["_position"].to_numpy()[close])


def duplicated_rows(frame: pd.DataFrame, columns: list[str], keys: np.ndarray | None = None) -> np.ndarray:
    """Positions of rows that repeat an earlier row in ``columns`` (exact, like ``DataFrame.duplicated``)."""
    candidates = duplicate_candidates(row_keys(frame, columns) if keys is None else keys)
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
