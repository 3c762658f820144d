"""The trace's resolution, applied to live samples: microseconds and 0.1 mN.

The engine puts every live sample on this grid before its detector sees it, and the trace
writer keeps it as text that reads back to the very same float, so that a replay of a
recorded trace sees exactly what the live run saw (docs/trace-format.md).

``on_grid(x, 1e6)`` is ``k / 1e6`` for the integer ``k`` nearest ``x * 1e6``: the float
nearest the decimal ``k`` millionths, which is what ``float()`` makes of the text the
writer prints (``f"{t:.6f}"``, or ``repr`` of a force). Python's ``round(x, 6)`` gives the same
float but goes through a decimal conversion each way (``_Py_dg_dtoa`` and ``_Py_dg_strtod``);
this is several times cheaper, and the live path does it for every sample (issue 12). Where
``x * 1e6`` lies within a rounding error of a half, ``k`` may differ from the correctly
rounded digits by one: the sample is then on the neighbouring point of the grid, still one
that the trace's text reads back to exactly.

The grid is idempotent: ``on_grid(on_grid(x, s), s) == on_grid(x, s)``.
"""

from __future__ import annotations

TIME_STEPS_PER_S = 1e6
"""Trace times are kept to the microsecond."""

FORCE_STEPS_PER_N = 1e4
"""Trace forces are kept to 0.1 mN."""


def on_grid(x: float, steps: float) -> float:
    """``x`` on the grid of ``1 / steps``; an infinity or NaN unchanged (the caller judges those)."""
    try:
        return round(x * steps) / steps
    except (OverflowError, ValueError):      # inf, nan: round() cannot make an integer of them
        return x


def time_on_grid(t_s: float) -> float:
    return on_grid(t_s, TIME_STEPS_PER_S)


def force_on_grid(force_n: float) -> float:
    return on_grid(force_n, FORCE_STEPS_PER_N)
