"""A scripted session: flights, rests, grips and events -> a :class:`SimResult`.

The scenarios in :mod:`rig.sim.scenarios` are short scripts against this
class: ``flight("up")``, ``rest(5)``, ``flight("down", grab_at=3)``, then
``build(noise)``. It keeps time, remembers the grip of each bout, and at
the end turns the foot contacts and grips into clean samples, computes the
truth from them and adds the noise.
"""

from __future__ import annotations

import random

from rig.layout import RigLayout
from rig.settings import DetectionSettings
from rig.sim.athlete import STANCE_FRACTION, Stepper, Walker
from rig.sim.gait_params import TYPICAL, AthleteGait, leg_factors
from rig.sim.noise import add_noise, noise_kwargs
from rig.sim.rails import CONTACT_LEVELS, Grab, GripSpan, rail_profiles, rail_samples
from rig.sim.result import SimResult
from rig.sim.treads import grid, tread_samples
from rig.sim.truth import EVENT_TYPES, compute_truth
from rig.trace import TraceHeader

PATTERNS = ("over", "to", "two")
"""Step-over-step, step-to (both feet on every tread), two treads at a time."""
RECORDED_AT = "2026-11-21T09:00:00+00:00"
"""A fixed date, so that the same seed writes the same file."""


def flight_levels(n: int, direction: str, pattern: str) -> list[int]:
    """The levels the feet land on, in turn, for one flight (the last two: both feet off the flight)."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, not {pattern!r}")
    if direction == "up":
        treads = list(range(1, n + 1))
        if pattern == "two":
            treads = list(range(n, 0, -2))[::-1]
        end = n + 1
    elif direction == "down":
        treads = list(range(n, 0, -1))
        if pattern == "two":
            treads = list(range(1, n + 1, 2))[::-1]
        end = 0
    else:
        raise ValueError(f"direction must be up or down, not {direction!r}")
    if pattern == "to":
        treads = [lv for lv in treads for _ in (0, 1)]
    return treads + [end, end]


class Session:
    """One athlete on one rig, scripted step by step."""

    def __init__(self, layout: RigLayout, *, seed: int = 0, weight_kg: float = 70.0,
                 facing: str = "forward", grip: str = "light", cadence_spm: float = 80.0,
                 name: str = "sim", athlete_name: str = "sim", force_hz: float = 50.0,
                 flat_p: float = 0.05, start_s: float = 1.5, regrip: bool = True,
                 gait: AthleteGait | None = None):
        if facing not in ("forward", "backward"):
            raise ValueError(f"facing must be forward or backward, not {facing!r}")
        if cadence_spm <= 0:
            raise ValueError("cadence_spm must be positive")
        if weight_kg <= 0:
            raise ValueError("weight_kg must be positive")
        if force_hz <= 0:
            raise ValueError("force_hz must be positive")
        self.layout = layout
        self.seed = seed
        self.weight_kg = float(weight_kg)
        self.facing = facing
        self.grip = grip
        self.cadence_spm = float(cadence_spm)
        self.name = name
        self.athlete_name = athlete_name
        self.force_hz = float(force_hz)
        self.regrip = regrip
        self.gait = gait or TYPICAL
        """The athlete's own gait (legs, partial placements, added load, cadence): see rig.sim.gait_params."""
        self.rng = random.Random(f"stairrig-sim/{seed}")
        self.thresholds = DetectionSettings().resolve(self.weight_kg)
        n = layout.treads
        if layout.kind == "stepper":
            self.body: Walker | Stepper = Stepper(self.rng, t_s=start_s, split=layout.split)
        else:
            self.body = Walker(n, self.rng, t_s=start_s, level=0, split=layout.split, flat_p=flat_p,
                               leg_factors=leg_factors(self.gait.leg_bias, 2 * STANCE_FRACTION - 1.0),
                               partial_share=self.gait.partial_share, partial_part=self.gait.partial_part,
                               gait_rng=random.Random(f"stairrig-sim-gait/{seed}"))
        self.spans: list[GripSpan] = []
        self.grabs: list[Grab] = []
        self.scripted = {"events": {kind: 0 for kind in EVENT_TYPES}, "flights": {"up": 0, "down": 0}}
        self.end_s = start_s

    # -- time ---------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.body.now

    def rest(self, seconds: float) -> None:
        """Stand still off the treads (on the floor or the top landing)."""
        self.body.wait(seconds)

    def step_interval_s(self, cadence_spm: float | None = None) -> float:
        """The script's step interval at ``cadence_spm`` (or the session's), for this athlete's cadence."""
        return 60.0 / ((cadence_spm or self.cadence_spm) * self.gait.cadence_factor)

    # -- hands ----------------------------------------------------------------
    def hold(self, t0_s: float, t1_s: float, grip: str | None = None) -> None:
        """Every rail held at ``grip`` from ``t0_s`` to ``t1_s`` (each hand a little apart)."""
        level = grip or self.grip
        for side in self.layout.rails:
            a = t0_s + self.rng.uniform(-0.2, 0.2)
            b = t1_s + self.rng.uniform(-0.2, 0.2)
            self.spans.append(GripSpan(side, max(0.05, a), b, level))
            self.end_s = max(self.end_s, b)

    def grab(self, t_s: float, side: str | None = None) -> None:
        """A grab on one rail: 1.5 times the grab rise within 100 ms, held 300 ms, released."""
        if side is None:
            sides = [s for s in ("left", "right") if self.layout.rail_has(s, "force")] or ["left"]
            side = sides[0]
        grab = Grab(side, t_s, rise_n=1.5 * self.thresholds.grab_rise_n)
        self.grabs.append(grab)
        self.end_s = max(self.end_s, grab.t_end_s)
        if self.layout.rail_has(side, "force"):
            self.scripted["events"]["grab"] += 1

    # -- feet -----------------------------------------------------------------
    def _walker(self) -> Walker:
        if not isinstance(self.body, Walker):
            raise ValueError(f"this needs a flight of treads, not a {self.layout.kind}")
        return self.body

    def flight(self, direction: str, *, pattern: str = "over", grip: str | None = None,
               facing: str | None = None, cadence_spm: float | None = None,
               stall_at: int | None = None, stall_s: float = 4.0,
               fall_at: int | None = None, grab_at: int | None = None, grab_side: str | None = None,
               ) -> list[float]:
        """One flight up (from the floor to the top landing) or down; returns the landing times.

        ``stall_at``: on reaching that tread, both feet stand on it for
        ``stall_s``. ``fall_at``: on reaching that (middle) tread, both feet
        leave the flight sideways; the athlete ends on the floor.
        ``grab_at``: a grab just after landing on that tread.
        """
        w = self._walker()
        n = self.layout.treads
        start = 0 if direction == "up" else n + 1
        if w.feet_levels() != (start, start):
            raise ValueError(f"a flight {direction} starts with both feet on level {start}, "
                             f"not on {w.feet_levels()}")
        facing = facing or self.facing
        levels = flight_levels(n, direction, pattern)
        interval = self.step_interval_s(cadence_spm)
        if pattern == "to":
            interval /= 2.0  # two placements (lead, then the trailing foot joins) per step
        if fall_at is not None and not 1 < fall_at < n:
            raise ValueError(f"a suspected fall needs a middle tread (2..{n - 1}), not {fall_at}")
        t_first = w.now
        landings: list[float] = []
        held = grip or self.grip
        for k, level in enumerate(levels):
            joining = w.on_tread(level) and level in w.feet_levels()
            t = w.place(level, interval, facing=facing, direction=None if joining else direction)
            landings.append(t)
            if grab_at is not None and level == grab_at and not joining:
                self.grab(t + 0.15, grab_side)
                grab_at = None
            if stall_at is not None and level == stall_at:
                next_level = levels[k + 1] if k + 1 < len(levels) else None
                if joining or next_level != level:
                    if not joining:  # the other foot joins, then both stand still
                        landings.append(w.place(level, interval, facing=facing, direction=None))
                    w.wait(stall_s)
                    self.scripted["events"]["stall"] += 1
                    stall_at = None
            if fall_at is not None and level == fall_at and not joining:
                # both feet leave the flight, quickly, to the floor beside it
                w.place(0, 0.45, facing=facing, direction=None)
                landings.append(w.place(0, 0.45, facing=facing, direction=None))
                self.scripted["events"]["fall_suspected"] += 1
                break
        else:
            self.scripted["flights"][direction] += 1
        t_last = landings[-1]
        if held in CONTACT_LEVELS:
            self.hold(t_first - self.rng.uniform(0.3, 0.8), t_last + self.rng.uniform(0.2, 0.6), held)
        self.end_s = max(self.end_s, w.now)
        return landings

    def step_ups(self, reps: int, *, grip: str | None = None, facing: str | None = None,
                 cadence_spm: float | None = None) -> list[float]:
        """Up onto tread 1 from the floor (lead foot, then the other joins) and back down, ``reps`` times."""
        w = self._walker()
        if w.feet_levels() != (0, 0):
            raise ValueError("step-ups start with both feet on the floor")
        facing = facing or self.facing
        interval = self.step_interval_s(cadence_spm) / 4.0  # four placements per step-up
        t_first = w.now
        landings = []
        for _ in range(reps):
            landings.append(w.place(1, interval, facing=facing, direction="up"))
            w.place(1, interval, facing=facing, direction=None)
            w.place(0, interval, facing=facing, direction=None)
            w.place(0, interval, facing=facing, direction=None)
        held = grip or self.grip
        if held in CONTACT_LEVELS and reps:
            self.hold(t_first - 0.5, w.now, held)
        self.end_s = max(self.end_s, w.now)
        return landings

    def presses(self, count: int, *, grip: str | None = None, cadence_spm: float | None = None,
                stall_at: int | None = None, stall_s: float = 4.0, grab_at: int | None = None,
                grab_side: str | None = None) -> list[float]:
        """``count`` presses on a stepper, pedals alternating; ``stall_at``: hold that press down."""
        if not isinstance(self.body, Stepper):
            raise ValueError(f"presses need a stepper, not a {self.layout.kind}")
        st = self.body
        interval = self.step_interval_s(cadence_spm)
        t_first = st.now
        landings = []
        for i in range(count):
            hold = stall_s if i == stall_at else 0.0
            landings.append(st.press(interval, hold_s=hold))
            if hold:
                self.scripted["events"]["stall"] += 1
            if i == grab_at:
                self.grab(landings[-1] + 0.1, grab_side)
        held = grip or self.grip
        if held in CONTACT_LEVELS and count:
            self.hold(t_first - 0.5, st.now, held)
        self.end_s = max(self.end_s, st.now)
        return landings

    # -- the result -------------------------------------------------------------
    def build(self, noise: str = "typical", *, tail_s: float = 2.5, min_end_s: float | None = None) -> SimResult:
        kwargs = noise_kwargs(noise)
        layout = self.layout
        end_s = max(self.end_s, self.body.now) + tail_s
        if min_end_s is not None:
            end_s = max(end_s, min_end_s)
        self.body.finish(end_s)
        has_force = layout.tread_sensor == "force" or any(
            layout.rail_has(side, "force") for side in layout.rails)
        times = grid(end_s, self.force_hz) if has_force else []
        phase = self.rng.uniform(0, 6.283)
        contacts = sorted(self.body.contacts, key=lambda c: (c.t_on_s, c.tread))
        load_kg = self.gait.added_load_kg
        # force treads carry the body and its vest
        clean = tread_samples(layout, contacts, times, phase=phase,
                              weight_kg=self.weight_kg + load_kg if load_kg else self.weight_kg)
        profiles = rail_profiles(layout, self.spans, self.grabs, self.rng, weight_kg=self.weight_kg,
                                 regrip=self.regrip)
        clean += rail_samples(layout, profiles, times)
        clean.sort(key=lambda s: s[0])
        truth, steps, events = compute_truth(clean, layout, weight_kg=self.weight_kg, name=self.name,
                                             added_load_kg=load_kg)
        if kwargs is None:
            samples = list(clean)
        else:
            samples = add_noise(clean, layout, random.Random(f"stairrig-sim-noise/{self.seed}"),
                                weight_kg=self.weight_kg, **kwargs)
        drill_grip = self.grip if self.grip in ("firm", "light", "hover", "none") else None
        header = TraceHeader(layout=layout, weight_kg=self.weight_kg, athlete_name=self.athlete_name,
                             drill_facing=self.facing, drill_grip=drill_grip, drill_added_load_kg=load_kg,
                             recorded_at=RECORDED_AT, source="sim")
        return SimResult(header=header, samples=samples, truth=truth, steps=steps, events=events,
                         clean=clean, foot_contacts=contacts, scripted=self.scripted)
