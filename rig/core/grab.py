"""Grab detection on one rail's force: a sudden rise from a light touch.

The spec: the force rises by at least ``rise_n`` within ``window_s`` from a
value below ``floor_n``; the event's time is the sample at which the rise
is reached; the rail re-arms when its force falls below the floor again.

The force holds its last value between samples, so the lowest force "within
the window" before a sample at ``t`` is the lowest value held at any moment
of ``[t - window_s, t]``, including the value that was held when the window
opened. A monotonic deque keeps those candidates; only values below the
floor can be the start of a rise, so only they are kept.
"""

from __future__ import annotations

from collections import deque


class GrabDetector:
    __slots__ = ("rise_n", "window_s", "floor_n", "armed", "base_n", "_low", "_last_is_back")

    def __init__(self, rise_n: float, window_s: float, floor_n: float):
        self.rise_n = rise_n
        self.window_s = window_s
        self.floor_n = floor_n
        self.armed = True
        self.base_n = 0.0      # the low value the last grab rose from
        # entries [t_from, value, t_until]: value held from t_from until t_until.
        # A channel is 0 until its first sample (the spec), so it starts at 0 N.
        self._low: deque[list[float]] = deque([[0.0, 0.0, float("inf")]])
        self._last_is_back = True  # the newest value is the deque's last entry

    def sample(self, t: float, force_n: float) -> bool:
        """Take one force sample; True when it completes a grab."""
        low = self._low
        if self._last_is_back:
            low[-1][2] = t  # the previous sample held its value until now
        horizon = t - self.window_s
        while low and low[0][2] < horizon:
            low.popleft()
        grabbed = False
        if force_n < self.floor_n:
            self.armed = True
            while low and low[-1][1] >= force_n:
                low.pop()
            low.append([t, force_n, float("inf")])
            self._last_is_back = True
            return False
        self._last_is_back = False
        if self.armed and low and force_n - low[0][1] >= self.rise_n:
            self.base_n = low[0][1]
            self.armed = False
            grabbed = True
        return grabbed
