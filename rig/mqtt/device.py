"""The rig as Home Assistant sees it: the device block, the origin, and the discovery context.

Everything discovery needs from the running service is gathered here into a
``DiscoveryContext`` (discovery.py turns it into messages): the node id, the
device block (``dev``), the origin (``o``), the rails the rig has, and the
athletes the athlete select offers.
"""

from __future__ import annotations

import logging
import socket
from importlib import metadata
from urllib.parse import urlsplit, urlunsplit

from rig import __version__
from rig.mqtt.device_id import DeviceIdentity
from rig.mqtt.discovery import DiscoveryContext
from rig.mqtt.entity_ids import device_name
from rig.mqtt.topics import Topics

log = logging.getLogger(__name__)


def slug_id(text: str) -> str:
    """An id of ``[A-Za-z0-9_-]`` only (discovery topics and unique ids)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in text)


def origin() -> dict:
    """The discovery's origin: stairrig, its version and its home page."""
    found = {"name": "stairrig", "sw": __version__}
    try:
        for entry in metadata.metadata("stairrig").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() == "homepage" and url.strip():
                found["url"] = url.strip()
    except metadata.PackageNotFoundError:
        pass
    return found


def configuration_url(url: str | None) -> str | None:
    """The panel's address for Home Assistant's "visit device" link (0.0.0.0 -> this machine's name)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.hostname in (None, "", "0.0.0.0", "::"):
        host = socket.gethostname() or "localhost"
        netloc = host + (f":{parts.port}" if parts.port else "")
        url = urlunsplit(parts._replace(netloc=netloc))
    return url


def device_block(service, node_id: str, identity: DeviceIdentity) -> dict:
    """``dev``: only keys Home Assistant accepts (see ``discovery.DEVICE_KEYS``)."""
    layout = service.config.layout
    device = {"ids": [node_id], "name": device_name(service.config.rig_id), "mf": "stairrig",
              "mdl": "Stair stepper rig" if layout.kind == "stepper" else "Stair-training rig",
              "sw": __version__, "hw": identity.model}
    if identity.serial:
        device["sn"] = identity.serial
    panel = service.panel
    url = configuration_url(getattr(panel, "url", None) if panel is not None else None)
    if url:
        device["cu"] = url
    return device


def discovery_context(service, topics: Topics, node_id: str, identity: DeviceIdentity,
                      athletes: tuple[str, ...]) -> DiscoveryContext:
    rails = {side: "force" in sensors for side, sensors in service.config.layout.rails.items()}
    return DiscoveryContext(topics=topics, node_id=node_id, device=device_block(service, node_id, identity),
                            origin=origin(), rails=rails, athletes=athletes,
                            split_treads=service.config.layout.split)


def athlete_names(service) -> tuple[str, ...] | None:
    """The athlete select's options: every athlete, and the one training now (None: cannot tell)."""
    try:
        names = [a["name"] for a in service.commands.athletes()]
    except Exception as exc:    # the history is a nicety here
        log.warning("MQTT: cannot list the athletes: %s", exc)
        return None
    current = service.sessions.athlete.name
    if current not in names:
        names.append(current)
    return tuple(names)
