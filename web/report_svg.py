"""Small charts for the coach's report as inline SVG: drawn on the server, they print as they are.

One line per figure over the period's sessions, one point a session in
order; a session without the figure is a gap in the line (a lone point
between gaps is a dot). Black on white with an optional dashed threshold
line, sized in CSS pixels, no script and no style attribute (the panel's
Content-Security-Policy allows neither inline).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def sparkline(values: Sequence[float | None], *, label: str, width: int = 160, height: int = 32,
              low: float | None = None, high: float | None = None, threshold: float | None = None,
              stepped: bool = False) -> Markup:
    """An SVG line of ``values`` (None: a gap); ``low``/``high`` fix the scale (else the values'
    own range, with the threshold); ``stepped`` draws a staircase (levels)."""
    known = [v for v in values if v is not None]
    title = escape(label)
    if not known:
        return Markup(f'<svg class="spark" role="img" aria-label="{title}: no values" width="{width}" '
                      f'height="{height}" viewBox="0 0 {width} {height}"></svg>')
    extra = [threshold] if threshold is not None else []
    lo = min(known + extra) if low is None else low
    hi = max(known + extra) if high is None else high
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 3.0
    n = len(values)

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return height - pad - (height - 2 * pad) * (v - lo) / (hi - lo)

    parts = [f'<svg class="spark" role="img" aria-label="{title}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">']
    if threshold is not None:
        ty = _fmt(y(threshold))
        parts.append(f'<line class="threshold" x1="{pad}" x2="{width - pad}" y1="{ty}" y2="{ty}" '
                     'stroke="#555" stroke-width="1" stroke-dasharray="3 2"/>')
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, v))
    for run in runs:
        if len(run) == 1:
            i, v = run[0]
            parts.append(f'<circle cx="{_fmt(x(i))}" cy="{_fmt(y(v))}" r="2" fill="#000"/>')
        elif run:
            points = []
            for k, (i, v) in enumerate(run):
                if stepped and k:
                    points.append(f"{_fmt(x(i))},{_fmt(y(run[k - 1][1]))}")
                points.append(f"{_fmt(x(i))},{_fmt(y(v))}")
            parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#000" stroke-width="1.5" '
                         'stroke-linejoin="round"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
