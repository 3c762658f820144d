"""What the rig is made of: treads, their sensors and the instrumented rails.

One `RigLayout` describes the physical rig the same way the trace header's
``rig`` block does (see ``docs/trace-format.md``), so a layout read
from the configuration and one read from a trace are the same object, and
the channel names (``tread.3.front``, ``rail.left.force``...) are the trace
format's everywhere in the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RIG_KINDS = ("flight", "stepper")
TREAD_SENSORS = ("switch", "force")
SPLIT_ZONES = ("front", "back")
RAIL_SIDES = ("left", "right")
RAIL_SENSORS = ("touch", "force")


class LayoutError(ValueError):
    """A rig description that makes no sense; the message names the key."""


@dataclass(frozen=True)
class RigLayout:
    """The rig's geometry and sensors.

    kind: ``"flight"`` (a static staircase, treads numbered 1 at the bottom to
    ``treads`` at the top) or ``"stepper"`` (a step machine with two pedals).
    riser_m: riser height in metres (the pedal stroke on a stepper).
    tread_sensor: ``"switch"`` (contact switches) or ``"force"`` (load cells).
    split: True when each switch tread has a front (nosing) and back (riser)
    half, as ``tread_zones = ["front", "back"]`` in the trace header.
    rails: for each instrumented rail side, its sensors (``touch``, ``force``).
    """

    kind: str = "flight"
    treads: int = 5
    riser_m: float = 0.17
    tread_sensor: str = "switch"
    split: bool = False
    rails: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in RIG_KINDS:
            raise LayoutError(f"rig.kind must be one of {', '.join(RIG_KINDS)}, not {self.kind!r}")
        if isinstance(self.treads, bool) or not isinstance(self.treads, int) or self.treads < 1:
            raise LayoutError(f"rig.treads must be a whole number of at least 1, not {self.treads!r}")
        if self.kind == "stepper" and self.treads != 2:
            raise LayoutError(f"rig.treads must be 2 for a stepper (its two pedals), not {self.treads}")
        if isinstance(self.riser_m, bool) or not isinstance(self.riser_m, (int, float)) or not 0 < self.riser_m <= 1:
            raise LayoutError(f"rig.riser_m must be a height in metres between 0 and 1, not {self.riser_m!r}")
        if self.tread_sensor not in TREAD_SENSORS:
            raise LayoutError(
                f"rig.tread_sensor must be one of {', '.join(TREAD_SENSORS)}, not {self.tread_sensor!r}")
        if self.split and self.tread_sensor != "switch":
            raise LayoutError("rig.tread_zones: only switch treads can be split into front and back")
        for side, sensors in self.rails.items():
            if side not in RAIL_SIDES:
                raise LayoutError(f"rig.rails: unknown rail side {side!r} (left or right)")
            if not sensors:
                raise LayoutError(f"rig.rails.{side}: a rail needs at least one sensor (touch, force)")
            for sensor in sensors:
                if sensor not in RAIL_SENSORS:
                    raise LayoutError(f"rig.rails.{side}: unknown sensor {sensor!r} (touch or force)")
            if len(set(sensors)) != len(sensors):
                raise LayoutError(f"rig.rails.{side}: a sensor is listed twice")

    # -- channel names ---------------------------------------------------
    def tread_channels(self, tread: int) -> tuple[str, ...]:
        """The channel names of one tread (1-based)."""
        if self.tread_sensor == "force":
            return (f"tread.{tread}.force",)
        if self.split:
            return (f"tread.{tread}.front", f"tread.{tread}.back")
        return (f"tread.{tread}",)

    def rail_channels(self, side: str) -> tuple[str, ...]:
        return tuple(f"rail.{side}.{sensor}" for sensor in self.rails[side])

    def channels(self) -> tuple[str, ...]:
        """Every channel the rig has, treads first, in a stable order."""
        names: list[str] = []
        for tread in range(1, self.treads + 1):
            names.extend(self.tread_channels(tread))
        for side in RAIL_SIDES:
            if side in self.rails:
                names.extend(self.rail_channels(side))
        return tuple(names)

    @staticmethod
    def is_analog(channel: str) -> bool:
        """Force channels carry newtons; every other channel is 0 or 1."""
        return channel.endswith(".force")

    def rail_has(self, side: str, sensor: str) -> bool:
        return sensor in self.rails.get(side, ())

    # -- trace header ----------------------------------------------------
    def to_header(self) -> dict:
        return {
            "kind": self.kind,
            "treads": self.treads,
            "riser_m": self.riser_m,
            "tread_sensor": self.tread_sensor,
            "tread_zones": list(SPLIT_ZONES) if self.split else [],
            "rails": {side: list(self.rails[side]) for side in RAIL_SIDES if side in self.rails},
        }

    @classmethod
    def from_header(cls, rig: object) -> "RigLayout":
        """Build a layout from a trace header's ``rig`` object (unknown keys ignored)."""
        if not isinstance(rig, dict):
            raise LayoutError("rig must be an object")
        for key in ("kind", "treads", "riser_m"):
            if key not in rig:
                raise LayoutError(f"rig.{key} is required")
        zones = rig.get("tread_zones", [])
        if zones not in ([], list(SPLIT_ZONES)):
            raise LayoutError(f"rig.tread_zones must be [] or [\"front\", \"back\"], not {zones!r}")
        rails = rig.get("rails", {})
        if not isinstance(rails, dict) or not all(isinstance(v, list) for v in rails.values()):
            raise LayoutError("rig.rails must map a side to a list of sensors")
        return cls(
            kind=rig["kind"],
            treads=rig["treads"],
            riser_m=rig["riser_m"],
            tread_sensor=rig.get("tread_sensor", "switch"),
            split=bool(zones),
            rails={side: tuple(sensors) for side, sensors in rails.items()},
        )
