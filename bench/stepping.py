"""The benches' athlete: split-tread steps up and down the flight, driven on the mock pins."""

from __future__ import annotations

import threading
import time
from typing import Callable


def walk(rig, treads: int, steps: int, *, period_s: float = 0.35,
         clock: Callable[[], float] = time.monotonic) -> dict[int, float]:
    """Step up and down a flight of split treads (never the same tread twice in a row), each step
    back half first then front 30 ms later, the previous tread released 170 ms after the new
    one's contact; returns each step's number -> ``clock()`` just before its first pin moved."""
    pause = threading.Event()
    edges: dict[int, float] = {}
    cycle = list(range(1, treads + 1)) + list(range(treads - 1, 1, -1))
    previous = None
    for k in range(1, steps + 1):
        tread = cycle[(k - 1) % len(cycle)]
        edges[k] = clock()
        rig.set_sample(f"tread.{tread}.back", 1)
        pause.wait(0.03)
        rig.set_sample(f"tread.{tread}.front", 1)
        pause.wait(0.17)
        if previous is not None:
            rig.set_sample(f"tread.{previous}.back", 0)
            rig.set_sample(f"tread.{previous}.front", 0)
        previous = tread
        pause.wait(max(0.0, period_s - 0.2))  # a released tread stays free longer than the 60 ms bridging
    return edges


def time_steps_leaving_engine(service) -> dict[int, float]:
    """Put a bus in front of the service's bus that notes ``time.monotonic()`` when the engine
    hands each step event over, alone (``publish``) or in its batches (``publish_all``); returns
    the step number -> time mapping it fills."""
    left: dict[int, float] = {}
    bus = service.bus

    def note(events) -> None:
        now = time.monotonic()
        for event in events:
            if event["type"] == "step":
                left[event["steps"]] = now

    class TimedBus:
        @staticmethod
        def publish(event: dict) -> None:
            note((event,))
            bus.publish(event)

        @staticmethod
        def publish_all(events: list[dict]) -> None:
            note(events)
            bus.publish_all(events)

    service.engine.bus = TimedBus()
    return left
