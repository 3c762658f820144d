"""``[web] host``: the address the panel listens on.

Two checks. :func:`is_host_syntax` (pure, in every load): an IPv4 or IPv6
address, or a host name of letters, digits and hyphens in dot-separated
labels of 1 to 63 characters (253 at most). :func:`check_web_host` (for
``check-config`` and ``run``, before anything starts; it asks the system):
the name resolves (``getaddrinfo``, what waitress does) and every address it
resolves to is one of this machine's, so that a socket can be bound to it
(a free port is used, so a busy panel port is not its business).
"""

from __future__ import annotations

import ipaddress
import re
import socket

from rig.config.models import ConfigError, RigConfig

_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def is_host_syntax(host: str) -> bool:
    """An IP address (IPv6 with an optional ``%zone``) or a host name."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.split("."))


def check_web_host(config: RigConfig) -> None:
    """Raise :class:`ConfigError` naming ``web.host`` when the panel could not listen there
    (nothing to check when the panel is off)."""
    web = config.web
    if not web.enabled:
        return
    where = f"{config.path}: web.host" if config.path else "web.host"
    try:
        infos = socket.getaddrinfo(web.host, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"{where}: cannot resolve {web.host!r} to an address ({_why(exc)}); give an IP address "
                          f"of this machine, 0.0.0.0 for all of them, or a name it resolves") from None
    for family, kind, proto, _name, address in infos:
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.bind(address)
        except OSError as exc:
            what = repr(web.host) if address[0] == web.host else f"{web.host!r} ({address[0]})"
            raise ConfigError(f"{where}: the panel cannot listen on {what}: {_why(exc)} (not an address of "
                              f"this machine?); give one of its addresses, or 0.0.0.0 for all of them") from None


def _why(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)
