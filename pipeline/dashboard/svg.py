"""Small SVG charts rendered on the server: no JavaScript, no CDN, hover values via <title>.

Every plotted value is an element with class "datum" and data-label / data-value
attributes, so tests (and curious users) can read exactly what is drawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from html import escape

WIDTH, HEIGHT = 560, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 16, 12, 46
PALETTE = ("#2f6db5", "#e07b28", "#3a9a5b", "#b04a9c")
Formatter = Callable[[float], str]


def number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def money(value: float) -> str:
    return f"${value:,.0f}" if abs(value) >= 1000 else f"${value:,.2f}"


def ratio(value: float) -> str:
    return f"{value:.3f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return value


def _frame(inner: str, y_max: float, fmt: Formatter, y_label: str) -> str:
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    ticks = []
    for i in range(5):
        value = y_max * i / 4
        y = MARGIN_TOP + plot_h - plot_h * i / 4
        ticks.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{escape(fmt(value))}</text>')
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
    y_max = _nice_max(max(values))
    step = plot_w / max(1, len(values) - 1)
    xs = [MARGIN_LEFT + i * step for i in range(len(values))]
    ys = [MARGIN_TOP + plot_h - plot_h * v / y_max for v in values]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    dots = "".join(
        f'<circle class="datum" cx="{x:.1f}" cy="{y:.1f}" r="3.5" data-label="{escape(lab)}" data-value="{v}">'
        f"<title>{escape(lab)}: {escape(fmt(v))}</title></circle>"
        for x, y, lab, v in zip(xs, ys, labels, values))
    return _frame(f'<polyline points="{path}" class="line"/>{dots}{_x_labels(labels, xs)}', y_max, fmt, y_label)


def bar_chart(labels: Sequence[str], values: Sequence[float], fmt: Formatter, y_label: str) -> str:
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    y_max = _nice_max(max(values))
    slot = plot_w / len(values)
    bars, xs = [], []
    for i, (lab, v) in enumerate(zip(labels, values)):
        h = plot_h * v / y_max
        x = MARGIN_LEFT + i * slot + slot * 0.15
        xs.append(x + slot * 0.35)
        bars.append(f'<rect class="datum bar" x="{x:.1f}" y="{MARGIN_TOP + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{h:.1f}" data-label="{escape(lab)}" data-value="{v}">'
                    f"<title>{escape(lab)}: {escape(fmt(v))}</title></rect>")
    return _frame("".join(bars) + _x_labels(labels, xs), y_max, fmt, y_label)


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
    y_max = _nice_max(max(max(v) for v in series.values()))
    slot = plot_w / len(groups)
    width = slot * 0.8 / len(series)
    bars, xs = [], []
    for g, group in enumerate(groups):
        xs.append(MARGIN_LEFT + g * slot + slot / 2)
        for s, (name, values) in enumerate(series.items()):
            v = values[g]
            h = plot_h * v / y_max
            x = MARGIN_LEFT + g * slot + slot * 0.1 + s * width
            bars.append(f'<rect class="datum" fill="{PALETTE[s % len(PALETTE)]}" x="{x:.1f}" '
                        f'y="{MARGIN_TOP + plot_h - h:.1f}" width="{width * 0.92:.1f}" height="{h:.1f}" '
                        f'data-label="{escape(group)} {escape(name)}" data-value="{v}">'
                        f"<title>{escape(name)} {escape(group)}: {escape(fmt(v))}</title></rect>")
    legend = "".join(f'<span class="key"><i style="background:{PALETTE[s % len(PALETTE)]}"></i>{escape(n)}</span>'
                     for s, n in enumerate(series))
    return f'<div class="legend">{legend}</div>' + _frame("".join(bars) + _x_labels(groups, xs), y_max, fmt, y_label)


def short_date(day: dt.date) -> str:
    return day.strftime("%b %d")
