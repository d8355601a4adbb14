"""Inline SVG charts of monitoring checks: series over runs, and the shadow disagreement histogram.

Drawn from a stored decision record: a sequential check's ``table`` (one row per run: the value,
its interval, the realized value once labels arrived, the running evidence against its boundary)
and a shadow check's ``histogram``.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from pytest_mlgate.reports.charts import (
    BAD,
    BASELINE,
    CANDIDATE,
    NEUTRAL,
    WIDTH,
    _svg,
    _text,
)
from pytest_mlgate.reports.table import number

HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 220, 70, WIDTH - 20, 24, 190


def _scale(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    return low - pad, high + pad


def line_chart(kind: str, title: str, runs: list[int], series: list[tuple[str, str, list[float | None]]],
               bands: list[tuple[str, list[float | None], list[float | None]]] = ()) -> str:
    """Values per run: each series a labelled polyline with dots (``None`` gaps), each band an interval."""
    points = [v for *_, values in series for v in values if v is not None]
    points += [v for _, low, high in bands for v in (*low, *high) if v is not None and math.isfinite(v)]
    if not runs or not points:
        return ""
    y_rng = _scale(points)
    step = (RIGHT - LEFT) / max(len(runs) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return LEFT + i * step, BOTTOM - (v - y_rng[0]) / (y_rng[1] - y_rng[0]) * (BOTTOM - TOP)

    body = [_text(LEFT - 6, TOP + 4, number(y_rng[1]), anchor="end", cls="small"),
            _text(LEFT - 6, BOTTOM, number(y_rng[0]), anchor="end", cls="small"),
            f'<line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="#555"/>']
    for colour, low, high in bands:
        for i, (a, b) in enumerate(zip(low, high)):
            if a is not None and b is not None and math.isfinite(a) and math.isfinite(b):
                (x, ya), (_, yb) = xy(i, a), xy(i, b)
                body.append(f'<line class="band" x1="{x:.1f}" y1="{ya:.1f}" x2="{x:.1f}" y2="{yb:.1f}" '
                            f'stroke="{colour}" stroke-width="6" stroke-opacity="0.35"/>')
    for n, (name, colour, values) in enumerate(series):
        coords = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in coords))
        body.append(f'<polyline class="series" points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, v in coords:
            x, y = xy(i, v)
            tip = escape(f"{name}, run {runs[i]}: {number(v)}")
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{tip}</title></circle>')
        body.append(_text(LEFT + 150 * n, HEIGHT - 8, f"■ {name}", cls="small"))
    body.extend(_text(xy(i, y_rng[0])[0], BOTTOM + 14, str(r), anchor="middle", cls="small")
                for i, r in enumerate(runs) if len(runs) <= 20 or i % math.ceil(len(runs) / 20) == 0)
    return _svg(kind, title, HEIGHT, [_text(LEFT, 14, title, cls="small"), *body])


def sequence_charts(check: dict[str, Any]) -> str:
    """For a sequential check: its value per run against the floor (with realized values where labels
    arrived), and its evidence against the alarm boundary, on a log scale."""
    table = (check.get("details") or {}).get("table") or []
    if not table:
        return ""
    runs = [row["look"] for row in table]
    name = check["name"]
    values = line_chart(
        "sequence-values", f"{name}: value per run (interval), realized once labels arrived, floor", runs,
        [("value", CANDIDATE, [row["value"] for row in table]),
         ("realized", NEUTRAL, [row.get("realized") for row in table]),
         ("floor", BAD, [row["floor"] for row in table]),
         ("anytime-valid upper bound", BASELINE, [row["upper"] for row in table])],
        [(CANDIDATE, [row.get("low") for row in table], [row.get("high") for row in table])])
    evidence = line_chart(
        "sequence-evidence", f"{name}: evidence (log10) against the alarm boundary 1/alpha", runs,
        [("evidence", CANDIDATE, [math.log10(max(row["evidence"], 1e-12)) for row in table]),
         ("boundary", BAD, [math.log10(row["boundary"]) for row in table])])
    return values + evidence


def histogram_chart(check: dict[str, Any]) -> str:
    """The shadow check's distribution of candidate - production score differences."""
    bins = (check.get("details") or {}).get("histogram") or []
    if not bins:
        return ""
    top = max(b["count"] for b in bins) or 1
    width = (RIGHT - LEFT) / len(bins)
    body = [_text(LEFT, 14, "candidate - production score on replayed requests (count per bin)", cls="small")]
    for i, b in enumerate(bins):
        h = b["count"] / top * (BOTTOM - TOP)
        fill = NEUTRAL if b["low"] < 0 < b["high"] else CANDIDATE
        tip = escape(f"[{number(b['low'])}, {number(b['high'])}): {b['count']}")
        body.append(f'<rect x="{LEFT + i * width:.1f}" y="{BOTTOM - h:.1f}" width="{max(width - 2, 1):.1f}" '
                    f'height="{h:.1f}" fill="{fill}"><title>{tip}</title></rect>')
    body += [_text(LEFT, BOTTOM + 14, number(bins[0]["low"]), cls="small"),
             _text(RIGHT, BOTTOM + 14, number(bins[-1]["high"]), anchor="end", cls="small")]
    return _svg("shadow-histogram", f"{check['name']}: score differences", HEIGHT, body)


def monitoring_section(record: dict[str, Any]) -> str:
    """Every sequential and shadow chart of the record, each under its gate and check name."""
    parts = []
    for gate in record.get("gates", []):
        histograms = [c for c in gate.get("checks", []) if (c.get("details") or {}).get("histogram")][:1]
        for check in gate.get("checks", []):
            chart = sequence_charts(check) if check.get("kind") == "sequential" else \
                histogram_chart(check) if check in histograms else ""
            if chart:
                parts.append(f"<h3>{escape(gate['gate'])}: {escape(check['name'])}</h3>{chart}")
    return "".join(parts)
