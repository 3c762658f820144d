"""Analog channels: forces read from an MCP3008 or HX711s by one sampler thread."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from rig.hardware.hx711 import Hx711Dropped
from rig.threads import named_thread

log = logging.getLogger(__name__)

ScanSink = Callable[[float, tuple, bool], None]
WAKE_EVERY_S = 0.1        # while the rig is in use, the engine is woken for the scans this often


class AnalogSampler:
    """Read every force channel at ``sample_hz`` and hand each scan on as one item:
    ``sink(t, ((channel, newtons), ...), wake)``, ``t`` taken once the scan's reads are done;
    ``wake`` asks the engine to take the scans now (every ``WAKE_EVERY_S`` while the rig is in use,
    and at once when a force appears on an idle rig).

    ``channels`` is a list of ``(channel name, device, zero_offset, scale_n)``, the device a
    gpiozero MCP3008 or an ``HX711`` (whose ``value`` waits, sleeping, for its next conversion);
    newtons = (reading - zero_offset) * scale_n. ``set_calibration`` changes a
    channel's zero and scale while the sampler runs (the rig check's tare and
    scale take effect at once, without a restart). ``clock`` gives the time
    base (``now()``, ``real_delay(dt)``). One thread, named ``stairrig-adc``,
    stops when ``stop`` is set. A failed read is logged (once per failure
    streak) and counted in ``errors``; the sampler keeps going. An HX711 reading dropped for its
    clock's timing rule is no failure: it is counted in ``dropped`` (and logged at debug level).
    """

    def __init__(self, channels, sample_hz: float, sink: ScanSink, clock, stop: threading.Event, *,
                 idle_hz: float | None = None, idle_after_s: float = 10.0, active_n: float = 0.25):
        channels = list(channels)
        self.channels = [(name, device) for name, device, _, _ in channels]
        # one (zero_offset, scale_n) tuple per channel: replacing it is atomic, so the
        # sampler converts each reading with either the old pair or the new one, never a mix
        self._conversion: dict[str, tuple[float, float]] = {
            name: (float(zero), float(scale)) for name, _, zero, scale in channels}
        self.period_s = 1.0 / sample_hz
        # an idle rig (no force of active_n or more, no tread or touch on, for idle_after_s) is
        # sampled at idle_hz: someone arriving is still noticed within a period, and the first edge
        # or force brings the full rate back at once
        self.idle_period_s = 1.0 / idle_hz if idle_hz else self.period_s
        self.idle_after_s = idle_after_s
        self.active_n = active_n
        self._active_until = float("inf") if idle_hz is None else 0.0
        self._on: set[str] = set()             # digital channels on now
        self._nudge = threading.Event()        # ends an idle wait: an edge, or someone watching
        self.idle = False
        self._woke_at = -float("inf")
        self.sink = sink
        self.clock = clock
        self.stop = stop
        self.errors = 0
        self.dropped = 0
        self.reads = 0
        self.thread = named_thread(self._run, "stairrig-adc")

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

    def wake_up(self) -> bool:
        """Read at the full rate from now on (for ``idle_after_s`` at least): someone watches the
        raw values or calibrates. Returns whether the sampler was idle until now."""
        was_idle = self.idle
        self._active_until = max(self._active_until, self.clock.now() + self.idle_after_s)
        if was_idle:
            self._nudge.set()
        return was_idle

    def note_edge(self, t: float, channel: str, value: float) -> None:
        """A tread or touch edge (from a pin callback): the rig is in use; full rate at once."""
        if value:
            self._on.add(channel)
        else:
            self._on.discard(channel)
        self._active_until = max(self._active_until, t + self.idle_after_s)
        if self.idle:
            self._nudge.set()      # read now, not at the end of the idle period

    def start(self) -> None:
        if self.channels:
            self.thread.start()

    def is_alive(self) -> bool:
        return not self.channels or self.thread.is_alive()

    def _run(self) -> None:
        clock, stop, sink, conversion = self.clock, self.stop, self.sink, self._conversion
        channels = self.channels
        sleep = time.sleep
        next_t = clock.now()
        failing = False
        while not stop.is_set():
            readings = []
            for name, device in channels:
                try:
                    value = device.value
                except Hx711Dropped as exc:   # a thread held up mid-reading: a missing sample, not a fault
                    self.dropped += 1
                    log.debug("%s", exc)
                    continue
                except Exception as exc:  # a flaky SPI bus or HX711 must not stop the rig
                    if stop.is_set():
                        break             # stopping: a wait cut short is no failure
                    self.errors += 1
                    if not failing:
                        log.error("reading %s from the %s failed: %s", name,
                                  "HX711" if hasattr(device, "rate_hz") else "MCP3008", exc)
                    failing = True
                    continue
                failing = False
                readings.append((name, value))
            t = clock.now()   # after the reads: an SPI transfer takes a while
            loaded = False
            scan = []
            for name, value in readings:
                zero, scale = conversion[name]   # after the time stamp: see set_calibration
                newtons = (value - zero) * scale
                loaded = loaded or abs(newtons) >= self.active_n
                scan.append((name, newtons))
            if loaded or self._on:
                self._active_until = max(self._active_until, t + self.idle_after_s)
            was_idle, self.idle = self.idle, t >= self._active_until
            wake = not self.idle and (was_idle or t - self._woke_at >= WAKE_EVERY_S)
            if wake:
                self._woke_at = t
            if scan:
                sink(t, tuple(scan), wake)
            self.reads += 1
            next_t += self.idle_period_s if self.idle else self.period_s
            now = clock.now()
            if next_t < now - 10 * self.period_s:
                next_t = now  # fell far behind (a stalled clock or a busy CPU): do not burst
            delay = max(0.0, clock.real_delay(next_t - now))
            if self.idle:
                if self._nudge.wait(delay):     # an edge or a watcher: read at once, and on at full rate
                    self._nudge.clear()
                    next_t = clock.now()
            else:
                sleep(delay)    # a plain sleep (stop is checked each period): cheaper than an event's wait
