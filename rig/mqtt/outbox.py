"""The events on their way to the broker: a bounded queue of our own in front of paho.

Events wait here while the broker is away and leave only when the broker has
acknowledged them (paho's ``on_publish`` for QoS 1), so a connection lost
with messages in flight loses none. At most ``window`` events are handed to
paho at a time, in order. When more than ``limit`` wait, the oldest one not
yet handed to paho is dropped and counted: a long outage costs the oldest
events, never the rig's memory.

Thread-safe: the bus thread puts, the publisher thread does the rest. No
paho call is made under the lock (paho calls ``on_publish`` holding its own).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass


@dataclass
class Pending:
    seq: int
    event_type: str
    payload: bytes
    mid: int | None = None       # paho's message id once handed to paho
    acked: bool = False


class EventQueue:
    def __init__(self, limit: int, window: int):
        if limit < 1 or window < 1:
            raise ValueError("limit and window must be at least 1")
        self.limit = limit
        self.window = min(window, limit)
        self.dropped = 0
        self._items: deque[Pending] = deque()
        self._handed = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Pending) -> Pending | None:
        """Queue an event; returns the event dropped to make room, if any."""
        with self._lock:
            dropped = None
            if len(self._items) >= self.limit:
                for i, old in enumerate(self._items):
                    if old.mid is None:
                        dropped = old
                        del self._items[i]
                        break
                else:                          # all in paho's hands: the new one cannot wait
                    self.dropped += 1
                    return item
                self.dropped += 1
            self._items.append(item)
            return dropped

    def to_hand(self) -> list[Pending]:
        """The next events to hand to paho (in order, within the window)."""
        with self._lock:
            room = self.window - self._handed
            out = []
            for item in self._items:
                if room <= 0:
                    break
                if item.mid is None:
                    out.append(item)
                    room -= 1
            return out

    def handed(self, item: Pending, mid: int) -> None:
        with self._lock:
            item.mid = mid
            self._handed += 1

    def ack(self, mid: int) -> bool:
        """The broker has it: forget it (and any acknowledged ones before it). False: not ours."""
        with self._lock:
            for item in self._items:
                if item.mid == mid and not item.acked:
                    item.acked = True
                    self._handed -= 1
                    break
            else:
                return False
            while self._items and self._items[0].acked:
                self._items.popleft()
            return True

    def unhand(self) -> int:
        """Take back every event handed but not acknowledged (paho lost them): they go again."""
        with self._lock:
            n = 0
            for item in self._items:
                if item.mid is not None and not item.acked:
                    item.mid = None
                    n += 1
            self._handed = 0
            return n

    def in_flight(self) -> int:
        with self._lock:
            return self._handed
