"""A model's checks over its registry versions: a text table, or HTML with one line chart per check."""

from __future__ import annotations

from html import escape
from typing import Any

from pytest_mlgate.reports.table import number

WIDTH, HEIGHT, PAD = 360, 140, 34
MAX_CHARTS = 40


def render_text(labels: list[str], rows: list[dict[str, Any]]) -> str:
    """One line per check, one column per version (``-``: not measured in that version's decision)."""
    cells = [["check", *labels]] + [[row["check"], *(_cell(row.get(v)) for v in labels)] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(text.ljust(w) for text, w in zip(line, widths)).rstrip() for line in cells) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return number(value) if isinstance(value, (int, float)) else str(value)


def line_chart(title: str, labels: list[str], values: list[float | None]) -> str:
    """An inline SVG line of ``values`` over ``labels`` (gaps where a version has no value)."""
    points = [(i, v) for i, v in enumerate(values) if isinstance(v, (int, float))]
    body = [f'<svg class="chart chart-history" role="img" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}"><title>{escape(title)}</title>']
    if points:
        low, high = min(v for _, v in points), max(v for _, v in points)
        span = (high - low) or abs(high) or 1.0
        step = (WIDTH - 2 * PAD) / max(len(labels) - 1, 1)

        def xy(i: int, v: float) -> tuple[float, float]:
            return PAD + i * step, HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD)

        coords = [xy(i, v) for i, v in points]
        body.append('<polyline fill="none" stroke="#2f6fdf" stroke-width="2" points="'
                    + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        for (x, y), (_, v) in zip(coords, points):
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2f6fdf"/>'
                        f'<text x="{x:.1f}" y="{y - 6:.1f}" text-anchor="middle">{escape(number(v))}</text>')
        for i, label in enumerate(labels):
            body.append(f'<text x="{PAD + i * step:.1f}" y="{HEIGHT - 10}" text-anchor="middle">{escape(label)}</text>')
    return "".join(body) + "</svg>"


def charts(labels: list[str], rows: list[dict[str, Any]]) -> str:
    """A figure with a line chart for each check measured in at least one of the versions."""
    found = [f"<figure><figcaption>{escape(row['check'])}</figcaption>"
             f"{line_chart(row['check'], labels, [row.get(v) for v in labels])}</figure>"
             for row in rows if any(isinstance(row.get(v), (int, float)) for v in labels)]
    note = f"<p>{len(found) - MAX_CHARTS} more checks in the table</p>" if len(found) > MAX_CHARTS else ""
    return "".join(found[:MAX_CHARTS]) + note


def section(record: dict[str, Any]) -> str:
    """The HTML report's history section (empty without history): each check over the last versions."""
    history = record.get("history")
    if not history:
        return ""
    return (f"<p>Each check over the last versions ({escape(', '.join(history['versions']))}), from the audit "
            f"trail.</p>{charts(history['versions'], history['rows'])}")


def render_html(model: str, labels: list[str], rows: list[dict[str, Any]]) -> str:
    """An offline HTML page: the table, then a chart for every numeric check."""
    head = "".join(f"<th>{escape(v)}</th>" for v in ("check", *labels))
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(row.get(c)) if c != 'check' else row['check'])}</td>"
                                    for c in ("check", *labels)) + "</tr>" for row in rows)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>History of {escape(model)}</title><style>body{{font:14px system-ui,sans-serif;margin:2em}}"
            "table{border-collapse:collapse}td,th{border:1px solid #d8dde3;padding:3px 8px}"
            "figure{display:inline-block;margin:0 1em 1em 0}text{font-size:11px}</style></head><body>"
            f"<h1>History of {escape(model)}: {escape(', '.join(labels))}</h1>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{charts(labels, rows)}</body></html>\n")
