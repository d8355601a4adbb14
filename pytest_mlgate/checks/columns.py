"""Column selection, per-column limits, cached column profiles and the one-check summary shared by the data checks."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pytest_mlgate.checks.profile import (
    SAMPLE_ROWS,
    Profile,
    jsonable,
)
from pytest_mlgate.decision import FAILED, NOT_APPLICABLE, PASSED, TOO_SMALL, Check
from pytest_mlgate.errors import MlgateError
from pytest_mlgate.evaluate.models import Dataset

if TYPE_CHECKING:
    pass


Limit = float | Mapping[str, float | None]
SHOWN = 5
_PROFILES: weakref.WeakKeyDictionary[Dataset, Profile] = weakref.WeakKeyDictionary()


def profile(data: Dataset) -> Profile:
    """The dataset's cached column statistics (rebuilt if its frame was replaced)."""
    found = _PROFILES.get(data)
    if found is None or found.frame is not data.frame:
        found = _PROFILES[data] = Profile(data.frame, sample_rows=SAMPLE_ROWS)
    return found


def limit(limit: Limit, column: str, default: float) -> float | None:
    if not isinstance(limit, Mapping):
        return float(limit)
    for key in (column, "*"):
        if key in limit:
            return None if limit[key] is None else float(limit[key])
    return default


def columns(data: Dataset, columns: Iterable[str] | None, eligible: list[str], what: str) -> list[str]:
    if columns is None:
        return eligible
    chosen = list(columns)
    for column in chosen:
        if column not in eligible:
            data.column_known(column)  # a missing column gets its own error
            raise MlgateError(f"dataset '{data.name}': column '{column}' is not {what}")
    return chosen


def target(data: Dataset, target: str | None, check: str) -> str:
    name = target or data.target
    if name is None:
        raise MlgateError(f"{check}: dataset '{data.name}' has no target column ([tool.mlgate] target or target=)")
    data.column_known(name)
    return name


def pct(rate: float) -> str:
    return f"{rate * 100:.2f}%".replace(".00%", "%")


def summarise(name: str, metric: str, data: Dataset, table: list[dict[str, Any]], value: str,
               describe: Callable[[dict[str, Any]], str], *, higher_is_worse: bool = True,
               unit: str = "column(s)", **details: Any) -> Check:
    """One Check over per-column rows: worst value as candidate, failing columns in the message."""
    judged = [r for r in table if r["outcome"] in (PASSED, FAILED)]
    if not judged:
        return Check(name, NOT_APPLICABLE, metric=metric, dataset=data.name, kind="data_quality",
                     message=f"{name} on '{data.name}': no applicable columns",
                     details={"table": table, **details})
    worst = (max if higher_is_worse else min)(judged, key=lambda r: r[value])
    failing = [r for r in judged if r["outcome"] == FAILED]
    limits = {r["limit"] for r in judged}
    sign = "<=" if higher_is_worse else ">="
    threshold = f"{sign} {limits.pop():.4g}" if len(limits) == 1 else "per column"
    if failing:
        listed = ", ".join(describe(r) for r in failing[:SHOWN])
        more = f", +{len(failing) - SHOWN} more" if len(failing) > SHOWN else ""
        message = f"{name} on '{data.name}': {len(failing)} of {len(judged)} {unit} fail: {listed}{more}"
    else:
        message = f"{name} on '{data.name}': {len(judged)} {unit} pass, worst {describe(worst)}"
    return Check(name, FAILED if failing else PASSED, metric=metric, dataset=data.name, candidate=float(worst[value]),
                 threshold=threshold, kind="data_quality", message=message, details={"table": table, **details})


def empty(name: str, metric: str, data: Dataset) -> Check | None:
    if len(data):
        return None
    return Check(name, TOO_SMALL, metric=metric, dataset=data.name, kind="data_quality",
                 message=f"{name} on '{data.name}': dataset has no rows", details={"rows": 0, "table": []})


def unseen(data: Dataset, reference: Dataset, max_rate: Limit, chosen: list[str],
           found: Callable[[str], tuple[list[Any], int]]) -> Check:
    """The ``no_unseen_categories`` check of the ``chosen`` columns; ``found(column)`` gives the
    column's values never seen in ``reference`` and how many rows of ``data`` hold them."""
    rows = []
    for column in chosen:
        cap = limit(max_rate, column, 0.0)
        if cap is None:
            rows.append({"column": column, "outcome": "skipped", "limit": None})
            continue
        new, count = found(column)
        rate = count / len(data)
        rows.append({"column": column, "unseen_values": [jsonable(v) for v in new[:20]], "distinct_unseen": len(new),
                     "rows": count, "rate": rate, "limit": cap, "outcome": FAILED if rate > cap else PASSED})
    return summarise("no_unseen_categories", "unseen_rate", data, rows, "rate",
                     lambda r: f"{r['column']} {pct(r['rate'])} of rows ({r['rows']}) have categories not in "
                               f"'{reference.name}' {r['unseen_values'][:SHOWN] or ''} "
                               f"{'>' if r['outcome'] == FAILED else '<='} {pct(r['limit'])}",
                     reference=reference.name)


def repeat_check(data: Dataset, count: int, positions: Any, shown: Any, chosen: list[str], max_rate: float) -> Check:
    """The ``no_duplicates`` check: ``count`` rows repeat an earlier one; ``shown`` holds the rows at
    the first ``positions``."""
    return _rows_check("no_duplicates", "duplicate_rate", data, count, f"{count} duplicate row(s) of {len(data)}",
                       positions, shown, chosen, max_rate, duplicates=count)


def overlap_check(data: Dataset, reference: Dataset, count: int, positions: Any, shown: Any, chosen: list[str],
                  max_rate: float) -> Check:
    """The ``no_overlap`` check: ``count`` rows of ``data`` occur in ``reference``."""
    return _rows_check("no_overlap", "overlap_rate", data, count, f"{count} of {len(data)} rows",
                       positions, shown, chosen, max_rate, f" also in '{reference.name}'", overlapping=count,
                       reference=reference.name)


def _rows_check(name: str, metric: str, data: Dataset, count: int, counted: str, positions: Any, shown: Any,
                chosen: list[str], max_rate: float, where: str = "", **details: Any) -> Check:
    rate = count / len(data)
    passed = rate <= max_rate
    message = f"{name} on '{data.name}': {counted} ({pct(rate)}){where} {'<=' if passed else '>'} {pct(max_rate)}"
    if not passed:
        message += f"; first at rows {', '.join(map(str, list(positions)[:SHOWN]))}"
    return Check(name, PASSED if passed else FAILED, metric=metric, dataset=data.name, candidate=rate,
                 threshold=f"<= {max_rate:g}", kind="data_quality", message=message,
                 details={**details, "rows": len(data), "columns": chosen, "table": _rows_table(positions, shown, chosen)})


def _rows_table(positions: Any, shown: Any, chosen: list[str]) -> list[dict[str, Any]]:
    return [{"row": int(p), **{c: jsonable(v) for c, v in row.items()}}
            for p, row in zip(positions, shown[chosen].to_dict("records"))]
