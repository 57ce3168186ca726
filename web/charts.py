"""Small charts drawn on the server as SVG: what a person would rather look at than read.

Each function returns markup with every value escaped; sizes are fixed so the pages lay out
before anything loads. No script and nothing from the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

__all__ = ["bars", "timeline", "outcomes", "curve"]

WIDTH, HEIGHT = 640, 120


def bars(points: Sequence[tuple[str, int]], *, label: str) -> str:
    """Vertical bars, one per (label, value), e.g. memories stored per day."""
    if not points:
        return f'<p class="muted">No {escape(label)} yet.</p>'
    top = max(v for _, v in points) or 1
    step = WIDTH / len(points)
    width = max(1.0, step - 2)
    shapes = []
    for i, (name, value) in enumerate(points):
        h = (HEIGHT - 20) * value / top
        x, y = i * step, HEIGHT - 16 - h
        shapes.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}">'
                      f"<title>{escape(name)}: {value}</title></rect>")
    first, last = escape(points[0][0]), escape(points[-1][0])
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(label)}">{"".join(shapes)}'
            f'<text x="0" y="{HEIGHT - 2}">{first}</text>'
            f'<text x="{WIDTH}" y="{HEIGHT - 2}" text-anchor="end">{last}</text>'
            f'<text x="{WIDTH}" y="12" text-anchor="end">max {top}</text></svg>')


def timeline(events: Sequence[tuple[datetime, str, str]], *, label: str) -> str:
    """Dots on a time axis, one per (when, kind, title): the versions of a fact."""
    if not events:
        return ""
    times = [e[0].timestamp() for e in events]
    start, end = min(times), max(times)
    span = (end - start) or 1.0
    shapes = ['<line x1="10" y1="30" x2="630" y2="30" class="axis"/>']
    for (when, kind, title), t in zip(events, times, strict=True):
        x = 10 + 620 * (t - start) / span if end > start else WIDTH / 2
        shapes.append(f'<circle cx="{x:.1f}" cy="30" r="7" class="{escape(kind)}">'
                      f"<title>{escape(when.strftime('%Y-%m-%d %H:%M'))} {escape(title)}"
                      "</title></circle>")
    return (f'<svg class="chart timeline" viewBox="0 0 {WIDTH} 60" role="img" '
            f'aria-label="{escape(label)}">{"".join(shapes)}'
            f'<text x="10" y="55">{escape(events[0][0].strftime("%Y-%m-%d"))}</text>'
            f'<text x="630" y="55" text-anchor="end">'
            f'{escape(events[-1][0].strftime("%Y-%m-%d"))}</text></svg>')


def outcomes(results: Sequence[tuple[datetime, bool]], *, label: str) -> str:
    """A strip of squares, green for a success and red for a failure, oldest first."""
    if not results:
        return '<span class="muted">no outcomes yet</span>'
    cells = "".join(
        f'<rect x="{i * 14}" y="0" width="12" height="12" class="{"ok" if ok else "bad"}">'
        f"<title>{escape(when.strftime('%Y-%m-%d'))}: {'success' if ok else 'failure'}"
        "</title></rect>" for i, (when, ok) in enumerate(results))
    return (f'<svg class="strip" viewBox="0 0 {14 * len(results)} 12" width="{14 * len(results)}"'
            f' height="12" role="img" aria-label="{escape(label)}">{cells}</svg>')


def curve(values: Sequence[float], *, label: str, start: str = "", end: str = "") -> str:
    """A line of values between 0 and 1 over equal steps (a memory's strength ahead), with the
    first and last step named."""
    if len(values) < 2:
        return ""
    step = (WIDTH - 30) / (len(values) - 1)
    points = " ".join(f"{30 + i * step:.1f},{(HEIGHT - 25) * (1 - v) + 5:.1f}"
                      for i, v in enumerate(values))
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(label)}"><polyline points="{points}" class="line"/>'
            f'<text x="0" y="12">1.0</text><text x="0" y="{HEIGHT - 18}">0</text>'
            f'<text x="30" y="{HEIGHT - 2}">{escape(start)}</text>'
            f'<text x="{WIDTH}" y="{HEIGHT - 2}" text-anchor="end">{escape(end)}</text></svg>')
