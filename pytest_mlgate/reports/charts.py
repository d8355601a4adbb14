"""Small inline SVG charts for the HTML report, drawn here so the report needs no JS or network."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from pytest_mlgate.reports.table import number

WIDTH = 820
LABEL = 270
ROW = 24
TOP = 26
MIN_DELTA_SPAN = 0.02
LINE = 14  # px per line of a wrapped label
LABEL_CHARS = 30  # characters per label line: fits LABEL px at the chart font even for wide letters
CANDIDATE, BASELINE, BAD, NEUTRAL = "#2f6fdf", "#9aa5b1", "#d64545", "#3f9c5a"
# A failing check's colour says how much it matters: block rejects, review waits, warn only reports.
SEVERITY = {"block": BAD, "review": "#d97a00", "warn": "#8250df"}


@dataclass(frozen=True)
class Comparison:
    """One candidate-vs-baseline row: values, their delta and the CI of that delta if known."""

    label: str
    candidate: float | None
    baseline: float | None
    delta: float | None = None
    ci: tuple[float, float] | None = None
    failed: bool = False
    group: str | None = None
    severity: str = "block"


@dataclass(frozen=True)
class Bar:
    """One labelled value of a generic bar chart; ``failed`` colours it by ``severity``;
    ``threshold`` is this row's limit (drawn as a tick across the row)."""

    label: str
    value: float
    failed: bool = False
    ci: tuple[float, float] | None = None
    severity: str = "block"
    threshold: float | None = None


def fill(failed: bool, severity: str) -> str:
    return SEVERITY.get(severity, BAD) if failed else CANDIDATE


def _svg(kind: str, title: str, height: int, body: list[str]) -> str:
    head = (f'<svg class="chart chart-{kind}" role="img" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}">'
            f"<title>{escape(title)}</title>")
    return head + "".join(body) + "</svg>"


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str = "") -> str:
    extra = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _wrap(text: str, width: int = LABEL_CHARS) -> list[str]:
    """A label in lines of at most ``width`` characters, broken after separators: never cut."""
    lines, line = [], ""
    for piece in re.findall(r"[^ :_/.\[\]=,]*[ :_/.\[\]=,]?", text):
        while len(piece) > width:  # one unbreakable run longer than a line
            if line:
                lines.append(line)
                line = ""
            lines.append(piece[:width])
            piece = piece[width:]
        if len(line) + len(piece) > width:
            lines.append(line)
            line = ""
        line += piece
    return [*lines, line] if line else lines or [""]


def _label(y: float, text: str, height: float, failed: bool) -> str:
    """A right-aligned, wrapped label, centred on a row of ``height`` starting at ``y``."""
    lines = _wrap(text)
    top = y + (height - LINE * len(lines)) / 2 + LINE - 3
    spans = "".join(f'<tspan x="{LABEL - 8}" y="{top + i * LINE:.1f}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return (f'<text class="label{" bad" if failed else ""}" text-anchor="end"><title>{escape(text)}</title>'
            f"{spans}</text>")


def _heights(labels: list[str], minimum: float) -> list[float]:
    return [max(minimum, LINE * len(_wrap(label)) + 6) for label in labels]


def _scale(values: list[float]) -> tuple[float, float]:
    """A value range that includes zero and every value, never empty."""
    low, high = min([0.0, *values]), max([0.0, *values])
    if high == low:
        high = low + 1.0
    return low, high


def _x(value: float, rng: tuple[float, float], lo: float, hi: float) -> float:
    return lo + (value - rng[0]) / (rng[1] - rng[0]) * (hi - lo)


def comparison_chart(rows: list[Comparison], title: str = "Candidate vs baseline",
                     names: tuple[str, str] = ("candidate", "baseline")) -> str:
    """Paired bars (candidate, baseline, or the two ``names`` compared) per metric, and the delta
    with its CI whisker beside them.

    The caller groups rows of one kind and scale into one chart, so its bars share one scale;
    deltas share a scale per ``group`` (the metric), so a larger drop looks larger, and span at
    least ±2% of the baseline so that a tiny difference looks tiny. Labels wrap, never cut.
    """
    reach: dict[str | int, float] = {}
    for row in rows:
        key = row.group if row.group is not None else id(row)
        points = (row.delta or 0.0, *(row.ci or ()), MIN_DELTA_SPAN * abs(row.baseline or 0.0))
        reach[key] = max(reach.get(key, 0.0), *(abs(v) for v in points))
    bars_lo, bars_hi, delta_lo, delta_hi = LABEL, 500.0, 560.0, WIDTH - 20.0
    rng = _scale([v for row in rows for v in (row.candidate, row.baseline) if v is not None])
    heights = _heights([row.label for row in rows], 2 * ROW)
    body = [_text(bars_lo, 14, f"■ {names[0]}", cls="cand"), _text(bars_lo + 100, 14, f"■ {names[1]}", cls="base"),
            _text((delta_lo + delta_hi) / 2, 14, "delta (CI)", anchor="middle")]
    y = float(TOP)
    for row, height in zip(rows, heights, strict=True):
        body.append(_label(y, row.label, height, row.failed))
        for offset, value, colour, name, shown in ((2, row.candidate, fill(row.failed, row.severity), "candidate",
                                                    names[0]), (ROW + 2, row.baseline, BASELINE, "baseline", names[1])):
            if value is None:
                continue
            x0, x1 = sorted((_x(0.0, rng, bars_lo, bars_hi), _x(value, rng, bars_lo, bars_hi)))
            body.append(f'<rect class="bar {name}" x="{x0:.1f}" y="{y + offset}" width="{max(x1 - x0, 1):.1f}" '
                        f'height="{ROW - 6}" fill="{colour}"><title>{escape(f"{shown} {number(value)}")}</title></rect>')
            body.append(_text(x1 + 4, y + offset + ROW - 10, number(value)))
        if row.delta is not None:
            body.extend(_delta(row, y, delta_lo, delta_hi, reach[row.group if row.group is not None else id(row)]))
        y += height
    return _svg("comparison", title, int(y) + 10, body)


def _delta(row: Comparison, y: float, lo: float, hi: float, reach: float) -> list[str]:
    rng = (-(reach or 1.0) * 1.1, (reach or 1.0) * 1.1)
    mid, cy = _x(0.0, rng, lo, hi), y + ROW
    colour = fill(True, row.severity) if row.failed else NEUTRAL
    out = [f'<line class="zero" x1="{mid:.1f}" y1="{y + 2}" x2="{mid:.1f}" y2="{y + 2 * ROW - 4}" stroke="#555" '
           'stroke-dasharray="3 2"/>']
    text = f"Δ {number(row.delta)}"
    if row.ci is not None:
        a, b = (_x(v, rng, lo, hi) for v in row.ci)
        out.append(f'<line class="whisker" x1="{a:.1f}" y1="{cy:.1f}" x2="{b:.1f}" y2="{cy:.1f}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.extend(f'<line x1="{v:.1f}" y1="{cy - 5:.1f}" x2="{v:.1f}" y2="{cy + 5:.1f}" stroke="{colour}" '
                   'stroke-width="2"/>' for v in (a, b))
        text += f" [{number(row.ci[0])}, {number(row.ci[1])}]"
    out.append(f'<circle class="delta" cx="{_x(row.delta, rng, lo, hi):.1f}" cy="{cy:.1f}" r="4" fill="{colour}">'
               f"<title>{escape(text)}</title></circle>")
    out.append(_text((lo + hi) / 2, y + 2 * ROW - 6, text, anchor="middle", cls="small"))
    return out


def bar_chart(kind: str, title: str, bars: list[Bar], unit: str = "",
              lines: tuple[tuple[float, str], ...] = ()) -> str:
    """Horizontal bars for one value per row (negative values grow left of the zero line).

    ``lines`` are limits across the whole chart (value, label), drawn dashed; a bar's own
    ``threshold`` is a tick across its row. Labels wrap, never cut.
    """
    lo, hi = LABEL, WIDTH - (170.0 if any(b.ci for b in bars) else 70.0)
    limits = [b.threshold for b in bars if b.threshold is not None] + [v for v, _ in lines]
    rng = _scale([v for b in bars for v in (b.value, *(b.ci or ()))] + limits)
    zero = _x(0.0, rng, lo, hi)
    heights = _heights([b.label for b in bars], ROW)
    body = [_text(lo, 14, title + (f" ({unit})" if unit else ""), cls="small")]
    y = float(TOP)
    for bar, height in zip(bars, heights, strict=True):
        x0, x1 = sorted((zero, _x(bar.value, rng, lo, hi)))
        mid = y + height / 2
        body.append(_label(y, bar.label, height, bar.failed))
        body.append(f'<rect class="bar" x="{x0:.1f}" y="{mid - ROW / 2 + 3:.1f}" width="{max(x1 - x0, 1):.1f}" '
                    f'height="{ROW - 6}" fill="{fill(bar.failed, bar.severity)}">'
                    f'<title>{escape(f"{bar.label}: {number(bar.value)}")}</title></rect>')
        text_x = max(x0, x1)
        if bar.ci is not None:
            a, b = (_x(v, rng, lo, hi) for v in bar.ci)
            body.append(f'<line class="whisker" x1="{a:.1f}" y1="{mid:.1f}" x2="{b:.1f}" y2="{mid:.1f}" '
                        'stroke="#1f2328" stroke-width="1.5"/>')
            text_x = max(text_x, a, b)
        if bar.threshold is not None:
            t = _x(bar.threshold, rng, lo, hi)
            body.append(f'<line class="threshold" x1="{t:.1f}" y1="{mid - ROW / 2:.1f}" x2="{t:.1f}" '
                        f'y2="{mid + ROW / 2:.1f}" stroke="#1f2328" stroke-width="2">'
                        f"<title>limit {escape(number(bar.threshold))}</title></line>")
        body.append(_text(text_x + 4, mid + 4, number(bar.value)
                          + (f" [{number(bar.ci[0])}, {number(bar.ci[1])}]" if bar.ci else "")))
        y += height
    body.append(f'<line class="zero" x1="{zero:.1f}" y1="{TOP}" x2="{zero:.1f}" y2="{y:.1f}" stroke="#555"/>')
    for value, label in lines:
        t = _x(value, rng, lo, hi)
        body.append(f'<line class="threshold" x1="{t:.1f}" y1="{TOP - 4}" x2="{t:.1f}" y2="{y:.1f}" '
                    f'stroke="#1f2328" stroke-width="1.5" stroke-dasharray="5 3"><title>{escape(label)}</title></line>')
        body.append(_text(t, y + 10, label, anchor="middle", cls="small"))
    return _svg(kind, title, int(y) + 14, body)
