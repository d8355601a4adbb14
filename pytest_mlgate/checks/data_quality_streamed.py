"""Data quality checks of streamed datasets read off folded column profiles instead of a sample.

Unseen categories and constant columns depend on values that may be rare: a category that occurs
50 times in 20 million reference rows is missing from most samples, so a sampled reference would
call it unseen. The column profiles folded over every row hold each text, category and boolean
column's exact value counts and each numeric column's exact minimum and maximum, so both checks
are exact and give the in-memory result.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_mlgate.checks import columns as col
from pytest_mlgate.checks.drift_streamed import profile_of
from pytest_mlgate.checks.profile import jsonable
from pytest_mlgate.decision import FAILED, PASSED, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset


def unseen_categories(data: Dataset, reference: Dataset, max_rate: col.Limit = 0.0,
                      columns: Iterable[str] | None = None) -> Check:
    """As :func:`pytest_mlgate.checks.data_quality.unseen_categories`, from exact value counts."""
    if (empty := col.empty("no_unseen_categories", "unseen_rate", data)) is not None:
        return empty
    mine, theirs = profile_of(data).columns, profile_of(reference).columns
    shared = [c for c, found in mine.items() if found.kind == "categorical" and c in theirs]

    def found(column: str) -> tuple[list[Any], int]:
        known = theirs[column].categories
        seen = set(known.table) if known is not None else set()
        new = [(key[0], n) for key, n in mine[column].categories.table.items() if key not in seen]
        return [value for value, _ in new], sum(n for _, n in new)

    chosen = col.columns(data, columns, shared, f"a categorical column also in '{reference.name}'")
    return col.unseen(data, reference, max_rate, chosen, found)


def constant_columns(data: Dataset, columns: Iterable[str] | None = None) -> Check:
    """As :func:`pytest_mlgate.checks.data_quality.constant_columns`, from the folded profiles."""
    if (empty := col.empty("no_constant_columns", "constant_columns", data)) is not None:
        return empty
    profiles = profile_of(data).columns
    rows = []
    for column in col.columns(data, columns, list(profiles), "a column"):
        found = profiles[column]
        constant, value = _constant(found) if found.kind != "datetime" else _sampled(data, column)
        rows.append({"column": column, "constant": int(constant), "value": value, "limit": 0,
                     "missing": found.nulls, "outcome": FAILED if constant else PASSED})
    return col.summarise("no_constant_columns", "constant", data, rows, "constant",
                         lambda r: f"{r['column']} is constant ({r['value']!r}, {r['missing']} missing)"
                         if r["constant"] else f"{r['column']} has at least two values")


def _sampled(data: Any, column: str) -> tuple[bool, Any]:
    """Whether ``column`` holds fewer than two values in the stated sample: dates fold no counts or
    sketch, and the profile alone cannot tell (a sample never shows a constant column varying)."""
    values = data.sample_dataset().frame[column].dropna()
    distinct = values.nunique()
    return distinct < 2, jsonable(values.iloc[0]) if distinct == 1 else None


def _constant(found: Any) -> tuple[bool, Any]:
    """Whether a column profile holds fewer than two distinct values, and the one value it holds."""
    if found.categories is not None and not found.overflow:
        values = list(found.categories.table)
        return len(values) < 2, jsonable(values[0][0]) if len(values) == 1 else None
    if found.sketch is not None and found.sketch.n:
        low, high = found.sketch.support()
        return low == high, jsonable(low) if low == high else None
    return found.rows == found.nulls, None


def duplicates(data: Any, max_rate: float = 0.0, columns: Iterable[str] | None = None) -> Check:
    """``no_duplicates`` over every row of a streamed dataset (see :mod:`pytest_mlgate.evaluate.rowsets`)."""
    from pytest_mlgate.evaluate import rowsets

    if (empty := col.empty("no_duplicates", "duplicate_rate", data)) is not None:
        return empty
    chosen = col.columns(data, columns, list(data.parts.columns), "a column")
    spill = rowsets.Spill(data.name, data.parts.chunks(data.chunk_rows), chosen)
    try:
        count, first = rowsets.repeats(spill)
    finally:
        spill.close()
    return col.repeat_check(data, count, first, data.parts.rows_at(first), chosen, max_rate)


def overlap(data: Any, reference: Any, max_rate: float = 0.0, columns: Iterable[str] | None = None) -> Check:
    """``no_overlap`` over every row of two datasets, one or both streamed."""
    from pytest_mlgate.evaluate import rowsets

    if (empty := col.empty("no_overlap", "overlap_rate", data)) is not None:
        return empty
    theirs = set(_columns(reference))
    shared = [c for c in _columns(data) if c in theirs]
    chosen = col.columns(data, columns, shared, f"a column also in '{reference.name}'")
    if not chosen:
        raise MlgateError(f"no_overlap: datasets '{data.name}' and '{reference.name}' share no columns")
    spills = []
    try:
        for found in (data, reference):
            spills.append(rowsets.Spill(found.name, _chunks(found), chosen, tolerant=True))
        count, first = rowsets.shared(*spills)
    finally:
        for spill in spills:
            spill.close()
    shown = data.parts.rows_at(first) if getattr(data, "streamed", False) else data.frame.iloc[first]
    return col.overlap_check(data, reference, count, first, shown, chosen, max_rate)


def _columns(data: Any) -> list[str]:
    return list(data.parts.columns) if getattr(data, "streamed", False) else list(data.frame.columns)


def _chunks(data: Any) -> Any:
    return data.parts.chunks(data.chunk_rows) if getattr(data, "streamed", False) else [data.frame]


def class_counts(data: Any, target: str | None) -> Any:
    """Rows per class of a streamed dataset's target, from its exact folded value counts (most
    frequent first, missing values as one class); ``None`` when they were not counted (a float
    target, or more than ``MAX_VALUES`` integer values)."""
    import numpy as np
    import pandas as pd

    column = col.target(data, target, "class_balance")
    found = profile_of(data).columns[column]
    if found.categories is None or found.overflow:
        return None
    counts = {key[0]: n for key, n in found.categories.table.items()}
    if found.nulls:
        counts[np.nan] = found.nulls
    return pd.Series(counts, dtype="int64").sort_values(ascending=False, kind="stable")
