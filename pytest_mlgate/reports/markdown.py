"""The decision as GitHub-flavoured Markdown, for CI job summaries ($GITHUB_STEP_SUMMARY).

Decision first, then the failing gates with their numbers, then the full table. GitHub rejects a
step summary over 1 MiB, so the output is kept under ``limit`` bytes: the failing-gate list and the
table are cut at a row boundary with a note saying how many rows were left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_mlgate.reports.table import (
    COLUMNS,
    dtype_lines,
    grouped,
    headings,
    labels,
    number,
    rows,
    short_gate,
)

GITHUB_LIMIT = 1024 * 1024
# Room kept free for the sections after a truncated one and for whatever else the job appends.
LIMIT = GITHUB_LIMIT - 64 * 1024
MAX_REASONS = 20
ICONS = {"approved": "✅", "rejected": "❌", "needs-review": "⚠️"}
OUTCOME_ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️", "not_applicable": "➖",
                 "too_small": "➖"}


def cell(value: Any) -> str:
    """A table cell: one line, pipes escaped, no raw HTML."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def code(value: Any) -> str:
    """An inline code span (outside tables): one line, no backticks."""
    return "`" + str(value).replace("`", "'").replace("\r", " ").replace("\n", " ") + "`"


def header(record: dict[str, Any]) -> list[str]:
    """The decision, the model and owner, the counts and the reasons."""
    status = record["decision"]
    model = record.get("model") or "model"
    lines = [f"## {ICONS.get(status, '')} mlgate decision: **{status.upper()}** for {code(model)}", ""]
    facts = [f"owner: {cell(record['owner'])}" if record.get("owner") else None,
             f"stage: {cell(record.get('stage') or 'push')}",
             f"commit: {code(record['git_commit'][:12])}" if record.get("git_commit") else None,
             f"finished: {record.get('finished', '')}",
             "gates: " + (", ".join(f"{n} {k}" for k, n in sorted(record["counts"].items())) or "none")]
    lines.append(" · ".join(f for f in facts if f))
    lines.append("")
    if record["reasons"]:
        lines.append("**Why:**")
        lines.extend(f"- {cell(reason)}" for reason in record["reasons"][:MAX_REASONS])
        if len(record["reasons"]) > MAX_REASONS:
            lines.append(f"- … and {len(record['reasons']) - MAX_REASONS} more: see the failing gates below")
        lines.append("")
    lifecycle = record.get("lifecycle") or {}
    if lifecycle:
        lines.extend([" · ".join(f"{k}: {cell(v)}" for k, v in lifecycle.items()), ""])
    for approval in record.get("approvals_used", []):
        lines.append(f"- approved by {cell(approval.get('by'))}: {cell(approval.get('gate'))} "
                     f"({cell(approval.get('reason', ''))})")
    warnings = dtype_lines(record)
    if warnings:
        lines.extend(["**Column types:**", *(f"- {cell(w.removeprefix('mlgate warning: '))}" for w in warnings), ""])
    return lines


def failing(record: dict[str, Any]) -> list[str]:
    """One bullet per failing or erroring gate, with each failing check's numbers."""
    lines = []
    for gate in record["gates"]:
        if gate["outcome"] not in ("failed", "error"):
            continue
        lines.append(f"- **{cell(short_gate(gate['gate']))}** ({gate['severity']}, {gate['outcome']}): "
                     f"{cell(gate['message'])}")
        for check in gate["checks"]:
            if check["outcome"] in ("failed", "error"):
                values = numbers(check)
                said = "" if check["message"] == gate["message"] else f": {cell(check['message'])}"
                lines.append(f"  - {code(check['name'])}{' ' + values if values else ''}{said}")
    return lines


def review(record: dict[str, Any]) -> list[str]:
    """A needs-review decision: the failing review gates, who may approve and the commands to run."""
    block = record.get("review")
    if not block:
        return []
    lines = ["### Review needed", "",
             f"Candidate sha256 {code(block.get('candidate') or 'unknown')}; approvers: "
             + (", ".join(cell(a) for a in block["approvers"]) or "**none configured**"), ""]
    lines += [f"- **{cell(short_gate(g['gate']))}**: {cell(g['message'])}" for g in block["gates"]]
    if block.get("problem"):
        lines += ["", f"Cannot approve: {cell(block['problem'])}."]
    if block["commands"]:
        lines += ["", "To approve, an approver runs (with their own `--by` and reason):", "", "```bash",
                  *(c.replace("`", "'") for c in block["commands"]), "```"]
    return [*lines, ""]


def numbers(check: dict[str, Any]) -> str:
    """candidate / baseline (or what the check compares) / delta / CI / threshold, the ones it has."""
    names = dict(zip(("candidate", "baseline"), labels(check), strict=True))
    parts = [f"{names.get(k, k)} {number(check[k])}" for k in ("candidate", "baseline", "delta")
             if check.get(k) is not None]
    if check.get("ci"):
        parts.append(f"CI [{number(check['ci'][0])}, {number(check['ci'][1])}]")
    if check.get("threshold"):
        parts.append(f"threshold {check['threshold']}")
    return cell(", ".join(parts)) if parts else ""


def table(record: dict[str, Any]) -> list[str]:
    """The full check table: one per kind of comparison, each headed with what its numbers are."""
    lines: list[str] = []
    for pair, group in grouped(rows(record)).items():
        if lines:
            lines += ["", f"_{cell(pair[0])} vs {cell(pair[1])}:_", ""]
        lines += ["| " + " | ".join(headings(pair)) + " |", "|" + "---|" * len(COLUMNS)]
        for row in group:
            row = dict(row, outcome=f"{OUTCOME_ICONS.get(row['outcome'], '')} {row['outcome']}".strip())
            lines.append("| " + " | ".join(cell(row[c]) for c in COLUMNS) + " |")
    return lines or ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]


def render(record: dict[str, Any], limit: int = LIMIT) -> str:
    """The Markdown summary, at most ``limit`` UTF-8 bytes (sections are cut with a note)."""
    out: list[str] = []
    size = 0

    def add(lines: list[str], keep: int = 0, what: str = "rows") -> None:
        # Lines after the first ``keep`` (a section's heading) may be dropped to stay in budget.
        nonlocal size
        for i, line in enumerate(lines):
            cost = len(line.encode()) + 1
            if i >= keep and size + cost > limit - 512:
                rest = len(lines) - i
                out.append(f"\n_… {rest} more {what} not shown (step summary size limit); "
                           "see the decision JSON or the HTML report for all of them._")
                size += len(out[-1].encode()) + 1
                return
            out.append(line)
            size += cost

    add(header(record), keep=5, what="reasons")
    add(review(record), keep=2, what="lines of the review block")
    bad = failing(record)
    if bad:
        add(["### Failing gates", "", *bad, ""], keep=2, what="lines of failing gates")
    small = sum(1 for g in record["gates"] for c in g["checks"] if c["outcome"] in ("too_small", "not_applicable"))
    if small:
        add([f"_{small} check(s) could not be judged (too small or not applicable); they are marked ➖ below._", ""])
    add(["<details><summary>All checks</summary>", "", *table(record)], keep=4, what="table rows")
    add(["", "</details>", ""], keep=3)
    return "\n".join(out) + "\n"


def append_step_summary(path: Path, record: dict[str, Any]) -> None:
    """Append the summary to a CI job summary file ($GITHUB_STEP_SUMMARY), within what is left of the limit."""
    used = path.stat().st_size if path.exists() else 0
    text = render(record, limit=max(LIMIT - used, 8 * 1024))
    with path.open("a", encoding="utf-8") as fh:
        fh.write(("\n" if used else "") + text)
