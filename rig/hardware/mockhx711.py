"""A pin-level mock HX711 on the mock Pi's pins: it answers the PD_SCK clock on DOUT.

``mock_hx711(factory, dout, sck, rate_hz)`` puts one on a ``RigMockFactory``
(before the driver opens the pins; the same pins give the same chip again).
Whoever plays the load cell sets ``reading`` (0..1, 0.5 at 0 V: see
``rig.hardware.hx711_code``) or ``code``. The chip follows its datasheet:

- conversions are ready every ``1 / rate_hz`` of the factory's ticks, the
  first after four periods of settling from power-up; ready is DOUT low;
- each rising edge of PD_SCK shifts out one bit (the count is latched at the
  first one, so a value changed mid-reading never tears it); the 25th sets
  channel A, gain 128, and raises DOUT until the next conversion;
- PD_SCK high for more than 60 us powers it down: on the falling edge it
  resets, DOUT high, and settles again. A pulse with no conversion ready does
  nothing: DOUT stays high, and a reader that ignores the reset reads ones.

It costs a few attribute reads per edge and keeps no history of its own (the
mock pins keep their last 64 states). Data-ready is worked out when DOUT is
read, so no thread or timer runs.
"""

from __future__ import annotations


from rig.hardware.hx711_code import BITS, POWER_DOWN_S, SETTLE_PERIODS, bits_from_code, code_from_reading, \
    reading_from_code
from rig.hardware.mockpi import BoundedMockPWMPin


class Hx711ClockPin(BoundedMockPWMPin):
    """The PD_SCK pin: every change of its state is handed to the chip, with its tick."""

    chip: "MockHX711 | None" = None

    def _change_state(self, value):
        changed = super()._change_state(value)     # stamped with the factory's tick, as every mock pin
        chip = self.chip
        if changed and chip is not None:
            chip.clock(bool(value), self._last_change)
        return changed


class Hx711DataPin(BoundedMockPWMPin):
    """The DOUT pin: reading it first lets the chip say whether a conversion is ready by now."""

    chip: "MockHX711 | None" = None

    def _get_state(self):
        chip = self.chip
        if chip is not None:
            chip.refresh(self._factory.ticks())
        return self._state


class MockHX711:
    def __init__(self, factory, dout: int, sck: int, rate_hz: float = 10, reading: float = 0.5):
        self.factory = factory
        self.period_s = 1.0 / rate_hz
        self.code = code_from_reading(reading)
        self.sck = factory.pin(sck, pin_class=Hx711ClockPin)
        self.dout = factory.pin(dout, pin_class=Hx711DataPin)
        for pin, kind in ((self.sck, Hx711ClockPin), (self.dout, Hx711DataPin)):
            if not isinstance(pin, kind):
                raise RuntimeError(f"BCM {pin.info.name}: the mock HX711 must be made before its pins are opened")
        self._bits: list[int] = []
        self._pulse = 0                 # pulses of the reading under way (0: none)
        self._rise_t = 0.0
        self.conversions = 0            # readings clocked out whole
        self.resets = 0                 # power-downs by a clock held high too long
        self._power_up(factory.ticks())
        self.sck.chip = self
        self.dout.chip = self

    @property
    def reading(self) -> float:
        return reading_from_code(self.code)

    @reading.setter
    def reading(self, value: float) -> None:
        self.code = code_from_reading(value)

    def _power_up(self, t: float) -> None:
        self._pulse = 0
        self._next_ready = t + SETTLE_PERIODS * self.period_s
        self._drive(True)

    def _drive(self, high: bool) -> None:
        BoundedMockPWMPin._change_state(self.dout, high)

    def refresh(self, t: float) -> None:
        """DOUT low once the next conversion is ready (and none is being read)."""
        if not self._pulse and self.dout._state and t >= self._next_ready:
            self._drive(False)

    def clock(self, high: bool, t: float) -> None:
        if high:
            self._rise_t = t
            pulse = self._pulse
            if pulse == 0:
                self.refresh(t)
                if self.dout._state:
                    return                   # no conversion ready: the pulse does nothing
                self._bits = bits_from_code(self.code)
            if pulse < BITS:
                self._drive(bool(self._bits[pulse]))
                self._pulse = pulse + 1
            else:                            # the 25th pulse: channel A, gain 128; the next conversion
                self._pulse = 0
                self._drive(True)
                self.conversions += 1
                periods = int((t - self._next_ready) / self.period_s) + 1
                self._next_ready += max(1, periods) * self.period_s
        elif t - self._rise_t > POWER_DOWN_S:
            self.resets += 1
            self._power_up(t)


def mock_hx711(factory, dout: int, sck: int, rate_hz: float = 10) -> MockHX711:
    """The mock HX711 on these pins of a ``RigMockFactory`` (made on first use, reading 0 V)."""
    chips = factory.__dict__.setdefault("hx711s", {})
    chip = chips.get((dout, sck))
    if chip is None:
        chip = chips[(dout, sck)] = MockHX711(factory, dout, sck, rate_hz)
    return chip
