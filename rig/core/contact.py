"""One debounced contact signal: raw edges in, counted contacts out.

The spec's contact rule (``docs/trace-format.md``, "Contacts"): raw
contacts separated by gaps shorter than the bridging time are merged; a
merged contact counts only if it lasts at least the minimum time from its
first raw edge to its last raw release.

Streaming, with time as an argument: the tracker learns of a contact's
start only once it is confirmed (at most ``min_s + bridge_s`` after its
first edge) and of its end ``bridge_s`` after the last release. Both are
reported with their true times, earlier than the moment they are known;
``pending_t`` says how far back a report may still reach, so that the
detector can put reports from many trackers in time order.
"""

from __future__ import annotations

import math
from typing import Callable

IDLE = 0        # no contact
CANDIDATE = 1   # a contact has begun but has not lasted the minimum yet
CONFIRMED = 2   # a counted contact, still going on

INF = math.inf


class ContactTracker:
    """Debounce one raw on/off signal.

    ``on_start(t_start)`` is called when a contact is confirmed, with the
    time of its first raw edge; ``on_end(t_end)`` when a confirmed contact
    has ended, with the time of its last raw release. Call ``expire(now)``
    whenever time passes (before an edge at ``now``): it fires the timers
    whose deadline is ``now`` or earlier.
    """

    __slots__ = ("min_s", "bridge_s", "on_start", "on_end", "phase", "raw_on",
                 "t_start", "t_release", "deadline", "pending_t")

    def __init__(self, min_s: float, bridge_s: float,
                 on_start: Callable[[float], None], on_end: Callable[[float], None]):
        self.min_s = min_s
        self.bridge_s = bridge_s
        self.on_start = on_start
        self.on_end = on_end
        self.phase = IDLE
        self.raw_on = False
        self.t_start = 0.0      # first raw edge of the current contact
        self.t_release = 0.0    # last raw release (start of the current gap)
        self.deadline = INF     # when a timer of this tracker runs out
        # The earliest time a report not yet made could carry (INF: none): the
        # first edge of a candidate, or the last release of a confirmed contact
        # whose end is not settled yet. Kept up to date by every change of phase.
        self.pending_t = INF

    def edge(self, t: float, on: bool) -> bool:
        """A raw change at ``t``; call ``expire(t)`` first. False when the
        signal was already ``on`` (nothing changed)."""
        if on == self.raw_on:
            return False
        self.raw_on = on
        phase = self.phase
        if on:
            if phase == IDLE:
                self.phase = CANDIDATE
                self.t_start = t
                self.deadline = t + self.min_s
                self.pending_t = t
            elif phase == CANDIDATE:
                # back from a short gap: confirm now if it has lasted long enough
                if t - self.t_start >= self.min_s:
                    self._confirm()
                    self.deadline = INF
                else:
                    self.deadline = self.t_start + self.min_s
            else:
                self.deadline = INF
                self.pending_t = INF
        else:
            if phase == IDLE:
                return True
            self.t_release = t
            self.deadline = t + self.bridge_s
            if phase == CANDIDATE:
                if t - self.t_start >= self.min_s:
                    self._confirm()
            else:
                self.pending_t = t
        return True

    def expire(self, now: float) -> None:
        """Fire the timer if it has run out by ``now``."""
        if now < self.deadline:
            return
        if self.raw_on:
            # a candidate held on for the minimum time: it counts
            self._confirm()
            self.deadline = INF
        else:
            # a gap as long as the bridging time: the contact is over
            self._close(self.t_release)

    def finish(self, t_end: float) -> None:
        """The trace ends at ``t_end``: an open contact ends there."""
        if self.phase == IDLE:
            return
        if self.raw_on:
            if self.phase == CANDIDATE and t_end - self.t_start >= self.min_s:
                self._confirm()
            self.t_release = t_end
        self._close(self.t_release)

    def _confirm(self) -> None:
        self.phase = CONFIRMED
        self.pending_t = INF if self.raw_on else self.t_release
        self.on_start(self.t_start)

    def _close(self, t_end: float) -> None:
        was = self.phase
        self.phase = IDLE
        self.raw_on = False
        self.deadline = INF
        self.pending_t = INF
        if was == CONFIRMED:
            self.on_end(t_end)
