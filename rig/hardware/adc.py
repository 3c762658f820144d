"""Analog channels: forces read from an MCP3008 by one sampler thread."""

from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)

SampleSink = Callable[[float, str, float], None]


class AnalogSampler:
    """Read every force channel at ``sample_hz`` and hand ``(t, channel, newtons)`` on.

    ``channels`` is a list of ``(channel name, gpiozero MCP3008, to_newtons)``;
    ``clock`` gives the time base (``now()``, ``real_delay(dt)``). One thread,
    named ``stairrig-adc``, stops when ``stop`` is set. A failed read is
    logged (once per failure streak) and counted in ``errors``; the sampler
    keeps going.
    """

    def __init__(self, channels, sample_hz: float, sink: SampleSink, clock, stop: threading.Event):
        self.channels = list(channels)
        self.period_s = 1.0 / sample_hz
        self.sink = sink
        self.clock = clock
        self.stop = stop
        self.errors = 0
        self.reads = 0
        self.thread = threading.Thread(target=self._run, name="stairrig-adc", daemon=True)

    def start(self) -> None:
        if self.channels:
            self.thread.start()

    def is_alive(self) -> bool:
        return not self.channels or self.thread.is_alive()

    def _run(self) -> None:
        clock, stop, sink = self.clock, self.stop, self.sink
        next_t = clock.now()
        failing = False
        while not stop.is_set():
            for name, device, to_newtons in self.channels:
                try:
                    value = device.value
                    t = clock.now()   # after the read: an SPI transfer takes a while
                except Exception as exc:  # a flaky SPI bus must not stop the rig
                    self.errors += 1
                    if not failing:
                        log.error("reading %s from the MCP3008 failed: %s", name, exc)
                    failing = True
                    continue
                failing = False
                sink(t, name, to_newtons(value))
            self.reads += 1
            next_t += self.period_s
            now = clock.now()
            if next_t < now - 10 * self.period_s:
                next_t = now  # fell far behind (a stalled clock or a busy CPU): do not burst
            stop.wait(max(0.0, clock.real_delay(next_t - now)))
