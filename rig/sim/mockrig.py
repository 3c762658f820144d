"""A simulated rig on gpiozero's MockFactory: pins and an MCP3008 driven by a script.

- ``SimPinFactory``: a MockFactory whose pins take their edge times from a
  ``VirtualClock`` (MockPin stamps edges with the real monotonic clock, so
  pins driven faster than real time would shrink every duration).
- ``MockMCP3008``: the slave side of an MCP3008 on gpiozero's mock SPI bus,
  answering reads with the forces the script sets.
- ``RigDriver``: plays ``(t, channel, value)`` samples into the pins and the
  ADC, in real time or faster, from a thread named ``stairrig-sim``.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Iterable

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPin, MockSPIDevice, PinState

from rig.clock import PinFactoryClock, VirtualClock
from rig.config import AnalogWiring, DigitalWiring, RigConfig

SPI0_PINS = {"clock": 11, "mosi": 10, "miso": 9}
SPI0_SELECT = {0: 8, 1: 7}


class BoundedMockPin(MockPin):
    """A MockPin that keeps its last 64 states: MockPin keeps every one, and the mock
    MCP3008's bit-banged SPI makes thousands a second, so a long real-time demo would grow."""

    def clear_states(self):
        super().clear_states()
        self.states = deque(self.states, maxlen=64)


class VirtualMockPin(MockPin):
    """A MockPin whose edges carry the factory's (virtual) ticks."""

    def __init__(self, factory, info):
        super().__init__(factory, info)
        self.states = deque(self.states, maxlen=64)  # MockPin keeps every state; a long demo must not

    def _change_state(self, value):
        if self._state != value:
            t = self._factory.ticks()
            self._state = value
            self.states.append(PinState(t - self._last_change, value))
            self._last_change = t
            return True
        return False


class SimPinFactory(MockFactory):
    """MockFactory with ticks from a VirtualClock."""

    def __init__(self, clock: VirtualClock, revision=None):
        super().__init__(revision=revision, pin_class=VirtualMockPin)
        self.clock = clock

    def ticks(self):
        return self.clock.ticks()

    @staticmethod
    def ticks_diff(later, earlier):
        return later - earlier


class MockMCP3008(MockSPIDevice):
    """An MCP3008 on the mock SPI bus. Set ``values[channel]`` (0..1 of Vref).

    The protocol (datasheet, figure 6-1): after a start bit the host sends
    SGL/DIFF and three channel bits; the chip answers with a null bit and the
    10-bit result, most significant bit first. Single-ended reads only.
    """

    def __init__(self, spi_device: int = 0, *, pin_factory=None):
        super().__init__(SPI0_PINS["clock"], SPI0_PINS["mosi"], SPI0_PINS["miso"],
                         SPI0_SELECT[spi_device], pin_factory=pin_factory)
        self.values = [0.0] * 8
        self._phase = "idle"

    def on_start(self):
        super().on_start()
        self._phase = "idle"

    def on_bit(self):
        if self._phase == "idle":
            if self.rx_buf[-1]:
                self._phase = "command"
                self.rx_buf = []
        elif self._phase == "command" and len(self.rx_buf) == 4:
            channel = self.rx_word() & 0b111
            value = min(1.0, max(0.0, self.values[channel]))
            # the answer starts on the clock after the next one: two zero bits (the
            # sample period and the null bit), then the 10-bit result
            self.tx_word(round(value * 1023), bits_per_word=12)
            self._phase = "answered"


class SimulatedRig:
    """The mock hardware for a configuration: its pin factory, clock and ADC."""

    def __init__(self, config: RigConfig, speed: float = 1.0):
        self.config = config
        if speed == 1.0:
            # real time: plain MockFactory, whose pins stamp edges with the real clock
            self.factory = MockFactory(pin_class=BoundedMockPin)
            self.clock = PinFactoryClock(self.factory)
            self.virtual = None
        else:
            self.virtual = VirtualClock(speed)
            self.factory = SimPinFactory(self.virtual)
            self.clock = self.virtual
        # gpiozero's software SPI bus takes Device.pin_factory whatever it is
        # given, so the mock rig is the process's pin factory while it lives.
        self._previous_factory = Device.pin_factory
        Device.pin_factory = self.factory
        self.adc = MockMCP3008(config.adc.spi_device, pin_factory=self.factory) if config.adc else None
        for channel, wire in config.wiring.items():
            if isinstance(wire, AnalogWiring):
                self.set_sample(channel, 0.0)  # unloaded sensors read their zero

    def pin(self, channel: str):
        return self.factory.pin(self.config.wiring[channel].pin)

    def set_sample(self, channel: str, value: float) -> None:
        """Put one simulated sample on the wire, as the sensor would."""
        wire = self.config.wiring[channel]
        if isinstance(wire, DigitalWiring):
            active_high = wire.active_state if wire.pull_up is None else not wire.pull_up
            high = bool(value) == bool(active_high)
            pin = self.factory.pin(wire.pin)
            if high:
                pin.drive_high()
            else:
                pin.drive_low()
        elif isinstance(wire, AnalogWiring) and self.adc is not None:
            self.adc.values[wire.adc_channel] = wire.zero_offset + value / wire.scale_n

    def close(self) -> None:
        if self.adc is not None:
            self.adc.close()
        self.factory.close()
        if Device.pin_factory is self.factory:
            Device.pin_factory = self._previous_factory


class RigDriver:
    """Play samples into a SimulatedRig at their times (scaled by the clock's speed)."""

    def __init__(self, rig: SimulatedRig, samples: Iterable[tuple[float, str, float]],
                 stop: threading.Event, *, t_offset_s: float = 0.0, step_s: float = 0.005):
        self.rig = rig
        self.samples = samples
        self.stop = stop
        self.t_offset_s = t_offset_s
        self.step_s = step_s
        self.done = threading.Event()
        self.driven = 0
        self.thread = threading.Thread(target=self._run, name="stairrig-sim", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _wait_until(self, t: float) -> bool:
        clock, stop = self.rig.clock, self.stop
        virtual = self.rig.virtual
        while True:
            now = clock.now()
            if now >= t:
                return True
            if virtual is not None:
                target = min(t, now + self.step_s)
                if stop.wait(virtual.real_delay(target - now)):
                    return False
                virtual.set(target)
            elif stop.wait(min(t - now, 0.05)):
                return False

    def _run(self) -> None:
        try:
            offset = self.t_offset_s
            for t, channel, value in self.samples:
                if not self._wait_until(t + offset):
                    return
                self.rig.set_sample(channel, value)
                self.driven += 1
        finally:
            self.done.set()
