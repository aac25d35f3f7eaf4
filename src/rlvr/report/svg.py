"""Inline SVG line plots drawn by hand: no matplotlib, no JavaScript, nothing fetched.

``line_plot``: series of (x, y) points with optional interval bands, a log2 or linear x axis,
ticks at the data's x values (or given ones), a legend, and ``<title>`` tooltips on every point.
``bar_plot``: vertical bars with labels and counts (e.g. a histogram).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

from rlvr.report.format import number

__all__ = ["Bar", "Series", "bar_plot", "line_plot", "nice_step"]


@dataclass(frozen=True)
class Series:
    """One curve: points ``(x, y)`` and optional interval band ``(x, low, high)``."""

    name: str
    color: str
    points: Sequence[tuple[float, float]]
    band: Sequence[tuple[float, float, float]] = field(default_factory=tuple)
    dashed: bool = False


def _fmt(v: float) -> str:
    return number(v, 1)


def _frame(width: int, height: int, left: int, title: str) -> list[str]:
    """The opening of a plot: the ``<svg>`` element, a white background and the title."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" class="plot">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="22" font-size="15" font-weight="600" fill="#222">{escape(title)}</text>',
    ]


def _y_grid(
    start: float, stop: float, step: float, py: Callable[[float], float], left: float, pw: float,
    label: Callable[[float], str],
) -> list[str]:
    """Horizontal grid lines with their y labels at ``start``, ``start + step``, ... up to ``stop``."""
    parts = []
    t = start
    while t <= stop + 1e-12:
        yy = py(t)
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{_fmt(yy)}" y2="{_fmt(yy)}" stroke="#e4e4e4" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 8}" y="{_fmt(yy + 4)}" font-size="11" text-anchor="end" fill="#555">{label(t)}</text>'
        )
        t += step
    return parts


def _axis_titles(
    x_label: str, y_label: str, left: float, top: float, pw: float, ph: float, height: int, *, always_x: bool
) -> list[str]:
    """The x title under the plot (also when empty, with ``always_x``) and the rotated y title."""
    parts = []
    if x_label or always_x:
        parts.append(
            f'<text x="{left + pw / 2}" y="{height - 8}" font-size="12" text-anchor="middle" fill="#333">{escape(x_label)}</text>'
        )
    if y_label:
        parts.append(
            f'<text x="14" y="{top + ph / 2}" font-size="12" text-anchor="middle" fill="#333" '
            f'transform="rotate(-90 14 {top + ph / 2})">{escape(y_label)}</text>'
        )
    return parts


def nice_step(span: float) -> float:
    """A round axis step (1, 2, 2.5 or 5 times a power of ten) giving about five ticks over ``span``."""
    raw = span / 5 if span > 0 else 0.1
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag  # pragma: no cover


def line_plot(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str = "k (log scale)",
    y_label: str = "",
    log_x: bool = True,
    y_range: tuple[float, float] | None = None,
    percent: bool = True,
    zero_line: bool = False,
    width: int = 640,
    height: int = 360,
    x_ticks: Sequence[float] | None = None,
    markers: bool = True,
    y_format: Callable[[float], str] | None = None,
    legend: bool = True,
) -> str:
    """An ``<svg>`` element (string). ``percent`` labels y as percentages of 1.

    ``x_ticks`` replaces the default ticks (every x in the data: too many for a per-step curve);
    ``markers=False`` draws lines without a dot per point; ``y_format`` formats y labels;
    ``legend=False`` leaves the legend (and its margin) out, for small plots sharing one legend.
    """
    left, right, top, bottom = 64, 150 if legend else 16, 36, 48
    pw, ph = width - left - right, height - top - bottom
    xs = sorted({x for s in series for x, _ in s.points} | {x for s in series for x, _, _ in s.band})
    ys = [y for s in series for _, y in s.points] + [v for s in series for _, lo, hi in s.band for v in (lo, hi)]
    ys = [y for y in ys if y is not None and math.isfinite(y)]
    if not xs or not ys:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60" role="img"><text x="10" y="30">{escape(title)}: no data</text></svg>'
    tx = (lambda x: math.log2(x)) if log_x else (lambda x: x)
    x0, x1 = tx(xs[0]), tx(xs[-1])
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y_range is not None:
        y0, y1 = y_range
    else:
        y0, y1 = min(ys), max(ys)
        if zero_line:
            y0, y1 = min(y0, 0.0), max(y1, 0.0)
        pad = max((y1 - y0) * 0.08, 0.01)
        y0, y1 = y0 - pad, y1 + pad
        if percent and not zero_line:  # probabilities: never draw outside [0, 1]
            y0, y1 = max(0.0, y0), min(1.0, y1)
        if y1 <= y0:
            y1 = y0 + 0.1

    def px(x: float) -> float:
        return left + (tx(x) - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    def ylab(v: float) -> str:
        if y_format is not None:
            return y_format(v)
        return f"{100 * v:.0f}%" if percent else f"{v:.2f}"

    parts = _frame(width, height, left, title)
    # Grid and y ticks.
    step = nice_step(y1 - y0)
    parts += _y_grid(math.ceil(y0 / step) * step, y1, step, py, left, pw, ylab)
    if zero_line and y0 < 0 < y1:
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{_fmt(py(0))}" y2="{_fmt(py(0))}" stroke="#888" '
            'stroke-width="1.2" stroke-dasharray="4 3"/>'
        )
    tick_xs = xs if x_ticks is None else [x for x in x_ticks if xs[0] <= x <= xs[-1]]
    for x in tick_xs:
        xx = px(x)
        parts.append(f'<line x1="{_fmt(xx)}" x2="{_fmt(xx)}" y1="{top}" y2="{top + ph}" stroke="#f0f0f0"/>')
        label = f"{x:g}"
        parts.append(
            f'<text x="{_fmt(xx)}" y="{top + ph + 16}" font-size="11" text-anchor="middle" fill="#555">{label}</text>'
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999" stroke-width="1"/>'
    )
    parts += _axis_titles(x_label, y_label, left, top, pw, ph, height, always_x=True)
    # Bands first, then lines and points on top.
    for s in series:
        band = sorted(b for b in s.band if b[1] is not None and b[2] is not None)
        if len(band) >= 2:
            upper = " ".join(f"{_fmt(px(x))},{_fmt(py(hi))}" for x, _, hi in band)
            lower = " ".join(f"{_fmt(px(x))},{_fmt(py(lo))}" for x, lo, _ in reversed(band))
            parts.append(f'<polygon points="{upper} {lower}" fill="{s.color}" fill-opacity="0.18" stroke="none"/>')
        elif len(band) == 1:
            x, lo, hi = band[0]
            parts.append(
                f'<line x1="{_fmt(px(x))}" x2="{_fmt(px(x))}" y1="{_fmt(py(lo))}" y2="{_fmt(py(hi))}" '
                f'stroke="{s.color}" stroke-width="6" stroke-opacity="0.3"/>'
            )
    for s in series:
        pts = sorted(s.points)
        if len(pts) >= 2:
            path = " ".join(f"{_fmt(px(x))},{_fmt(py(y))}" for x, y in pts)
            dash = ' stroke-dasharray="6 4"' if s.dashed else ""
            parts.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2.2"{dash}/>')
        dots = pts if markers or len(pts) < 2 else []  # a lone point still needs its dot
        for x, y in dots:
            parts.append(
                f'<circle cx="{_fmt(px(x))}" cy="{_fmt(py(y))}" r="3.5" fill="{s.color}">'
                f"<title>{escape(s.name)}: k={x:g}, {ylab(y) if not percent else f'{100 * y:.1f}%'}</title></circle>"
            )
    # Legend.
    lx, ly = left + pw + 14, top + 8
    for i, s in enumerate(series if legend else ()):
        yy = ly + i * 20
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(
            f'<line x1="{lx}" x2="{lx + 22}" y1="{yy}" y2="{yy}" stroke="{s.color}" stroke-width="3"{dash}/>'
        )
        parts.append(f'<text x="{lx + 28}" y="{yy + 4}" font-size="12" fill="#222">{escape(s.name[:18])}</text>')
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Bar:
    """One bar: its x label, height (a count) and colour; ``note`` goes into its tooltip."""

    label: str
    value: float
    color: str
    note: str = ""


def bar_plot(
    bars: Sequence[Bar],
    *,
    title: str,
    x_label: str = "",
    y_label: str = "",
    width: int = 480,
    height: int = 240,
) -> str:
    """An ``<svg>`` bar chart (string): bars from zero, each with its value on top."""
    left, right, top, bottom = 52, 16, 36, 48
    pw, ph = width - left - right, height - top - bottom
    if not bars:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60" role="img"><text x="10" y="30">{escape(title)}: no data</text></svg>'
    vmax = max(max(b.value for b in bars), 1e-12)
    step = nice_step(vmax)
    top_tick = math.ceil(vmax / step) * step

    def py(v: float) -> float:
        return top + (1 - v / top_tick) * ph

    parts = _frame(width, height, left, title)
    parts += _y_grid(0.0, top_tick, step, py, left, pw, lambda v: f"{v:g}")
    slot = pw / len(bars)
    bw = max(1.0, slot * 0.72)
    for i, b in enumerate(bars):
        x = left + i * slot + (slot - bw) / 2
        y = py(max(0.0, b.value))
        tip = f"{b.label}: {b.value:g}" + (f" ({b.note})" if b.note else "")
        parts.append(
            f'<rect x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(bw)}" height="{_fmt(top + ph - y)}" '
            f'fill="{b.color}"><title>{escape(tip)}</title></rect>'
        )
        parts.append(
            f'<text x="{_fmt(x + bw / 2)}" y="{_fmt(y - 4)}" font-size="11" text-anchor="middle" fill="#333">{b.value:g}</text>'
        )
        parts.append(
            f'<text x="{_fmt(x + bw / 2)}" y="{top + ph + 16}" font-size="11" text-anchor="middle" '
            f'fill="#555">{escape(b.label)}</text>'
        )
    parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#999"/>')
    parts += _axis_titles(x_label, y_label, left, top, pw, ph, height, always_x=False)
    parts.append("</svg>")
    return "".join(parts)
