"""The rig's configuration file: one TOML file, validated once at start.

``load_config("rig.toml")`` reads and checks the whole file and returns a
:class:`RigConfig`; anything wrong raises :class:`ConfigError` with one
message that names the file and the key, for example::

    rig.toml: wiring."tread.3.front".pin: pin 8 is used by the MCP3008's SPI bus (CE0); choose another pin

``check_config_main`` is the ``check-config`` style check for the
command line. ``rig/rig.example.toml`` documents every key. Nothing here
reads a file at import time.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable, TextIO

from rig.layout import RAIL_SENSORS, RAIL_SIDES, RIG_KINDS, SPLIT_ZONES, TREAD_SENSORS, LayoutError, RigLayout
from rig.settings import DEFAULT_WEIGHT_KG, DetectionSettings
from rig.trace.header import FACINGS, GRIPS

PIN_FACTORIES = ("lgpio", "rpigpio", "native", "mock")
DEFAULT_DATA_DIR = "/var/lib/stairrig"
DEFAULT_RIG_ID = "stairrig"
BCM_PINS = range(0, 28)
ID_EEPROM_PINS = {0: "ID_SD", 1: "ID_SC"}
SPI0_BUS_PINS = {9: "MISO", 10: "MOSI", 11: "SCLK"}
SPI0_CHIP_SELECT_PINS = {0: 8, 1: 7}  # spi_device -> BCM pin of CE0 / CE1
ADC_CHANNELS = range(0, 8)

_TABLES = ("rig", "athlete", "drill", "service", "adc", "detection", "history", "mqtt", "web", "buzzer", "wiring")
_MQTT_KEYS = ("enabled", "host", "port", "tls", "ca_file", "username", "password_file", "password_env",
              "client_id", "base_topic", "discovery_prefix", "discovery", "device_id", "state_max_hz",
              "queue_limit", "stuck_after_s")
_WEB_KEYS = ("enabled", "host", "port", "pin", "units", "threads", "allowed_hosts")
_BUZZER_KEYS = ("pin", "kind", "active_high", "cues")
BUZZER_CUES = ("grab", "stall", "too_fast", "firm_grip", "flight", "fall")
_TOPIC = re.compile(r"[A-Za-z0-9_/-]{1,200}")
_MQTT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_RIG_KEYS = ("id", "kind", "treads", "riser_m", "tread_sensor", "tread_zones")
_DIGITAL_KEYS = ("pin", "pull_up", "active_state")
_ANALOG_KEYS = ("adc_channel", "zero_offset", "scale_n")
_RIG_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_REQUIRED = object()


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class DigitalWiring:
    """A switch or touch input on one GPIO pin (a gpiozero ``DigitalInputDevice``).

    pull_up: True for the internal pull-up with the switch closing to ground
    (active low); False for the pull-down (active high); None for a sensor
    that drives the pin itself (a TTP223 touch pad), then ``active_state``
    says which level means "on".
    """

    channel: str
    pin: int
    pull_up: bool | None
    active_state: bool | None


@dataclass(frozen=True)
class AnalogWiring:
    """A force sensor on one MCP3008 channel, with its calibration."""

    channel: str
    adc_channel: int
    zero_offset: float
    """ADC reading (0..1, gpiozero's ``MCP3008.value``) at no load."""
    scale_n: float
    """Newtons per unit of ADC reading."""

    def to_newtons(self, value: float) -> float:
        return (value - self.zero_offset) * self.scale_n


@dataclass(frozen=True)
class AdcConfig:
    spi_port: int = 0
    spi_device: int = 0
    """Chip select: 0 -> CE0 (BCM 8), 1 -> CE1 (BCM 7)."""
    sample_hz: float = 50.0


@dataclass(frozen=True)
class AthleteConfig:
    name: str = "Athlete"
    weight_kg: float = DEFAULT_WEIGHT_KG


@dataclass(frozen=True)
class DrillConfig:
    facing: str = "backward"
    grip: str = "light"
    planned_flights: int | None = None
    added_load_kg: float = 0.0


@dataclass(frozen=True)
class HistoryConfig:
    enabled: bool = True
    """Keep sessions in <data_dir>/history.sqlite3."""
    idle_end_s: float = 120.0
    """A session ends after this long with nobody on the stairs."""
    trace_budget_mb: float = 1000.0
    """Session traces are pruned, oldest first, past this size (summaries stay)."""
    run_trace_budget_mb: float = 500.0
    """Whole-run traces (<data_dir>/traces) are pruned past this size."""


@dataclass(frozen=True)
class MqttConfig:
    """The MQTT client (Home Assistant). ``host`` None: no broker configured, no client."""
    enabled: bool = True
    host: str | None = None
    port: int | None = None
    """None: 1883, or 8883 with TLS."""
    tls: bool = False
    ca_file: str | None = None
    """The CA certificate that signed the broker's; None: the system's CAs."""
    username: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    """The name of an environment variable holding the password (never the password itself)."""
    client_id: str | None = None
    """None: ``stairrig-<device id>_<rig id>`` (unique per Pi and rig)."""
    base_topic: str | None = None
    """None: ``stairrig/<rig id>``."""
    discovery_prefix: str = "homeassistant"
    discovery: str = "device"
    """"device" (one config for the whole device, HA 2024.11+), "entity" (one per entity) or "none"."""
    device_id: str | None = None
    """None: from the Pi's serial number, else the machine id, else the rig id."""
    state_max_hz: float = 4.0
    """``<base>/state`` is published on change, at most this often."""
    queue_limit: int = 1000
    """Events kept while the broker is away; beyond it the oldest are dropped and counted."""
    stuck_after_s: float = 300.0
    """A sensor channel on without a break this long is reported as stuck."""
    password: str | None = None
    """Given in an ``mqtt://user:pass@host`` URL (``--mqtt``, ``STAIRRIG_MQTT_URL``); never in the file."""

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else (8883 if self.tls else 1883)


@dataclass(frozen=True)
class WebConfig:
    """The wall-tablet panel, served by waitress inside the service."""
    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = 8080
    pin: str | None = None
    """Settings, calibration and deleting history ask for it; None: those pages are locked."""
    units: str = "metric"
    """"metric" or "imperial" (elevation in feet)."""
    threads: int = 16
    """waitress worker threads: each open tablet holds one for its event stream."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names the panel answers to besides IP addresses, localhost and this machine's
    name (bare and .local): a guard against DNS rebinding."""


@dataclass(frozen=True)
class BuzzerConfig:
    """A buzzer on a GPIO pin for rigs without a tablet (gpiozero ``Buzzer`` or ``TonalBuzzer``)."""
    pin: int
    kind: str = "buzzer"
    """"buzzer" (active, on/off) or "tonal" (passive piezo driven with tones)."""
    active_high: bool = True
    cues: tuple[str, ...] = BUZZER_CUES
    """The cues it sounds (``BUZZER_CUES``); default all."""


@dataclass(frozen=True)
class RigConfig:
    path: str | None
    rig_id: str
    layout: RigLayout
    wiring: dict[str, DigitalWiring | AnalogWiring]
    adc: AdcConfig | None
    athlete: AthleteConfig
    drill: DrillConfig
    detection: DetectionSettings
    data_dir: str
    pin_factory: str | None
    record_traces: bool
    history: HistoryConfig = HistoryConfig()
    mqtt: MqttConfig = MqttConfig()
    web: WebConfig = WebConfig()
    buzzer: BuzzerConfig | None = None


# -- reading tables ----------------------------------------------------------

def _key(*parts: str) -> str:
    """A dotted TOML key, quoting the parts that need it: ``wiring."tread.1".pin``."""
    return ".".join(p if _BARE_KEY.fullmatch(p) else f'"{p}"' for p in parts if p)


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "a whole number", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Table:
    """One TOML table being read: knows its file and key, rejects unknown keys."""

    def __init__(self, file: str, key: tuple[str, ...], data: object, allowed: Iterable[str]):
        self.file, self.key = file, key
        if not isinstance(data, dict):
            self.fail(None, f"must be a table, not {_kind(data)}")
        self.data: dict[str, Any] = data
        allowed = tuple(allowed)
        for name in data:
            if name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                self.fail(name, f"unknown key (expected one of: {', '.join(allowed)}){suggestion}")

    def fail(self, name: str | None, message: str) -> Any:
        where = _key(*self.key, *([name] if name else []))
        raise ConfigError(f"{self.file}: {where}: {message}" if where else f"{self.file}: {message}")

    def raw(self, name: str, default: Any = _REQUIRED) -> Any:
        """The value as written, or the default; a missing required key is an error."""
        if name in self.data:
            return self.data[name]
        if default is _REQUIRED:
            self.fail(name, "is required")
        return default

    def string(self, name: str, default: Any = _REQUIRED, choices: tuple[str, ...] | None = None) -> Any:
        if name not in self.data:
            return self.raw(name, default)
        value = self.data[name]
        if not isinstance(value, str):
            self.fail(name, f"must be a string, not {_kind(value)}")
        if choices is not None and value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def boolean(self, name: str, default: Any = _REQUIRED) -> Any:
        value = self.raw(name, default)
        if name in self.data and not isinstance(value, bool):
            self.fail(name, f"must be true or false, not {_kind(value)}")
        return value

    def integer(self, name: str, default: Any = _REQUIRED, valid: range | None = None) -> Any:
        if name not in self.data:
            return self.raw(name, default)
        value = self.data[name]
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"must be a whole number, not {_kind(value)}")
        if valid is not None and value not in valid:
            self.fail(name, f"must be from {valid.start} to {valid.stop - 1}, not {value}")
        return value

    def number(self, name: str, default: Any = _REQUIRED, *, low: float | None = None,
               high: float | None = None, low_open: bool = False, high_open: bool = False) -> float:
        """A finite number (a whole number is fine) in [low, high]; an open end excludes its bound."""
        if name not in self.data:
            return self.raw(name, default)
        value = self.data[name]
        if not _is_number(value):
            self.fail(name, f"must be a number, not {_kind(value)}")
        if not math.isfinite(value):
            self.fail(name, f"must be a finite number, not {value}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            lo = "-inf" if low is None else f"{low:g}"
            hi = "inf" if high is None else f"{high:g}"
            interval = f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
            self.fail(name, f"must be in {interval}, not {value:g}")
        return float(value)


# -- the sections ------------------------------------------------------------

def _read_layout(rig: _Table, wiring: dict[str, Any]) -> RigLayout:
    kind = rig.string("kind", "flight", RIG_KINDS)
    treads = rig.integer("treads")
    if treads < 1:
        rig.fail("treads", f"must be at least 1, not {treads}")
    if kind == "stepper" and treads != 2:
        rig.fail("treads", f"a stepper has two pedals: treads must be 2, not {treads}")
    riser_m = rig.number("riser_m", low=0.0, high=0.5, low_open=True)
    tread_sensor = rig.string("tread_sensor", "switch", TREAD_SENSORS)
    zones = rig.raw("tread_zones", [])
    if zones not in ([], list(SPLIT_ZONES)):
        rig.fail("tread_zones", f'must be [] or ["front", "back"], not {zones!r}')
    rails = {side: tuple(s for s in RAIL_SENSORS if f"rail.{side}.{s}" in wiring) for side in RAIL_SIDES}
    try:
        return RigLayout(kind=kind, treads=treads, riser_m=riser_m, tread_sensor=tread_sensor,
                         split=bool(zones), rails={side: s for side, s in rails.items() if s})
    except LayoutError as exc:
        raise ConfigError(f"{rig.file}: {exc}") from None


def _describe_channels(layout: RigLayout) -> str:
    if layout.tread_sensor == "force":
        treads = "tread.<i>.force"
    elif layout.split:
        treads = "tread.<i>.front and tread.<i>.back"
    else:
        treads = "tread.<i>"
    return f"this rig's channels are {treads} for i = 1 to {layout.treads}, and rail.<left|right>.<touch|force>"


def _check_channel_names(file: str, layout: RigLayout, wiring: dict[str, Any]) -> None:
    expected = layout.channels()
    for name in wiring:
        if name in ("tread", "rail") and isinstance(wiring[name], dict):
            raise ConfigError(f'{file}: wiring.{name}: channel names contain dots, so quote them: '
                              f'"{name}.1" = {{ ... }}, not {name}.1 = {{ ... }}')
        if name not in expected:
            raise ConfigError(f"{file}: {_key('wiring', name)}: not a channel of this rig; "
                              f"{_describe_channels(layout)}")
    for tread in range(1, layout.treads + 1):
        channels = layout.tread_channels(tread)
        missing = [c for c in channels if c not in wiring]
        if missing:
            what = "has no channel" if len(missing) == len(channels) else f"has no {missing[0].rsplit('.', 1)[1]} half"
            add = " and ".join(f'"{c}"' for c in missing)
            raise ConfigError(f"{file}: wiring: tread {tread} {what}: add {add}")


def _read_wiring_entry(file: str, channel: str, data: object) -> DigitalWiring | AnalogWiring:
    analog = RigLayout.is_analog(channel)
    if isinstance(data, dict):
        wrong = [k for k in (_DIGITAL_KEYS if analog else _ANALOG_KEYS) if k in data]
        if wrong:
            kind = ("a force channel, read through the MCP3008: give adc_channel and scale_n"
                    if analog else "a digital channel on a GPIO pin: give pin (and pull_up or active_state)")
            raise ConfigError(f"{file}: {_key('wiring', channel, wrong[0])}: {channel} is {kind}, not {wrong[0]}")
    entry = _Table(file, ("wiring", channel), data, _ANALOG_KEYS if analog else _DIGITAL_KEYS)
    if analog:
        scale_n = entry.number("scale_n")
        if scale_n == 0:
            entry.fail("scale_n", "must not be 0 (newtons per unit of ADC reading)")
        return AnalogWiring(channel=channel, adc_channel=entry.integer("adc_channel", valid=ADC_CHANNELS),
                            zero_offset=entry.number("zero_offset", 0.0, low=0.0, high=1.0), scale_n=scale_n)
    pin = entry.integer("pin", valid=BCM_PINS)
    if pin in ID_EEPROM_PINS:
        entry.fail("pin", f"pin {pin} ({ID_EEPROM_PINS[pin]}) is reserved for the HAT ID EEPROM; choose another pin")
    pull_up = entry.boolean("pull_up", None)
    active_state = entry.boolean("active_state", None)
    if pull_up is None and active_state is None:
        entry.fail(None, "without pull_up (a sensor that drives the pin itself, such as a TTP223) "
                         "active_state is required: true for active high, false for active low")
    if pull_up is not None and active_state is not None:
        entry.fail("active_state", "give either pull_up (the pull resistor sets the active level) "
                                   "or active_state (no pull resistor), not both")
    return DigitalWiring(channel=channel, pin=pin, pull_up=pull_up, active_state=active_state)


def _check_resources(file: str, wiring: dict[str, DigitalWiring | AnalogWiring], adc: AdcConfig | None,
                     buzzer: BuzzerConfig | None = None) -> None:
    """Each pin and ADC channel used once; nothing on the SPI pins the ADC needs."""
    reserved: dict[int, str] = {}
    if adc is not None:
        # dtparam=spi=on hands both chip selects to the kernel's spidev driver,
        # so neither is free for an input while the ADC is in use.
        reserved = {**SPI0_BUS_PINS, **{pin: f"CE{dev}" + (" (claimed by the SPI driver)" if dev != adc.spi_device else "")
                                        for dev, pin in SPI0_CHIP_SELECT_PINS.items()}}
    pins: dict[int, str] = {}

    def claim(where: str, pin: int, owner: str, needs: str) -> None:
        if pin in reserved:
            raise ConfigError(f"{file}: {where}: pin {pin} is used by the MCP3008's SPI bus "
                              f"({reserved[pin]}); choose another pin")
        if pin in pins:
            raise ConfigError(f'{file}: {where}: pin {pin} is already used by "{pins[pin]}"; {needs}')
        pins[pin] = owner

    adc_channels: dict[int, str] = {}
    for channel, wire in wiring.items():
        if isinstance(wire, DigitalWiring):
            claim(_key("wiring", channel, "pin"), wire.pin, channel, "each channel needs its own pin")
        else:
            where = _key("wiring", channel, "adc_channel")
            if wire.adc_channel in adc_channels:
                raise ConfigError(f'{file}: {where}: ADC channel {wire.adc_channel} is already used by '
                                  f'"{adc_channels[wire.adc_channel]}"; each force sensor needs its own channel')
            adc_channels[wire.adc_channel] = channel
    if buzzer is not None:
        claim("buzzer.pin", buzzer.pin, "buzzer", "the buzzer needs its own pin")


def _read_detection(table: _Table) -> DetectionSettings:
    defaults = DetectionSettings()
    values = {f.name: table.number(f.name, getattr(defaults, f.name), low=0.0, low_open=True)
              for f in fields(DetectionSettings)}
    for off, on in (("rail_contact_off_n", "rail_contact_on_n"), ("firm_off_n", "firm_on_n")):
        if values[off] >= values[on]:
            table.fail(off, f"must be below detection.{on} ({values[on]:g}), not {values[off]:g}")
    if values["tread_force_off_ratio"] >= 1:
        table.fail("tread_force_off_ratio", f"must be below 1 (a fraction of the on threshold), "
                                            f"not {values['tread_force_off_ratio']:g}")
    return DetectionSettings(**values)


def parse_config(data: dict, path: str = "<config>") -> RigConfig:
    """Validate an already-parsed configuration; raises ConfigError."""
    file = str(path)
    top = _Table(file, (), data, _TABLES)
    table = {name: _Table(file, (name,), top.data.get(name, {}), keys) for name, keys in (
        ("rig", _RIG_KEYS),
        ("athlete", ("name", "weight_kg")),
        ("drill", ("facing", "grip", "planned_flights", "added_load_kg")),
        ("service", ("data_dir", "pin_factory", "record_traces")),
        ("adc", ("spi_port", "spi_device", "sample_hz")),
        ("detection", DetectionSettings.names()),
        ("history", ("enabled", "idle_end_s", "trace_budget_mb", "run_trace_budget_mb")),
        ("mqtt", _MQTT_KEYS),
        ("web", _WEB_KEYS),
        ("buzzer", _BUZZER_KEYS),
    )}
    rig, service, adc_table = table["rig"], table["service"], table["adc"]
    rig_id = rig.string("id", DEFAULT_RIG_ID)
    if not _RIG_ID.fullmatch(rig_id):
        rig.fail("id", f"must be 1 to 64 letters, digits, '_' or '-', not {rig_id!r}")
    athlete_name = table["athlete"].string("name", AthleteConfig.name).strip()
    if not athlete_name or len(athlete_name) > 100:
        table["athlete"].fail("name", "must be 1 to 100 characters")
    athlete = AthleteConfig(name=athlete_name,
                            weight_kg=table["athlete"].number("weight_kg", DEFAULT_WEIGHT_KG, low=20, high=300))
    drill_table = table["drill"]
    planned = drill_table.data.get("planned_flights")
    drill = DrillConfig(facing=drill_table.string("facing", DrillConfig.facing, FACINGS),
                        grip=drill_table.string("grip", DrillConfig.grip, GRIPS),
                        planned_flights=None if planned is None else drill_table.integer("planned_flights", 0),
                        added_load_kg=drill_table.number("added_load_kg", 0.0, low=0, high=50))
    if drill.planned_flights is not None and not 1 <= drill.planned_flights <= 200:
        drill_table.fail("planned_flights", f"must be 1 to 200 flights, not {drill.planned_flights}")

    data_dir = service.string("data_dir", DEFAULT_DATA_DIR)
    if not data_dir.strip():
        service.fail("data_dir", "must not be empty")
    data_dir = os.path.join(os.path.dirname(os.path.abspath(file)), os.path.expanduser(data_dir))
    pin_factory = service.string("pin_factory", None, PIN_FACTORIES)
    record_traces = service.boolean("record_traces", True)

    spi_port = adc_table.integer("spi_port", 0)
    if spi_port != 0:
        adc_table.fail("spi_port", f"must be 0 (gpiozero drives the MCP3008 on SPI0 only), not {spi_port}")
    adc = AdcConfig(spi_port=spi_port, spi_device=adc_table.integer("spi_device", 0, valid=range(0, 2)),
                    sample_hz=adc_table.number("sample_hz", AdcConfig.sample_hz, low=1, high=1000))
    detection = _read_detection(table["detection"])
    hist = table["history"]
    history = HistoryConfig(
        enabled=hist.boolean("enabled", True),
        idle_end_s=hist.number("idle_end_s", HistoryConfig.idle_end_s, low=5, high=86400),
        trace_budget_mb=hist.number("trace_budget_mb", HistoryConfig.trace_budget_mb, low=1, high=1e6),
        run_trace_budget_mb=hist.number("run_trace_budget_mb", HistoryConfig.run_trace_budget_mb, low=1, high=1e6))

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


def _optional_string(table: _Table, name: str, pattern: re.Pattern | None = None, what: str = "") -> str | None:
    value = table.string(name, None)
    if value is None:
        return None
    if not value.strip():
        table.fail(name, "must not be empty (leave the key out instead)")
    if pattern is not None and not pattern.fullmatch(value):
        table.fail(name, f"must be {what}, not {value!r}")
    return value


def _read_mqtt(table: _Table) -> MqttConfig:
    base = _optional_string(table, "base_topic", _TOPIC, "a topic of letters, digits, '_', '-' and '/'")
    if base is not None and (base.startswith("/") or base.endswith("/") or "//" in base):
        table.fail("base_topic", f"must not start or end with '/' or hold an empty level, not {base!r}")
    prefix = table.string("discovery_prefix", "homeassistant")
    if not _TOPIC.fullmatch(prefix) or prefix.startswith("/") or prefix.endswith("/"):
        table.fail("discovery_prefix", f"must be a topic of letters, digits, '_', '-' and '/', not {prefix!r}")
    port = table.integer("port", None, valid=range(1, 65536))
    password_file = _optional_string(table, "password_file")
    if password_file is not None:
        password_file = os.path.join(os.path.dirname(os.path.abspath(table.file)), os.path.expanduser(password_file))
    password_env = _optional_string(table, "password_env", re.compile(r"[A-Za-z_][A-Za-z0-9_]*"),
                                    "the name of an environment variable")
    if password_file is not None and password_env is not None:
        table.fail("password_env", "give either password_file or password_env, not both")
    ca_file = _optional_string(table, "ca_file")
    if ca_file is not None:
        ca_file = os.path.join(os.path.dirname(os.path.abspath(table.file)), os.path.expanduser(ca_file))
    return MqttConfig(
        enabled=table.boolean("enabled", True),
        host=_optional_string(table, "host"),
        port=port,
        tls=table.boolean("tls", False),
        ca_file=ca_file,
        username=_optional_string(table, "username"),
        password_file=password_file,
        password_env=password_env,
        client_id=_optional_string(table, "client_id", re.compile(r"[A-Za-z0-9_.-]{1,128}"),
                                   "1 to 128 letters, digits, '_', '-' or '.'"),
        base_topic=base,
        discovery_prefix=prefix,
        discovery=table.string("discovery", "device", ("device", "entity", "none")),
        device_id=_optional_string(table, "device_id", _MQTT_ID, "1 to 64 letters, digits, '_' or '-'"),
        state_max_hz=table.number("state_max_hz", 4.0, low=0.1, high=20.0),
        queue_limit=table.integer("queue_limit", 1000, valid=range(10, 1_000_001)),
        stuck_after_s=table.number("stuck_after_s", 300.0, low=10.0, high=86400.0))


def _read_web(table: _Table) -> WebConfig:
    pin = table.raw("pin", None)
    if pin is not None:
        if isinstance(pin, int) and not isinstance(pin, bool):
            table.fail("pin", "must be a string of digits in quotes (pin = \"4711\"), so that leading zeros count")
        pin = table.string("pin")
        if not re.fullmatch(r"[0-9]{4,12}", pin):
            table.fail("pin", "must be 4 to 12 digits")
    host = table.string("host", "0.0.0.0")
    if not host.strip():
        table.fail("host", "must not be empty")
    allowed = table.raw("allowed_hosts", [])
    if not isinstance(allowed, list) or not all(isinstance(h, str) and re.fullmatch(r"[A-Za-z0-9.-]{1,253}", h)
                                                for h in allowed):
        table.fail("allowed_hosts", 'must be a list of host names, such as ["stairs.home.lan"]')
    return WebConfig(enabled=table.boolean("enabled", True), host=host, allowed_hosts=tuple(allowed),
                     port=table.integer("port", 8080, valid=range(0, 65536)), pin=pin,
                     units=table.string("units", "metric", ("metric", "imperial")),
                     threads=table.integer("threads", 16, valid=range(4, 257)))


def _read_buzzer(table: _Table, present: bool) -> BuzzerConfig | None:
    if not present:
        return None
    pin = table.integer("pin", valid=BCM_PINS)
    if pin in ID_EEPROM_PINS:
        table.fail("pin", f"pin {pin} ({ID_EEPROM_PINS[pin]}) is reserved for the HAT ID EEPROM; choose another pin")
    kind = table.string("kind", "buzzer", ("buzzer", "tonal"))
    active_high = table.boolean("active_high", True)
    if kind == "tonal" and not active_high:
        table.fail("active_high", 'must be true for kind = "tonal": a passive piezo is driven with tones '
                                  'and rests low; an active-low driver needs kind = "buzzer"')
    return BuzzerConfig(pin=pin, kind=kind, active_high=active_high, cues=_read_cues(table))


def _read_cues(table: _Table) -> tuple[str, ...]:
    """``cues = ["grab", "fall"]``: which cues the buzzer sounds; each a known name, once."""
    cues = table.raw("cues", list(BUZZER_CUES))
    if not isinstance(cues, list):
        table.fail("cues", f"must be a list of cue names (from {', '.join(BUZZER_CUES)}), not {_kind(cues)}")
    for cue in cues:
        if not isinstance(cue, str):
            table.fail("cues", f"must hold cue names as strings, not {_kind(cue)}")
        if cue not in BUZZER_CUES:
            hint = difflib.get_close_matches(cue, BUZZER_CUES, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            table.fail("cues", f"unknown cue {cue!r} (cues: {', '.join(BUZZER_CUES)}){suggestion}")
        if cues.count(cue) > 1:
            table.fail("cues", f"{cue!r} is listed twice")
    return tuple(cues)


def load_config(path: str | os.PathLike) -> RigConfig:
    """Read and validate a configuration file; raises ConfigError."""
    file = os.fspath(path)
    if not file.strip():
        raise ConfigError("no configuration file given (an empty path)")
    try:
        with open(file, "rb") as stream:
            data = tomllib.load(stream)
    except FileNotFoundError:
        raise ConfigError(f"{file}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the configuration file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not a text file (TOML must be UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    return parse_config(data, file)


def example_config_path() -> str:
    """The packaged, commented example configuration."""
    return str(Path(__file__).resolve().parent / "rig.example.toml")


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
    except ConfigError as exc:
        print(exc, file=err or sys.stderr)
        return 1
    print(f"{path}: OK — {describe_rig(config)}", file=out or sys.stdout)
    return 0
