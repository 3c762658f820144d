"""Every MQTT topic of one rig, named in one place (see docs/mqtt.md)."""

from __future__ import annotations

from dataclasses import dataclass

from rig.config import RigConfig

# the commands of <base>/<command>/set, and what each takes
COMMANDS = ("session", "fall", "test_alarm", "athlete", "facing", "grip", "planned_flights", "added_load_kg",
            "purge")


@dataclass(frozen=True)
class Topics:
    base: str
    prefix: str

    @classmethod
    def for_config(cls, config: RigConfig) -> "Topics":
        mqtt = config.mqtt
        return cls(base=mqtt.base_topic or f"stairrig/{config.rig_id}", prefix=mqtt.discovery_prefix)

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def diagnostics(self) -> str:
        return f"{self.base}/diagnostics"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def error(self) -> str:
        return f"{self.base}/error"

    @property
    def command_filter(self) -> str:
        """The subscription that receives every command."""
        return f"{self.base}/+/set"

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth and last will (``online`` / ``offline``)."""
        return f"{self.prefix}/status"

    def command(self, name: str) -> str:
        return f"{self.base}/{name}/set"

    def command_name(self, topic: str) -> str | None:
        """``athlete`` for ``<base>/athlete/set``; None for any other topic."""
        head, sep, rest = topic.partition(self.base + "/")
        if head or not sep or not rest.endswith("/set"):
            return None
        name = rest[: -len("/set")]
        return name if name and "/" not in name else None
