"""Analog channels: forces read from an MCP3008 by one sampler thread."""

from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)

SampleSink = Callable[[float, str, float], None]


class AnalogSampler:
    """Read every force channel at ``sample_hz`` and hand ``(t, channel, newtons)`` on.

    ``channels`` is a list of ``(channel name, gpiozero MCP3008, zero_offset, scale_n)``;
    newtons = (reading - zero_offset) * scale_n. ``set_calibration`` changes a
    channel's zero and scale while the sampler runs (the rig check's tare and
    scale take effect at once, without a restart). ``clock`` gives the time
    base (``now()``, ``real_delay(dt)``). One thread, named ``stairrig-adc``,
    stops when ``stop`` is set. A failed read is logged (once per failure
    streak) and counted in ``errors``; the sampler keeps going.
    """

    def __init__(self, channels, sample_hz: float, sink: SampleSink, clock, stop: threading.Event):
        channels = list(channels)
        self.channels = [(name, device) for name, device, _, _ in channels]
        # one (zero_offset, scale_n) tuple per channel: replacing it is atomic, so the
        # sampler converts each reading with either the old pair or the new one, never a mix
        self._conversion: dict[str, tuple[float, float]] = {
            name: (float(zero), float(scale)) for name, _, zero, scale in channels}
        self.period_s = 1.0 / sample_hz
        self.sink = sink
        self.clock = clock
        self.stop = stop
        self.errors = 0
        self.reads = 0
        self.thread = threading.Thread(target=self._run, name="stairrig-adc", daemon=True)

    def calibration(self, channel: str) -> tuple[float, float]:
        """The ``(zero_offset, scale_n)`` a channel's readings are converted with now."""
        return self._conversion[channel]

    def set_calibration(self, channel: str, zero_offset: float, scale_n: float) -> float:
        """Convert the channel's readings with a new zero and scale from now on.

        Returns the clock time after the change: every sample stamped later than
        that was converted with the new values (the sampler stamps a reading
        before it picks the conversion)."""
        if channel not in self._conversion:
            raise KeyError(f"{channel} is not sampled by the ADC")
        self._conversion[channel] = (float(zero_offset), float(scale_n))
        return self.clock.now()

    def start(self) -> None:
        if self.channels:
            self.thread.start()

    def is_alive(self) -> bool:
        return not self.channels or self.thread.is_alive()

    def _run(self) -> None:
        clock, stop, sink, conversion = self.clock, self.stop, self.sink, self._conversion
        next_t = clock.now()
        failing = False
        while not stop.is_set():
            for name, device in self.channels:
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
                zero, scale = conversion[name]   # after the time stamp: see set_calibration
                sink(t, name, (value - zero) * scale)
            self.reads += 1
            next_t += self.period_s
            now = clock.now()
            if next_t < now - 10 * self.period_s:
                next_t = now  # fell far behind (a stalled clock or a busy CPU): do not burst
            stop.wait(max(0.0, clock.real_delay(next_t - now)))
