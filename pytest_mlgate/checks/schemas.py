"""pandera schemas: load them from objects or files, infer them from data, validate lazily."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrors

from pytest_mlgate.checks.profile import jsonable
from pytest_mlgate.decision import FAILED, PASSED, Check
from pytest_mlgate.errors import MlgateError

if TYPE_CHECKING:
    from pytest_mlgate.config import Settings
    from pytest_mlgate.evaluation import Dataset

SchemaSpec = pa.DataFrameSchema | type[pa.DataFrameModel] | str | Path
SHOWN_CASES = 3
CASE_COLUMNS = ("schema_context", "column", "check", "failure_case", "index")


def infer(frame: pd.DataFrame, *, ranges: bool = True) -> pa.DataFrameSchema:
    """pandera's inferred schema of ``frame`` without the index; ``ranges=False`` keeps only
    columns, dtypes and nullability (a sample's min and max reject clean new data too often)."""
    schema = pa.infer_schema(frame).reset_index(drop=True)
    if not ranges:
        schema = schema.update_columns({c: {"checks": []} for c in schema.columns})
    return schema


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
        return infer(reference.frame, ranges=False), f"inferred from '{reference.name}'"
    if isinstance(spec, (str, Path)):
        return read(settings.path(spec)), str(spec)
    raise MlgateError(f"schema must be a pandera DataFrameSchema, DataFrameModel, file path or 'infer', "
                      f"got {type(spec).__name__}")


def validate(data: Dataset, schema: pa.DataFrameSchema, source: str, *, max_cases: int = 1000) -> Check:
    """Lazy validation of every column and check at once, as one Check with the failure cases."""
    absent = [name for name, column in schema.columns.items()
              if column.required and not column.regex and name not in data.frame.columns]
    if absent:
        raise MlgateError(f"schema {source}: column(s) {', '.join(map(str, absent))} not in dataset '{data.name}'")
    try:
        schema.validate(data.frame, lazy=True)
    except SchemaErrors as exc:
        return _failed(data, source, exc.failure_cases, max_cases)
    except SchemaError as exc:
        raise MlgateError(f"schema {source} on dataset '{data.name}': {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # a custom check that crashes must fail the gate closed
        raise MlgateError(f"schema {source} on dataset '{data.name}': {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    return Check("schema", PASSED, metric="schema_failures", dataset=data.name, candidate=0.0, threshold="== 0",
                 kind="data_quality", message=f"dataset '{data.name}' matches schema {source} "
                 f"({len(schema.columns)} columns, {len(data)} rows)",
                 details={"schema": source, "columns": len(schema.columns), "rows": len(data), "table": []})


def _failed(data: Dataset, source: str, cases: pd.DataFrame, max_cases: int) -> Check:
    cases = cases.reindex(columns=list(CASE_COLUMNS))
    try:  # first failures first, whatever order pandera found them in
        cases = cases.sort_values("index", kind="stable", na_position="last", ignore_index=True)
    except TypeError:  # index labels of mixed types: keep pandera's order
        pass
    cases["column"] = cases["column"].where(cases["column"].notna(), cases["schema_context"])
    counts = cases.groupby(["column", "check"], sort=False, dropna=False).size()
    failed_checks = [{"column": jsonable(c), "check": jsonable(k), "cases": int(n)} for (c, k), n in counts.items()]
    table = [{k: jsonable(v) for k, v in row.items()} for row in cases.head(max_cases).to_dict("records")]
    firsts = cases.drop_duplicates(["column", "check"]).head(SHOWN_CASES)
    shown = "; ".join(f"{_case({k: jsonable(v) for k, v in row.items()})} ({int(counts[(row['column'], row['check'])])} "
                      f"case{'s' if counts[(row['column'], row['check'])] > 1 else ''})"
                      for row in firsts.to_dict("records"))
    more = f"; +{len(counts) - SHOWN_CASES} more check(s)" if len(counts) > SHOWN_CASES else ""
    message = (f"dataset '{data.name}' fails schema {source}: {len(counts)} check(s) failed, "
               f"{len(cases)} failure case(s): {shown}{more}; all cases in the report")
    return Check("schema", FAILED, metric="schema_failures", dataset=data.name, candidate=float(len(cases)),
                 threshold="== 0", kind="data_quality", message=message,
                 details={"schema": source, "rows": len(data), "failed_checks": failed_checks,
                          "failure_cases": len(cases), "table": table, "table_truncated": len(cases) > max_cases})


def _case(row: dict[str, Any]) -> str:
    where = "" if row["index"] is None else f" row {row['index']}"
    return f"{row['column']} {row['check']}: {row['failure_case']!r}{where}"
