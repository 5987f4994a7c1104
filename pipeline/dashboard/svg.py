"""Small SVG charts rendered on the server: no JavaScript, no CDN, hover values via <title>.

Every plotted value is an element with class "datum" and data-label / data-value
attributes, so tests (and curious users) can read exactly what is drawn.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from html import escape

WIDTH, HEIGHT = 560, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 16, 12, 46
PALETTE = ("#2f6db5", "#e07b28", "#3a9a5b", "#b04a9c")
Formatter = Callable[[float], str]


def number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


def money(value: float) -> str:
    return f"${value:,.0f}" if abs(value) >= 1000 else f"${value:,.2f}"


def ratio(value: float) -> str:
    return f"{value:.3f}"


def _nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (0.12 -> 0.2, 740 -> 1000)."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value * (1 - 1e-12):
            return step * magnitude
    return value


class LinearScale:
    """Values from 0 to a round maximum, five evenly spaced ticks."""

    def __init__(self, values: Sequence[float]) -> None:
        self.top = _nice_max(max(values, default=0.0))

    def fraction(self, value: float) -> float:
        return value / self.top

    def ticks(self) -> list[float]:
        return [self.top * i / 4 for i in range(5)]


class LogScale:
    """Powers of ten, for values that span orders of magnitude (views against purchases)."""

    def __init__(self, values: Sequence[float]) -> None:
        positive = [v for v in values if v > 0] or [1.0]
        # A decade below the smallest value, so its bar is at least one decade tall.
        self.low = math.floor(math.log10(min(positive))) - 1
        self.high = math.ceil(math.log10(max(positive)))

    def fraction(self, value: float) -> float:
        return (math.log10(value) - self.low) / (self.high - self.low) if value > 0 else 0.0

    def ticks(self) -> list[float]:
        return [10.0 ** e for e in range(self.low, self.high + 1)]


Scale = LinearScale | LogScale


def _frame(inner: str, scale: Scale, fmt: Formatter, y_label: str) -> str:
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    ticks = []
    for value in scale.ticks():
        y = MARGIN_TOP + plot_h - plot_h * scale.fraction(value)
        ticks.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">'
                     f'{escape(fmt(value))}</text>')
    label = (f'<text x="14" y="{MARGIN_TOP + plot_h / 2:.0f}" class="axis" text-anchor="middle" '
             f'transform="rotate(-90 14 {MARGIN_TOP + plot_h / 2:.0f})">{escape(y_label)}</text>')
    return (f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg">'
            f'{"".join(ticks)}{label}{inner}</svg>')


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> str:
    every = max(1, -(-len(labels) // 10))  # at most ~10 labels: they never overlap
    y = HEIGHT - MARGIN_BOTTOM + 16
    return "".join(f'<text x="{x:.1f}" y="{y}" class="tick" text-anchor="middle">{escape(label)}</text>'
                   for i, (label, x) in enumerate(zip(labels, xs)) if i % every == 0)


def line_chart(labels: Sequence[str], values: Sequence[float], fmt: Formatter, y_label: str) -> str:
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    scale = LinearScale(values)
    step = plot_w / max(1, len(values) - 1)
    xs = [MARGIN_LEFT + i * step for i in range(len(values))]
    ys = [MARGIN_TOP + plot_h - plot_h * scale.fraction(v) for v in values]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    dots = "".join(
        f'<circle class="datum" cx="{x:.1f}" cy="{y:.1f}" r="3.5" data-label="{escape(lab)}" data-value="{v}">'
        f"<title>{escape(lab)}: {escape(fmt(v))}</title></circle>"
        for x, y, lab, v in zip(xs, ys, labels, values))
    return _frame(f'<polyline points="{path}" class="line"/>{dots}{_x_labels(labels, xs)}', scale, fmt, y_label)


def bar_chart(labels: Sequence[str], values: Sequence[float], fmt: Formatter, y_label: str,
              log: bool = False, labelled: bool = False) -> str:
    """Vertical bars; ``log`` for values that span orders of magnitude, ``labelled`` to print each value."""
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    scale: Scale = LogScale(values) if log else LinearScale(values)
    slot = plot_w / len(values)
    bars, xs = [], []
    for i, (lab, v) in enumerate(zip(labels, values)):
        h = plot_h * scale.fraction(v)
        x = MARGIN_LEFT + i * slot + slot * 0.15
        top = MARGIN_TOP + plot_h - h
        xs.append(x + slot * 0.35)
        bars.append(f'<rect class="datum bar" x="{x:.1f}" y="{top:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{h:.1f}" data-label="{escape(lab)}" data-value="{v}">'
                    f"<title>{escape(lab)}: {escape(fmt(v))}</title></rect>")
        if labelled:
            bars.append(f'<text x="{x + slot * 0.35:.1f}" y="{max(top - 4, MARGIN_TOP + 10):.1f}" class="tick" '
                        f'text-anchor="middle">{escape(fmt(v))}</text>')
    return _frame("".join(bars) + _x_labels(labels, xs), scale, fmt, y_label + (" (log scale)" if log else ""))


def hbar_chart(labels: Sequence[str], values: Sequence[float], fmt: Formatter) -> str:
    row_h, label_w, value_w = 24, 170, 90
    height = row_h * len(values) + 8
    bar_w = WIDTH - label_w - value_w
    v_max = max(values) or 1.0
    rows = []
    for i, (lab, v) in enumerate(zip(labels, values)):
        y = 4 + i * row_h
        w = bar_w * v / v_max
        rows.append(
            f'<text x="{label_w - 8}" y="{y + 16}" class="tick" text-anchor="end">{escape(lab[:26])}</text>'
            f'<rect class="datum bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
            f'data-label="{escape(lab)}" data-value="{v}"><title>{escape(lab)}: {escape(fmt(v))}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" class="tick">{escape(fmt(v))}</text>')
    return f'<svg viewBox="0 0 {WIDTH} {height}" role="img" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>'


def grouped_bar_chart(groups: Sequence[str], series: dict[str, Sequence[float]], fmt: Formatter,
                      y_label: str) -> str:
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    scale = LinearScale([v for values in series.values() for v in values])
    slot = plot_w / len(groups)
    width = slot * 0.8 / len(series)
    bars, xs = [], []
    for g, group in enumerate(groups):
        xs.append(MARGIN_LEFT + g * slot + slot / 2)
        for s, (name, values) in enumerate(series.items()):
            v = values[g]
            h = plot_h * scale.fraction(v)
            x = MARGIN_LEFT + g * slot + slot * 0.1 + s * width
            bars.append(f'<rect class="datum" fill="{PALETTE[s % len(PALETTE)]}" x="{x:.1f}" '
                        f'y="{MARGIN_TOP + plot_h - h:.1f}" width="{width * 0.92:.1f}" height="{h:.1f}" '
                        f'data-label="{escape(group)} {escape(name)}" data-value="{v}">'
                        f"<title>{escape(name)} {escape(group)}: {escape(fmt(v))}</title></rect>")
    legend = "".join(f'<span class="key"><i style="background:{PALETTE[s % len(PALETTE)]}"></i>{escape(n)}</span>'
                     for s, n in enumerate(series))
    return f'<div class="legend">{legend}</div>' + _frame("".join(bars) + _x_labels(groups, xs), scale, fmt, y_label)


def short_date(day: dt.date) -> str:
    return day.strftime("%b %d")


def heatmap_table(row_labels: Sequence[str], column_labels: Sequence[str],
                  cells: dict[tuple[int, int], float], fmt: Formatter) -> str:
    """A table whose cells are shaded by value (0 to the largest), blank where ``cells`` has none;
    each shaded cell is a datum like the chart marks."""
    top = max(cells.values(), default=0.0) or 1.0
    head = "<tr><th></th>" + "".join(f"<th>{escape(c)}</th>" for c in column_labels) + "</tr>"
    body = []
    for r, label in enumerate(row_labels):
        tds = []
        for c, column in enumerate(column_labels):
            if (r, c) not in cells:
                tds.append("<td></td>")
                continue
            v = cells[(r, c)]
            alpha = 0.12 + 0.88 * v / top
            tds.append(f'<td class="num datum" style="background:rgba(47,109,181,{alpha:.2f});'
                       f'color:{"#fff" if alpha > 0.55 else "#1d2633"}" data-label="{escape(label)} {escape(column)}" '
                       f'data-value="{v}">{escape(fmt(v))}</td>')
        body.append(f"<tr><th>{escape(label)}</th>{''.join(tds)}</tr>")
    return f'<table class="heatmap">{head}{"".join(body)}</table>'
