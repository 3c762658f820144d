"""An HX711 load-cell amplifier on two GPIO pins, read through gpiozero's pin factory.

``HX711(dout, sck, rate_hz)`` opens DOUT as a gpiozero ``InputDevice`` (the
chip drives it: no pull resistor) and PD_SCK as an ``OutputDevice`` (low: the
chip runs), and bit-bangs the clock through their pin objects, so it works on
any pin factory (lgpio on a Pi, the mock Pi in tests and the demo). Its
``value`` is the next conversion as a reading 0..1 (``rig.hardware.hx711_code``),
like gpiozero's ``MCP3008.value``: the ADC sampler reads either the same way.

Reading one conversion: wait for DOUT low (data ready), sleeping until the
next conversion is due and then in short slices, never spinning; clock 24
bits out, then one more pulse for channel A at gain 128. Each pulse's high
time is bounded with the factory's ``ticks()``, from just before the pin is
set high to just after it is set low (so a thread held up anywhere inside
the pulse is seen): if one exceeded ``MAX_HIGH_S`` the chip may have powered
down (over 60 us) in the middle of it, so the reading is dropped
(``Hx711Dropped``, counted in ``dropped``), never used. Python threads share
one interpreter lock, so on a busy Pi a reading is dropped now and then; the
chip then settles for four conversion periods before the next one.
"""

from __future__ import annotations

import threading
import time

from gpiozero import InputDevice, OutputDevice

from rig.hardware.hx711_code import BITS, GAIN_128_PULSES, HALF, SPAN, pulse_too_long, reading_from_code, \
    ready_timeout_s


class Hx711Error(RuntimeError):
    """A conversion that could not be read; the message names the chip's pins."""


class Hx711NotReady(Hx711Error):
    """DOUT stayed high: the chip is unpowered, unwired, or was reset and has not settled."""


class Hx711Dropped(Hx711Error):
    """A clock pulse was held high too long during the reading: the reading was dropped."""


class HX711:
    """One HX711 on BCM ``dout`` and ``sck``, converting at ``rate_hz`` (10 or 80: its RATE pin)."""

    def __init__(self, dout: int, sck: int, rate_hz: float = 10, *, pin_factory=None,
                 sleep=time.sleep, monotonic=time.monotonic, stop: threading.Event | None = None):
        self.name = f"HX711 (DOUT BCM {dout}, PD_SCK BCM {sck})"
        self.rate_hz = rate_hz
        self.period_s = 1.0 / rate_hz
        self._poll_s = self.period_s / 20          # the wait's slices once a conversion is due
        self._sleep, self._monotonic = sleep, monotonic
        self._stop = stop          # the service stopping ends a wait for DOUT at once
        self._sck_device = OutputDevice(sck, initial_value=False, pin_factory=pin_factory)
        try:
            self._dout_device = InputDevice(dout, pull_up=None, active_state=True, pin_factory=pin_factory)
        except Exception:
            self._sck_device.close()
            raise
        self.pin_factory = self._sck_device.pin_factory
        self._sck = self._sck_device.pin
        self._dout = self._dout_device.pin
        self._settling = True                      # just powered up, or reset: allow the settling time
        self._last_ready: float | None = None      # monotonic time of the last conversion taken
        self.reads = 0
        self.dropped = 0
        self.longest_high_s = 0.0                  # the longest pulse of the last reading (seconds)

    def __repr__(self) -> str:
        return f"<{self.name}>"

    @property
    def closed(self) -> bool:
        return self._sck_device.closed

    def close(self) -> None:
        try:
            self._dout_device.close()
        finally:
            self._sck_device.close()

    def _wait_ready(self) -> None:
        dout = self._dout
        if not dout.state:
            return
        monotonic, sleep, stop = self._monotonic, self._sleep, self._stop
        if stop is not None:
            sleep = stop.wait
        start = monotonic()
        deadline = start + ready_timeout_s(self.rate_hz, self._settling)
        due = start if self._last_ready is None else self._last_ready + self.period_s
        while dout.state:
            now = monotonic()
            if now >= deadline:
                self._settling = True
                raise Hx711NotReady(f"{self.name}: no conversion ready in {now - start:.2f} s (DOUT stays "
                                    f"high): check its power (VCC, GND) and the DOUT and PD_SCK wires")
            if sleep(min(max(due - now, self._poll_s), deadline - now)):
                raise Hx711NotReady(f"{self.name}: stopped while waiting for a conversion")

    def read_code(self) -> int:
        """The next conversion as the chip's signed 24-bit count."""
        self._wait_ready()
        self._last_ready = self._monotonic()
        factory = self.pin_factory
        ticks, ticks_diff = factory.ticks, factory.ticks_diff
        sck, dout = self._sck, self._dout
        longest = 0.0
        raw = 0
        for _ in range(BITS + GAIN_128_PULSES):
            high_at = ticks()
            sck.state = True
            sck.state = False
            high_s = ticks_diff(ticks(), high_at)
            if high_s > longest:
                longest = high_s
            raw = (raw << 1) | (1 if dout.state else 0)
        raw >>= GAIN_128_PULSES      # DOUT after the 25th pulse: not data
        self.longest_high_s = longest
        if pulse_too_long(longest):
            self.dropped += 1
            self._settling = True    # the chip may have reset: it settles before its next conversion
            raise Hx711Dropped(f"{self.name}: a clock pulse was held high {longest * 1e6:.0f} us (over "
                               f"50 us; 60 us resets the chip): reading dropped")
        self._settling = False
        self.reads += 1
        return raw - SPAN if raw & HALF else raw

    @property
    def value(self) -> float:
        """The next conversion as a reading 0..1 (0.5 at 0 V between the inputs)."""
        return reading_from_code(self.read_code())
