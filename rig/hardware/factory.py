"""Choose gpiozero's pin factory: the hardware seam.

``GPIOZERO_PIN_FACTORY`` (gpiozero's own variable, e.g. ``mock``) wins over the
configuration's ``[service] pin_factory``; with neither, gpiozero's default
order (lgpio first, which works on every Pi from the 3 to the 5).

``mock`` gives stairrig's own mock Pi (``rig.hardware.mockpi.RigMockFactory``):
gpiozero's MockFactory with pins that keep only their last states and the
MCP3008 on hardware SPI, so that a service left running on mock pins keeps
its memory and its CPU.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points

from gpiozero import Device

HINTS = {
    "lgpio": "on Raspberry Pi OS: sudo apt install python3-lgpio (and a venv made with "
             "--system-site-packages); elsewhere: pip install 'stairrig[lgpio]'",
    "rpigpio": "pip install 'stairrig[rpigpio]' (RPi.GPIO does not work on a Raspberry Pi 5)",
}


class PinFactoryError(RuntimeError):
    pass


def load_pin_factory(configured: str | None):
    """The pin factory to use, made the process's default (gpiozero's SPI needs that)."""
    name = os.environ.get("GPIOZERO_PIN_FACTORY") or configured
    if name is None:
        try:
            Device.ensure_pin_factory()
        except Exception as exc:
            raise PinFactoryError(f"no GPIO library could be loaded ({exc}); {HINTS['lgpio']}") from exc
        return Device.pin_factory
    if name == "mock":
        from rig.hardware.mockpi import RigMockFactory
        factory = RigMockFactory()
        Device.pin_factory = factory
        return factory
    found = [ep for ep in entry_points(group="gpiozero_pin_factories") if ep.name == name]
    if not found:
        known = sorted(ep.name for ep in entry_points(group="gpiozero_pin_factories"))
        raise PinFactoryError(f"unknown pin factory {name!r}; gpiozero knows {', '.join(known)}")
    try:
        factory = found[0].load()()
    except Exception as exc:
        hint = HINTS.get(name, "")
        raise PinFactoryError(f"the {name} pin factory cannot start: {exc}" + (f"; {hint}" if hint else "")) from exc
    Device.pin_factory = factory
    return factory
