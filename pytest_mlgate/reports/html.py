"""A self-contained HTML gate report: one file, inline CSS and SVG, no scripts, no network.

Sections: the decision; candidate vs baseline with confidence intervals; one section per check
family that carries a per-row table (data quality per column, drift per feature, fairness per
group, feature importance, staging latency), drawn generically from ``details["table"]``; every gate with every number;
the artifacts' hashes and the datasets' fingerprints. Passing gates are collapsed and a CSS-only
filter hides them, so a run with a hundred gates stays readable.
"""

from __future__ import annotations

import json
import math
import re
from html import escape
from typing import Any

from pytest_mlgate.reports import history, reliability
from pytest_mlgate.reports.charts import (
    SEVERITY,
    Bar,
    Comparison,
    bar_chart,
    comparison_chart,
)
from pytest_mlgate.reports.charts_monitoring import monitoring_section
from pytest_mlgate.reports.table import LABELS, headings, labels, number, short_gate

MAX_CHART_ROWS = 60
BAD = ("failed", "error")
COUNTS = ("rows", "rank", "n", "count", "support")
# What else the run recorded (audit entry, promotion, training, ignored approvals), shown as JSON.
RUN_KEYS = ("lifecycle", "training")
# Sections drawn from check tables: (kind, title, preferred label columns, preferred value columns).
FAMILIES = (
    ("data_quality", "Data quality per column", ("column", "class", "name"),
     ("rate", "abs_skewness", "share", "score", "value")),
    ("drift", "Drift per feature", ("feature", "column", "name"),
     ("effect_value", "statistic", "distance", "psi", "score", "p_value")),
    ("fairness", "Fairness per group", ("group", "value", "name"),
     ("selection_rate", "accuracy", "true_positive_rate", "false_positive_rate", "recall", "ratio", "rate",
      "metric", "value", "difference")),
    ("explainability", "Feature importance", ("feature", "name"),
     ("importance", "mean_abs_shap", "shap", "weight", "value")),
    ("staging", "Staging latency", ("probe", "name", "batch", "batch_size", "le_ms", "percentile", "stage"),
     ("p95_ms", "p99_ms", "latency_ms", "p50_ms", "ms", "requests", "seconds", "value")),
)
# The per-group rates a fairness measure is a spread of, each charted with its limit.
RATES = {"equalized_odds": ("true_positive_rate", "false_positive_rate"), "equal_opportunity": ("true_positive_rate",)}
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}
header{position:sticky;top:0;z-index:2;background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:8px 20px}
header h1{font-size:18px;margin:0 0 4px} header nav a{margin-right:12px}
main{padding:0 20px 40px;max-width:1200px}
.decision{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:700}
.approved{background:#1a7f37}.rejected{background:#cf222e}.needs-review{background:#9a6700}
.badge{display:inline-block;min-width:70px;padding:0 6px;border-radius:8px;font-size:12px;text-align:center;
color:#fff;background:#6e7781}.badge.passed{background:#1a7f37}.badge.failed,.badge.error{background:#cf222e}
.badge.skipped,.badge.not_applicable,.badge.too_small{background:#9a6700}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid #d0d7de;padding:2px 6px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums} tr.bad td{background:#ffebe9}
details.gate{border:1px solid #d0d7de;border-radius:6px;margin:6px 0;padding:4px 8px}
details.gate.bad{border-color:#cf222e} summary{cursor:pointer}
.muted{color:#57606a} .hash{font-family:monospace;font-size:12px;word-break:break-all}
svg.chart{display:block;margin:8px 0;max-width:100%;height:auto;font-size:12px}
svg text.small{font-size:11px;fill:#57606a} svg text.bad{fill:#cf222e;font-weight:600}
svg text.cand{fill:#2f6fdf} svg text.base{fill:#6e7781}
.badge.failed.sev-review{background:#d97a00}.badge.failed.sev-warn{background:#8250df}
details.section{border:1px solid #d0d7de;border-radius:6px;margin:10px 0;padding:6px 8px}
pre.command{background:#f6f8fa;border:1px solid #d0d7de;padding:6px;white-space:pre-wrap;word-break:break-all}
.problem{color:#cf222e;font-weight:600}
#only-bad:checked ~ main details.gate.ok{display:none}
"""


def render(record: dict[str, Any]) -> str:
    """The decision record as one HTML document."""
    sections = [("approvals", "Approvals", _approvals(record)), ("comparison", "Metrics", _comparisons(record)),
                *((kind, title, _family(record, kind, title, *cols)) for kind, title, *cols in FAMILIES),
                ("history", "History", history.section(record)),
                ("calibration", "Calibration", reliability.section(record)),
                ("monitoring", "Monitoring over runs and shadow", _monitoring(record)),
                ("gates", "Gates", _gates(record)), ("artifacts", "Artifacts", _artifacts(record))]
    sections = [s for s in sections if s[2]]
    title = f"mlgate {record['decision']}: {record.get('model') or 'model'}"
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        _header(record, [(key, name) for key, name, _ in sections]),
        '<input type="checkbox" id="only-bad"> <label for="only-bad">show only gates that need attention</label>',
        "<main>", _reasons(record), *(body for *_, body in sections), "</main></body></html>\n",
    ])


def _monitoring(record: dict[str, Any]) -> str:
    body = monitoring_section(record)
    return f'<section id="monitoring"><h2>Monitoring over runs and shadow</h2>{body}</section>' if body else ""


def _header(record: dict[str, Any], links: list[tuple[str, str]]) -> str:
    status = record["decision"]
    counts = ", ".join(f"{n} {k}" for k, n in sorted(record["counts"].items())) or "no gates"
    facts = [("owner", record.get("owner") or "not set"), ("stage", record.get("stage") or "push"),
             ("commit", (record.get("git_commit") or "")[:12] or "n/a"), ("finished", record.get("finished") or "")]
    return (f'<header><h1>mlgate decision: <span id="decision" class="decision {escape(status)}">'
            f"{escape(status.upper())}</span> for <span id=\"model\">{escape(record.get('model') or 'model')}</span>"
            "</h1><div>" + " · ".join(f"{k}: <b id=\"{k}\">{escape(str(v))}</b>" for k, v in facts)
            + f" · gates: {escape(counts)}</div><nav>"
            + "".join(f'<a href="#{k}">{escape(t)}</a>' for k, t in links) + "</nav></header>")


def _reasons(record: dict[str, Any]) -> str:
    items = [escape(r) for r in record["reasons"]]
    items += [escape(f"approved by {a.get('by')}: {a.get('gate')} ({a.get('reason', '')})")
              for a in record.get("approvals_used", [])]
    if not items:
        return '<p id="reasons">Every blocking and review gate passed.</p>'
    return '<h2>Why</h2><ul id="reasons">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _approvals(record: dict[str, Any]) -> str:
    """The approvals panel: what needs review, who may approve and how; approvals used and ignored."""
    block, used, ignored = record.get("review"), record.get("approvals_used") or [], record.get("approvals_ignored") or []
    if not (block or used or ignored):
        return ""
    out = '<section id="approvals"><h2>Approvals</h2>'
    if block:
        out += (f"<p>Needs review for candidate sha256 <span class=\"hash\">{escape(block.get('candidate') or 'unknown')}"
                "</span>. Approvers: <b id=\"approvers\">"
                + escape(", ".join(block["approvers"]) or "none configured") + "</b></p><ul>"
                + "".join(f"<li><b>{escape(short_gate(g['gate']))}</b>: {escape(g['message'])}</li>" for g in block["gates"])
                + "</ul>")
        if block.get("problem"):
            out += f'<p class="problem">Cannot approve: {escape(block["problem"])}.</p>'
        if block["commands"]:
            out += ("<p>To approve, an approver runs (with their own <code>--by</code> and reason):</p>"
                    + "".join(f'<pre class="command">{escape(c)}</pre>' for c in block["commands"]))
    rows = [{"gate": a.get("gate"), "by": a.get("by"), "reason": a.get("reason"), "at": a.get("at"),
             "status": a.get("ignored") and f"ignored: {a['ignored']}" or "used"} for a in (*used, *ignored)]
    if rows:
        out += "<h3>Approvals recorded for this candidate</h3>" + _html_table(rows)
    return out + "</section>"


def _num(value: Any) -> float | None:
    """A finite float, or None for anything else (None, "inf", text, booleans)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _checks(record: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(gate, check) for gate in record["gates"] for check in gate["checks"]]


def _capped(items: list[Any]) -> tuple[list[Any], str]:
    if len(items) <= MAX_CHART_ROWS:
        return items, ""
    return items[:MAX_CHART_ROWS], (f'<p class="muted">Chart shows the first {MAX_CHART_ROWS} of {len(items)}; '
                                    "every row is in the tables below.</p>")


def _comparisons(record: dict[str, Any]) -> str:
    groups: dict[tuple[tuple[str, str], str, str], list[Comparison]] = {}
    for gate, check in _checks(record):
        candidate, baseline = _num(check.get("candidate")), _num(check.get("baseline"))
        if candidate is None or baseline is None:
            continue
        delta, ci = _num(check.get("delta")), _interval(check.get("ci"))
        if ci is not None and (delta is None or not ci[0] <= delta <= ci[1]):
            ci = None  # not an interval of the difference (e.g. of the candidate's value): table only
        metric = check.get("metric") or check["name"]
        # one chart per comparison, kind and scale: rates and scores on 0-1 together, any other metric alone
        scale = "0-1 scale" if 0 <= min(candidate, baseline) and max(candidate, baseline) <= 1 else str(metric)
        groups.setdefault((labels(check), check.get("kind") or "check", scale), []).append(Comparison(
            f"{short_gate(gate['gate'])}: {check['name']}", candidate, baseline, delta, ci,
            check["outcome"] in BAD, metric, gate.get("severity", "block")))
    sections = []
    for pair in dict.fromkeys(pair for pair, _, _ in groups):
        charts, total = [], 0
        for (_, kind, scale), rows in ((k, v) for k, v in groups.items() if k[0] == pair):
            shown, note = _capped(sorted(rows, key=lambda r: not r.failed))  # failing rows first, then gate order
            charts.append(f"<h3>{escape(kind)} · {escape(scale)}</h3>"
                          + comparison_chart(shown, f"{kind}, {scale}", pair) + note)
            total += len(rows)
        title = f"{pair[0].capitalize()} vs {pair[1]}"
        anchor = "comparison" if pair == LABELS else "comparison-" + "-".join(pair)
        sections.append(f'<section id="{escape(anchor)}"><h2>{escape(title)}</h2><details open><summary>'
                        f"{total} metric(s), one chart per kind and scale: bars are the values; right, the difference "
                        f"({escape(pair[0])} − {escape(pair[1])}) with its confidence interval where the check "
                        f"computed one{' (paired, same rows)' if pair == LABELS else ''}; the dashed line is no "
                        "difference; failing checks first, coloured by severity "
                        f"{_legend()}.</summary>" + "".join(charts) + "</details></section>")
    return "".join(sections)


def _legend() -> str:
    return "(" + ", ".join(f'<b class="sev sev-{k}" style="color:{c}">{k}</b>' for k, c in SEVERITY.items()) + ")"


def _pick(table: list[dict[str, Any]], preferred: tuple[str, ...], numeric: bool) -> str | None:
    """The column to chart: the first preferred one that fits, else the first other one that does.

    A value column fits when every present value is a number (rows without one get no bar); a label
    column fits when every row has it and it is not purely numeric. Counts are never a fallback value.
    """
    columns = list(dict.fromkeys(k for row in table for k in row))

    def fits(column: str) -> bool:
        values = [row.get(column) for row in table]
        if numeric:
            present = [v for v in values if v is not None]
            return bool(present) and all(_num(v) is not None for v in present)
        return all(v is not None for v in values) and not all(_num(v) is not None for v in values)

    others = [c for c in columns if c not in preferred and not (numeric and c in COUNTS)]
    found = next((c for c in (*[c for c in preferred if c in columns], *others) if fits(c)), None)
    if found is None and not numeric:
        return next((c for c in preferred if c in columns), None)
    return found


def _row_failed(row: dict[str, Any]) -> bool:
    return row.get("outcome") in (*BAD, "drifted") or row.get("passed") is False \
        or any(row.get(flag) is True for flag in ("failed", "drifted", "flagged"))


def _family(record: dict[str, Any], kind: str, title: str, labels: tuple[str, ...],
            values: tuple[str, ...]) -> str:
    checks = [(g, c) for g, c in _checks(record) if c.get("kind") == kind]
    if not checks:
        return ""
    parts = []
    plain = []
    drawn: set[str] = set()
    for gate, check in checks:
        table = _table_of(check)
        key = json.dumps(table, sort_keys=True)
        if table and key in drawn:  # e.g. one latency table shared by the p50/p95/p99 checks
            parts.append(_heading(gate, check) + '<p class="muted">(same table as above)</p>')
        elif table:
            drawn.add(key)
            parts.append(_table_chart(kind, gate, check, table, labels, values))
        elif _num(check.get("candidate")) is not None:
            plain.append(Bar(f"{short_gate(gate['gate'])}: {check['name']}", _num(check["candidate"]),
                             check["outcome"] in BAD, severity=gate.get("severity", "block")))
    if plain:
        shown, note = _capped(plain)
        parts.insert(0, bar_chart(kind, f"{title}: candidate value per check", shown) + note)
    bad = sum(1 for _, c in checks if c["outcome"] in BAD)
    if not bad:  # nothing to look at: one line, opened on demand
        return (f'<section id="{kind}"><details class="section clean"><summary><b>{escape(title)}</b>: '
                f"{len(checks)} check(s), none failed</summary>" + "".join(parts) + "</details></section>")
    return (f'<section id="{kind}"><h2>{escape(title)}</h2><p class="muted">{bad} of {len(checks)} check(s) '
            "failed</p>" + "".join(parts) + "</section>")


def _table_of(check: dict[str, Any]) -> list[dict[str, Any]]:
    table = (check.get("details") or {}).get("table")
    return table if isinstance(table, list) and table and all(isinstance(r, dict) for r in table) else []


def _interval(value: Any) -> tuple[float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_num(v) is not None for v in value):
        return float(value[0]), float(value[1])
    return None


def _heading(gate: dict[str, Any], check: dict[str, Any]) -> str:
    head = (f"<h3>{escape(short_gate(gate['gate']))} · {escape(check['name'])} "
            f'<span class="badge {escape(check["outcome"])}">{escape(check["outcome"])}</span></h3>')
    if check.get("message"):
        head += f'<p class="muted">{escape(check["message"])}</p>'
    return head


def _table_chart(kind: str, gate: dict[str, Any], check: dict[str, Any], table: list[dict[str, Any]],
                 labels: tuple[str, ...], values: tuple[str, ...]) -> str:
    label, picked = _pick(table, labels, numeric=False), _pick(table, values, numeric=True)
    rates = RATES.get((check.get("details") or {}).get("measure"), ())
    chart = ""
    charted = [c for c in rates if any(_num(r.get(c)) is not None for r in table)]
    for value in charted or ([] if picked is None else [picked]):
        # A "<value>_ci" column ([low, high]) becomes whiskers, as fairness tables carry; a drift
        # row's "min_effect" is its own limit on "effect_value".
        limit = "min_effect" if value == "effect_value" else f"{value}_threshold"
        bars = [Bar(str(row.get(label, i)) if label else str(i), float(row[value]), _row_failed(row),
                    _interval(row.get(f"{value}_ci")), gate.get("severity", "block"), _num(row.get(limit)))
                for i, row in enumerate(table) if _num(row.get(value)) is not None]
        shown, note = _capped(sorted(bars, key=lambda b: not b.failed))
        chart += bar_chart(kind, f"{check['name']}: {value} by {label or 'row'}", shown,
                           lines=_limits(check, value, [b.value for b in bars])) + note
    return _heading(gate, check) + chart + f"<details><summary>table ({len(table)} rows)</summary>{_html_table(table)}</details>"


def _limits(check: dict[str, Any], value: str, values: list[float]) -> tuple[tuple[float, str], ...]:
    """Limits on a fairness table's per-group ``value``: the lowest (or highest) a group may reach."""
    details = check.get("details") or {}
    measure, metric = details.get("measure"), str(check.get("metric") or "")
    found = re.fullmatch(r"(>=|<=) (-?[0-9.eE+-]+)", str(check.get("threshold") or ""))
    if check.get("kind") != "fairness" or not values or found is None or not (
            metric.startswith(value) or value in RATES.get(measure, ())):
        return ()
    limit = float(found.group(2))
    if measure in RATES:  # each rate's spread over the groups is at most the limit
        return ((max(values) - limit, f"difference {limit:g} from the highest group"),)
    if measure == "ratio":
        return ((max(values) * limit, f"ratio {limit:g} of the best group"),)
    if measure == "difference":
        return ((max(values) - limit, f"difference {limit:g} from the best group"),)
    if measure == "group_bound" or metric == value:
        return ((limit, f"{found.group(1)} {limit:g}"),)
    return ()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="n">{escape(number(value))}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="n">{value}</td>'
    if isinstance(value, (dict, list)):
        return f"<td>{escape(json.dumps(value))}</td>"
    return f"<td>{escape('' if value is None else str(value))}</td>"


def _html_table(rows: list[dict[str, Any]], columns: list[str] | None = None, hashes: tuple[str, ...] = (),
                names: list[str] | None = None) -> str:
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    body = []
    for row in rows:
        cells = [f'<td class="hash">{escape(str(row.get(c) or ""))}</td>' if c in hashes else _cell(row.get(c))
                 for c in columns]
        body.append(f'<tr class="{"bad" if _row_failed(row) else ""}">' + "".join(cells) + "</tr>")
    return ("<table><thead><tr>" + "".join(f"<th>{escape(c)}</th>" for c in names or columns) + "</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


CHECK_COLUMNS = ("check", "kind", "metric", "dataset", "candidate", "baseline", "delta", "ci", "threshold",
                 "outcome", "message")


def _check_row(check: dict[str, Any]) -> dict[str, Any]:
    ci = check.get("ci")
    row = {c: check.get(c) for c in CHECK_COLUMNS if c not in ("check", "ci")}
    row["check"] = check["name"]
    row["ci"] = f"[{number(ci[0])}, {number(ci[1])}]" if ci else None
    return row


def _gate(index: int, gate: dict[str, Any]) -> str:
    outcome = gate["outcome"]
    bad = outcome in BAD or any(c["outcome"] in BAD for c in gate["checks"])
    attention = bad or outcome != "passed" or any(c["outcome"] != "passed" for c in gate["checks"])
    meta = [gate["severity"], gate.get("category"), gate.get("owner") and f"owner {gate['owner']}",
            f"{gate.get('duration', 0.0):.2f}s"]
    sev = f" sev-{escape(gate['severity'])}" if outcome == "failed" else ""
    summary = (f'<summary><span class="badge {escape(outcome)}{sev}">{escape(outcome)}</span> '
               f"<b>{escape(short_gate(gate['gate']))}</b> <span class=\"muted\">"
               f"{escape(' · '.join(m for m in meta if m))}</span>"
               + (f" — {escape(gate['message'])}" if gate.get("message") else "") + "</summary>")
    body = f'<p class="muted">{escape(gate["gate"])}</p>'
    for pair in dict.fromkeys(labels(c) for c in gate["checks"]):  # one table per kind of comparison
        body += _html_table([_check_row(c) for c in gate["checks"] if labels(c) == pair], list(CHECK_COLUMNS),
                            names=headings(pair, CHECK_COLUMNS))
    for check in gate["checks"]:
        details = {k: v for k, v in (check.get("details") or {}).items() if k != "table"}
        if details:
            body += (f'<p class="muted">{escape(check["name"])}: '
                     + escape(", ".join(f"{k}={number(v) if isinstance(v, float) else v}" for k, v in details.items()))
                     + "</p>")
        table = _table_of(check)
        if table:
            body += (f"<details><summary>{escape(check['name'])}: table ({len(table)} rows)</summary>"
                     f"{_html_table(table)}</details>")
    classes = "gate " + ("bad" if bad else "") + ("" if attention else " ok")
    return (f'<details class="{classes.strip()}" id="gate-{index}"{" open" if bad else ""}>' + summary + body
            + "</details>")


def _gates(record: dict[str, Any]) -> str:
    gates = record["gates"]
    return (f'<section id="gates"><h2>Gates ({len(gates)})</h2>'
            + ("".join(_gate(i, g) for i, g in enumerate(gates)) or "<p>No gates ran.</p>") + "</section>")


def _artifacts(record: dict[str, Any]) -> str:
    artifacts = list((record.get("artifacts") or {}).values())
    datasets = list((record.get("datasets") or {}).values())
    out = '<section id="artifacts"><h2>Artifacts and datasets</h2>'
    if artifacts:
        out += "<h3>Artifacts (sha256)</h3>" + _html_table(
            artifacts, ["name", "spec", "path", "version", "sha256", "error"], hashes=("sha256",))
    if datasets:
        out += "<h3>Dataset fingerprints</h3>" + _html_table(
            datasets, ["name", "path", "rows", "columns", "sha256", "schema_sha256"],
            hashes=("sha256", "schema_sha256"))
    if not artifacts and not datasets:
        out += "<p>No artifacts recorded.</p>"
    run = [{"item": key, "value": record[key]} for key in RUN_KEYS if record.get(key)]
    if run:
        out += "<h3>Audit, approvals and lifecycle</h3>" + _html_table(run)
    return out + "</section>"
