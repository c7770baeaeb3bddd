"""Charts as server-rendered SVG: no script, no inline style, nothing fetched, so a page that shows
them works offline and under a strict Content-Security-Policy (`default-src 'none'`).

Every function returns `markupsafe.Markup`; every label and value that comes from data is
escaped, so a referer or city name cannot inject markup. Colours come from CSS classes
(static/charts.css: .chart-*), so the page's stylesheet themes them. Used by the public stats page
and meant for the dashboard.
"""
from __future__ import annotations

from typing import Sequence

from markupsafe import Markup, escape


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _short(n: float) -> str:
    if n >= 1_000_000:
        return _num(n / 1_000_000) + "M"
    if n >= 10_000:
        return _num(n / 1000) + "k"
    return f"{int(n):,}" if float(n).is_integer() else _num(n)


def timeseries_chart(points: Sequence[tuple[str, float]], *, label: str = "Clicks", width: int = 720,
                     height: int = 220) -> Markup:
    """An area chart of (bucket label, value) in order; each bucket has a hover title."""
    pad_left, pad_right, pad_top, pad_bottom = 44, 8, 12, 28
    inner_w, inner_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    values = [max(0.0, float(v)) for _, v in points]
    top = max(values, default=0.0) or 1.0
    n = len(values)
    step = inner_w / max(1, n - 1) if n > 1 else 0.0

    def x(i: int) -> float:
        return pad_left + (i * step if n > 1 else inner_w / 2)

    def y(v: float) -> float:
        return pad_top + inner_h - (v / top) * inner_h

    parts = [
        f'<svg class="chart chart-timeseries" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(label)} over time">',
        f"<title>{escape(label)} over time</title>",
        f'<line class="chart-axis" x1="{pad_left}" y1="{pad_top + inner_h}" x2="{width - pad_right}" '
        f'y2="{pad_top + inner_h}"/>',
        f'<line class="chart-grid" x1="{pad_left}" y1="{pad_top}" x2="{width - pad_right}" y2="{pad_top}"/>',
        f'<text class="chart-label" x="{pad_left - 6}" y="{pad_top + 4}" text-anchor="end">{escape(_short(top))}</text>',
        f'<text class="chart-label" x="{pad_left - 6}" y="{pad_top + inner_h + 4}" text-anchor="end">0</text>',
    ]
    if n:
        line = " ".join(f"{_num(x(i))},{_num(y(v))}" for i, v in enumerate(values))
        base = _num(pad_top + inner_h)
        parts.append(f'<polygon class="chart-area" points="{_num(x(0))},{base} {line} {_num(x(n - 1))},{base}"/>')
        parts.append(f'<polyline class="chart-line" fill="none" points="{line}"/>')
        slot = max(2.0, step) if n > 1 else inner_w
        for i, ((name, _), v) in enumerate(zip(points, values)):
            parts.append(
                f'<rect class="chart-hit" x="{_num(x(i) - slot / 2)}" y="{pad_top}" width="{_num(slot)}" '
                f'height="{inner_h}"><title>{escape(name)}: {escape(_short(v))}</title></rect>')
        for i in sorted({0, n - 1}):
            anchor = "start" if i == 0 and n > 1 else "end" if n > 1 else "middle"
            parts.append(f'<text class="chart-label" x="{_num(x(i))}" y="{height - 8}" text-anchor="{anchor}">'
                         f"{escape(points[i][0])}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(rows: Sequence[tuple[str, float]], *, label: str, width: int = 360, row_height: int = 24) -> Markup:
    """Horizontal bars of (name, value), largest first as given, with the value at the end."""
    height = max(1, len(rows)) * row_height
    top = max((float(v) for _, v in rows), default=0.0) or 1.0
    value_w = 56
    bar_w = width - value_w
    parts = [
        f'<svg class="chart chart-bars" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    if not rows:
        parts.append(f'<text class="chart-label" x="0" y="{row_height - 8}">No data yet</text>')
    for i, (name, value) in enumerate(rows):
        y = i * row_height
        w = max(1.0, float(value) / top * bar_w) if value else 0.0
        text = escape(name)
        parts.append(
            f'<g><title>{text}: {escape(_short(float(value)))}</title>'
            f'<rect class="chart-bar" x="0" y="{y + 2}" width="{_num(w)}" height="{row_height - 4}" rx="3"/>'
            f'<text class="chart-name" x="6" y="{y + row_height - 8}">{text}</text>'
            f'<text class="chart-value" x="{width}" y="{y + row_height - 8}" text-anchor="end">'
            f"{escape(_short(float(value)))}</text></g>")
    parts.append("</svg>")
    return Markup("".join(parts))
