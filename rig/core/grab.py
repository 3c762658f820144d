"""Grab detection on one rail's force: a sudden rise from a light touch.

The spec: the force rises by at least ``rise_n`` within ``window_s`` from a
value below ``floor_n``; the event's time is the sample at which the rise
is reached; the rail re-arms when its force falls below the floor again.

The force holds its last value between samples, so the lowest force "within
the window" before a sample at ``t`` is the lowest value held at any moment
of ``[t - window_s, t]``, including the value that was held when the window
opened. Only values below the floor can be the start of a rise.

Most samples are below the floor, where no grab can happen, so nothing is
decided for them: each sample is kept (the sample itself, no copy) in
``recent``, and only a sample at or above the floor looks back. Whether the
rail has re-armed since its last grab is found then, by looking for a sample
below the floor after it; the lowest value of the window by walking back
from the newest sample. A stretch already walked is not walked again, and
samples older than the window are dropped now and then (:meth:`trim`).
"""

from __future__ import annotations

from bisect import bisect_left
from operator import itemgetter

_time_of = itemgetter(0)
TRIM_AT = 1024  # recent samples kept before looking for old ones to drop


class GrabDetector:
    """One rail's grabs. ``sample(t, force_n)`` per sample, or, in a batch,
    ``record(sample)`` for every sample and :meth:`rises` for those at or
    above the floor (what ``Detector.feed_many`` does)."""

    __slots__ = ("rise_n", "window_s", "floor_n", "armed", "base_n", "recent", "record",
                 "_first", "_walked", "_since_grab")

    def __init__(self, rise_n: float, window_s: float, floor_n: float):
        self.rise_n = rise_n
        self.window_s = window_s
        self.floor_n = floor_n
        self.armed = True
        self.base_n = 0.0      # the low value the last grab rose from
        # The rail's recent samples, oldest first: tuples whose first item is the
        # time and last item the force, each holding its value until the next.
        # A channel is 0 until its first sample (the spec): it starts at 0 N,
        # held from t = 0, a low value whatever the floor.
        self.recent: list[tuple] = [(0.0, 0.0)]
        self.record = self.recent.append
        self._first = 0        # index of that starting value in ``recent`` (-1 once dropped)
        self._walked = 0       # samples before this index hold no low value for a later rise
        self._since_grab = 0   # while disarmed: samples from this index on may re-arm the rail

    def sample(self, t: float, force_n: float) -> bool:
        """Take one force sample; True when it completes a grab."""
        self.record((t, force_n))
        if len(self.recent) > TRIM_AT:
            self.trim()
        if force_n < self.floor_n:
            self.armed = True
            return False
        return self.rises(t, force_n)  # which also finds a re-arming that ``record`` alone kept

    def rises(self, t: float, force_n: float) -> bool:
        """The newest recorded sample, ``force_n`` at ``t``, at or above the floor:
        True (and the rail disarmed) when it completes a grab."""
        if not self.armed and not self._rearmed():
            return False
        recent = self.recent
        horizon = t - self.window_s
        floor = self.floor_n
        first = self._first
        low = None
        j = len(recent) - 2
        until = t                # the time up to which sample j held its value
        stop = self._walked
        while j >= stop:
            if until < horizon:  # held only before the window: so were all older ones
                self._walked = j + 1
                break
            sample = recent[j]
            v = sample[-1]
            if (v < floor or j == first) and (low is None or v < low):
                low = v
            until = sample[0]
            j -= 1
        if low is None:
            # nothing up to this sample (at or above the floor) can start a later rise
            self._walked = len(recent) - 1
            return False
        if force_n - low >= self.rise_n:
            self.base_n = low
            self.armed = False
            self._since_grab = len(recent)
            return True
        return False

    def _rearmed(self) -> bool:
        """Whether a sample below the floor came after the last grab (it re-arms the rail)."""
        recent = self.recent
        floor = self.floor_n
        for j in range(self._since_grab, len(recent)):
            if recent[j][-1] < floor:
                self.armed = True
                return True
        self._since_grab = len(recent)
        return False

    def trim(self) -> None:
        """Drop the samples that no later rise can start from (held only before
        the window of the newest sample)."""
        recent = self.recent
        if len(recent) <= TRIM_AT:
            return
        horizon = recent[-1][0] - self.window_s
        # sample j held its value until sample j + 1: it is out of every later
        # window once sample j + 1 is older than the newest window
        drop = bisect_left(recent, horizon, key=_time_of) - 1
        if drop <= 0:
            return
        if not self.armed:
            floor = self.floor_n
            self.armed = any(recent[j][-1] < floor for j in range(self._since_grab, drop))
            self._since_grab = max(0, self._since_grab - drop)
        del recent[:drop]
        self._first = -1
        self._walked = max(0, self._walked - drop)
