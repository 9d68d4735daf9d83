"""The planner's charts as inline SVG, drawn on the server: no script, nothing fetched by the browser.

``stacked_chart``: a family's expected total demand per year, its parts stacked, with the interval as
a whisker and the line's rates as lines. ``fan_chart``: a quantity per year as nested credible bands
(a fan), its median, and reference lines (a line's minimum sustaining and maximum rates)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

PARTS = (
    ("domestic", "#9aa5b1", "domestic plan"),
    ("firm", "#1f3a5f", "firm LORs"),
    ("pending_expected", "#3d6fa8", "pending LORs (expected)"),
    ("new_lors_expected", "#8fb8e6", "forecast new LORs (expected)"),
)


def _ticks(top: float, n: int = 4) -> np.ndarray:
    """Round tick values (1, 2 or 5 times a power of ten apart, at least one unit) from 0 to at least
    ``top``, and never only 0 (an empty chart still has an axis)."""
    top = max(top, 1.0)
    power = 10 ** max(0, math.floor(math.log10(top / n)))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= top / n)
    return np.arange(0, top + step, step)


def _line(x1: float, x2: float, y1: float, y2: float, cls: str, title: str = "") -> str:
    tip = f"<title>{title}</title>" if title else ""
    return f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" class="{cls}">{tip}</line>'


def _text(x: float, y: float, text: str, anchor: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="tick" text-anchor="{anchor}">{text}</text>'


def stacked_chart(rows: Sequence[dict], width: int = 340, height: int = 190) -> str:
    """One family's total demand per year as an SVG: the expected parts stacked, the credible interval as
    a whisker, the minimum sustaining rate (and the maximum rate, where it is in view) as lines."""
    left, right, top, bottom = 52, 10, 10, 24
    floor = [r["min_sustaining_rate"] for r in rows]
    # the bars stack expected values, and a skewed total's mean can sit above its interval
    ticks = _ticks(max(max(r["upper"], r["mean"] or 0.0, f or 0.0) for r, f in zip(rows, floor, strict=True)))
    ymax = float(ticks[-1])
    ceiling = [r["max_rate"] for r in rows if r["max_rate"] is not None and r["max_rate"] <= ymax]

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / ymax)

    slot = (width - left - right) / len(rows)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for tick in ticks:
        parts += [
            _line(left, width - right, y(tick), y(tick), "grid"),
            _text(left - 4, y(tick) + 4, f"{tick:,.0f}", "end"),
        ]
    for i, r in enumerate(rows):
        x, w, base = left + i * slot + slot * 0.2, slot * 0.6, 0.0
        for key, colour, label in PARTS:
            v = r[key] or 0.0
            if v > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y(base + v):.1f}" width="{w:.1f}" '
                    f'height="{y(base) - y(base + v):.1f}" fill="{colour}">'
                    f"<title>{r['year']} {label}: {v:,.0f}</title></rect>"
                )
            base += v
        cx = x + w / 2
        interval = f"{r['year']} interval {r['lower']:,.0f}-{r['upper']:,.0f}"
        parts += [
            _line(cx, cx, y(r["lower"]), y(r["upper"]), "whisker", interval),
            _text(cx, height - 8, str(r["year"]), "middle"),
        ]
        if floor[i] is not None:
            edge = slot * 0.1
            tip = f"minimum sustaining rate {floor[i]:,.0f}"
            parts.append(_line(x - edge, x + w + edge, y(floor[i]), y(floor[i]), "floor", tip))
    if ceiling:
        top_rate = max(ceiling)
        parts.append(
            _line(left, width - right, y(top_rate), y(top_rate), "ceiling", f"maximum rate {top_rate:,.0f}")
        )
    parts.append("</svg>")
    return "".join(parts)


FAN_COLOURS = ("#dbe7f5", "#b3cde9", "#7fa9d8")  # widest band first


def fan_chart(
    years: Sequence[int],
    bands: Sequence[tuple[float, Sequence[float], Sequence[float]]],
    median: Sequence[float],
    rules: Sequence[tuple[float, str, str]] = (),
    width: int = 720,
    height: int = 240,
    compare: Sequence[float] | None = None,
) -> str:
    """A fan chart: per year, nested credible bands ``(level, lower, upper)`` (any order; drawn widest
    first), the ``median`` as a line, ``rules`` (value, css class, title) as horizontal lines, and
    ``compare`` (a baseline's median, say) as a dashed line."""
    left, right, top, bottom = 52, 24, 10, 24  # room for the last year's label
    ordered = sorted(bands, key=lambda b: -b[0])
    peak = max([*(max(u) for _, _, u in ordered), *median, *(v for v, _, _ in rules), *(compare or [0.0])])
    ticks = _ticks(float(peak))
    ymax = float(ticks[-1])
    n = len(years)
    step = (width - left - right) / max(n - 1, 1)

    def x(i: int) -> float:
        return left + (i * step if n > 1 else (width - left - right) / 2)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - min(v, ymax) / ymax)

    def path(values: Sequence[float]) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))

    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" class="fan">']
    for tick in ticks:
        parts += [
            _line(left, width - right, y(tick), y(tick), "grid"),
            _text(left - 4, y(tick) + 4, f"{tick:,.0f}", "end"),
        ]
    for k, (level, lower, upper) in enumerate(ordered):
        back = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in reversed(list(enumerate(lower))))
        colour = FAN_COLOURS[min(k + max(len(FAN_COLOURS) - len(ordered), 0), len(FAN_COLOURS) - 1)]
        parts.append(
            f'<polygon points="{path(upper)} {back}" fill="{colour}" data-level="{level}">'
            f"<title>{level:.0%} credible band</title></polygon>"
        )
    for value, cls, title in rules:
        parts.append(_line(left, width - right, y(value), y(value), cls, title))
    if compare is not None:
        parts.append(
            f'<polyline points="{path(compare)}" class="compare"><title>baseline median</title></polyline>'
        )
    parts.append(f'<polyline points="{path(median)}" class="median"><title>median</title></polyline>')
    for i, year in enumerate(years):
        parts.append(_text(x(i), height - 8, str(year), "middle"))
    parts.append("</svg>")
    return "".join(parts)
