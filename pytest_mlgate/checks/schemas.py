"""pandera schemas: load them from objects or files, infer them from data, validate lazily.

Validation gives pandera's result, cheaper: built-in range checks and non-null rules that the
dataset's exact column statistics (shared with the quality checks) already prove to pass are left
out of pandera's run, and under copy-on-write pandera works on a shallow copy instead of copying
the whole frame. Whatever is not proven, pandera checks and reports as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.api.function_dispatch import Dispatcher
from pandera.engines import pandas_engine
from pandera.errors import SchemaError, SchemaErrors

from pytest_mlgate.checks.profile import Profile, jsonable
from pytest_mlgate.checks.schema_infer import infer
from pytest_mlgate.decision import FAILED, PASSED, Check
from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings
    from pytest_mlgate.evaluate.models import Dataset

SchemaSpec = pa.DataFrameSchema | type[pa.DataFrameModel] | str | Path
SHOWN_CASES = 3
CASE_COLUMNS = ("schema_context", "column", "check", "failure_case", "index")


def to_text(schema: pa.DataFrameSchema, path: Path | None = None) -> str:
    """The schema as YAML, or JSON when ``path`` ends in ``.json``."""
    from pandera.io import pandas_io

    if path is not None and path.suffix.lower() == ".json":
        return pandas_io.to_json(schema, indent=2)
    return pandas_io.to_yaml(schema)


def read(path: Path) -> pa.DataFrameSchema:
    """A pandera schema from a YAML or JSON file; one-line errors name the file."""
    from pandera.io import pandas_io

    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise MlgateError(f"schema file {path}: unsupported format {suffix or '(none)'} (use .yaml, .yml or .json)")
    if not path.is_file():
        raise MlgateError(f"schema file {path} not found")
    try:
        schema = pandas_io.from_json(path) if suffix == ".json" else pandas_io.from_yaml(path)
    except Exception as exc:  # yaml, json and pandera raise many types for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise MlgateError(f"schema file {path} is not a valid pandera schema: {type(exc).__name__}: {first}") from None
    if not isinstance(schema, pa.DataFrameSchema) or not schema.columns:
        raise MlgateError(f"schema file {path} defines no columns (not a pandera DataFrameSchema file)")
    return schema


def resolve(spec: SchemaSpec, settings: Settings, reference: Dataset | None = None) -> tuple[pa.DataFrameSchema, str]:
    """The schema to validate against and a short description of where it came from."""
    if isinstance(spec, pa.DataFrameSchema):
        return spec, spec.name or "DataFrameSchema"
    if isinstance(spec, type) and issubclass(spec, pa.DataFrameModel):
        return spec.to_schema(), spec.__name__
    if spec == "infer":
        if reference is None:
            raise MlgateError("schema 'infer' needs a reference dataset")
        return (infer(reference.frame, margin=settings.schema_margin, null_tolerance=settings.schema_null_tolerance,
                      confidence=settings.confidence), f"inferred from '{reference.name}'")
    if isinstance(spec, (str, Path)):
        return read(settings.path(spec)), str(spec)
    raise MlgateError(f"schema must be a pandera DataFrameSchema, DataFrameModel, file path or 'infer', "
                      f"got {type(spec).__name__}")


_RANGE_CHECKS: dict[str, Callable[[np.ndarray, dict], np.ndarray]] = {  # pandera's built-ins, on values x
    "greater_than_or_equal_to": lambda x, s: x >= s["min_value"],
    "greater_than": lambda x, s: x > s["min_value"],
    "less_than_or_equal_to": lambda x, s: x <= s["max_value"],
    "less_than": lambda x, s: x < s["max_value"],
    "in_range": lambda x, s: ((x >= s["min_value"]) if s.get("include_min", True) else (x > s["min_value"]))
                             & ((x <= s["max_value"]) if s.get("include_max", True) else (x < s["max_value"])),
}


def _checked_as_is(column: Any, dtype: Any) -> bool:
    """Whether pandera checks the values of a column of ``dtype`` as they are: same dtype (coercion
    changes nothing), no parser, default or row dropping."""
    if column.regex or column.parsers or column.default is not None or column.drop_invalid_rows or column.dtype is None:
        return False
    try:
        return column.dtype == pandas_engine.Engine.dtype(dtype)
    except (TypeError, ValueError):  # a dtype pandera does not know: leave the column to pandera
        return False


def _proven(check: pa.Check, name: str, stats: Profile) -> bool:
    """Whether a built-in range check surely passes: both extremes pass it (the checks are monotone),
    compared in the column's own dtype as pandera would."""
    rule = _RANGE_CHECKS.get(check.name)
    if rule is None or not isinstance(check._check_fn, Dispatcher) or check.groupby is not None:
        return False
    values = stats.values(name)
    if stats.missing(name) == len(values) or (stats.missing(name) and not check.ignore_na):
        return False
    try:
        return bool(rule(np.array(stats.value_range(name), dtype=values.dtype), check.statistics).all())
    except (TypeError, KeyError):  # bounds of another type (a date, a string): leave it to pandera
        return False


def _share_proven(check: pa.Check, name: str, stats: Profile) -> bool:
    """Whether an inferred null check surely passes: the missing share is within its tolerance."""
    if check.name != "missing_share_within" or not stats.rows:
        return False
    s = check.statistics
    return stats.missing(name) / stats.rows - s["reference_missing"] / s["reference_rows"] <= s["tolerance"]


def settled(schema: pa.DataFrameSchema, frame: pd.DataFrame, stats: Profile) -> tuple[pa.DataFrameSchema, int]:
    """``schema`` without the range checks and non-null rules that ``stats`` prove to pass, and how
    many were left out; pandera's result on the rest equals its result on the whole schema."""
    if schema.dtype is not None or schema.parsers or schema.drop_invalid_rows or not frame.columns.is_unique:
        return schema, 0
    changes, proven, dtypes = {}, 0, frame.dtypes
    for name, column in schema.columns.items():
        if name not in dtypes or not _checked_as_is(column, dtypes[name]):
            continue
        plain = name in stats.numeric and isinstance(dtypes[name], np.dtype)
        kept = [c for c in column.checks if not (plain and _proven(c, name, stats) or _share_proven(c, name, stats))]
        non_null = not column.nullable and stats.missing(name) == 0
        if len(kept) < len(column.checks) or non_null:
            changes[name] = {"checks": kept, "nullable": column.nullable or non_null}
            proven += len(column.checks) - len(kept) + non_null
    return (schema.update_columns(changes) if changes else schema), proven


def run(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> None:
    """pandera's lazy validation. It copies the frame first (coercion must not touch the caller's
    data); under copy-on-write a shallow copy does that at no cost."""
    cow = int(pd.__version__.split(".")[0]) >= 3 or pd.options.mode.copy_on_write is True
    if cow and schema.strict != "filter":  # pandera deprecates filtering in place
        schema.validate(frame.copy(deep=False), lazy=True, inplace=True)
    else:
        schema.validate(frame, lazy=True)


def validate(data: Dataset, schema: pa.DataFrameSchema, source: str, *, stats: Profile | None = None,
             max_cases: int = 1000) -> Check:
    """Lazy validation of every column and check at once, as one Check with the failure cases
    (``stats``: the dataset's column statistics, to settle checks without pandera)."""
    absent = [name for name, column in schema.columns.items()
              if column.required and not column.regex and name not in data.frame.columns]
    if absent:
        raise MlgateError(f"schema {source}: column(s) {', '.join(map(str, absent))} not in dataset '{data.name}'")
    checks = sum(len(c.checks) + (not c.nullable) for c in schema.columns.values())
    try:
        rest, proven = settled(schema, data.frame, stats) if stats is not None and len(data) else (schema, 0)
        run(rest, data.frame)
    except SchemaErrors as exc:
        return failed(data, source, cases_of(exc), max_cases)
    except SchemaError as exc:
        raise MlgateError(f"schema {source} on dataset '{data.name}': {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # a custom check that crashes must fail the gate closed
        raise MlgateError(f"schema {source} on dataset '{data.name}': {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    return Check("schema", PASSED, metric="schema_failures", dataset=data.name, candidate=0.0, threshold="== 0",
                 kind="data_quality", message=f"dataset '{data.name}' matches schema {source} "
                 f"({len(schema.columns)} columns, {len(data)} rows)",
                 details={"schema": source, "columns": len(schema.columns), "rows": len(data), "table": [],
                          "column_checks": checks, "settled_from_statistics": proven})


def cases_of(exc: SchemaErrors) -> pd.DataFrame:
    """pandera's failure cases, first failures first, each named by its column (or schema context)."""
    cases = exc.failure_cases.reindex(columns=list(CASE_COLUMNS))
    try:  # first failures first, whatever order pandera found them in
        cases = cases.sort_values("index", kind="stable", na_position="last", ignore_index=True)
    except TypeError:  # index labels of mixed types: keep pandera's order
        pass
    cases["column"] = cases["column"].where(cases["column"].notna(), cases["schema_context"])
    return cases


def case_counts(cases: pd.DataFrame) -> pd.Series:
    """Failure cases per (column, check), in order of first appearance."""
    return cases.groupby(["column", "check"], sort=False, dropna=False).size()


def failed(data: Dataset, source: str, cases: pd.DataFrame, max_cases: int, counts: pd.Series | None = None) -> Check:
    """The failing schema check: ``cases`` (the first ones, when ``counts`` has the counts of all)."""
    counts = case_counts(cases) if counts is None else counts
    total = int(counts.sum())
    failed_checks = [{"column": jsonable(c), "check": jsonable(k), "cases": int(n)} for (c, k), n in counts.items()]
    table = [{k: jsonable(v) for k, v in row.items()} for row in cases.head(max_cases).to_dict("records")]
    firsts = cases.drop_duplicates(["column", "check"]).head(SHOWN_CASES)
    shown = "; ".join(f"{_case({k: jsonable(v) for k, v in row.items()})} ({int(counts[(row['column'], row['check'])])} "
                      f"case{'s' if counts[(row['column'], row['check'])] > 1 else ''})"
                      for row in firsts.to_dict("records"))
    more = f"; +{len(counts) - SHOWN_CASES} more check(s)" if len(counts) > SHOWN_CASES else ""
    message = (f"dataset '{data.name}' fails schema {source}: {len(counts)} check(s) failed, "
               f"{total} failure case(s): {shown}{more}; all cases in the report")
    return Check("schema", FAILED, metric="schema_failures", dataset=data.name, candidate=float(total),
                 threshold="== 0", kind="data_quality", message=message,
                 details={"schema": source, "rows": len(data), "failed_checks": failed_checks,
                          "failure_cases": total, "table": table, "table_truncated": total > len(table)})


def _case(row: dict[str, Any]) -> str:
    where = "" if row["index"] is None else f" row {row['index']}"
    return f"{row['column']} {row['check']}: {row['failure_case']!r}{where}"
