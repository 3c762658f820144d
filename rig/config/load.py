"""Reading a whole configuration: :func:`load_config` reads the file,
:func:`parse_config` checks every table in turn and assembles the
:class:`RigConfig`, :func:`check_config_main` is ``stairrig check-config``."""

from __future__ import annotations

import math
import os
import re
import sys
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import TextIO

from rig.config.host import check_web_host
from rig.config.models import (
    DEFAULT_DATA_DIR,
    DEFAULT_RIG_ID,
    PIN_FACTORIES,
    AdcConfig,
    AnalogWiring,
    AthleteConfig,
    ConfigError,
    DrillConfig,
    HistoryConfig,
    RigConfig,
)
from rig.config.outputs import (
    _BUZZER_KEYS,
    _MQTT_KEYS,
    _WEB_KEYS,
    _read_buzzer,
    _read_mqtt,
    _read_web,
)
from rig.config.table import _brief, _check_text, _is_number, _kind, _shown, _Table
from rig.config.table import _quoted as _quoted_text
from rig.limits import (
    ADDED_LOAD_KG,
    DETECTION_MAX,
    IDLE_AFTER_S,
    IDLE_END_S,
    IDLE_SAMPLE_HZ_MIN,
    MAX_CONFIG_BYTES,
    MAX_PATH_CHARS,
    MAX_TOML_DIGITS,
    PLANNED_FLIGHTS,
    SAMPLE_HZ,
    TRACE_BUDGET_MB,
    WEIGHT_KG,
)
from rig.config.wiring import (
    _RIG_KEYS,
    _check_channel_names,
    _check_resources,
    _read_layout,
    _read_wiring_entry,
)
from rig.settings import DEFAULT_WEIGHT_KG, DetectionSettings
from rig.trace.header import FACINGS, GRIPS

_TABLES = ("rig", "athlete", "drill", "service", "adc", "detection", "history", "mqtt", "web", "buzzer", "wiring")
_RIG_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _read_detection(table: _Table) -> DetectionSettings:
    defaults = DetectionSettings()
    values = {f.name: table.number(f.name, getattr(defaults, f.name), low=0.0, low_open=True,
                                   high=DETECTION_MAX[f.name])
              for f in fields(DetectionSettings)}
    for off, on in (("rail_contact_off_n", "rail_contact_on_n"), ("firm_off_n", "firm_on_n")):
        if values[off] >= values[on]:
            table.fail(off, f"must be below detection.{on} ({values[on]:g}), not {values[off]:g}")
    if values["tread_force_off_ratio"] >= 1:
        table.fail("tread_force_off_ratio", f"must be below 1 (a fraction of the on threshold), "
                                            f"not {values['tread_force_off_ratio']:g}")
    return DetectionSettings(**values)


def _read_idle_sample_hz(table: _Table, sample_hz: float) -> float:
    """From 0.5 Hz to ``sample_hz`` (equal: no idle rate). Left out: 2 Hz, or ``sample_hz`` when
    that is lower, so that a file valid before the key existed stays valid."""
    value = table.data.get("idle_sample_hz", min(AdcConfig.idle_sample_hz, sample_hz))
    if not _is_number(value) or isinstance(value, float) and not math.isfinite(value):
        table.number("idle_sample_hz", low=IDLE_SAMPLE_HZ_MIN, high=sample_hz)  # must be a (finite) number in ...
    if not IDLE_SAMPLE_HZ_MIN <= value <= sample_hz:
        table.fail("idle_sample_hz", f"must be in [{IDLE_SAMPLE_HZ_MIN:g}, {sample_hz:g}] (at most adc.sample_hz; "
                                     f"idle_sample_hz = sample_hz turns the idle rate off), not {_shown(value)}")
    return float(value)



def parse_config(data: dict, path: str = "<config>") -> RigConfig:
    """Validate an already-parsed configuration; raises ConfigError."""
    file = str(path)
    top = _Table(file, (), data, _TABLES)
    table = {name: _Table(file, (name,), top.data.get(name, {}), keys) for name, keys in (
        ("rig", _RIG_KEYS),
        ("athlete", ("name", "weight_kg")),
        ("drill", ("facing", "grip", "planned_flights", "added_load_kg")),
        ("service", ("data_dir", "pin_factory", "record_traces")),
        ("adc", ("spi_port", "spi_device", "sample_hz", "idle_sample_hz", "idle_after_s")),
        ("detection", DetectionSettings.names()),
        ("history", ("enabled", "idle_end_s", "trace_budget_mb", "run_trace_budget_mb")),
        ("mqtt", _MQTT_KEYS),
        ("web", _WEB_KEYS),
        ("buzzer", _BUZZER_KEYS),
    )}
    rig, service, adc_table = table["rig"], table["service"], table["adc"]
    rig_id = rig.string("id", DEFAULT_RIG_ID)
    if not _RIG_ID.fullmatch(rig_id):
        rig.fail("id", f"must be 1 to 64 letters, digits, '_' or '-', not {_brief(rig_id)}")
    athlete_name = table["athlete"].string("name", AthleteConfig.name).strip()
    if not athlete_name or len(athlete_name) > 100:
        table["athlete"].fail("name", "must be 1 to 100 characters")
    athlete = AthleteConfig(name=athlete_name,
                            weight_kg=table["athlete"].number("weight_kg", DEFAULT_WEIGHT_KG,
                                                              low=WEIGHT_KG[0], high=WEIGHT_KG[1]))
    drill_table = table["drill"]
    planned = drill_table.data.get("planned_flights")
    drill = DrillConfig(facing=drill_table.string("facing", DrillConfig.facing, FACINGS),
                        grip=drill_table.string("grip", DrillConfig.grip, GRIPS),
                        planned_flights=None if planned is None else drill_table.integer(
                            "planned_flights", 0, valid=range(PLANNED_FLIGHTS[0], PLANNED_FLIGHTS[1] + 1)),
                        added_load_kg=drill_table.number("added_load_kg", 0.0, low=ADDED_LOAD_KG[0],
                                                         high=ADDED_LOAD_KG[1]))

    data_dir = service.string("data_dir", DEFAULT_DATA_DIR)
    if not data_dir.strip():
        service.fail("data_dir", "must not be empty")
    _check_text(service, "data_dir", data_dir, MAX_PATH_CHARS)
    data_dir = os.path.join(os.path.dirname(os.path.abspath(file)), os.path.expanduser(data_dir))
    pin_factory = service.string("pin_factory", None, PIN_FACTORIES)
    record_traces = service.boolean("record_traces", True)

    spi_port = adc_table.integer("spi_port", 0)
    if spi_port != 0:
        adc_table.fail("spi_port", f"must be 0 (gpiozero drives the MCP3008 on SPI0 only), not {_shown(spi_port)}")
    spi_device = adc_table.integer("spi_device", 0, valid=range(0, 2))
    sample_hz = adc_table.number("sample_hz", AdcConfig.sample_hz, low=SAMPLE_HZ[0], high=SAMPLE_HZ[1])
    adc = AdcConfig(spi_port=spi_port, spi_device=spi_device, sample_hz=sample_hz,
                    idle_sample_hz=_read_idle_sample_hz(adc_table, sample_hz),
                    idle_after_s=adc_table.number("idle_after_s", AdcConfig.idle_after_s,
                                                  low=IDLE_AFTER_S[0], high=IDLE_AFTER_S[1]))
    detection = _read_detection(table["detection"])
    hist = table["history"]
    history = HistoryConfig(
        enabled=hist.boolean("enabled", True),
        idle_end_s=hist.number("idle_end_s", HistoryConfig.idle_end_s, low=IDLE_END_S[0], high=IDLE_END_S[1]),
        trace_budget_mb=hist.number("trace_budget_mb", HistoryConfig.trace_budget_mb,
                                    low=TRACE_BUDGET_MB[0], high=TRACE_BUDGET_MB[1]),
        run_trace_budget_mb=hist.number("run_trace_budget_mb", HistoryConfig.run_trace_budget_mb,
                                        low=TRACE_BUDGET_MB[0], high=TRACE_BUDGET_MB[1]))

    wiring_data = top.data.get("wiring", {})
    if not isinstance(wiring_data, dict):
        top.fail("wiring", f"must be a table, not {_kind(wiring_data)}")
    layout = _read_layout(rig, wiring_data)
    _check_channel_names(file, layout, wiring_data)
    wiring = {channel: _read_wiring_entry(file, channel, wiring_data[channel]) for channel in layout.channels()}
    if not any(isinstance(w, AnalogWiring) for w in wiring.values()):
        adc = None
    buzzer = _read_buzzer(table["buzzer"], "buzzer" in top.data)
    _check_resources(file, wiring, adc, buzzer)
    return RigConfig(path=file, rig_id=rig_id, layout=layout, wiring=wiring, adc=adc, athlete=athlete,
                     drill=drill, detection=detection, data_dir=os.path.normpath(data_dir),
                     pin_factory=pin_factory, record_traces=record_traces, history=history,
                     mqtt=_read_mqtt(table["mqtt"]), web=_read_web(table["web"]), buzzer=buzzer)


def load_config(path: str | os.PathLike) -> RigConfig:
    """Read and validate a configuration file; raises ConfigError."""
    file = os.fspath(path)
    if not file.strip():
        raise ConfigError("no configuration file given (an empty path)")
    try:
        with open(file, "rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)   # /dev/zero or a log file by mistake: a bounded read
    except FileNotFoundError:
        raise ConfigError(f"{file}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: a folder, not a configuration file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the configuration file: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{file}: larger than {MAX_CONFIG_BYTES // (1 << 20)} MB: not a configuration file "
                          f"(the example, with every key, is under 10 KB)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{file}: line {line}: not a text file (TOML must be UTF-8)") from None
    return parse_config(parse_toml(text, file), file)


def parse_toml(text: str, file: str) -> dict:
    """TOML text to a dict; raises ConfigError naming the file and line for anything tomllib cannot
    read, including values nested too deeply for its recursion and numbers of thousands of digits."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    except RecursionError:
        line, depth = _deepest_line(text)
        raise ConfigError(f"{file}: line {line}: values nested {depth} deep; a configuration nests lists and "
                          f"inline tables at most 2 deep") from None
    except ValueError as exc:   # Python's limit on digits in a whole number (tomllib's int() of the text)
        found = re.search(r"[0-9][0-9_]{%d,}" % (MAX_TOML_DIGITS - 1), text)
        if not found:
            raise ConfigError(f"{file}: invalid TOML: {exc}") from None
        line = text.count("\n", 0, found.start()) + 1
        before = text[text.rfind("\n", 0, found.start()) + 1:found.start()]
        key = before.split("=", 1)[0].strip() if "=" in before else ""
        shown = f"{_quoted_key(key)} = " if key else ""
        raise ConfigError(f"{file}: line {line}: {shown}a whole number of more than {MAX_TOML_DIGITS} digits; "
                          f"every number of a configuration is far smaller (see docs/configuration.md)") from None


def _quoted_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_.\"-]{1,60}", key) else _quoted_text(key)


def _deepest_line(text: str) -> tuple[int, int]:
    """The line where ``[`` and ``{`` nest deepest (outside strings and comments), and that depth."""
    depth = best = 0
    line = best_line = 1
    quote = ""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            if quote in ('"', "'"):
                quote = ""   # a one-line string cannot go on; tomllib said so, or never got here
        elif quote:
            if c == "\\" and quote in ('"', '"""'):
                i += 1
            elif text.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote) - 1
        elif c == "#":
            end = text.find("\n", i)
            i = (end if end != -1 else n) - 1
        elif c in "[{":
            depth += 1
            if depth > best:
                best, best_line = depth, line
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return best_line, best


def example_config_path() -> str:
    """The packaged, commented example configuration (``rig/rig.example.toml``, package data of ``rig``)."""
    return str(Path(__file__).resolve().parent.parent / "rig.example.toml")


def describe_rig(config: RigConfig) -> str:
    """One line for people: ``flight of 5 split treads, rails left (touch, force); 12 channels wired``."""
    layout = config.layout
    if layout.kind == "stepper":
        rig = "stepper with 2 pedals"
    else:
        sort = "split " if layout.split else "force " if layout.tread_sensor == "force" else ""
        rig = f"flight of {layout.treads} {sort}tread{'s' if layout.treads != 1 else ''}"
    rails = ", ".join(f"{side} ({', '.join(sensors)})" for side, sensors in layout.rails.items())
    return f"{rig}, {'rails ' + rails if rails else 'no rails'}; {len(config.wiring)} channels wired"


def check_config_main(path: str, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Validate a configuration file for the command line: 0 and one OK line, or 1 and the error."""
    try:
        config = load_config(path)
        check_web_host(config)
    except ConfigError as exc:
        print(exc, file=err or sys.stderr)
        return 1
    print(f"{path}: OK — {describe_rig(config)}", file=out or sys.stdout)
    return 0
