"""Inline SVG bar charts for the HTML report: no script, no external request, printable.

Each function returns one ``<svg>`` element as a string, with a ``<title>`` for screen readers
and a tooltip on every bar. Values are counts; the y axis gets round ticks. The charts are drawn
on a phone-sized canvas (320 units wide) and scaled to their box by CSS (``width: 100%``), so on
a 320 px screen their labels stay near their drawn size; the chart's heading is the page's
(``<figcaption>``), where long and Thai titles wrap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["bar_chart", "hbar_chart"]

PALETTE = {
    "bar": "#3867d6",
    "bad": "#c0392b",
    "ok": "#218c5a",
    "muted": "#8395a7",
    "axis": "#57606f",
    "grid": "#dfe4ea",
}


def _nice_ceiling(value: float) -> tuple[float, float]:
    """A round top for an axis reaching ``value``, and its tick step (5 ticks or so)."""
    if value <= 0:
        return 1.0, 1.0
    raw = value / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(value / step), step


def _fmt(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1_000:g}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


def bar_chart(
    data: Sequence[tuple[str, int]],
    *,
    title: str,
    y_label: str = "tips",
    colors: Sequence[str] | None = None,
    empty: str = "nothing to show yet",
    width: int = 320,
    height: int = 220,
) -> str:
    """Vertical bars, one per ``(label, value)``; x labels thinned to stay readable."""
    left, right, top, bottom = 46, 12, 10, 66
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value, step = _nice_ceiling(max((v for _, v in data), default=0))
    if step < 1:  # counts: whole ticks only
        top_value, step = max(1.0, math.ceil(top_value)), 1.0
    n = max(1, len(data))
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}">',  # sized by CSS: fits any screen
        f"<title>{escape(title)}</title>",
    ]
    ticks = round(top_value / step)
    for i in range(ticks + 1):
        value = step * i
        y = top + plot_h - plot_h * value / top_value
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{PALETTE["grid"]}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{_fmt(value)}</text>"
        )
    parts.append(
        f'<text transform="translate(12 {top + plot_h / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle" class="axis-label">{escape(y_label)}</text>'
    )
    every = max(1, math.ceil(n / max(1, plot_w // 30)))
    for i, (label, value) in enumerate(data):
        h = plot_h * value / top_value
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        color = colors[i % len(colors)] if colors else PALETTE["bar"]
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{color}"><title>{escape(label)}: {value:,}</title></rect>'
        )
        if i % every == 0:
            cx = left + i * slot + slot / 2
            # Slanted up to the left of their bar, so the last label stays inside the canvas.
            parts.append(
                f'<text transform="translate({cx + 4:.1f} {top + plot_h + 14}) rotate(-35)" '
                f'text-anchor="end" class="tick">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{PALETTE["axis"]}"/>'
    )
    if not data or not any(v for _, v in data):
        parts.append(
            f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h / 2:.0f}" '
            f'text-anchor="middle" class="empty">{escape(empty)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(
    data: Sequence[tuple[str, int]],
    *,
    title: str,
    colors: Sequence[str] | None = None,
    width: int = 320,
) -> str:
    """Horizontal bars, each under its label with its value after it: for a handful of
    categories (labels above the bars, so long Thai ones have the whole width)."""
    left, right, top, row = 8, 56, 8, 38
    height = top + row * max(1, len(data)) + 4
    plot_w = width - left - right
    top_value = max((v for _, v in data), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}">',  # sized by CSS: fits any screen
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(data):
        y = top + i * row
        w = plot_w * value / top_value
        color = colors[i % len(colors)] if colors else PALETTE["bar"]
        parts.append(
            f'<text x="{left}" y="{y + 12}" class="tick">{escape(label)}</text>'
            f'<rect class="bar" x="{left}" y="{y + 17}" width="{max(w, 0.5):.1f}" '
            f'height="14" fill="{color}"><title>{escape(label)}: {value:,}</title></rect>'
            f'<text x="{left + w + 6:.1f}" y="{y + 28}" class="tick">{value:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
