"""Schema inference that passes new data from the same distribution.

Like TensorFlow Data Validation's schema inference, a schema inferred from a sample must not reject
the next sample of the same data: dtypes and nullability come from the reference, category
domains from the reference's values, and numeric ranges are the observed range widened by a margin
(or left out). Nullability has a tolerance, like TFDV's ``min_fraction``/completeness but tested
against chance: a batch fails a column's null check only when its missing share exceeds the
reference's by more than ``null_tolerance`` and an exact test says the excess is not chance. Each
column's ``description`` says how its checks were derived.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera import extensions

from pytest_mlgate.errors import MlgateError

RANGE_MODES = ("margin", "exact", "none")
MARGIN = 3.0
MAX_CATEGORIES = 50
SMALL_COUNT = 20
NULL_TOLERANCE = 0.01
CONFIDENCE = 0.95
EXACT_CELLS = 250_000  # Boschloo's test enumerates (rows + 1) x (reference rows + 1) tables


@extensions.register_check_method(statistics=["reference_missing", "reference_rows", "tolerance", "alpha"])
def missing_share_within(series: pd.Series, *, reference_missing: int, reference_rows: int, tolerance: float,
                         alpha: float) -> bool | pd.Series:
    """Whether the missing share of ``series`` is within ``tolerance`` of the reference's or not
    significantly above it; when it fails, the missing rows are the failure cases.

    One-sided test of two binomial shares: Boschloo's exact unconditional test (uniformly more
    powerful than Fisher's, Boschloo 1970) while the table is small, Fisher's exact test beyond.
    """
    from scipy.stats import boschloo_exact, fisher_exact

    missing = series.isna()
    count, rows = int(missing.sum()), len(series)
    if not rows or count / rows - reference_missing / reference_rows <= tolerance:
        return True
    table = [[count, rows - count], [reference_missing, reference_rows - reference_missing]]
    exact = boschloo_exact if (rows + 1) * (reference_rows + 1) <= EXACT_CELLS else fisher_exact
    return True if exact(table, alternative="greater").pvalue >= alpha else ~missing


def infer(frame: pd.DataFrame, *, ranges: str = "margin", margin: float = MARGIN,
          max_categories: int = MAX_CATEGORIES, null_tolerance: float = NULL_TOLERANCE,
          confidence: float = CONFIDENCE) -> pa.DataFrameSchema:
    """A pandera schema of ``frame`` without the index; each column's description says how it was derived.

    ``ranges="margin"`` widens the observed [min, max] by ``margin`` times the observed range on
    each side, keeps 0 as the bound of a column with no negative (or no positive) value, and leaves
    the range out for constant and small-count columns (at most SMALL_COUNT integer values, where
    a half of the data rarely shows the other half's maximum); ``"exact"`` keeps the observed min
    and max; ``"none"`` leaves ranges out. Non-numeric columns with at most ``max_categories``
    values get those values as their domain. Every column is nullable with the check
    :func:`missing_share_within`: the reference's missing count and rows, ``null_tolerance`` and the
    test's level ``(1 - confidence)`` shared among the columns (Bonferroni).
    """
    if ranges not in RANGE_MODES:
        raise MlgateError(f"schema inference: ranges must be one of {', '.join(RANGE_MODES)}, got {ranges!r}")
    if not margin >= 0:
        raise MlgateError(f"schema inference: margin must be a number >= 0, got {margin!r}")
    if not 0 <= null_tolerance <= 1:
        raise MlgateError(f"schema inference: null_tolerance must be a number in [0, 1], got {null_tolerance!r}")
    if not 0.5 <= confidence < 1:
        raise MlgateError(f"schema inference: confidence must be a number in [0.5, 1), got {confidence!r}")
    columns, alpha = {}, (1 - confidence) / max(1, frame.shape[1])
    for name, values in frame.items():
        checks, how = (numeric_bounds(values, ranges, margin) if _numeric(values)
                       else category_domain(values, max_categories))
        null_check, nulls = missing_share(values, null_tolerance, alpha, confidence, frame.shape[1])
        columns[name] = pa.Column(values.dtype, checks + null_check, nullable=True, description=f"{how}; {nulls}")
    return pa.DataFrameSchema(columns)


def missing_share(values: pd.Series, tolerance: float, alpha: float, confidence: float,
                  columns: int) -> tuple[list[pa.Check], str]:
    """The null check of one column and how it was derived."""
    missing, rows = int(values.isna().sum()), len(values)
    if not rows:
        return [], "nullable: no row in the reference"
    check = pa.Check.missing_share_within(reference_missing=missing, reference_rows=rows, tolerance=tolerance,
                                          alpha=alpha, ignore_na=False,
                                          error=f"missing_share_within({missing}/{rows} + {tolerance:g})")
    return [check], (f"missing share: fails when a batch's exceeds the reference's {missing} of {rows} "
                     f"({missing / rows:.3%}) by more than null_tolerance {tolerance:g} and a one-sided exact "
                     f"test rejects chance at p < {alpha:.3g} (confidence {confidence:g} shared by {columns} "
                     f"columns)")


def _numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def numeric_bounds(values: pd.Series, ranges: str, margin: float) -> tuple[list[pa.Check], str]:
    """The range check of one numeric column and how it was derived."""
    present = values.dropna().to_numpy(dtype=float)
    if ranges == "none":
        return [], "range left out (ranges='none')"
    if not len(present):
        return [], "range left out: no value in the reference"
    low, high = float(present.min()), float(present.max())
    if ranges == "exact":
        return [pa.Check.in_range(low, high)], f"range: the reference's min {low:.6g} and max {high:.6g}"
    width = high - low
    if width == 0:
        return [], f"range left out: constant ({low:.6g}) in the reference"
    sign = low >= 0 or high <= 0
    if np.all(present == np.round(present)) and len(np.unique(present)) <= SMALL_COUNT:
        why = f"upper range left out: small-count column ({len(np.unique(present))} integer values)"
        if not sign:
            return [], why.replace("upper range", "range")
        check = pa.Check.ge(0) if low >= 0 else pa.Check.le(0)
        return [check], f"{'>= 0: no negative' if low >= 0 else '<= 0: no positive'} value in the reference; {why}"
    lo, hi = low - margin * width, high + margin * width
    how = (f"range: the reference's [{low:.6g}, {high:.6g}] widened by margin {margin:g} x its range "
           f"{width:.6g} on each side")
    if low >= 0:
        lo, how = 0.0, how + "; lower bound 0: no negative value in the reference"
    if high <= 0:
        hi, how = 0.0, how + "; upper bound 0: no positive value in the reference"
    return [pa.Check.in_range(lo, hi)], how


def category_domain(values: pd.Series, max_categories: int) -> tuple[list[pa.Check], str]:
    """The domain check of a non-numeric column: the values seen in the reference, unless too many."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return [], "domain left out: boolean or time column"
    seen = values.dropna().unique()
    if not len(seen) or len(seen) > max_categories:
        return [], f"domain left out: {len(seen)} distinct values (more than {max_categories} or none)"
    domain = sorted(seen.tolist(), key=str)
    return [pa.Check.isin(domain)], f"domain: the {len(domain)} values seen in the reference"
