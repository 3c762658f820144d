"""Bounds for what arrives on the command topics: a flood costs counters, not the log or the engine.

Pure (time is an argument, ``now`` in seconds of a monotonic clock) and
thread-safe: paho's network thread and the command worker both call them.

- :class:`RejectThrottle`: the first few rejected commands of every window
  are logged and reported on ``<base>/error`` one by one; the rest of the
  window's are only counted, then summarised in one line ("and 4,987 more
  rejected commands in the last 10 s").
- :class:`TokenBucket`: how many valid commands may reach the engine: a burst,
  then a steady rate; the excess is dropped (and rejected, so counted and
  reported as above).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Suppressed:
    """The rejections of one window that were counted but not reported one by one."""

    count: int
    window_s: float
    command: str          # the command most of them were for
    last_error: str       # the last one's reason

    def message(self) -> str:
        return (f"and {self.count:,} more rejected command{'s' if self.count != 1 else ''} in the last "
                f"{self.window_s:g} s, not reported one by one (most for {self.command}; the last: "
                f"{self.last_error})")


class RejectThrottle:
    """``note(now, command, error)``: True for a rejection to report in full, False for one only counted.
    A window starts with the first rejection after a quiet one; when it has lasted ``window_s``, the
    next ``note`` or ``due`` hands back its :class:`Suppressed` (None when nothing was held back)."""

    def __init__(self, per_window: int = 5, window_s: float = 10.0, known: tuple[str, ...] = ()):
        self.per_window = per_window
        self.window_s = window_s
        self.known = frozenset(known)        # command names counted by name; any other is "unknown"
        self.suppressed_total = 0
        self._lock = threading.Lock()
        self._start: float | None = None
        self._reported = 0
        self._held: Counter = Counter()
        self._last_error = ""

    def note(self, now: float, command: str, error: str) -> tuple[bool, Suppressed | None]:
        with self._lock:
            ended = self._end_if_over(now)
            if self._start is None:
                self._start, self._reported = now, 0
            if self._reported < self.per_window:
                self._reported += 1
                return True, ended
            self._held[command if command in self.known else "an unknown command"] += 1
            self._last_error = error
            self.suppressed_total += 1
            return False, ended

    def due(self, now: float) -> Suppressed | None:
        """The window's summary once it is over (call now and then: a flood may just stop)."""
        with self._lock:
            return self._end_if_over(now)

    def next_due(self, now: float) -> float | None:
        """Seconds until a summary is due; None while nothing is held back (nothing to wait for)."""
        with self._lock:
            if self._start is None or not self._held:
                return None
            return max(0.0, self._start + self.window_s - now)

    def _end_if_over(self, now: float) -> Suppressed | None:
        if self._start is None or now - self._start < self.window_s:
            return None
        held, self._held = self._held, Counter()
        self._start = None
        if not held:
            return None
        command = held.most_common(1)[0][0]
        return Suppressed(sum(held.values()), self.window_s, command, self._last_error)


class TokenBucket:
    """At most ``burst`` at once, then ``rate_per_s`` a second."""

    def __init__(self, rate_per_s: float = 10.0, burst: int = 20):
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._at: float | None = None
        self._lock = threading.Lock()

    def take(self, now: float) -> bool:
        with self._lock:
            if self._at is not None:
                self._tokens = min(self.burst, self._tokens + max(0.0, now - self._at) * self.rate_per_s)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False
