"""The force channels' calibration saved by the rig check, over the configuration's.

On a Pi the configuration (``/etc/stairrig/rig.toml``) is read-only to the
service, so a zero and a scale measured from the panel are kept in
``<data_dir>/calibration.json`` instead, and replace the configuration's
``zero_offset`` and ``scale_n`` for those channels at every start
(``apply_calibration``)::

    {"format": "stairrig-calibration", "version": 1,
     "channels": {"rail.left.force": {"zero_offset": 0.021, "scale_n": 233.5,
                                      "updated_at": "2025-03-01T09:12:44+00:00"}}}

A file that cannot be read, or is not ours, is logged and ignored (left as it
is: the configuration's values are used); so is an entry for a channel the
rig does not have, or with a value out of range. The file is written
atomically (a power cut leaves the old or the new file, never half of one).

``tare_offset`` and ``scale_from`` are pure: raw readings (0..1) in, a number
or a :class:`CalibrationError` with a sentence for people out. An MCP3008's
reading and an HX711's (its 24-bit count as offset binary, 0.5 at 0 V) are
judged by their own resolution (``hx711=True``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import statistics
import tempfile
import threading
from dataclasses import dataclass, replace

from rig.config import AnalogWiring, RigConfig

log = logging.getLogger(__name__)

FILENAME = "calibration.json"
FORMAT = "stairrig-calibration"
VERSION = 1
ADC_STEPS = 1023
"""The MCP3008's 10 bits: gpiozero's reading is the count / 1023."""
FULL_SCALE = 1.0 - 0.5 / ADC_STEPS
"""A reading at or above this is the ADC's last count: the input is at (or beyond) Vref."""
MIN_READINGS = 10
"""Fewer readings than this are no measurement (the sampler runs at 50 Hz by default)."""
STEADY_SD = 4 / ADC_STEPS
"""Readings that spread more than this (standard deviation, about 4 ADC steps) are not steady."""
MIN_LOAD_DELTA = 20 / ADC_STEPS
"""A known load must move the reading by at least 20 ADC steps to give a scale to 1 %-ish."""
HX711_COUNTS = 1 << 24
"""An HX711's counts over the reading's 0..1 (its 24 bits)."""
HX711_STEADY_SD = 0.0005
"""About 0.8 N on a 20 kg cell at 1 mV/V: an HX711 unloaded is far steadier than this."""
HX711_MIN_LOAD_DELTA = 0.0025
"""About 4 N on a 20 kg cell at 1 mV/V, as 20 MCP3008 steps are at 200 N full scale."""
SCALE_N_RANGE = (1.0, 100_000.0)
"""Newtons per unit of reading (about the force at full scale) that a real cell and amplifier give."""

_save_lock = threading.Lock()


class CalibrationError(ValueError):
    """A calibration that cannot be made or read; the message says why, for people."""


@dataclass(frozen=True)
class ChannelCalibration:
    zero_offset: float
    """ADC reading (0..1) at no load."""
    scale_n: float
    """Newtons per unit of ADC reading."""
    updated_at: str | None = None
    """When it was measured (UTC, ISO 8601)."""

    def as_dict(self) -> dict:
        return {"zero_offset": self.zero_offset, "scale_n": self.scale_n, "updated_at": self.updated_at}


@dataclass(frozen=True)
class CalibrationFile:
    """What a calibration file holds: its usable entries, and a sentence for each entry it skipped."""
    channels: dict[str, ChannelCalibration]
    problems: tuple[str, ...] = ()


def calibration_path(data_dir: str) -> str:
    return os.path.join(data_dir, FILENAME)


# -- reading ---------------------------------------------------------------------

def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_values(zero_offset: object, scale_n: object) -> str | None:
    """Why a zero and a scale cannot be used (a sentence), or None when they can."""
    if not _is_number(zero_offset) or not 0.0 <= zero_offset < 1.0:
        return f"zero_offset must be a reading from 0 to below 1, not {zero_offset!r}"
    low, high = SCALE_N_RANGE
    if not _is_number(scale_n) or not low <= scale_n <= high:
        return f"scale_n must be {low:g} to {high:g} newtons per unit of reading, not {scale_n!r}"
    return None


MAX_CALIBRATION_CHARS = 1 << 20


def read_calibration(data_dir: str) -> CalibrationFile:
    """The file's entries (none when there is no file); CalibrationError when it cannot be used at all."""
    path = calibration_path(data_dir)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(MAX_CALIBRATION_CHARS + 1)     # never a whole file of any size in memory
    except FileNotFoundError:
        return CalibrationFile({})
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{path}: cannot read the calibration file: {exc}") from None
    if len(text) > MAX_CALIBRATION_CHARS:
        raise CalibrationError(f"{path}: not a calibration file (over {MAX_CALIBRATION_CHARS // 1024} KB; "
                               f"one holds a few lines a channel)")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise CalibrationError(f"{path}: not a calibration file (values nested too deep)") from None
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{path}: not a calibration file (invalid JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CalibrationError(f'{path}: not a stairrig calibration file (no "format": "{FORMAT}")')
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CalibrationError(f"{path}: the calibration file has no valid version (a whole number), "
                               f"but {version!r}")
    if version > VERSION:
        raise CalibrationError(f"{path}: written by a newer stairrig (calibration version {version}; "
                               f"this one reads version {VERSION})")
    entries = doc.get("channels")
    if not isinstance(entries, dict):
        raise CalibrationError(f'{path}: the calibration file has no "channels" object')
    channels: dict[str, ChannelCalibration] = {}
    problems: list[str] = []
    for channel, entry in entries.items():
        if not isinstance(entry, dict):
            problems.append(f"{path}: {channel}: must be an object with zero_offset and scale_n; ignored")
            continue
        why = check_values(entry.get("zero_offset"), entry.get("scale_n"))
        if why is not None:
            problems.append(f"{path}: {channel}: {why}; ignored")
            continue
        updated = entry.get("updated_at")
        channels[channel] = ChannelCalibration(float(entry["zero_offset"]), float(entry["scale_n"]),
                                               updated if isinstance(updated, str) else None)
    return CalibrationFile(channels, tuple(problems))


def load_calibration(data_dir: str) -> dict[str, ChannelCalibration]:
    """The usable entries of ``<data_dir>/calibration.json`` ({} without a file). The entries it
    skips are logged; a file that cannot be used at all raises CalibrationError."""
    found = read_calibration(data_dir)
    for problem in found.problems:
        log.warning("%s", problem)
    return found.channels


def usable_entries(config: RigConfig, found: CalibrationFile) -> tuple[dict[str, ChannelCalibration], list[str]]:
    """The entries for this rig's force channels, and a sentence for each one that is not."""
    path = calibration_path(config.data_dir)
    usable: dict[str, ChannelCalibration] = {}
    problems = list(found.problems)
    for channel, entry in found.channels.items():
        if isinstance(config.wiring.get(channel), AnalogWiring):
            usable[channel] = entry
        else:
            forces = ", ".join(c for c, w in config.wiring.items() if isinstance(w, AnalogWiring)) or "none"
            problems.append(f"{path}: {channel} is not a force channel of this rig (its force channels: "
                            f"{forces}); ignored")
    return usable, problems


def apply_calibration(config: RigConfig) -> RigConfig:
    """The configuration with the saved calibration's zero and scale for its force channels.

    Never fails: whatever is wrong with the file is logged, and the configuration's values are used."""
    try:
        found = read_calibration(config.data_dir)
    except CalibrationError as exc:
        log.error("%s; it is ignored and the configuration's zero_offset and scale_n are used", exc)
        return config
    usable, problems = usable_entries(config, found)
    for problem in problems:
        log.warning("%s", problem)
    if not usable:
        return config
    wiring = dict(config.wiring)
    for channel, entry in usable.items():
        wiring[channel] = replace(wiring[channel], zero_offset=entry.zero_offset, scale_n=entry.scale_n)
        log.info("%s: zero_offset %.5g and scale_n %.5g from %s (measured %s)", channel, entry.zero_offset,
                 entry.scale_n, calibration_path(config.data_dir), entry.updated_at or "at an unknown time")
    return replace(config, wiring=wiring)


# -- writing ---------------------------------------------------------------------

def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _raw_entries(path: str) -> dict:
    """The file's channel objects as written (the others are kept as they are), {} without a file.
    A file that cannot be used is moved aside (never overwritten): a new one starts empty."""
    try:
        read_calibration(os.path.dirname(path))
    except CalibrationError as exc:
        aside = f"{path}.unreadable-{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"
        os.replace(path, aside)
        log.warning("%s; kept as %s, and a new calibration file is started", exc, aside)
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            return dict(json.load(fh)["channels"])
    except FileNotFoundError:
        return {}


def _write_atomically(path: str, doc: dict) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".calibration.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)   # no secret in it; a coach may read it
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)   # the rename itself survives a power cut
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def save_channel(data_dir: str, channel: str, zero_offset: float, scale_n: float) -> ChannelCalibration:
    """Keep one channel's zero and scale in ``<data_dir>/calibration.json`` (the other channels stay
    as they are). Raises CalibrationError for values out of range, OSError when it cannot write."""
    why = check_values(zero_offset, scale_n)
    if why is not None:
        raise CalibrationError(f"{channel}: {why}")
    entry = ChannelCalibration(float(zero_offset), float(scale_n), _now_iso())
    path = calibration_path(data_dir)
    with _save_lock:
        os.makedirs(data_dir, exist_ok=True)
        entries = _raw_entries(path)
        entries[channel] = entry.as_dict()
        _write_atomically(path, {"format": FORMAT, "version": VERSION, "channels": entries})
    log.info("%s: calibration saved in %s: zero_offset %.5g, scale_n %.5g", channel, path, zero_offset, scale_n)
    return entry


# -- measuring (pure) ------------------------------------------------------------

def _readings(raw_readings, what: str) -> list[float]:
    values = list(raw_readings)
    if not all(_is_number(v) for v in values):
        raise CalibrationError(f"the {what} readings must be numbers")
    if len(values) < MIN_READINGS:
        raise CalibrationError(f"only {len(values)} {what} readings (at least {MIN_READINGS} are needed): "
                               f"is the ADC being read? Wait a second and try again")
    return values


def _steps(reading: float, hx711: bool = False) -> str:
    if hx711:
        return f"{round(reading * HX711_COUNTS)} counts of the HX711"
    steps = round(reading * ADC_STEPS)
    return f"{steps} step{'s' if steps != 1 else ''} of the ADC"


def _hx711_full_scale(values: list[float]) -> bool:
    """At either end of the HX711's range: its input is beyond what it converts (a wire off)."""
    return max(values) >= 1.0 - 1.5 / HX711_COUNTS or min(values) <= 0.5 / HX711_COUNTS


def tare_offset(raw_readings, *, hx711: bool = False) -> float:
    """The zero: the mean of a steady second of unloaded readings. Refuses readings that vary too
    much (someone touching it, a swinging rail), or that sit at 0 V or at full scale (a wiring fault)."""
    values = _readings(raw_readings, "unloaded")
    steady_sd = HX711_STEADY_SD if hx711 else STEADY_SD
    if hx711 and _hx711_full_scale(values):
        raise CalibrationError("the HX711 reads its full scale with no load: a signal wire (A+ or A-) is off "
                               "or the cell is broken; check the wiring, then tare again")
    if not hx711 and max(values) >= FULL_SCALE:
        raise CalibrationError("the reading is at the ADC's full scale (1.0) with no load: the amplifier's "
                               "output is stuck high or a wire is off; check the wiring, then tare again")
    if not hx711 and max(values) < 0.5 / ADC_STEPS:
        raise CalibrationError("every reading is 0 V: the amplifier is unpowered or not connected, or its "
                               "output is clipped at 0 V (raise REF); check the wiring, then tare again")
    sd = statistics.pstdev(values)
    if sd > steady_sd:
        raise CalibrationError(f"the readings vary too much (± {sd:.4f}, about {_steps(sd, hx711)}; at most "
                               f"{_steps(steady_sd, hx711)} when unloaded): someone is touching it or it is still "
                               f"swinging. Hands off, wait, and tare again")
    return round(statistics.fmean(values), 6)


def scale_from(raw_loaded_readings, zero_offset: float, known_n: float, *, hx711: bool = False) -> float:
    """Newtons per unit of reading, from a steady second of readings under a known load (newtons).
    Refuses a load too small to tell from zero, a reading at the ADC's full scale, and a reading
    that went down (the amplifier's inputs swapped)."""
    if not _is_number(zero_offset) or not 0.0 <= zero_offset < 1.0:
        raise CalibrationError(f"the zero must be a reading from 0 to below 1, not {zero_offset!r}")
    if not _is_number(known_n) or known_n <= 0:
        raise CalibrationError(f"the known load must be a positive force, not {known_n!r}")
    values = _readings(raw_loaded_readings, "loaded")
    min_delta = HX711_MIN_LOAD_DELTA if hx711 else MIN_LOAD_DELTA
    steady_sd = HX711_STEADY_SD if hx711 else STEADY_SD
    if hx711 and _hx711_full_scale(values):
        raise CalibrationError("the HX711 reads its full scale: the load is beyond what it converts (or a "
                               "signal wire is off); use a lighter mass")
    if not hx711 and max(values) >= FULL_SCALE:
        raise CalibrationError("the reading is at the ADC's full scale (1.0): the load is beyond what the "
                               "amplifier passes (or a wire is off); use a lighter mass")
    mean = statistics.fmean(values)
    delta = mean - zero_offset
    if delta <= -min_delta:
        raise CalibrationError(f"the reading went down under the load (from {zero_offset:.4f} to {mean:.4f}): "
                               f"S+ and S- are swapped at the amplifier; swap them, tare again, and repeat")
    if delta < min_delta:
        raise CalibrationError(f"the load moved the reading by only {max(delta, 0.0):.4f} "
                               f"({_steps(max(delta, 0.0), hx711)}), too little to tell from zero: hang a heavier "
                               f"mass (it must move the reading by at least {_steps(min_delta, hx711)}), or tare "
                               f"first if the zero is old")
    sd = statistics.pstdev(values)
    if sd > max(steady_sd, 0.02 * delta):
        raise CalibrationError(f"the readings vary too much under the load (± {sd:.4f}): the mass is still "
                               f"swinging or someone is touching it. Let it settle and try again")
    scale_n = known_n / delta
    low, high = SCALE_N_RANGE
    if not low <= scale_n <= high:
        raise CalibrationError(f"that gives {scale_n:.4g} newtons per unit of reading, outside {low:g} to "
                               f"{high:g}: check the mass and the amplifier's gain")
    return round(scale_n, 4)
