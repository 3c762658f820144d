"""The trace header: format, version, rig, athlete and drill."""

from __future__ import annotations

from dataclasses import dataclass, field

from rig.layout import LayoutError, RigLayout
from rig.limits import ADDED_LOAD_KG, MAX_TREADS, RISER_M, WEIGHT_KG
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


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(value: object) -> str:
    """A header's value in a message, short whatever it holds."""
    if isinstance(value, int) and not isinstance(value, bool) and not -10**15 < value < 10**15:
        return "a whole number of more than 15 digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _cut(message: str, limit: int = 200) -> str:
    """A message about a header's value, at most ``limit`` characters (a header line may be 64 KB)."""
    return message if len(message) <= limit else message[:limit] + "..."


def _check_bounds(rig: object) -> None:
    """The configuration's bounds on the rig (``rig.limits``), before a layout is built from it:
    a header of a billion treads would build a billion channels."""
    if not isinstance(rig, dict):
        return   # the layout names what is wrong
    treads = rig.get("treads")
    if _is_number(treads) and not (isinstance(treads, int) and 1 <= treads <= MAX_TREADS):
        raise TraceError(f"header: rig.treads must be a whole number from 1 to {MAX_TREADS}, not {_shown(treads)}")
    riser_m = rig.get("riser_m")
    low, high = RISER_M
    if _is_number(riser_m) and not low < riser_m <= high:
        raise TraceError(f"header: rig.riser_m must be a height in metres above {low:g} and at most {high:g}, "
                         f"not {_shown(riser_m)}")


@dataclass(frozen=True)
class TraceHeader:
    layout: RigLayout
    weight_kg: float = DEFAULT_WEIGHT_KG
    athlete_name: str | None = None
    drill_facing: str | None = None
    drill_grip: str | None = None
    drill_added_load_kg: float = 0.0
    recorded_at: str | None = None
    source: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out: dict = {"format": FORMAT, "version": VERSION, "rig": self.layout.to_header()}
        athlete: dict = {"weight_kg": self.weight_kg}
        if self.athlete_name is not None:
            athlete = {"name": self.athlete_name, **athlete}
        out["athlete"] = athlete
        drill = {k: v for k, v in (("facing", self.drill_facing), ("grip", self.drill_grip),
                                   ("added_load_kg", self.drill_added_load_kg)) if v}
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
            raise TraceError(f"not a stairrig trace: format is {_shown(obj.get('format'))}, expected {FORMAT!r}")
        version = obj.get("version")
        if version != VERSION or isinstance(version, bool):
            raise TraceError(
                f"trace format version {_shown(version)} is not supported (this stairrig reads version {VERSION})")
        _check_bounds(obj.get("rig"))
        try:
            layout = RigLayout.from_header(obj.get("rig"))
        except LayoutError as exc:
            raise TraceError(f"header: {_cut(str(exc))}") from None
        athlete = obj.get("athlete") or {}
        if not isinstance(athlete, dict):
            raise TraceError("header: athlete must be an object")
        weight = athlete.get("weight_kg", DEFAULT_WEIGHT_KG)
        low, high = WEIGHT_KG
        if not _is_number(weight) or not low <= weight <= high:
            raise TraceError(f"header: athlete.weight_kg must be a body weight from {low:g} to {high:g} kg, "
                             f"not {_shown(weight)}")
        drill = obj.get("drill") or {}
        if not isinstance(drill, dict):
            raise TraceError("header: drill must be an object")
        facing, grip = drill.get("facing"), drill.get("grip")
        if facing is not None and facing not in FACINGS:
            raise TraceError(f"header: drill.facing must be forward or backward, not {_shown(facing)}")
        if grip is not None and grip not in GRIPS:
            raise TraceError(f"header: drill.grip must be one of {', '.join(GRIPS)}, not {_shown(grip)}")
        load = drill.get("added_load_kg", 0.0)
        low, high = ADDED_LOAD_KG
        if not _is_number(load) or not low <= load <= high:
            raise TraceError(f"header: drill.added_load_kg must be a load from {low:g} to {high:g} kg, "
                             f"not {_shown(load)}")
        name = athlete.get("name")
        return cls(
            layout=layout,
            weight_kg=float(weight),
            athlete_name=name if isinstance(name, str) else None,
            drill_facing=facing,
            drill_grip=grip,
            drill_added_load_kg=float(load),
            recorded_at=obj.get("recorded_at") if isinstance(obj.get("recorded_at"), str) else None,
            source=obj.get("source") if isinstance(obj.get("source"), str) else None,
        )
