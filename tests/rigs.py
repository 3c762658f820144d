"""Configurations for tests: wire any layout to free pins and ADC channels."""

from __future__ import annotations

from rig.config import RigConfig, parse_config
from rig.layout import RigLayout

FREE_PINS = [4, 5, 6, 12, 13, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 14, 15]   # not 2, 3 (I2C: refused)


def config_for(layout: RigLayout, data_dir: str, *, weight_kg: float = 70.0, scale_n: float = 200.0,
               detection: dict | None = None, **tables: dict) -> RigConfig:
    """A valid configuration for ``layout``; ``tables`` adds or replaces tables (``mqtt={...}``).
    The panel is off unless ``web=`` turns it on (tests must not bind port 8080)."""
    pins = iter(FREE_PINS)
    adc = iter(range(8))
    wiring = {}
    for channel in layout.channels():
        if channel.endswith(".force"):
            wiring[channel] = {"adc_channel": next(adc), "zero_offset": 0.02, "scale_n": scale_n}
        elif channel.startswith("rail."):
            wiring[channel] = {"pin": next(pins), "active_state": True}
        else:
            wiring[channel] = {"pin": next(pins), "pull_up": True}
    rig = {"kind": layout.kind, "treads": layout.treads, "riser_m": layout.riser_m,
           "tread_sensor": layout.tread_sensor, "tread_zones": ["front", "back"] if layout.split else []}
    data = {"rig": rig, "wiring": wiring, "athlete": {"name": "Test", "weight_kg": weight_kg},
            "service": {"data_dir": data_dir}, "detection": detection or {}, "web": {"enabled": False}}
    data.update(tables)
    return parse_config(data, path="test.toml")
