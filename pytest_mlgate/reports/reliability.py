"""The calibration section of the HTML report: a reliability diagram per calibration check."""

from __future__ import annotations

from html import escape
from typing import Any

from pytest_mlgate.reports.charts import BASELINE, CANDIDATE
from pytest_mlgate.reports.table import short_gate

SIZE, PAD = 320, 36


def diagram(title: str, tables: dict[str, tuple[list[dict[str, Any]], str]]) -> str:
    """Observed rate against mean predicted probability per bin (the diagonal is perfect
    calibration), one series per model; dot area follows the bin's rows."""
    span = SIZE - 2 * PAD

    def at(p: float, o: float) -> tuple[float, float]:
        return PAD + p * span, SIZE - PAD - o * span

    body = [f'<line x1="{PAD}" y1="{SIZE - PAD}" x2="{SIZE - PAD}" y2="{PAD}" stroke="#ccc" stroke-dasharray="4"/>',
            f'<rect x="{PAD}" y="{PAD}" width="{span}" height="{span}" fill="none" stroke="#999"/>',
            f'<text x="{SIZE / 2}" y="{SIZE - 8}" text-anchor="middle">mean predicted probability</text>',
            f'<text x="12" y="{SIZE / 2}" transform="rotate(-90 12 {SIZE / 2})" '
            'text-anchor="middle">observed rate</text>']
    for name, (table, colour) in tables.items():
        total = sum(r["rows"] for r in table) or 1
        points = [at(r["predicted"], r["observed"]) for r in table]
        body.append(f'<polyline fill="none" stroke="{colour}" points="'
                    + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
        for (x, y), row in zip(points, table):
            radius = 2 + 8 * (row["rows"] / total) ** 0.5
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{colour}" fill-opacity="0.6">'
                        f'<title>{escape(name)}: {row["rows"]} rows, predicted {row["predicted"]:.3f}, '
                        f'observed {row["observed"]:.3f}</title></circle>')
    legend = " ".join(f'<span style="color:{c}">&#9679; {escape(n)}</span>' for n, (_, c) in tables.items())
    return (f'<figure><svg class="chart chart-calibration" role="img" width="{SIZE}" height="{SIZE}" '
            f'viewBox="0 0 {SIZE} {SIZE}"><title>{escape(title)}</title>' + "".join(body)
            + f"</svg><figcaption>{legend}</figcaption></figure>")


def section(record: dict[str, Any]) -> str:
    """Reliability diagrams of every calibration check that carries a table (one per dataset)."""
    found: dict[tuple[str, str], tuple[str, dict[str, Any], dict[str, tuple[list[dict[str, Any]], str]]]] = {}
    for gate in record.get("gates", []):
        for check in gate.get("checks", []):
            details = check.get("details") or {}
            table = details.get("reliability_table")
            if check.get("kind") != "calibration" or not table:
                continue
            tables = {"candidate": (table, CANDIDATE)}
            if details.get("baseline_reliability_table"):
                tables["baseline"] = (details["baseline_reliability_table"], BASELINE)
            key = (gate["gate"], str(table))  # the threshold and the baseline check share a table
            if key not in found or len(tables) > len(found[key][2]):
                found[key] = (f"{short_gate(gate['gate'])}: {check['name']}", check, tables)
    parts = [f"<h3>{escape(title)}</h3><p>{escape(check.get('message', ''))}</p>" + diagram(title, tables)
             for title, check, tables in found.values()]
    return '<section id="calibration"><h2>Calibration</h2>' + "".join(parts) + "</section>" if parts else ""
