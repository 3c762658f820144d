"""Open every wired channel of a configuration as gpiozero devices."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

from rig.hardware.mcp3008 import MCP3008
from gpiozero.exc import GPIOZeroError

from rig.config import AnalogWiring, DigitalWiring, RigConfig
from rig.hardware.adc import AnalogSampler
from rig.hardware.hx711 import HX711
from rig.hardware.inputs import EdgeInput

log = logging.getLogger(__name__)

Sink = Callable[[float, str, float], None]


class SensorError(RuntimeError):
    """A device could not be opened; the message names the channel and pin."""


@dataclass
class Sensors:
    inputs: list[EdgeInput] = field(default_factory=list)
    adcs: list[MCP3008 | HX711] = field(default_factory=list)
    sampler: AnalogSampler | None = None

    def initial_samples(self, t_s: float) -> list[tuple[float, str, int]]:
        """Channels already active when the rig starts (a channel is 0 until its first sample)."""
        return [(t_s, d.channel, 1) for d in self.inputs if d.is_active]

    def start(self) -> None:
        if self.sampler is not None:
            self.sampler.start()

    def alive(self) -> bool:
        return self.sampler is None or self.sampler.is_alive()

    def close(self) -> None:
        for device in [*self.inputs, *self.adcs]:
            try:
                device.close()
            except Exception:  # closing must never hide the reason we stopped
                log.debug("closing %r failed", device, exc_info=True)


def open_sensors(config: RigConfig, sink: Sink, clock, stop: threading.Event, pin_factory=None,
                 scan_sink=None) -> Sensors:
    """Create the devices; pin callbacks hand ``(t, channel, value)`` to ``sink``, the ADC
    sampler each scan ``(t, ((channel, newtons), ...))`` to ``scan_sink`` (else each sample to ``sink``).

    ``clock.from_ticks`` turns the pin factory's tick into the trace's time.
    """
    sensors = Sensors()
    from_ticks = clock.from_ticks

    def edge(ticks: float, channel: str, value: int) -> None:
        t = from_ticks(ticks)
        sampler = sensors.sampler
        if sampler is not None:
            sampler.note_edge(t, channel, value)
        sink(t, channel, value)

    analog: list[tuple[str, MCP3008 | HX711, float, float]] = []
    hx711_hz = None
    try:
        for channel, wire in config.wiring.items():
            if isinstance(wire, DigitalWiring):
                try:
                    sensors.inputs.append(EdgeInput(channel, edge, wire.pin, pull_up=wire.pull_up,
                                                    active_state=wire.active_state, pin_factory=pin_factory))
                except (GPIOZeroError, OSError, RuntimeError) as exc:
                    raise SensorError(f"{channel}: cannot open BCM pin {wire.pin}: {exc}") from exc
            elif isinstance(wire, AnalogWiring) and wire.hx711 is not None:
                hx = wire.hx711
                try:
                    device = HX711(hx.dout, hx.sck, hx.rate_hz, pin_factory=pin_factory, stop=stop)
                except (GPIOZeroError, OSError, RuntimeError) as exc:
                    raise SensorError(f"{channel}: cannot open the HX711 on BCM pins {hx.dout} (DOUT) and "
                                      f"{hx.sck} (PD_SCK): {exc}") from exc
                sensors.adcs.append(device)
                analog.append((channel, device, wire.zero_offset, wire.scale_n))
                hx711_hz = hx.rate_hz      # one rate for every HX711 of a rig (checked with the configuration)
            elif isinstance(wire, AnalogWiring):
                adc_cfg = config.adc
                try:
                    device = MCP3008(channel=wire.adc_channel, port=adc_cfg.spi_port,
                                     device=adc_cfg.spi_device, pin_factory=pin_factory)
                except (GPIOZeroError, OSError, RuntimeError) as exc:
                    raise SensorError(f"{channel}: cannot open MCP3008 channel {wire.adc_channel} "
                                      f"on SPI{adc_cfg.spi_port}.{adc_cfg.spi_device}: {exc}") from exc
                sensors.adcs.append(device)
                analog.append((channel, device, wire.zero_offset, wire.scale_n))
    except Exception:
        sensors.close()
        raise
    if analog:
        if scan_sink is None:
            def scan_sink(t: float, readings, wake: bool = False) -> None:
                for channel, value in readings:
                    sink(t, channel, value)
        adc = config.adc
        # force treads are the steps' own sensors: they are read at the full rate, always
        idle_hz = adc.idle_sample_hz if (adc.idle_sample_hz < (hx711_hz or adc.sample_hz)
                                         and config.layout.tread_sensor != "force") else None
        # HX711s convert at their own rate: the scans follow it (any MCP3008 channel with them too)
        sample_hz = hx711_hz or adc.sample_hz
        sensors.sampler = AnalogSampler(analog, sample_hz, scan_sink, clock, stop,
                                        idle_hz=idle_hz, idle_after_s=adc.idle_after_s,
                                        active_n=config.detection.rail_contact_on_n)
    return sensors
