"""Where the rig's events go besides its own history: ``[mqtt]`` (Home
Assistant), ``[web]`` (the wall-tablet panel) and ``[buzzer]`` (a buzzer on a
GPIO pin for rigs without a tablet), each table read into its dataclass."""

from __future__ import annotations

import difflib
import os
import re

from rig.config.models import (
    BCM_PINS,
    BUZZER_CUES,
    ID_EEPROM_PINS,
    BuzzerConfig,
    MqttConfig,
    WebConfig,
)
from rig.config.host import is_host_syntax
from rig.config.table import _brief, _kind, _optional_string, _shown, _Table
from rig.limits import (
    MAX_ALLOWED_HOSTS,
    MAX_HOST_CHARS,
    MAX_PATH_CHARS,
    PORTS,
    QUEUE_LIMIT,
    STATE_MAX_HZ,
    STUCK_AFTER_S,
    WEB_PORTS,
    WEB_THREADS,
)

_MQTT_KEYS = ("enabled", "host", "port", "tls", "ca_file", "username", "password_file", "password_env",
              "client_id", "base_topic", "discovery_prefix", "discovery", "device_id", "state_max_hz",
              "queue_limit", "stuck_after_s")
_WEB_KEYS = ("enabled", "host", "port", "pin", "units", "threads", "allowed_hosts")
_BUZZER_KEYS = ("pin", "kind", "active_high", "cues")
_TOPIC = re.compile(r"[A-Za-z0-9_/-]{1,200}")
_MQTT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HOST_NAME = re.compile(r"[A-Za-z0-9._:%-]{1,253}")   # a name, an IPv4 or an IPv6 address (fe80::1%eth0)


def _read_mqtt(table: _Table) -> MqttConfig:
    base = _optional_string(table, "base_topic", _TOPIC, "a topic of letters, digits, '_', '-' and '/'")
    if base is not None and (base.startswith("/") or base.endswith("/") or "//" in base):
        table.fail("base_topic", f"must not start or end with '/' or hold an empty level, not {_brief(base)}")
    prefix = table.string("discovery_prefix", "homeassistant")
    if not _TOPIC.fullmatch(prefix) or prefix.startswith("/") or prefix.endswith("/"):
        table.fail("discovery_prefix", f"must be a topic of letters, digits, '_', '-' and '/', not {_brief(prefix)}")
    port = table.integer("port", None, valid=range(PORTS[0], PORTS[1] + 1))
    password_file = _optional_string(table, "password_file", max_chars=MAX_PATH_CHARS)
    if password_file is not None:
        password_file = os.path.join(os.path.dirname(os.path.abspath(table.file)), os.path.expanduser(password_file))
    password_env = _optional_string(table, "password_env", re.compile(r"[A-Za-z_][A-Za-z0-9_]*"),
                                    "the name of an environment variable")
    if password_file is not None and password_env is not None:
        table.fail("password_env", "give either password_file or password_env, not both")
    ca_file = _optional_string(table, "ca_file", max_chars=MAX_PATH_CHARS)
    if ca_file is not None:
        ca_file = os.path.join(os.path.dirname(os.path.abspath(table.file)), os.path.expanduser(ca_file))
    return MqttConfig(
        enabled=table.boolean("enabled", True),
        host=_optional_string(table, "host", _HOST_NAME, "a host name or an IP address", MAX_HOST_CHARS),
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
        state_max_hz=table.number("state_max_hz", 4.0, low=STATE_MAX_HZ[0], high=STATE_MAX_HZ[1]),
        queue_limit=table.integer("queue_limit", 1000, valid=range(QUEUE_LIMIT[0], QUEUE_LIMIT[1] + 1)),
        stuck_after_s=table.number("stuck_after_s", 300.0, low=STUCK_AFTER_S[0], high=STUCK_AFTER_S[1]))


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
    if not is_host_syntax(host):
        table.fail("host", f"must be an IP address of this machine (0.0.0.0 for all of them, 127.0.0.1 for "
                           f"itself alone) or a host name of it, not {_shown(host)}")
    allowed = table.raw("allowed_hosts", [])
    if not isinstance(allowed, list) or not all(isinstance(h, str) and re.fullmatch(r"[A-Za-z0-9.-]{1,253}", h)
                                                for h in allowed[:MAX_ALLOWED_HOSTS]):
        table.fail("allowed_hosts", 'must be a list of host names, such as ["stairs.home.lan"]')
    if len(allowed) > MAX_ALLOWED_HOSTS:
        table.fail("allowed_hosts", f"must list at most {MAX_ALLOWED_HOSTS} host names, not {len(allowed)}")
    return WebConfig(enabled=table.boolean("enabled", True), host=host, allowed_hosts=tuple(allowed),
                     port=table.integer("port", 8080, valid=range(WEB_PORTS[0], WEB_PORTS[1] + 1)), pin=pin,
                     units=table.string("units", "metric", ("metric", "imperial")),
                     threads=table.integer("threads", 16, valid=range(WEB_THREADS[0], WEB_THREADS[1] + 1)))


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
            table.fail("cues", f"unknown cue {_brief(cue)} (cues: {', '.join(BUZZER_CUES)}){suggestion}")
        if cues.count(cue) > 1:
            table.fail("cues", f"{_brief(cue)} is listed twice")
    return tuple(cues)
