"""Data quality gates: pandera schemas and per-column quality checks with per-column limits.

Each check returns one :class:`Check` for the whole dataset: the worst column's number as
``candidate``, the failing columns with their numbers in the message, and one row per column in
``details["table"]``. Limits are a number or a mapping ``{column: limit, "*": default}``; a column
mapped to ``None`` is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pytest_mlgate.checks import columns as col
from pytest_mlgate.checks.profile import (
    Profile,
    duplicated_rows,
    jsonable,
    shared_rows,
)
from pytest_mlgate.checks.recorder import Recorder
from pytest_mlgate.decision import FAILED, PASSED, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset

if TYPE_CHECKING:
    from pytest_mlgate.checks import schemas
    from pytest_mlgate.config import Settings

DataArg = str | Dataset | pd.DataFrame
OUTLIER_METHODS = {"iqr": 3.0, "zscore": 3.0}
# ---------------------------------------------------------------- schema


def schema_check(data: Dataset, spec: schemas.SchemaSpec, settings: Settings, reference: Dataset | None = None,
                 *, max_cases: int = 1000) -> Check:
    """Validate ``data`` against a pandera schema, file, model or ``"infer"`` (from ``reference``)."""
    # pandera: imported by the first schema gate
    from pytest_mlgate.checks import schemas

    resolved, source = schemas.resolve(spec, settings, reference)
    if getattr(data, "streamed", False):  # chunk by chunk
        from pytest_mlgate.checks import schema_chunks

        inferred = isinstance(spec, str) and spec == "infer"
        return schema_chunks.validate(data, resolved, source, inferred=inferred, max_cases=max_cases)
    return schemas.validate(data, resolved, source, stats=col.profile(data), max_cases=max_cases)


# ---------------------------------------------------------------- per-column checks


def missing(data: Dataset, max_rate: col.Limit = 0.0, columns: Iterable[str] | None = None) -> Check:
    """Share of missing values per column must be at most ``max_rate`` (default: none at all)."""
    if (empty := col.empty("no_missing", "missing_rate", data)) is not None:
        return empty
    if getattr(data, "streamed", False):  # null counts folded over the chunks
        nulls = {name: c.nulls for name, c in data.profile().columns.items()}
        eligible, count_of = list(nulls), nulls.__getitem__
    else:  # the counts of every column, from the warm cache when these bytes were counted before
        nulls = data.remembered("nulls", (), lambda: {c: col.profile(data).missing(c) for c in data.frame.columns})
        eligible, count_of = list(nulls), nulls.__getitem__
    rows = []
    for column in col.columns(data, columns, eligible, "a column"):
        limit = col.limit(max_rate, column, 0.0)
        count = count_of(column)
        rate = count / len(data)
        outcome = "skipped" if limit is None else (FAILED if rate > limit else PASSED)
        rows.append({"column": column, "missing": count, "rate": rate, "limit": limit, "outcome": outcome})
    return col.summarise("no_missing", "missing_rate", data, rows, "rate",
                      lambda r: f"{r['column']} {col.pct(r['rate'])} missing ({r['missing']}/{len(data)}) "
                                f"{'>' if r['outcome'] == FAILED else '<='} {col.pct(r['limit'])}",
                      rows=len(data))


def _fences(stats: Profile, column: str, method: str, k: float) -> tuple[float, float]:
    if method == "iqr":
        q1, q3 = stats.quartiles[column]
        return q1 - k * (q3 - q1), q3 + k * (q3 - q1)
    sample = stats.sampled(column)
    mean, std = sample.mean(), sample.std()
    return mean - k * std, mean + k * std


def outliers(data: Dataset, method: str = "iqr", max_rate: col.Limit = 0.01, k: float | None = None,
             columns: Iterable[str] | None = None, *, reference: Dataset | None = None,
             max_excess: col.Limit = 0.01, confidence: float = 0.95) -> Check:
    """Share of values outside the fences per numeric column: at most ``max_rate``, or, with a
    ``reference``, not above the reference's own share by more than ``max_excess`` with significance.

    ``iqr``: outside [Q1 - k*IQR, Q3 + k*IQR] (k=3, Tukey's "far out"); ``zscore``: more than k=3
    standard deviations from the mean; fences from ``reference`` when given. Against a reference a
    column fails when its excess share exceeds ``max_excess`` and a one-sided test against
    the reference's share (Fisher's exact test, Bonferroni over the columns) rejects at ``confidence``. Indicator
    (two-valued) columns are skipped.
    """
    if method not in OUTLIER_METHODS:
        raise MlgateError(f"no_outliers: method must be one of {', '.join(OUTLIER_METHODS)}, got {method!r}")
    if (empty := col.empty("no_outliers", "outlier_rate", data)) is not None:
        return empty
    k = OUTLIER_METHODS[method] if k is None else float(k)
    stats, rows = col.profile(data), []
    fenced = stats if reference is None else col.profile(reference)
    chosen = col.columns(data, columns, [c for c in stats.numeric if c != data.target and
                                         (reference is None or c in fenced.numeric)], "numeric")
    for column in chosen:
        limit = col.limit(max_rate if reference is None else max_excess, column, 0.01)
        if limit is None or stats.missing(column) == len(data) or fenced.is_binary(column) or \
                (reference is not None and fenced.missing(column) == len(reference)):
            rows.append({"column": column, "outcome": "skipped", "limit": limit})
            continue
        low, high = _fences(fenced, column, method, k)
        count = stats.count_outside(column, low, high)
        rate = count / (len(data) - stats.missing(column))
        row = {"column": column, "outliers": count, "rate": rate, "low": float(low), "high": float(high),
               "limit": limit, "outcome": FAILED if rate > limit else PASSED}
        if reference is not None:
            row.update(_against_reference(fenced, reference, column, (low, high), count,
                                          len(data) - stats.missing(column), limit, (1 - confidence) / len(chosen)))
        rows.append(row)
    return col.summarise("no_outliers", f"outlier_rate_{method}", data, rows,
                         "rate" if reference is None else "excess", _describe_outliers,
                         method=method, k=k, sample_rows=col.SAMPLE_ROWS,
                         reference=None if reference is None else reference.name)


def _against_reference(fenced: Profile, reference: Dataset, column: str, fences: tuple[float, float], count: int,
                       n: int, limit: float, alpha: float) -> dict:
    """The excess over the reference's own share outside the same fences, and a one-sided Fisher exact
    test of the two shares (the reference's share is itself a sample, so no plain binomial test)."""
    from scipy.stats import fisher_exact

    present = len(reference) - fenced.missing(column)
    outside = fenced.count_outside(column, *fences)
    base, rate = outside / present, count / n
    p = fisher_exact([[count, n - count], [outside, present - outside]], alternative="greater").pvalue
    failed = rate - base > limit and p < alpha
    return {"reference_rate": base, "excess": rate - base, "p_value": float(p), "outcome": FAILED if failed else PASSED}


def _describe_outliers(r: dict) -> str:
    text = f"{r['column']} {col.pct(r['rate'])} outside [{r['low']:.4g}, {r['high']:.4g}] ({r['outliers']} values)"
    if "excess" not in r:
        return f"{text} {'>' if r['outcome'] == FAILED else '<='} {col.pct(r['limit'])}"
    verdict = ">" if r["outcome"] == FAILED else "within"
    return (f"{text} against {col.pct(r['reference_rate'])} in the reference: excess {col.pct(r['excess'])} "
            f"{verdict} {col.pct(r['limit'])} (Fisher p={r['p_value']:.2g})")


def skew(data: Dataset, max_abs: col.Limit = 2.0, columns: Iterable[str] | None = None) -> Check:
    """Absolute skewness (adjusted Fisher-Pearson) per numeric column must be at most ``max_abs``."""
    if (empty := col.empty("no_skew", "abs_skewness", data)) is not None:
        return empty
    stats, rows = col.profile(data), []
    for column in col.columns(data, columns, [c for c in stats.numeric if c != data.target], "numeric"):
        limit = col.limit(max_abs, column, 2.0)
        values = stats.sampled(column) if limit is not None else ()
        if limit is None or len(values) < 3 or stats.is_binary(column) or stats.is_constant(column):
            rows.append({"column": column, "outcome": "skipped", "limit": limit})
            continue
        value = _skewness(values)
        rows.append({"column": column, "skewness": value, "abs_skewness": abs(value), "limit": limit,
                     "outcome": FAILED if abs(value) > limit else PASSED})
    return col.summarise("no_skew", "abs_skewness", data, rows, "abs_skewness",
                      lambda r: f"{r['column']} skewness {r['skewness']:+.3g} "
                                f"{'>' if r['outcome'] == FAILED else '<='} {r['limit']:g} in absolute value",
                      sample_rows=col.SAMPLE_ROWS)


def _skewness(values: np.ndarray) -> float:
    """Adjusted Fisher-Pearson skewness (pandas' and ``scipy.stats.skew(bias=False)``'s)."""
    n = len(values)
    centred = values - values.mean()
    squares = centred * centred  # plain reductions: BLAS dot products spin threads on a busy machine
    m2, m3 = squares.mean(), (squares * centred).mean()
    return float(m3 / m2 ** 1.5 * np.sqrt(n * (n - 1)) / (n - 2))


def class_balance(data: Dataset, min_share: col.Limit = 0.05, target: str | None = None,
                  counts: pd.Series | None = None) -> Check:
    """Every class of the target must make up at least ``min_share`` of the rows (per class: ``{label: share}``;
    ``counts``: the rows per class, when counted already)."""
    if (empty := col.empty("class_balance", "class_share", data)) is not None:
        return empty
    column = col.target(data, target, "class_balance")
    counts = data.frame[column].value_counts(dropna=False) if counts is None else counts
    rows = []
    for label, count in counts.items():
        limit = col.limit(min_share, str(label), 0.05)
        share = int(count) / len(data)
        outcome = "skipped" if limit is None else (FAILED if share < limit else PASSED)
        rows.append({"column": column, "class": jsonable(label), "count": int(count), "share": share,
                     "limit": limit, "outcome": outcome})
    check = col.summarise("class_balance", "class_share", data, rows, "share", higher_is_worse=False,
                       describe=lambda r: f"class {r['class']!r} of '{column}' {col.pct(r['share'])} "
                                          f"({r['count']}/{len(data)}) {'<' if r['outcome'] == FAILED else '>='} "
                                          f"{col.pct(r['limit'])}", unit="class(es)", classes=len(counts))
    if len(counts) < 2:
        check.outcome = FAILED
        check.message = f"class_balance on '{data.name}': target '{column}' has a single class ({len(data)} rows)"
    return check


def duplicates(data: Dataset, max_rate: float = 0.0, columns: Iterable[str] | None = None) -> Check:
    """Share of rows that repeat an earlier row (in ``columns``, default all) must be at most ``max_rate``."""
    if (empty := col.empty("no_duplicates", "duplicate_rate", data)) is not None:
        return empty
    chosen = col.columns(data, columns, list(data.frame.columns), "a column")
    repeats = duplicated_rows(data.frame, chosen, col.profile(data).row_keys(chosen))
    return col.repeat_check(data, len(repeats), repeats[:20], data.frame.iloc[repeats[:20]], chosen, max_rate)


def constant_columns(data: Dataset, columns: Iterable[str] | None = None) -> Check:
    """No column may hold fewer than two distinct non-missing values."""
    if (empty := col.empty("no_constant_columns", "constant_columns", data)) is not None:
        return empty
    stats = col.profile(data)
    rows = []
    for column in col.columns(data, columns, list(data.frame.columns), "a column"):
        constant = stats.is_constant(column)
        value = None
        if constant and stats.missing(column) < len(data):
            value = jsonable(data.frame[column].dropna().iloc[0])
        rows.append({"column": column, "constant": int(constant), "value": value, "limit": 0,
                     "missing": stats.missing(column), "outcome": FAILED if constant else PASSED})
    return col.summarise("no_constant_columns", "constant", data, rows, "constant",
                      lambda r: f"{r['column']} is constant ({r['value']!r}, {r['missing']} missing)"
                      if r["constant"] else f"{r['column']} has at least two values")


def unseen_categories(data: Dataset, reference: Dataset, max_rate: col.Limit = 0.0,
                      columns: Iterable[str] | None = None) -> Check:
    """Share of rows whose category never occurs in ``reference`` must be at most ``max_rate``, per column."""
    if (empty := col.empty("no_unseen_categories", "unseen_rate", data)) is not None:
        return empty
    stats, ref = col.profile(data), col.profile(reference)
    shared = [c for c in stats.categorical if c in reference.frame.columns]

    def found(column: str) -> tuple[list[Any], int]:
        new = ref.absent(column, stats.uniques(column).tolist())
        return new, int(data.frame[column].isin(new).sum()) if new else 0

    chosen = col.columns(data, columns, shared, f"a categorical column also in '{reference.name}'")
    return col.unseen(data, reference, max_rate, chosen, found)


def overlap(data: Dataset, reference: Dataset, max_rate: float = 0.0, columns: Iterable[str] | None = None) -> Check:
    """Share of ``data`` rows also present in ``reference`` (equal in every shared column) must be <= ``max_rate``."""
    if (empty := col.empty("no_overlap", "overlap_rate", data)) is not None:
        return empty
    shared = [c for c in data.frame.columns if c in reference.frame.columns]
    chosen = col.columns(data, columns, shared, f"a column also in '{reference.name}'")
    if not chosen:
        raise MlgateError(f"no_overlap: datasets '{data.name}' and '{reference.name}' share no columns")
    rows = shared_rows(data.frame, reference.frame, chosen,
                       (col.profile(data).row_keys(chosen), col.profile(reference).row_keys(chosen)))
    return col.overlap_check(data, reference, len(rows), rows[:20], data.frame.iloc[rows[:20]], chosen, max_rate)


# ---------------------------------------------------------------- the mixin


class DataQualityGates(Recorder):
    """``mlgate.schema`` and the data quality helpers: ``no_missing``, ``no_outliers``, ``no_skew``,
    ``class_balance``, ``no_duplicates``, ``no_constant_columns``, ``no_unseen_categories``,
    ``no_overlap``. Datasets are names (``"holdout"``), Datasets or DataFrames."""

    def schema(self, dataset: DataArg, schema: schemas.SchemaSpec, *, reference: DataArg = "reference",
               max_cases: int = 1000) -> list[Check]:
        """Validate lazily against a pandera DataFrameSchema, DataFrameModel, YAML/JSON file (relative
        to the project root) or ``"infer"`` (columns, dtypes and nullability of ``reference``)."""
        __tracebackhide__ = True
        ref = self._data(reference) if isinstance(schema, str) and schema == "infer" else None
        data = self._data(dataset, folded=True)
        return self.record(schema_check(data, schema, self.settings, ref, max_cases=max_cases))

    def no_missing(self, dataset: DataArg = "holdout", max_rate: col.Limit = 0.0, *,
                   columns: Iterable[str] | None = None) -> list[Check]:
        """At most ``max_rate`` missing values per column (default 0)."""
        __tracebackhide__ = True
        return self.record(missing(self._data(dataset, folded=True), max_rate, columns))

    def no_outliers(self, dataset: DataArg = "holdout", method: str = "iqr", max_rate: col.Limit | None = None, *,
                    reference: DataArg | None = "reference", max_excess: col.Limit = 0.01, k: float | None = None,
                    columns: Iterable[str] | None = None) -> list[Check]:
        """Values beyond the ``iqr`` or ``zscore`` fences of ``reference``, per numeric column: the share
        may exceed the reference's own share by at most ``max_excess`` (default 1 point, Fisher's exact test).
        With ``max_rate`` (or ``reference=None``) the share itself is capped (default 1%)."""
        __tracebackhide__ = True
        data = self._data(dataset)
        if max_rate is not None or reference is None:
            return self.record(outliers(data, method, 0.01 if max_rate is None else max_rate, k, columns))
        return self.record(outliers(data, method, k=k, columns=columns, reference=self._data(reference),
                                    max_excess=max_excess, confidence=self.settings.confidence))

    def no_skew(self, dataset: DataArg = "holdout", max_abs: col.Limit = 2.0, *,
                columns: Iterable[str] | None = None) -> list[Check]:
        """Absolute skewness at most ``max_abs`` (default 2) per numeric column."""
        __tracebackhide__ = True
        return self.record(skew(self._data(dataset), max_abs, columns))

    def class_balance(self, dataset: DataArg = "holdout", min_share: col.Limit = 0.05, *,
                      target: str | None = None) -> list[Check]:
        """Each target class at least ``min_share`` (default 5%) of the rows."""
        __tracebackhide__ = True
        data = self._data(dataset, folded=True)
        if getattr(data, "streamed", False):  # exact class counts when folded, else the stated sample
            from pytest_mlgate.checks import data_quality_streamed as streamed

            counts = streamed.class_counts(data, target)
            return self.record(class_balance(data if counts is not None else self.rows(dataset), min_share, target,
                                             counts))
        return self.record(class_balance(data, min_share, target))

    def no_duplicates(self, dataset: DataArg = "holdout", max_rate: float = 0.0, *,
                      columns: Iterable[str] | None = None) -> list[Check]:
        """At most ``max_rate`` rows repeating an earlier row (default 0)."""
        __tracebackhide__ = True
        data = self._data(dataset, folded=True)
        if getattr(data, "streamed", False):  # every row, by hash partitioning
            from pytest_mlgate.checks import data_quality_streamed as streamed

            return self.record(streamed.duplicates(data, max_rate, columns))
        return self.record(duplicates(data, max_rate, columns))

    def no_constant_columns(self, dataset: DataArg = "holdout", *,
                            columns: Iterable[str] | None = None) -> list[Check]:
        """Every column holds at least two distinct values."""
        __tracebackhide__ = True
        data = self._data(dataset, folded=True)
        if getattr(data, "streamed", False):  # exact, from the folded profiles
            from pytest_mlgate.checks import data_quality_streamed as streamed

            return self.record(streamed.constant_columns(data, columns))
        return self.record(constant_columns(data, columns))

    def no_unseen_categories(self, dataset: DataArg = "holdout", reference: DataArg = "reference",
                             max_rate: col.Limit = 0.0, *, columns: Iterable[str] | None = None) -> list[Check]:
        """At most ``max_rate`` rows per categorical column with a value never seen in ``reference``."""
        __tracebackhide__ = True
        data, ref = self._data(dataset, folded=True), self._data(reference, folded=True)
        if getattr(data, "streamed", False) or getattr(ref, "streamed", False):  # exact value counts
            from pytest_mlgate.checks import data_quality_streamed as streamed

            return self.record(streamed.unseen_categories(data, ref, max_rate, columns))
        return self.record(unseen_categories(data, ref, max_rate, columns))

    def no_overlap(self, dataset: DataArg = "holdout", reference: DataArg = "reference", max_rate: float = 0.0, *,
                   columns: Iterable[str] | None = None) -> list[Check]:
        """At most ``max_rate`` rows of ``dataset`` also present in ``reference`` (default 0)."""
        __tracebackhide__ = True
        data, ref = self._data(dataset, folded=True), self._data(reference, folded=True)
        if getattr(data, "streamed", False) or getattr(ref, "streamed", False):  # every row, by hash partitioning
            from pytest_mlgate.checks import data_quality_streamed as streamed

            return self.record(streamed.overlap(data, ref, max_rate, columns))
        return self.record(overlap(data, ref, max_rate, columns))

    def _data(self, data: DataArg, folded: bool = False) -> Dataset:
        """The dataset to check; a streamed one's sample unless the check reads folded statistics."""
        if isinstance(data, pd.DataFrame):
            return Dataset("frame", data, self.settings.target if self.settings.target in data.columns else None)
        return self.dataset(data) if folded else self.rows(data)
