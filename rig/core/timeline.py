"""The ordered timeline: late-known transitions and force samples, back in time order.

Contacts are known late (a step is confirmed up to ``min_contact_s +
bridge_s`` after its first edge, a release ``bridge_s`` after it happened),
but every decision is taken at the contacts' own edge times, in time order
(emptyings before occupyings at equal times). So confirmed transitions go to
a heap, force samples to a queue, and both are applied in time order once no
contact tracker can still report anything earlier: the watermark
(``pending_min``, the earliest first edge of an unconfirmed contact or
release of a contact whose end is not settled). ``next_deadline`` is the
earliest timer of any tracker.

The detector owns the loop that applies them (``Detector._release``).
"""

from __future__ import annotations

import heapq
from collections import deque

from rig.core.contact import INF, ContactTracker

# Timeline item kinds, in their order at equal times.
EMPTY, OCCUPY, RAIL_OFF, RAIL_ON, STALL, FALL = range(6)


class Timeline:
    __slots__ = ("heap", "forces", "trackers", "pending_min", "next_deadline", "_seq")

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, int, object]] = []   # (t, kind, seq, subject)
        self.forces: deque[tuple[float, object, float]] = deque()   # (t, rail, force_n), in time order
        self.trackers: list[ContactTracker] = []
        self.pending_min = INF   # earliest time a tracker may still report
        self.next_deadline = INF
        self._seq = 0

    def push(self, t: float, kind: int, subject: object) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (t, kind, self._seq, subject))

    def tracker(self, min_s: float, bridge_s: float, end_kind: int, start_kind: int,
                subject: object) -> ContactTracker:
        """A contact tracker whose confirmed starts and ends go onto this timeline."""
        push = self.push
        tracker = ContactTracker(min_s, bridge_s,
                                 on_start=lambda t: push(t, start_kind, subject),
                                 on_end=lambda t: push(t, end_kind, subject))
        self.trackers.append(tracker)
        return tracker

    def refresh(self) -> None:
        """Recompute the watermark and the next deadline after a tracker changed."""
        pending = INF
        deadline = INF
        for tracker in self.trackers:
            p = tracker.pending_t
            if p < pending:
                pending = p
            d = tracker.deadline
            if d < deadline:
                deadline = d
        self.pending_min = pending
        self.next_deadline = deadline

    def expire(self, now: float) -> None:
        """Fire the trackers' timers that have run out by ``now``."""
        for tracker in self.trackers:
            if tracker.deadline <= now:
                tracker.expire(now)
        self.refresh()

    def finish(self, t_end: float) -> None:
        """Close every open contact at ``t_end``: nothing is pending any more."""
        self.expire(t_end)
        for tracker in self.trackers:
            tracker.finish(t_end)
        self.pending_min = INF
        self.next_deadline = INF

