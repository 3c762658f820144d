"""``mqtt://user:pass@host:port`` URLs: the broker given on the command line or in the environment.

``stairrig run --mqtt URL`` and ``STAIRRIG_MQTT_URL`` override the
configuration file's ``[mqtt]`` host, port, TLS and credentials, so that a
broker can be tried without editing the file (the command line wins over the
environment, which wins over the file). ``mqtts://`` turns TLS on (port 8883
unless given). The user and password are percent-decoded, so a password with
``@`` or ``:`` is written ``%40`` or ``%3A``. A password is refused on the
command line (``--mqtt``), where every local user can read it in
``/proc/PID/cmdline``; the environment is private to the user, so
``STAIRRIG_MQTT_URL`` may hold one.

A bad URL raises :class:`rig.config.ConfigError` naming where it came from;
the message never repeats the password.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Mapping
from urllib.parse import unquote, urlsplit

from rig.config import ConfigError, RigConfig

ENV_VAR = "STAIRRIG_MQTT_URL"
SCHEMES = {"mqtt": False, "mqtts": True}   # scheme -> TLS
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,252})?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]{2,45}")


def _redacted(url: str) -> str:
    """The URL as it may appear in a message: the password replaced by ***."""
    return re.sub(r"(//[^:/@]*):[^@/]*@", r"\1:***@", url)


PASSWORD_ON_COMMAND_LINE = (
    "a password on the command line can be read by every user of this machine (ps, /proc/PID/cmdline); "
    "give the URL without it (mqtt://USER@HOST) and the password in the configuration's [mqtt] password_file "
    "or password_env, or give the whole URL in the environment instead: " + ENV_VAR + "='mqtt://USER:PASSWORD@HOST'")


def apply_mqtt_url(config: RigConfig, url: str, source: str, *, allow_password: bool = True) -> RigConfig:
    """``config`` with the broker of ``url``; ``source`` names it in errors ("--mqtt", "STAIRRIG_MQTT_URL").
    ``allow_password=False`` (the command line) refuses a URL with a password."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{source}: an empty URL; give mqtt://[user[:password]@]host[:port] or mqtts://...")
    text = url.strip()

    def fail(why: str) -> ConfigError:
        return ConfigError(f"{source}: {_redacted(text)!r}: {why}")

    try:
        parts = urlsplit(text)
    except ValueError as exc:          # an unbalanced [ in an IPv6 host
        raise fail(f"not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = f"{parts.scheme!r}" if parts.scheme else "none"
        raise fail(f"the scheme must be mqtt:// or mqtts:// (TLS), not {shown}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise fail("a broker URL has no path, query or fragment: mqtt://[user[:password]@]host[:port]")
    host = parts.hostname
    if not host:
        raise fail("no host: give mqtt://host or mqtt://host:port")
    bracketed = "[" in parts.netloc
    if not (_IPV6.fullmatch(host) and ":" in host if bracketed else _HOST.fullmatch(host)):
        raise fail(f"{host!r} is not a host name or IP address")
    try:
        port = parts.port
    except ValueError:
        raw = parts.netloc.rsplit("]", 1)[-1].rsplit(":", 1)[-1]
        raise fail(f"the port must be a whole number from 1 to 65535, not {raw!r}") from None
    if port is not None and not 1 <= port <= 65535:
        raise fail(f"the port must be a whole number from 1 to 65535, not {port}")
    if parts.netloc.rsplit("@", 1)[-1].endswith(":"):
        raise fail("an empty port after ':'")

    if parts.password is not None and not allow_password:
        raise fail(PASSWORD_ON_COMMAND_LINE)

    mqtt = replace(config.mqtt, enabled=True, host=host, port=port, tls=SCHEMES[scheme])
    if parts.username is not None:
        username = unquote(parts.username)
        if not username:
            raise fail("an empty user name before '@'")
        password = unquote(parts.password) if parts.password is not None else None
        # credentials in the URL replace the file's; a user without a password
        # keeps the file's password_file / password_env for that user
        mqtt = replace(mqtt, username=username, password=password)
        if password is not None:
            mqtt = replace(mqtt, password_file=None, password_env=None)
    return replace(config, mqtt=mqtt)


def mqtt_url_from_env(config: RigConfig, environ: Mapping[str, str]) -> RigConfig:
    """``config`` with ``STAIRRIG_MQTT_URL`` applied when it is set (and not blank)."""
    url = environ.get(ENV_VAR)
    if url is None or not url.strip():
        return config
    return apply_mqtt_url(config, url, ENV_VAR)
