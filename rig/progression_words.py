"""Numbers and lists in the progression's sentences for people (rig/progression.py)."""

from __future__ import annotations

from collections.abc import Sequence


def num(x: float, scale: float = 1.0, near: float | None = None) -> str:
    """``x * scale`` rounded, with as many decimals as it takes to differ from ``near``."""
    for d in (0, 1, 2):
        s = f"{x * scale:.{d}f}"
        if near is None or s != f"{near * scale:.{d}f}":
            break
    return s


def pct(x: float, near: float | None = None) -> str:
    return num(x, 100.0, near) + " %"


def series(items: Sequence[str]) -> str:
    return "".join(items) if len(items) < 2 else ", ".join(items[:-1]) + " and " + items[-1]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
