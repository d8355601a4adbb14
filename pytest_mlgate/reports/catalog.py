"""The gate catalog: the suite as a document for everyone who shares it, from the code and the records.

Each gate's name, docstring and marker (severity, category, owner, stage) come from collecting the
suite; the thresholds and allowances it applies from the checks of the last decision it ran in,
its last outcomes from the audit trail, and who may approve it from the severity and
``[tool.mlgate] approvers``. Rendered as Markdown or as one self-contained HTML file.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from html import escape
from typing import Any

from pytest_mlgate.reports.markdown import cell

LAST_OUTCOMES = 5
NOT_RUN = "not yet run"


def gate_spec(item: Any) -> dict[str, Any]:
    """What a collected pytest item says about its gate (marker settings, docstring)."""
    marker = item.get_closest_marker("gate")
    options = dict(marker.kwargs) if marker else {}
    function = getattr(item, "function", None)
    doc = inspect.getdoc(function) if function is not None else None
    stage = options.get("stage", "push")
    return {"gate": item.nodeid, "name": item.name, "doc": doc or "",
            "severity": options.get("severity", "block"), "category": options.get("category"),
            "owner": options.get("owner"), "stage": stage if isinstance(stage, str) else ",".join(stage)}


def spec_from_result(gate: dict[str, Any]) -> dict[str, Any]:
    """A gate spec from a decision record's gate (when collection was not seen, e.g. under xdist)."""
    return {"gate": gate["gate"], "name": gate["gate"].rpartition("::")[2], "doc": "",
            **{k: gate.get(k) for k in ("severity", "category", "owner", "stage")}}


def build(specs: list[dict[str, Any]], decisions: list[dict[str, Any]], *, model: str | None,
          owner: str | None, approvers: tuple[str, ...] | list[str], generated: str) -> dict[str, Any]:
    """The catalog: one entry per gate spec, joined with ``decisions`` (audit entries, oldest first)."""
    runs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for decision in decisions:
        for gate in (decision.get("data") or {}).get("gates") or []:
            runs.setdefault(gate.get("gate"), []).append((decision, gate))
    gates = [_entry(spec, runs.get(spec["gate"], []), owner, list(approvers)) for spec in specs]
    last = decisions[-1] if decisions else None
    return {"model": model, "owner": owner, "generated": generated, "gates": gates,
            "last_decision": None if last is None else {"seq": last.get("seq"), "at": last.get("at"),
                                                        "decision": (last.get("data") or {}).get("decision")}}


def recent(specs: list[dict[str, Any]], newest: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The decisions :func:`build` needs, oldest first, taken from ``newest`` (newest first) back to
    the one that gives every gate its last outcomes: the catalog built on them is the one built on all."""
    wanted = {spec["gate"]: LAST_OUTCOMES for spec in specs}
    taken = []
    for decision in newest:
        taken.append(decision)
        for gate in (decision.get("data") or {}).get("gates") or []:
            if wanted.get(gate.get("gate")):
                wanted[gate.get("gate")] -= 1
        if not any(wanted.values()):
            break
    return taken[::-1]


def _entry(spec: dict[str, Any], runs: list[tuple[dict[str, Any], dict[str, Any]]], owner: str | None,
           approvers: list[str]) -> dict[str, Any]:
    thresholds = None
    if runs:
        entry, gate = runs[-1]
        thresholds = {"at": entry.get("at"), "checks": [
            {"check": c["name"], "threshold": c.get("threshold"), "dataset": c.get("dataset")}
            for c in gate.get("checks") or []]}
    outcomes = [{"at": d.get("at"), "outcome": g.get("outcome"), "decision": (d.get("data") or {}).get("decision"),
                 "seq": d.get("seq")} for d, g in runs[-LAST_OUTCOMES:]][::-1]
    return {**spec, "owner": spec.get("owner") or owner, "owner_from_model": not spec.get("owner"),
            "thresholds": thresholds, "outcomes": outcomes, "approvers": _approvers(spec["severity"], approvers)}


def _approvers(severity: str, approvers: list[str]) -> str:
    if severity == "review":
        return ", ".join(approvers) if approvers else "nobody yet ([tool.mlgate] approvers is empty)"
    if severity == "warn":
        return "not needed (warn: reported only)"
    return "nobody (block: a failure rejects)"


def _threshold_text(check: dict[str, Any]) -> str:
    where = f" on {check['dataset']}" if check.get("dataset") else ""
    return f"{check['threshold']}{where}" if check.get("threshold") else f"asserted in the test{where}"


def _outcome_text(outcomes: list[dict[str, Any]]) -> str:
    return ", ".join(f"{o['outcome']} ({o['at']})" for o in outcomes) or NOT_RUN


def _summary(catalog: dict[str, Any]) -> str:
    last = catalog["last_decision"]
    runs = f"last decision {last['decision']} at {last['at']} (audit entry {last['seq']})" if last else "no decision yet"
    return (f"Model `{catalog['model'] or '?'}`, owner {catalog['owner'] or '?'}: {len(catalog['gates'])} gates; "
            f"{runs}. Generated {catalog['generated']} from the gate code and the audit trail.")


def render_markdown(catalog: dict[str, Any]) -> str:
    """The catalog as Markdown: an overview table, then one section per gate."""
    lines = [f"# Gate catalog: {catalog['model'] or 'model'}", "", _summary(catalog), "",
             "| gate | stage | severity | category | owner | thresholds | last outcome | who may approve |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for gate in catalog["gates"]:
        checks = gate["thresholds"]["checks"] if gate["thresholds"] else None
        limits = "; ".join(f"{c['check']} {_threshold_text(c)}" for c in checks) if checks is not None else NOT_RUN
        last = gate["outcomes"][0]["outcome"] if gate["outcomes"] else NOT_RUN
        lines.append("| " + " | ".join(cell(v) for v in (
            gate["name"], gate["stage"], gate["severity"], gate["category"] or "", gate["owner"] or "",
            limits or "no checks recorded", last, gate["approvers"])) + " |")
    for gate in catalog["gates"]:
        lines += ["", f"## {gate['name']}", "", f"`{gate['gate']}`", ""]
        if gate["doc"]:
            lines += [gate["doc"], ""]
        owner = f"{gate['owner']}{' (model owner)' if gate['owner_from_model'] else ''}"
        lines += [f"- severity: **{gate['severity']}** · stage: {gate['stage']} · category: "
                  f"{gate['category'] or '-'} · owner: {owner}",
                  f"- who may approve a failure: {gate['approvers']}"]
        if gate["thresholds"] is None:
            lines.append(f"- thresholds: {NOT_RUN}")
        else:
            lines.append(f"- thresholds (last run {gate['thresholds']['at']}):")
            lines += [f"  - `{c['check']}`: {_threshold_text(c)}" for c in gate["thresholds"]["checks"]] or \
                ["  - no checks recorded"]
        lines.append(f"- last outcomes: {_outcome_text(gate['outcomes'])}")
    return "\n".join(lines) + "\n"


STYLE = ("body{font:14px/1.45 system-ui,sans-serif;margin:2em;max-width:1100px;color:#1d2330}"
         "table{border-collapse:collapse;width:100%}td,th{border:1px solid #d8dde3;padding:4px 8px;"
         "text-align:left;vertical-align:top}th{background:#f2f4f7}.block{color:#b42318}.review{color:#a15c00}"
         ".warn{color:#5b6472}section{margin-top:1.6em}pre{white-space:pre-wrap;background:#f7f8fa;padding:8px}")


def render_html(catalog: dict[str, Any]) -> str:
    """The catalog as one offline HTML file (inline CSS, no scripts, nothing fetched)."""
    rows = []
    for gate in catalog["gates"]:
        checks = gate["thresholds"]["checks"] if gate["thresholds"] else None
        limits = "<br>".join(f"{escape(c['check'])}: {escape(_threshold_text(c))}" for c in checks) \
            if checks is not None else NOT_RUN
        rows.append("<tr>" + "".join(f"<td>{v}</td>" for v in (
            f'<a href="#g{len(rows)}">{escape(gate["name"])}</a>', escape(gate["stage"]),
            f'<span class="{escape(gate["severity"])}">{escape(gate["severity"])}</span>',
            escape(gate["category"] or ""), escape(gate["owner"] or ""), limits or "no checks recorded",
            escape(_outcome_text(gate["outcomes"][:1])), escape(gate["approvers"]))) + "</tr>")
    sections = []
    for index, gate in enumerate(catalog["gates"]):
        doc = f"<pre>{escape(gate['doc'])}</pre>" if gate["doc"] else ""
        sections.append(f'<section id="g{index}"><h2>{escape(gate["name"])}</h2><code>{escape(gate["gate"])}</code>'
                        f"{doc}<p>last outcomes: {escape(_outcome_text(gate['outcomes']))}</p></section>")
    title = f"Gate catalog: {catalog['model'] or 'model'}"
    head = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>")
    table = ("<table><thead><tr><th>gate</th><th>stage</th><th>severity</th><th>category</th><th>owner</th>"
             "<th>thresholds</th><th>last outcome</th><th>who may approve</th></tr></thead><tbody>"
             + "".join(rows) + "</tbody></table>")
    return (head + f"<h1>{escape(title)}</h1><p>{escape(_summary(catalog))}</p>" + table + "".join(sections)
            + "</body></html>\n")


def render(catalog: dict[str, Any], fmt: str) -> str:
    return render_html(catalog) if fmt == "html" else render_markdown(catalog)


def format_for(path: Any) -> str:
    """``html`` for a ``.html``/``.htm`` file, else ``markdown``."""
    return "html" if str(path).lower().endswith((".html", ".htm")) else "markdown"
