"""Treads, steps and flights, on the ordered timeline.

The spec's rules (``docs/trace-format.md``, "Replay summary"): a step is a
tread going from empty to occupied; its reference level is the tread of the
most recent step still occupied, or, with none occupied, where the athlete
went when the last tread emptied; up lands higher, down lower; an ascent is
tread N emptying with nothing occupied after an up step, a descent tread 1
after a down step; a stepper's presses are all steps up. Facing comes from
the half of a split tread that closed first. Stalls and suspected falls are
decided later on the timeline (a ``STALL`` or ``FALL`` item), as the spec
times them.
"""

from __future__ import annotations

from typing import Callable

from rig.core.contact import ContactTracker
from rig.core.gait import Gait, HalfTimes
from rig.core.rails import RailFigures
from rig.core.timeline import FALL, STALL, Timeline
from rig.settings import DetectionSettings

EventSink = Callable[[dict], None]


class Tread:
    """One tread: its contact tracker and, for a split tread, its halves."""

    __slots__ = ("index", "tracker", "front_on", "back_on", "first_half", "t_first", "other_t", "halves")

    def __init__(self, index: int):
        self.index = index
        self.tracker: ContactTracker
        self.front_on = False
        self.back_on = False
        self.first_half: str | None = None   # the half whose switch closed first
        self.t_first = 0.0
        self.other_t: float | None = None    # when the other half first closed
        self.halves: HalfTimes | None = None  # a split tread's halves' raw on-times (for the gait figures)


class StepRules:
    """Steps, directions, facing, flights, elevation, stalls and suspected falls."""

    def __init__(self, treads: list[Tread], *, stepper: bool, split: bool, settings: DetectionSettings,
                 figures: RailFigures, timeline: Timeline, emit: EventSink, record: EventSink, gait: Gait):
        self.treads = treads
        self.n = len(treads)
        self.stepper = stepper
        self.split = split
        self.stall_s = settings.stall_s
        self.fall_wait_s = settings.fall_wait_s
        self.facing_simultaneity_s = settings.facing_simultaneity_s
        self.figures = figures
        self.timeline = timeline
        self.emit = emit         # every event
        self.record = record     # the summary's events (stall, fall_suspected), then emitted
        self.gait = gait         # told each step, emptying and flight, at their times
        self.occupied: list[int] = []   # occupied treads, in the order of their steps
        self.empty_ref: int | None = 0  # reference level when nothing is occupied
        self.started = False
        self.last_step_tread: int | None = None
        self.last_step_dir: str | None = None
        self.step_serial = 0
        self.steps = 0
        self.steps_up = 0
        self.steps_down = 0
        self.ascents = 0
        self.descents = 0
        self.levels_up = 0              # risers climbed by up steps and ascents
        self.facing = {"forward": 0, "backward": 0, "unknown": 0}

    def on_occupy(self, t: float, tread: Tread, at: float) -> None:
        i = tread.index
        n = self.n
        if self.occupied:
            ref: int | None = self.occupied[-1]
        elif not self.started:
            ref = n + 1 if (i == n and n > 1 and not self.stepper) else 0
        else:
            ref = self.empty_ref
        self.started = True
        self.occupied.append(i)
        self.figures.occupancy_changed(t, 1)

        if self.stepper:
            direction: str | None = "up"
            rise = 1
        elif ref is None:
            direction = None
            rise = 0
        elif i > ref:
            direction = "up"
            rise = i - ref
        else:
            direction = "down"
            rise = ref - i
        if direction == "up":
            self.levels_up += rise
        facing = self._facing(tread, direction)
        self.gait.step(t, i, direction, rise, facing)
        self.steps += 1
        if direction == "up":
            self.steps_up += 1
        elif direction == "down":
            self.steps_down += 1
        self.facing[facing] += 1
        self.last_step_tread = i
        self.last_step_dir = direction
        self.step_serial += 1
        self.timeline.push(t + self.stall_s, STALL, self.step_serial)
        self.emit({"type": "step", "t": t, "at": at, "tread": i,
                   "direction": direction, "facing": facing, "steps": self.steps})

    def _facing(self, tread: Tread, direction: str | None) -> str:
        if not self.split or direction is None or tread.first_half is None:
            return "unknown"
        other = tread.other_t
        if other is not None and other - tread.t_first <= self.facing_simultaneity_s:
            return "unknown"
        front_first = tread.first_half == "front"
        if direction == "up":
            return "backward" if front_first else "forward"
        return "forward" if front_first else "backward"

    def on_empty(self, t: float, tread: Tread, at: float) -> None:
        i = tread.index
        self.occupied.remove(i)
        self.figures.occupancy_changed(t, -1)
        left = len(self.occupied)
        placement = self.gait.vacated(t, i, left)
        if placement is not None:       # a split tread's whole-foot verdict (the panel's cue)
            placement["at"] = at
            self.emit(placement)
        if left:
            self.emit({"type": "vacated", "t": t, "at": at, "tread": i, "occupied": left})
            return
        self._on_all_empty(t, i, at)
        self.emit({"type": "vacated", "t": t, "at": at, "tread": i, "occupied": 0})

    def _on_all_empty(self, t: float, i: int, at: float) -> None:
        n = self.n
        if n == 1 or i == 1:
            self.empty_ref = 0
        elif i == n:
            self.empty_ref = n + 1
        else:
            self.empty_ref = None
        if self.stepper or n < 2:
            return
        if i == n and self.last_step_dir == "up":
            self.ascents += 1
            self.levels_up += 1
            self.gait.flight(t, "up")
            self.emit({"type": "ascent", "t": t, "at": at, "ascents": self.ascents})
        elif i == 1 and self.last_step_dir == "down":
            self.descents += 1
            self.gait.flight(t, "down")
            self.emit({"type": "descent", "t": t, "at": at, "descents": self.descents})
        last = self.last_step_tread
        if last is not None and 1 < last < n:
            self.timeline.push(t + self.fall_wait_s, FALL, (t, self.step_serial))

    def on_stall(self, t: float, serial: int, at: float) -> None:
        if serial != self.step_serial or not self.occupied:
            return
        self.record({"type": "stall", "t": t, "at": at,
                     "tread": self.last_step_tread, "stall_s": self.stall_s})

    def on_fall_check(self, t: float, t_empty: float, serial: int, at: float) -> None:
        if serial != self.step_serial:
            return  # somebody stepped back on within the fall wait
        self.record({"type": "fall_suspected", "t": t_empty, "at": at,
                     "tread": self.last_step_tread})
