"""A simulated rig on the mock Pi: the sensors of a configuration, played by a script.

- ``SimulatedRig``: the mock hardware for a configuration (a
  ``RigMockFactory``, its clock and the MCP3008 on the configured chip
  select, and a pin-level mock HX711 for each force channel wired to one),
  with ``set_sample(channel, value)`` putting a value on the wire as the
  sensor would.
- ``RigDriver``: plays ``(t, channel, value)`` samples into a SimulatedRig
  from a thread named ``stairrig-sim``. With a virtual clock (the demo, at any
  speed) every edge carries the time the script gave it: the driver moves
  the clock to that time just before it drives the edge, so a thread that
  runs late delays an edge but never changes its time. The virtual clock
  follows the wall clock (times the speed) between edges.
"""

from __future__ import annotations

import threading
import time
from typing import Iterable

from gpiozero import Device

from rig.clock import PinFactoryClock, VirtualClock
from rig.config import AnalogWiring, DigitalWiring, RigConfig
from rig.hardware.mockhx711 import mock_hx711
from rig.hardware.mockpi import RigMockFactory
from rig.threads import named_thread


class SimulatedRig:
    """The mock hardware for a configuration: its pin factory, clock and ADC.

    ``speed``: how much faster than real time the simulator runs. ``virtual``:
    pins stamp edges with a ``VirtualClock`` that the driver moves (the
    default when ``speed`` is not 1; the demo asks for it at every speed);
    otherwise with the real monotonic clock, for tests that drive pins by
    hand. ``factory``: use this ``RigMockFactory`` (``stairrig run`` under
    ``GPIOZERO_PIN_FACTORY=mock``) instead of making one.
    """

    def __init__(self, config: RigConfig, speed: float = 1.0, *, virtual: bool | None = None,
                 factory: RigMockFactory | None = None):
        self.config = config
        if factory is not None:
            self.factory = factory
            self.virtual = factory.clock if isinstance(factory.clock, VirtualClock) else None
        else:
            self.virtual = VirtualClock(speed) if (speed != 1.0 if virtual is None else virtual) else None
            self.factory = RigMockFactory(clock=self.virtual)
        self._owns_factory = factory is None
        self.clock = self.virtual or PinFactoryClock(self.factory)
        # gpiozero's SPI takes Device.pin_factory when a device is given none:
        # the mock rig is the process's pin factory while it lives
        self._previous_factory = Device.pin_factory
        Device.pin_factory = self.factory
        self.adc = self.factory.mcp3008(config.adc.spi_port, config.adc.spi_device) if config.adc else None
        # the HX711s answer the driver's clock on their own pins: made before the sensors open them
        self.hx711s = {channel: mock_hx711(self.factory, wire.hx711.dout, wire.hx711.sck, wire.hx711.rate_hz)
                       for channel, wire in config.wiring.items()
                       if isinstance(wire, AnalogWiring) and wire.hx711 is not None}
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
            pin = self.factory.pin(wire.pin)
            if bool(value) == bool(active_high):
                pin.drive_high()
            else:
                pin.drive_low()
        elif isinstance(wire, AnalogWiring) and wire.hx711 is not None:
            self.hx711s[channel].reading = wire.zero_offset + value / wire.scale_n
        elif isinstance(wire, AnalogWiring) and self.adc is not None:
            self.adc.values[wire.adc_channel] = wire.zero_offset + value / wire.scale_n

    def close(self) -> None:
        if self._owns_factory:
            self.factory.close()
        if Device.pin_factory is self.factory:
            Device.pin_factory = self._previous_factory


class RigDriver:
    """Play samples into a SimulatedRig at their times (scaled by the clock's speed).

    ``step_s``: with a virtual clock, how far (in its seconds) the clock moves
    at a time between edges, so that other threads (the engine, the ADC
    sampler) see it advance smoothly. When the samples are played the clock
    stops where the last one left it, or runs on to ``end_s`` (the demo's
    end, which a rig without load cells has no sample at).
    """

    def __init__(self, rig: SimulatedRig, samples: Iterable[tuple[float, str, float]],
                 stop: threading.Event, *, t_offset_s: float = 0.0, step_s: float = 0.005,
                 end_s: float | None = None):
        self.rig = rig
        self.samples = samples
        self.stop = stop
        self.t_offset_s = t_offset_s
        self.step_s = step_s
        self.end_s = end_s
        self.done = threading.Event()
        self.driven = 0
        self.late_s = 0.0          # the most the driver ran behind the wall clock at an edge (virtual seconds)
        self._real_t0 = 0.0        # the wall clock (monotonic) at which the virtual clock read 0
        self.thread = named_thread(self._run, "stairrig-sim")

    def start(self) -> None:
        virtual = self.rig.virtual
        if virtual is not None:
            self._real_t0 = time.monotonic() - virtual.now() / virtual.speed
        self.thread.start()

    def _wall_virtual(self) -> float:
        """Where the virtual clock would be if it followed the wall clock exactly."""
        return (time.monotonic() - self._real_t0) * self.rig.virtual.speed

    def _wait_until(self, t: float) -> bool:
        virtual, stop = self.rig.virtual, self.stop
        if virtual is None:     # real time: the pins stamp edges with the real clock
            clock = self.rig.clock
            while True:
                now = clock.now()
                if now >= t:
                    return True
                if stop.wait(min(t - now, 0.05)):
                    return False
        speed = virtual.speed
        while True:
            now = virtual.now()
            if now >= t:
                return True
            target = min(t, now + self.step_s)
            wall = self._wall_virtual()
            if wall < target:
                if stop.wait((target - wall) / speed):
                    return False
                wall = self._wall_virtual()
            if wall > t:
                self.late_s = max(self.late_s, wall - t)
            # follow the wall clock when the thread woke late, but never past the next edge
            virtual.set(min(t, max(target, wall)))

    def _run(self) -> None:
        try:
            offset = self.t_offset_s
            for t, channel, value in self.samples:
                if not self._wait_until(t + offset):
                    return
                self.rig.set_sample(channel, value)
                self.driven += 1
            if self.end_s is not None:
                self._wait_until(self.end_s + offset)
        finally:
            self.done.set()
