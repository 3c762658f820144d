"""The trace header: format, version, rig, athlete and drill."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rig.layout import LayoutError, RigLayout
from rig.settings import DEFAULT_WEIGHT_KG

FORMAT = "stairrig-trace"
VERSION = 1
FACINGS = ("forward", "backward")
GRIPS = ("firm", "light", "hover", "none")


class TraceError(ValueError):
    """A trace that does not follow the format; the message names the line."""

    def __init__(self, message: str, line: int | None = None, path: str | None = None):
        self.line = line
        self.path = path
        where = ""
        if path is not None:
            where = f"{path}"
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class TraceHeader:
    layout: RigLayout
    weight_kg: float = DEFAULT_WEIGHT_KG
    athlete_name: str | None = None
    drill_facing: str | None = None
    drill_grip: str | None = None
    recorded_at: str | None = None
    source: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out: dict = {"format": FORMAT, "version": VERSION, "rig": self.layout.to_header()}
        athlete: dict = {"weight_kg": self.weight_kg}
        if self.athlete_name is not None:
            athlete = {"name": self.athlete_name, **athlete}
        out["athlete"] = athlete
        drill = {k: v for k, v in (("facing", self.drill_facing), ("grip", self.drill_grip)) if v}
        if drill:
            out["drill"] = drill
        if self.recorded_at:
            out["recorded_at"] = self.recorded_at
        if self.source:
            out["source"] = self.source
        return out

    @classmethod
    def from_json(cls, obj: object) -> "TraceHeader":
        """Validate a parsed header object; raises TraceError (no line number)."""
        if not isinstance(obj, dict):
            raise TraceError("the header must be a JSON object")
        if obj.get("format") != FORMAT:
            raise TraceError(f"not a stairrig trace: format is {obj.get('format')!r}, expected {FORMAT!r}")
        version = obj.get("version")
        if version != VERSION or isinstance(version, bool):
            raise TraceError(
                f"trace format version {version!r} is not supported (this stairrig reads version {VERSION})")
        try:
            layout = RigLayout.from_header(obj.get("rig"))
        except LayoutError as exc:
            raise TraceError(f"header: {exc}") from None
        athlete = obj.get("athlete") or {}
        if not isinstance(athlete, dict):
            raise TraceError("header: athlete must be an object")
        weight = athlete.get("weight_kg", DEFAULT_WEIGHT_KG)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise TraceError(f"header: athlete.weight_kg must be a positive number, not {weight!r}")
        drill = obj.get("drill") or {}
        if not isinstance(drill, dict):
            raise TraceError("header: drill must be an object")
        facing, grip = drill.get("facing"), drill.get("grip")
        if facing is not None and facing not in FACINGS:
            raise TraceError(f"header: drill.facing must be forward or backward, not {facing!r}")
        if grip is not None and grip not in GRIPS:
            raise TraceError(f"header: drill.grip must be one of {', '.join(GRIPS)}, not {grip!r}")
        name = athlete.get("name")
        return cls(
            layout=layout,
            weight_kg=float(weight),
            athlete_name=name if isinstance(name, str) else None,
            drill_facing=facing,
            drill_grip=grip,
            recorded_at=obj.get("recorded_at") if isinstance(obj.get("recorded_at"), str) else None,
            source=obj.get("source") if isinstance(obj.get("source"), str) else None,
        )
