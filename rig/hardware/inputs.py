"""Digital channels: tread switches and rail touch pads as gpiozero input devices."""

from __future__ import annotations

from typing import Callable

from gpiozero import DigitalInputDevice

EdgeSink = Callable[[float, str, int], None]


class EdgeInput(DigitalInputDevice):
    """A digital sensor that hands every raw edge to a sink, bounce and all.

    gpiozero calls ``_fire_events(ticks, active)`` from the pin's callback
    thread with the pin factory's timestamp of the edge; this only hands
    ``(ticks, channel, 0 or 1)`` to the sink (the engine's queue) and returns.
    No ``bounce_time``: debouncing is the detection core's job, with the
    edges' own times, and the trace must hold what the pin did.

    Wiring: a contact mat or switch between the pin and ground uses the
    internal pull-up (``pull_up=True``, closed = active); a TTP223 touch pad
    drives its output high when touched (``pull_up=None, active_state=True``).
    """

    def __init__(self, channel: str, sink: EdgeSink, pin: int, *, pull_up: bool | None = True,
                 active_state: bool | None = None, pin_factory=None):
        self.channel = channel
        self._sink = sink
        super().__init__(pin, pull_up=pull_up, active_state=active_state,
                         bounce_time=None, pin_factory=pin_factory)

    def _fire_events(self, ticks, new_active):
        previous = self._last_active
        super()._fire_events(ticks, new_active)
        if previous is not None and previous != new_active:
            self._sink(ticks, self.channel, 1 if new_active else 0)
