"""Schema validation of a streamed dataset, chunk by chunk: pandera on every row, one chunk in memory.

Dtypes, nullability and checks that judge each value on its own give the same failure cases
whether pandera sees the whole frame or its chunks, so a streamed dataset is validated chunk by
chunk, exactly, and each case's ``index`` is the row's position in the dataset. Rules that compare
rows with each other (``unique`` columns or column sets, ``unique_values_eq``, DataFrame-level
checks) and inferred schemas (their missing-share test is over the whole column) would judge each
chunk alone; a schema with any of them is judged, whole, on the dataset's stated sample instead,
and the check says which rules sent it there.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrors

from pytest_mlgate.checks import schemas
from pytest_mlgate.decision import PASSED, Check
from pytest_mlgate.errors import MlgateError

ACROSS_ROWS = ("unique_values_eq",)  # built-in checks whose verdict depends on the whole column


def across_rows(schema: pa.DataFrameSchema) -> list[str]:
    """The rules of ``schema`` that compare rows with each other."""
    found = [f"unique {schema.unique}"] if schema.unique else []
    found += [f"DataFrame check {c.name or 'custom'}" for c in schema.checks]
    for name, column in schema.columns.items():
        found += [f"{name} unique"] if column.unique else []
        found += [f"{name} {c.name}" for c in column.checks if c.name in ACROSS_ROWS]
    return found


def validate(data: Any, schema: pa.DataFrameSchema, source: str, *, inferred: bool, max_cases: int) -> Check:
    """``data`` (a streamed dataset) against ``schema``: chunk by chunk, or on its sample (see above)."""
    sampled = across_rows(schema) + (["the inferred missing-share tests"] if inferred else [])
    if sampled:
        check = schemas.validate(data.sample_dataset(), schema, source, max_cases=max_cases)
        check.details["judged_on_sample"] = sampled
        check.message = f"{check.message} [{', '.join(sampled)} compare rows: the whole schema judged on a sample]"
        return check
    absent = [name for name, column in schema.columns.items()
              if column.required and not column.regex and name not in data.parts.columns]
    if absent:
        raise MlgateError(f"schema {source}: column(s) {', '.join(map(str, absent))} not in dataset '{data.name}'")
    cases, counts, chunks = _fold(data, schema, source, max_cases)
    if counts:
        return schemas.failed(data, source, cases, max_cases, pd.Series(counts, dtype="int64"))
    checks = sum(len(c.checks) + (not c.nullable) for c in schema.columns.values())
    return Check("schema", PASSED, metric="schema_failures", dataset=data.name, candidate=0.0, threshold="== 0",
                 kind="data_quality", message=f"dataset '{data.name}' matches schema {source} "
                 f"({len(schema.columns)} columns, {len(data)} rows, validated in {chunks} chunks)",
                 details={"schema": source, "columns": len(schema.columns), "rows": len(data), "table": [],
                          "column_checks": checks, "chunks": chunks})


def _fold(data: Any, schema: pa.DataFrameSchema, source: str, max_cases: int
          ) -> tuple[pd.DataFrame, Counter, int]:
    """Every chunk validated: the first ``max_cases`` failure cases, the count per (column, check).
    A failure of a whole column (a dtype, a missing column: no row index) is counted once, not per chunk."""
    kept, counts, offset, chunks, seen = [], Counter(), 0, 0, set()
    for chunk in data.parts.chunks(data.chunk_rows):
        chunk.index = pd.RangeIndex(offset, offset + len(chunk))
        offset, chunks = offset + len(chunk), chunks + 1
        try:
            schemas.run(schema, chunk)
        except SchemaErrors as exc:
            cases = schemas.cases_of(exc)
            whole = cases["index"].isna()
            keys = list(zip(cases["column"], cases["check"], cases["failure_case"].astype(str)))
            fresh = [not (w and k in seen) for w, k in zip(whole, keys)]
            seen.update(k for w, k in zip(whole, keys) if w)
            cases = cases[fresh]
            counts.update(schemas.case_counts(cases).to_dict())
            room = max_cases - sum(len(k) for k in kept)
            if room > 0:
                kept.append(cases.head(room))
        except SchemaError as exc:
            raise MlgateError(f"schema {source} on dataset '{data.name}': {str(exc).splitlines()[0]}") from None
        except Exception as exc:  # a custom check that crashes must fail the gate closed
            raise MlgateError(f"schema {source} on dataset '{data.name}': {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    cases = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=list(schemas.CASE_COLUMNS))
    return cases, counts, chunks
