"""The gate summary printed at the end of a pytest run."""

from __future__ import annotations

from typing import Any

from pytest_mlgate.reports.table import (
    COLUMNS,
    dtype_lines,
    grouped,
    headings,
    headline,
    review_lines,
    rows,
)

MAX_WIDTH = 48


def summary_lines(record: dict[str, Any]) -> list[str]:
    """A fixed-width table of every check (one per kind of comparison, each with its own heading),
    then the reasons and the one-line decision."""
    lines = []
    for pair, table in grouped(rows(record)).items():
        names = headings(pair)
        cells = [[_clip(row[c]) for c in COLUMNS] for row in table]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(names)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(names, widths, strict=True)).rstrip())
        lines.extend("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells)
    small = sum(1 for g in record["gates"] for c in g["checks"] if c["outcome"] in ("too_small", "not_applicable"))
    if small:
        lines.append(f"{small} check(s) could not be judged (too small or not applicable); see the table")
    lines.extend(f"  - {reason}" for reason in record["reasons"])
    for approval in record.get("approvals_used", []):
        lines.append(f"  approved by {approval.get('by')}: {approval.get('gate')} ({approval.get('reason', '')})")
    lines.extend(review_lines(record.get("review")))
    lines.extend(dtype_lines(record))
    lines.append(headline(record))
    return lines


def _clip(text: str) -> str:
    return text if len(text) <= MAX_WIDTH else text[: MAX_WIDTH - 1] + "…"
