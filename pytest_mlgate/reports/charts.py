"""Small inline SVG charts for the HTML report, drawn here so the report needs no JS or network."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from pytest_mlgate.reports.table import number

WIDTH = 820
LABEL = 270
ROW = 24
TOP = 26
MIN_DELTA_SPAN = 0.02
CANDIDATE, BASELINE, BAD, NEUTRAL = "#2f6fdf", "#9aa5b1", "#d64545", "#3f9c5a"


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


@dataclass(frozen=True)
class Bar:
    """One labelled value of a generic bar chart; ``failed`` colours it red."""

    label: str
    value: float
    failed: bool = False
    ci: tuple[float, float] | None = None


def _svg(kind: str, title: str, height: int, body: list[str]) -> str:
    head = (f'<svg class="chart chart-{kind}" role="img" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}">'
            f"<title>{escape(title)}</title>")
    return head + "".join(body) + "</svg>"


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str = "") -> str:
    extra = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _label(text: str, limit: int = 40) -> str:
    """Long labels keep their end, which tells rows apart (``…_by_region: recall[region=east]``)."""
    return text if len(text) <= limit else "…" + text[-(limit - 1):]


def _scale(values: list[float]) -> tuple[float, float]:
    """A value range that includes zero and every value, never empty."""
    low, high = min([0.0, *values]), max([0.0, *values])
    if high == low:
        high = low + 1.0
    return low, high


def _x(value: float, rng: tuple[float, float], lo: float, hi: float) -> float:
    return lo + (value - rng[0]) / (rng[1] - rng[0]) * (hi - lo)


def comparison_chart(rows: list[Comparison], title: str = "Candidate vs baseline") -> str:
    """Paired bars (candidate, baseline) per metric, and the delta with its CI whisker beside them.

    Bars have a scale per row (metrics differ in range); deltas share a scale per ``group`` (the
    metric), so a larger drop looks larger, and span at least ±2% of the baseline so that a tiny
    difference looks tiny. The numbers are printed on every row.
    """
    reach: dict[str | int, float] = {}
    for row in rows:
        key = row.group if row.group is not None else id(row)
        points = (row.delta or 0.0, *(row.ci or ()), MIN_DELTA_SPAN * abs(row.baseline or 0.0))
        reach[key] = max(reach.get(key, 0.0), *(abs(v) for v in points))
    bars_lo, bars_hi, delta_lo, delta_hi = LABEL, 500.0, 560.0, WIDTH - 20.0
    height = TOP + ROW * 2 * len(rows) + 10
    body = [_text(bars_lo, 14, "■ candidate", cls="cand"), _text(bars_lo + 100, 14, "■ baseline", cls="base"),
            _text((delta_lo + delta_hi) / 2, 14, "delta (CI)", anchor="middle")]
    for i, row in enumerate(rows):
        y = TOP + i * 2 * ROW
        colour = BAD if row.failed else CANDIDATE
        body.append(_text(LABEL - 8, y + ROW, _label(row.label), anchor="end", cls="bad" if row.failed else ""))
        values = [v for v in (row.candidate, row.baseline) if v is not None]
        rng = _scale(values)
        for offset, value, fill, name in ((2, row.candidate, colour, "candidate"),
                                          (ROW + 2, row.baseline, BASELINE, "baseline")):
            if value is None:
                continue
            x0, x1 = sorted((_x(0.0, rng, bars_lo, bars_hi), _x(value, rng, bars_lo, bars_hi)))
            body.append(f'<rect class="bar {name}" x="{x0:.1f}" y="{y + offset}" width="{max(x1 - x0, 1):.1f}" '
                        f'height="{ROW - 6}" fill="{fill}"><title>{escape(f"{name} {number(value)}")}</title></rect>')
            body.append(_text(x1 + 4, y + offset + ROW - 10, number(value)))
        if row.delta is not None:
            body.extend(_delta(row, y, delta_lo, delta_hi, reach[row.group if row.group is not None else id(row)]))
    return _svg("comparison", title, height, body)


def _delta(row: Comparison, y: float, lo: float, hi: float, reach: float) -> list[str]:
    rng = (-(reach or 1.0) * 1.1, (reach or 1.0) * 1.1)
    mid, cy = _x(0.0, rng, lo, hi), y + ROW
    colour = BAD if row.failed else NEUTRAL
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


def bar_chart(kind: str, title: str, bars: list[Bar], unit: str = "") -> str:
    """Horizontal bars for one value per row (negative values grow left of the zero line)."""
    lo, hi = LABEL, WIDTH - (170.0 if any(b.ci for b in bars) else 70.0)
    rng = _scale([v for b in bars for v in (b.value, *(b.ci or ()))])
    zero = _x(0.0, rng, lo, hi)
    height = TOP + ROW * len(bars) + 10
    body = [_text(lo, 14, title + (f" ({unit})" if unit else ""), cls="small")]
    for i, bar in enumerate(bars):
        y = TOP + i * ROW
        x0, x1 = sorted((zero, _x(bar.value, rng, lo, hi)))
        fill = BAD if bar.failed else CANDIDATE
        body.append(_text(LABEL - 8, y + ROW - 9, _label(bar.label), anchor="end", cls="bad" if bar.failed else ""))
        body.append(f'<rect class="bar" x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" height="{ROW - 6}" '
                    f'fill="{fill}"><title>{escape(f"{bar.label}: {number(bar.value)}")}</title></rect>')
        text_x = max(x0, x1)
        if bar.ci is not None:
            a, b = (_x(v, rng, lo, hi) for v in bar.ci)
            mid = y + ROW / 2
            body.append(f'<line class="whisker" x1="{a:.1f}" y1="{mid:.1f}" x2="{b:.1f}" y2="{mid:.1f}" '
                        'stroke="#1f2328" stroke-width="1.5"/>')
            text_x = max(text_x, a, b)
        body.append(_text(text_x + 4, y + ROW - 9, number(bar.value)
                          + (f" [{number(bar.ci[0])}, {number(bar.ci[1])}]" if bar.ci else "")))
    body.append(f'<line class="zero" x1="{zero:.1f}" y1="{TOP}" x2="{zero:.1f}" y2="{height - 10}" stroke="#555"/>')
    return _svg(kind, title, height, body)
