"""The rig's device id for Home Assistant: stable, from the hardware, never changing by itself.

Home Assistant keys the device and every entity on it, so it must survive
reboots, reinstalls and renamed rigs. In order of preference:

1. ``[mqtt] device_id`` in the configuration (the owner's choice wins);
2. the Raspberry Pi's serial number (``/proc/device-tree/serial-number``, or
   the ``Serial`` line of ``/proc/cpuinfo`` on older kernels), burnt into the SoC;
3. ``/etc/machine-id`` (any Linux machine; changes only on an OS reinstall);
4. the rig id of the configuration.

The result is prefixed ``stairrig_`` and holds only ``[A-Za-z0-9_-]``. The
file paths are parameters so tests can point them at their own files.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass

from rig.config import RigConfig

PREFIX = "stairrig_"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class HardwarePaths:
    serial_number: str = "/proc/device-tree/serial-number"
    cpuinfo: str = "/proc/cpuinfo"
    machine_id: str = "/etc/machine-id"
    model: str = "/proc/device-tree/model"


@dataclass(frozen=True)
class DeviceIdentity:
    """``device_id`` for ids and topics; ``source`` says where it came from; ``serial`` is
    the Pi's serial number when known (the device block's ``sn``); ``model`` the board."""
    device_id: str
    source: str
    serial: str | None
    model: str


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read(4096).decode("ascii", "replace")
    except OSError:
        return None


def _clean(value: str) -> str:
    return _UNSAFE.sub("", value.replace("\x00", "").strip())


def pi_serial(paths: HardwarePaths = HardwarePaths()) -> str | None:
    """The SoC's serial number (lower-case hex), None when not a Pi or all zeros."""
    text = _read(paths.serial_number)
    serial = _clean(text).lower() if text else ""
    if not serial:
        cpuinfo = _read(paths.cpuinfo) or ""
        found = re.search(r"^Serial\s*:\s*([0-9A-Fa-f]+)\s*$", cpuinfo, re.MULTILINE)
        serial = found.group(1).lower() if found else ""
    if not serial or not serial.strip("0"):
        return None
    return serial


def machine_id(paths: HardwarePaths = HardwarePaths()) -> str | None:
    text = _read(paths.machine_id)
    value = _clean(text).lower() if text else ""
    return value if value and value.strip("0") else None


def board_model(paths: HardwarePaths = HardwarePaths()) -> str:
    """``Raspberry Pi 4 Model B Rev 1.4`` on a Pi, else the machine type (``x86_64``)."""
    text = _read(paths.model)
    model = text.replace("\x00", "").strip() if text else ""
    return model or platform.machine() or "unknown"


def _prefixed(value: str) -> str:
    value = _clean(value)
    return value if value.startswith(PREFIX) else PREFIX + value


def device_identity(config: RigConfig, paths: HardwarePaths = HardwarePaths()) -> DeviceIdentity:
    """The device id by the order of the module docstring."""
    serial = pi_serial(paths)
    model = board_model(paths)
    if config.mqtt.device_id:
        return DeviceIdentity(_prefixed(config.mqtt.device_id), "configuration", serial, model)
    if serial:
        return DeviceIdentity(_prefixed(serial), "Raspberry Pi serial number", serial, model)
    mid = machine_id(paths)
    if mid:
        return DeviceIdentity(_prefixed(mid), "/etc/machine-id", None, model)
    return DeviceIdentity(_prefixed(config.rig_id), "rig id", None, model)
