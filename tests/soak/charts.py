"""The soak's samples drawn as a small HTML page of SVG line charts, one per measure, a line per worker.

Pure: rows in, text out. Fault windows are shaded, so a spike is read
against what caused it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Series", "chart", "page"]

WIDTH, HEIGHT, MARGIN = 720, 200, 40
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


@dataclass(frozen=True)
class Series:
    """One line: its name and its (seconds since the start, value) points."""

    name: str
    points: Sequence[tuple[float, float]]


def _scale(value: float, low: float, high: float, size: float) -> float:
    return 0.0 if high <= low else (value - low) / (high - low) * size


def chart(title: str, unit: str, series: Sequence[Series], faults: Sequence[tuple[float, float, str]]) -> str:
    """One SVG chart: ``series`` over time, the ``faults`` (start, end, name) shaded behind them."""
    points = [p for s in series for p in s.points]
    if not points:
        return f"<h2>{html.escape(title)}</h2><p>no samples</p>"
    end = max(max(t for t, _ in points), max((e for _, e, _ in faults), default=0.0), 1.0)
    top = max(v for _, v in points) * 1.1 or 1.0
    inner_w, inner_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def x(t: float) -> float:
        return MARGIN + _scale(t, 0.0, end, inner_w)

    def y(v: float) -> float:
        return HEIGHT - MARGIN - _scale(v, 0.0, top, inner_h)

    parts = [f'<svg width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg" role="img">']
    for start, stop, name in faults:
        parts.append(
            f'<rect x="{x(start):.1f}" y="{MARGIN}" width="{max(1.0, x(stop) - x(start)):.1f}" height="{inner_h}" '
            f'fill="#f3d9a4" opacity="0.6"><title>{html.escape(name)}</title></rect>'
        )
    parts.append(
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" y2="{HEIGHT - MARGIN}" stroke="#555"/>'
        f'<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{HEIGHT - MARGIN}" stroke="#555"/>'
        f'<text x="4" y="{MARGIN - 8}" font-size="11">{top:,.1f} {html.escape(unit)}</text>'
        f'<text x="{WIDTH - MARGIN - 60}" y="{HEIGHT - 10}" font-size="11">{end / 60:,.0f} min</text>'
    )
    for n, line in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in line.points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>')
        parts.append(
            f'<text x="{MARGIN + 10 + 120 * n}" y="{HEIGHT - 10}" font-size="11" fill="{colour}">'
            f"{html.escape(line.name)}</text>"
        )
    parts.append("</svg>")
    return f"<h2>{html.escape(title)}</h2>" + "".join(parts)


def page(title: str, summary: Sequence[str], charts: Mapping[str, str]) -> str:
    """The HTML page: a title, the summary lines, then each chart."""
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in summary)
    body = "".join(charts.values())
    return (
        f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<body style="font-family: sans-serif"><h1>{html.escape(title)}</h1><ul>{lines}</ul>{body}</body></html>'
    )
