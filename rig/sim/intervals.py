"""Time intervals ``(start_s, end_s)``: the small algebra the simulator needs.

A list of intervals is *normal* when it is sorted, and no two of its
intervals overlap or touch. Every function here returns normal lists.
"""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[float, float]


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping or touching intervals; drop empty ones."""
    out: list[list[float]] = []
    for a, b in sorted(iv for iv in intervals if iv[1] > iv[0]):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1][1] = b
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def intersect(xs: list[Interval], ys: list[Interval]) -> list[Interval]:
    """The intersection of two normal lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(xs) and j < len(ys):
        a = max(xs[i][0], ys[j][0])
        b = min(xs[i][1], ys[j][1])
        if b > a:
            out.append((a, b))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(xs: list[Interval], ys: list[Interval]) -> list[Interval]:
    """``xs`` minus ``ys`` (both normal)."""
    out: list[Interval] = []
    j = 0
    for a, b in xs:
        cur = a
        while j < len(ys) and ys[j][1] <= cur:
            j += 1
        k = j
        while k < len(ys) and ys[k][0] < b:
            if ys[k][0] > cur:
                out.append((cur, ys[k][0]))
            cur = max(cur, ys[k][1])
            k += 1
        if cur < b:
            out.append((cur, b))
    return out


def measure(xs: Iterable[Interval]) -> float:
    """Total length of a normal list."""
    return sum((b - a for a, b in xs), 0.0)


def bridge(xs: list[Interval], gap_s: float) -> list[Interval]:
    """Merge intervals separated by gaps strictly shorter than ``gap_s``."""
    out: list[list[float]] = []
    for a, b in xs:
        if out and a - out[-1][1] < gap_s:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def at_least(xs: list[Interval], min_s: float) -> list[Interval]:
    """Keep the intervals that last at least ``min_s``."""
    return [(a, b) for a, b in xs if b - a >= min_s]


def edges_to_intervals(edges: Iterable[tuple[float, int]], end_s: float) -> list[Interval]:
    """On-intervals of a 0/1 channel from its samples ``(t_s, value)``.

    The channel is 0 until its first sample; repeated values are ignored;
    an interval still open at the end closes at ``end_s``.
    """
    out: list[Interval] = []
    on_since: float | None = None
    for t, v in edges:
        if v and on_since is None:
            on_since = t
        elif not v and on_since is not None:
            out.append((on_since, t))
            on_since = None
    if on_since is not None:
        out.append((on_since, max(on_since, end_s)))
    return out


def hysteresis(samples: Iterable[tuple[float, float]], on: float, off: float, end_s: float,
               *, strict_on: bool = False) -> list[Interval]:
    """Intervals of an analog signal held between samples.

    On from the sample where the value reaches ``on`` (or exceeds it, with
    ``strict_on``), off from the sample where it falls below ``off``.
    """
    out: list[Interval] = []
    since: float | None = None
    for t, v in samples:
        if since is None:
            if v > on or (v == on and not strict_on):
                since = t
        elif v < off:
            out.append((since, t))
            since = None
    if since is not None:
        out.append((since, max(since, end_s)))
    return out


def distance(t0: float, t1: float, xs: list[Interval]) -> float:
    """The shortest distance between ``[t0, t1]`` and any interval of ``xs`` (0 if they meet)."""
    best = float("inf")
    for a, b in xs:
        if b < t0:
            best = min(best, t0 - b)
        elif a > t1:
            best = min(best, a - t1)
            break
        else:
            return 0.0
    return best
