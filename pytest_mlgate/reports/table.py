"""One row per check (a gate without checks gets one row) for every tabular report."""

from __future__ import annotations

from typing import Any

COLUMNS = ("gate", "check", "candidate", "baseline", "delta", "threshold", "outcome")
LABELS = ("candidate", "baseline")


def labels(check: dict[str, Any]) -> tuple[str, str]:
    """What a check's ``candidate`` and ``baseline`` numbers are: two models by default, or what the
    check names in ``details["compared"]`` (concept drift: one model on the current and the
    reference dataset)."""
    compared = (check.get("details") or {}).get("compared")
    if isinstance(compared, (list, tuple)) and len(compared) == 2 and all(isinstance(c, str) for c in compared):
        return compared[0], compared[1]
    return LABELS


def headings(pair: tuple[str, str], columns: tuple[str, ...] = COLUMNS) -> list[str]:
    """``columns`` with the candidate and baseline columns named for what a group of rows compares."""
    return [dict(zip(LABELS, pair, strict=True)).get(c, c) for c in columns]


def grouped(found: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Rows by what they compare, candidate-vs-baseline rows first, each group in gate order."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {LABELS: []}
    for row in found:
        groups.setdefault(row["labels"], []).append(row)
    return {pair: group for pair, group in groups.items() if group}


def number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def short_gate(nodeid: str) -> str:
    return nodeid.rsplit("::", 1)[-1]


def rows(record: dict[str, Any]) -> list[dict[str, str]]:
    """Rows of strings keyed by COLUMNS (and ``labels``: what candidate and baseline are), in gate order."""
    found = []
    for gate in record["gates"]:
        name = short_gate(gate["gate"])
        severity = "" if gate["severity"] == "block" else f" [{gate['severity']}]"
        for check in gate["checks"]:
            found.append({
                "gate": name + severity, "check": check["name"], "candidate": number(check["candidate"]),
                "baseline": number(check["baseline"]), "delta": number(check["delta"]),
                "threshold": check["threshold"] or "", "outcome": check["outcome"], "labels": labels(check),
            })
        if not gate["checks"]:
            found.append({"gate": name + severity, "check": "", "candidate": "", "baseline": "", "delta": "",
                          "threshold": "", "outcome": gate["outcome"], "labels": LABELS})
    return found


def headline(record: dict[str, Any]) -> str:
    """The decision in one line."""
    counts = ", ".join(f"{n} {k}" for k, n in sorted(record["counts"].items()))
    owner = f", owner {record['owner']}" if record.get("owner") else ""
    model = record.get("model") or "model"
    return f"mlgate decision: {record['decision'].upper()} for {model}{owner} ({counts or 'no gates'})"


def review_lines(block: dict[str, Any] | None) -> list[str]:
    """A needs-review decision's review block as plain lines: the gates, the approvers, the commands."""
    if not block:
        return []
    lines = [f"needs review: {len(block['gates'])} review gate(s) failed and need an approval for candidate "
             f"sha256 {block.get('candidate') or 'unknown'}"]
    lines += [f"  - {g['gate']}: {g['message']}" for g in block["gates"]]
    lines.append("  approvers: " + (", ".join(block["approvers"]) or "none configured"))
    if block.get("problem"):
        lines.append(f"  cannot approve: {block['problem']}")
    lines += [f"  approve (as one of the approvers, with your reason): {command}" for command in block["commands"]]
    return lines


def dtype_lines(record: dict[str, Any]) -> list[str]:
    """One warning per dataset column whose type differs from the reference's (typed loading)."""
    lines = []
    for name, found in (record.get("datasets") or {}).items():
        for m in found.get("dtype_mismatches") or ():
            lines.append(f"mlgate warning: dataset '{name}' ({found.get('path')}): column '{m['column']}' is "
                         f"{m['found']} where the reference's is {m['expected']}; read as {m['read_as']}")
    return lines
