"""The event bus: one worker thread hands the engine's events to every output.

Modelled on OctoPrint's event manager: publishing only puts the event on a
queue (the engine never waits for an output); one named thread drains it
and calls each subscriber in turn, each wrapped so that one failing output
cannot stop the others.
"""

from __future__ import annotations

import logging
import queue
from dataclasses import dataclass
from typing import Callable, Iterable

from rig.threads import named_thread

log = logging.getLogger(__name__)

Listener = Callable[[dict], None]


@dataclass
class _Subscriber:
    name: str
    listener: Listener
    types: frozenset[str] | None
    failures: int = 0


class EventBus:
    """Subscribers get the events whose ``type`` they asked for (all when None).

    It stops on ``close()``, after delivering what was published before.
    """

    def __init__(self, name: str = "stairrig-bus"):
        self._queue: queue.SimpleQueue[dict | list | None] = queue.SimpleQueue()
        self._subscribers: list[_Subscriber] = []
        self._thread = named_thread(self._run, name)

    def subscribe(self, name: str, listener: Listener, types: Iterable[str] | None = None) -> None:
        self._subscribers.append(_Subscriber(name, listener, frozenset(types) if types else None))

    def publish(self, event: dict) -> None:
        self._queue.put(event)

    def publish_all(self, events: list[dict]) -> None:
        """Several events for one wake of the worker (the engine's samples and tick), in order."""
        self._queue.put(events)

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what is queued, then stop the worker."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        get = self._queue.get
        while True:
            event = get()          # blocks until an event or close()'s None: no polling
            if event is None:
                return
            if type(event) is list:
                for one in event:
                    self.dispatch(one)
            else:
                self.dispatch(event)

    def dispatch(self, event: dict) -> None:
        etype = event.get("type")
        for sub in self._subscribers:
            if sub.types is not None and etype not in sub.types:
                continue
            try:
                sub.listener(event)
            except Exception:
                sub.failures += 1
                if sub.failures <= 3 or sub.failures % 1000 == 0:
                    log.exception("output %s failed on a %s event (failure %d); the others go on",
                                  sub.name, etype, sub.failures)
