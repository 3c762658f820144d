"""Named scenarios: short scripts of a session, each with a default rig.

Every scenario is a function ``(*, layout=None, seed=0, noise="typical",
weight_kg=70.0, duration_s=None, **options) -> SimResult``. ``layout=None``
takes the scenario's default rig (see :data:`DEFAULT_LAYOUTS`);
``duration_s``, where it makes sense, sets the length of the session
instead of its default number of flights (or reps, or presses).
"""

from __future__ import annotations

from collections.abc import Callable

from rig.layout import RigLayout
from rig.sim.result import SimResult
from rig.sim.session import Session

BOTH_RAILS = {"left": ("touch", "force"), "right": ("touch", "force")}


def flight_rig(treads: int = 5, riser_m: float = 0.17, *, split: bool = True, tread_sensor: str = "switch",
               rails: dict | None = None) -> RigLayout:
    return RigLayout(kind="flight", treads=treads, riser_m=riser_m, tread_sensor=tread_sensor, split=split,
                     rails=dict(BOTH_RAILS if rails is None else rails))


DEFAULT_LAYOUTS: dict[str, RigLayout] = {
    "forward-flights": flight_rig(),
    "backward-flights": flight_rig(),
    "step-to": flight_rig(),
    "two-at-a-time": flight_rig(6),
    "step-ups": flight_rig(1, 0.20, rails={"right": ("touch",)}),
    "stepper": RigLayout(kind="stepper", treads=2, riser_m=0.20,
                         rails={"left": ("force",), "right": ("force",)}),
    "force-treads": flight_rig(4, split=False, tread_sensor="force",
                               rails={"left": ("touch", "force"), "right": ("force",)}),
    "grip-progression": flight_rig(),
    "stall": flight_rig(),
    "grab": flight_rig(),
    "fall": flight_rig(),
    "mixed": flight_rig(6, 0.16, rails={"left": ("touch", "force"), "right": ("touch",)}),
    "demo": flight_rig(),
}


def _session(scenario: str, layout: RigLayout | None, seed: int, weight_kg: float, **kw) -> Session:
    layout = layout or DEFAULT_LAYOUTS[scenario]
    name = kw.pop("name", None) or scenario
    return Session(layout, seed=seed, weight_kg=weight_kg, name=name, **kw)


TAIL_S = 2.5
"""Quiet time at the end of a session, after the last tread empties."""


def _round_trips(s: Session, flights: int, duration_s: float | None, trip: Callable[[int], None], *,
                 bottom_rest_s: float = 4.0) -> None:
    """``trip(k)`` (one flight up and one down) ``flights`` times, or, with ``duration_s``,
    as many times as fit, judged from the length of the trips so far."""
    if duration_s is None and flights < 1:
        raise ValueError(f"flights must be at least 1, not {flights}")
    k = 0
    longest = 0.0
    while True:
        t0 = s.now
        trip(k)
        longest = max(longest, s.now - t0)
        k += 1
        rest = bottom_rest_s + s.rng.uniform(0, 1)
        if duration_s is None:
            if k >= flights:
                return
        elif s.now + rest + 1.1 * longest + TAIL_S > duration_s:
            return
        s.rest(rest)


def _up_and_down(s: Session, flights: int, duration_s: float | None = None, *, pattern: str = "over",
                 top_rest_s: float = 3.0, grip_for: Callable[[int], str | None] | None = None) -> None:
    def trip(k: int) -> None:
        grip = grip_for(k) if grip_for else None
        s.flight("up", pattern=pattern, grip=grip)
        s.rest(top_rest_s + s.rng.uniform(0, 1))
        s.flight("down", pattern=pattern, grip=grip)
    _round_trips(s, flights, duration_s, trip)


# -- the scenarios ---------------------------------------------------------------------

def forward_flights(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
                    weight_kg: float = 70.0, duration_s: float | None = None, flights: int = 3,
                    cadence_spm: float = 90.0, grip: str = "light", **kw) -> SimResult:
    """Forward flights up and down, step-over-step."""
    s = _session("forward-flights", layout, seed, weight_kg, facing="forward", grip=grip,
                 cadence_spm=cadence_spm, **kw)
    _up_and_down(s, flights, duration_s)
    return s.build(noise, min_end_s=duration_s)


def backward_flights(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
                     weight_kg: float = 70.0, duration_s: float | None = None, flights: int = 3,
                     cadence_spm: float = 60.0, grip: str = "light", **kw) -> SimResult:
    """Retro walking: backward flights up and down, step-over-step."""
    s = _session("backward-flights", layout, seed, weight_kg, facing="backward", grip=grip,
                 cadence_spm=cadence_spm, **kw)
    _up_and_down(s, flights, duration_s)
    return s.build(noise, min_end_s=duration_s)


def step_to(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
            weight_kg: float = 70.0, duration_s: float | None = None, flights: int = 2,
            cadence_spm: float = 40.0, grip: str = "firm", facing: str = "forward", **kw) -> SimResult:
    """Step-to: the lead foot lands on a tread, the trailing foot joins it, on every tread."""
    s = _session("step-to", layout, seed, weight_kg, facing=facing, grip=grip, cadence_spm=cadence_spm, **kw)
    _up_and_down(s, flights, duration_s, pattern="to")
    return s.build(noise, min_end_s=duration_s)


def two_at_a_time(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
                  weight_kg: float = 70.0, duration_s: float | None = None, flights: int = 3,
                  cadence_spm: float = 60.0, grip: str = "light", facing: str = "forward", **kw) -> SimResult:
    """Two treads at a time, up (ending on the top tread) and down (ending on tread 1)."""
    s = _session("two-at-a-time", layout, seed, weight_kg, facing=facing, grip=grip,
                 cadence_spm=cadence_spm, **kw)
    _up_and_down(s, flights, duration_s, pattern="two")
    return s.build(noise, min_end_s=duration_s)


def step_ups(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
             weight_kg: float = 70.0, duration_s: float | None = None, reps: int = 12,
             cadence_spm: float = 20.0, grip: str = "light", facing: str = "forward", **kw) -> SimResult:
    """Step-ups on tread 1: up from the floor (lead, then the other foot), back down, repeated."""
    s = _session("step-ups", layout, seed, weight_kg, facing=facing, grip=grip, cadence_spm=cadence_spm, **kw)
    if duration_s is not None:
        reps = max(1, int(0.92 * (duration_s - s.now - TAIL_S) * cadence_spm / 60.0))
    s.step_ups(reps)
    return s.build(noise, min_end_s=duration_s)


def stepper(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
            weight_kg: float = 70.0, duration_s: float | None = None, presses: int = 80,
            cadence_spm: float = 80.0, grip: str = "light", rest_s: float = 5.0, **kw) -> SimResult:
    """A step machine: pedals pressed in turn, in two bouts with a rest between."""
    s = _session("stepper", layout, seed, weight_kg, facing="forward", grip=grip, cadence_spm=cadence_spm, **kw)
    if duration_s is not None:
        presses = max(2, int(0.92 * (duration_s - s.now - rest_s - TAIL_S) * cadence_spm / 60.0))
    first = presses // 2
    s.presses(first)
    s.rest(rest_s)
    s.presses(presses - first)
    return s.build(noise, min_end_s=duration_s)


def force_treads(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
                 weight_kg: float = 70.0, duration_s: float | None = None, flights: int = 3,
                 cadence_spm: float = 80.0, grip: str = "firm", facing: str = "forward", **kw) -> SimResult:
    """Flights on load-cell treads (and a force-only right rail)."""
    s = _session("force-treads", layout, seed, weight_kg, facing=facing, grip=grip, cadence_spm=cadence_spm, **kw)
    _up_and_down(s, flights, duration_s)
    return s.build(noise, min_end_s=duration_s)


def grip_progression(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
                     weight_kg: float = 70.0, duration_s: float | None = None, flights: int = 6,
                     cadence_spm: float = 60.0, facing: str = "backward", **kw) -> SimResult:
    """Backward flights with less and less rail: firm, then light, then hands hovering."""
    s = _session("grip-progression", layout, seed, weight_kg, facing=facing, grip="firm",
                 cadence_spm=cadence_spm, **kw)
    stages = ("firm", "light", "hover")
    if duration_s is None:
        def grip_for(k: int) -> str:
            return stages[min(len(stages) - 1, k * len(stages) // flights)]
    else:
        start, span = s.now, max(1.0, duration_s - s.now)

        def grip_for(k: int) -> str:
            return stages[min(len(stages) - 1, int((s.now - start) / span * len(stages)))]
    _up_and_down(s, flights, duration_s, grip_for=grip_for)
    return s.build(noise, min_end_s=duration_s)


def stall(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
          weight_kg: float = 70.0, duration_s: float | None = None, flights: int = 2,
          cadence_spm: float = 70.0, grip: str = "light", facing: str = "forward", stall_s: float = 4.0,
          **kw) -> SimResult:
    """Flights up and down; on the first way up the athlete stands still on a middle tread."""
    s = _session("stall", layout, seed, weight_kg, facing=facing, grip=grip, cadence_spm=cadence_spm, **kw)
    tread = max(1, (s.layout.treads + 1) // 2)

    def trip(k: int) -> None:
        s.flight("up", stall_at=tread if k == 0 else None, stall_s=stall_s)
        s.rest(3.0)
        s.flight("down")
    _round_trips(s, flights, duration_s, trip)
    return s.build(noise, min_end_s=duration_s)


def grab(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
         weight_kg: float = 70.0, duration_s: float | None = None, flights: int = 2,
         cadence_spm: float = 60.0, grip: str = "light", facing: str = "backward", side: str | None = None,
         **kw) -> SimResult:
    """Flights up and down; on the first way down a hand grabs a rail (a balance loss)."""
    s = _session("grab", layout, seed, weight_kg, facing=facing, grip=grip, cadence_spm=cadence_spm, **kw)
    tread = max(1, (s.layout.treads + 1) // 2)

    def trip(k: int) -> None:
        s.flight("up")
        s.rest(3.0)
        s.flight("down", grab_at=tread if k == 0 else None, grab_side=side)
    _round_trips(s, flights, duration_s, trip)
    return s.build(noise, min_end_s=duration_s)


def fall(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
         weight_kg: float = 70.0, duration_s: float | None = None, cadence_spm: float = 70.0,
         grip: str = "light", facing: str = "forward", restart: bool = True, off_s: float = 5.0,
         **kw) -> SimResult:
    """A flight up and down, then on the second way up both feet leave a middle tread.

    With ``restart`` the athlete comes back after ``off_s`` and does a whole
    flight up and down; without, the session ends with the athlete off the
    flight (hands back on the rails, so that the trace runs on).
    """
    s = _session("fall", layout, seed, weight_kg, facing=facing, grip=grip, cadence_spm=cadence_spm, **kw)
    tread = (s.layout.treads + 1) // 2
    s.flight("up")
    s.rest(3.0)
    s.flight("down")
    s.rest(4.0)
    s.flight("up", fall_at=tread)
    s.rest(off_s)
    if restart:
        s.flight("up")
        s.rest(3.0)
        s.flight("down")
        return s.build(noise, min_end_s=duration_s)
    if not s.layout.rails and s.layout.tread_sensor != "force":
        raise ValueError("a fall without restart needs rails or force treads to carry the trace past it")
    s.hold(s.now, s.now + 1.5, "light")
    return s.build(noise, min_end_s=duration_s)


def mixed(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
          weight_kg: float = 70.0, duration_s: float | None = None, cadence_spm: float = 70.0, **kw) -> SimResult:
    """A realistic session: forward and backward flights, step-to, two at a time, grip from firm
    to hover, a grab, a stall and a suspected fall (then a restart)."""
    s = _session("mixed", layout, seed, weight_kg, facing="backward", grip="light", cadence_spm=cadence_spm, **kw)
    n = s.layout.treads
    mid = max(1, (n + 1) // 2)

    def rest(a: float, b: float) -> None:
        s.rest(s.rng.uniform(a, b))

    s.flight("up", facing="forward", grip="firm", cadence_spm=85)
    rest(3, 4)
    s.flight("down", facing="forward", grip="firm", cadence_spm=90)
    rest(4, 7)
    s.flight("up", facing="forward", cadence_spm=85)
    rest(3, 4)
    s.flight("down", facing="forward", cadence_spm=90, grab_at=mid, grab_side="left")
    rest(4, 7)
    s.flight("up", stall_at=mid)
    rest(3, 4)
    s.flight("down")
    rest(4, 7)
    s.flight("up", pattern="to", grip="firm", cadence_spm=45)
    rest(3, 4)
    s.flight("down", pattern="to", grip="firm", cadence_spm=45)
    rest(4, 7)
    s.flight("up", pattern="two", facing="forward", grip="hover", cadence_spm=55)
    rest(3, 4)
    s.flight("down", pattern="two", facing="forward", grip="hover", cadence_spm=55)
    rest(4, 7)
    if 1 < mid < n:
        s.flight("up", fall_at=mid, grip="hover")
        rest(5, 8)
    s.flight("up", grip="hover")
    rest(3, 4)
    s.flight("down", grip="hover")
    if duration_s is not None and s.now + 40.0 < duration_s:  # then backward flights, light and hover in turn
        s.rest(s.rng.uniform(4, 7))
        _up_and_down(s, 0, duration_s, grip_for=lambda k: "light" if k % 2 == 0 else "hover")
    return s.build(noise, min_end_s=duration_s)


FALL_OFF_S = 6.0
"""In the demo with a fall: how long the athlete stays off the stairs before coming back."""


def demo_fall_after_s(duration_s: float) -> float:
    """When the demo's fall comes: on the first climb that starts after 60 simulated seconds, or
    after a third of a demo shorter than three minutes."""
    return min(60.0, duration_s / 3.0)


def demo(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
         weight_kg: float = 70.0, duration_s: float | None = 600.0, cadence_spm: float = 60.0,
         grab_every_s: float = 150.0, stall_every_s: float = 120.0, fall_after_s: float | None = None,
         **kw) -> SimResult:
    """The live demo: backward flights up and down with rests, light grip or hovering hands,
    a grab and a stall now and then, for ``duration_s`` (default 10 minutes).

    It runs on any rig: on a stepper it does bouts of presses, on a single
    tread bouts of step-ups. With ``fall_after_s`` the athlete falls once, on
    the first climb that starts after it (or an earlier one when the demo
    would end before the next): both feet leave the middle tread (a suspected
    fall, as in the ``fall`` scenario), and the athlete comes back
    ``FALL_OFF_S`` later and goes on. A fall needs a flight of three treads or
    more; a demo too short for one is refused. ``gait``: how the athlete walks (gait_params)."""
    s = _session("demo", layout, seed, weight_kg, facing="backward", grip="light", cadence_spm=cadence_spm, **kw)
    duration_s = 600.0 if duration_s is None else duration_s
    n = s.layout.treads
    if fall_after_s is not None and (s.layout.kind != "flight" or n < 3):
        raise ValueError(f"a fall needs a flight of at least 3 treads (both feet leave a middle one); "
                         f"this rig is a {s.layout.kind} of {n}")
    can_grab = any(s.layout.rail_has(side, "force") for side in s.layout.rails)
    next_grab = s.rng.uniform(0.5, 1.0) * grab_every_s
    next_stall = s.rng.uniform(0.4, 0.8) * stall_every_s
    fall_due = fall_after_s is not None
    just_fell = False
    pace = s.gait.cadence_factor     # a faster or slower athlete (rig.sim.gait_params)
    longest_bout_s = 2 * (n + 2) * 60.0 / (cadence_spm * 0.85 * pace) * 1.15 + 4.0 + 1.0 + 4.5
    bouts = 0
    while True:
        rest_s = s.rng.uniform(5.0, 12.0) if bouts else 0.0
        grip = "hover" if s.rng.random() < 0.25 else "light"
        cadence = cadence_spm * s.rng.uniform(0.85, 1.15)
        interval = 60.0 / (cadence * pace) * 1.15  # the slowest a step can be
        stall_now = s.now + rest_s >= next_stall
        grab_now = can_grab and s.now + rest_s >= next_grab
        if s.layout.kind == "stepper":
            bout_s = 30 * interval
        elif n == 1:
            bout_s = 8 * 3 * interval
        else:
            bout_s = 2 * (n + 2) * interval + 4.0
        bout_s += 1.0 + (4.5 if stall_now else 0.0)
        if just_fell:       # back on the stairs after FALL_OFF_S
            rest_s, just_fell = 0.0, False
        # the fall, then a bout after it: on the first climb after fall_after_s, or on this one
        # when after it there would be no time for both
        fall_and_back_s = (n + 2) * interval + FALL_OFF_S + longest_bout_s
        if fall_due and (s.now + rest_s >= fall_after_s
                         or s.now + rest_s + bout_s + 12.0 + fall_and_back_s > duration_s - 2.5):
            if s.now + rest_s + fall_and_back_s > duration_s - 2.5:
                break
            bouts += 1
            fall_due, just_fell = False, True
            s.rest(rest_s)
            # up to the middle tread, then both feet off the flight to the floor
            s.flight("up", grip=grip, cadence_spm=cadence, fall_at=(n + 1) // 2)
            s.rest(FALL_OFF_S)
            continue
        if bouts and s.now + rest_s + bout_s > duration_s - 2.5:
            break
        bouts += 1
        s.rest(rest_s)
        if stall_now:
            next_stall = s.now + stall_every_s * s.rng.uniform(0.7, 1.3)
        if grab_now:
            next_grab = s.now + grab_every_s * s.rng.uniform(0.7, 1.3)
        if s.layout.kind == "stepper":  # no flight to climb: bouts of presses
            s.presses(30, grip="light" if grab_now else grip, cadence_spm=cadence,
                      stall_at=s.rng.randint(5, 25) if stall_now else None,
                      grab_at=s.rng.randint(5, 25) if grab_now else None)
            continue
        if n == 1:  # a single tread: bouts of step-ups
            t = s.now
            s.step_ups(8, grip=grip, cadence_spm=cadence / 3)
            if grab_now:
                s.grab(t + s.rng.uniform(3.0, 10.0))
            continue
        s.flight("up", grip=grip, cadence_spm=cadence, stall_at=s.rng.randint(1, n) if stall_now else None)
        s.rest(s.rng.uniform(2.0, 4.0))
        s.flight("down", grip="light" if grab_now else grip, cadence_spm=cadence,
                 grab_at=s.rng.randint(1, n) if grab_now else None)
    if fall_due:
        raise ValueError(f"a demo of {duration_s:g} s is too short for a fall and the athlete's return: "
                         f"make it longer")
    return s.build(noise, min_end_s=duration_s)


SCENARIOS: dict[str, Callable[..., SimResult]] = {
    "forward-flights": forward_flights,
    "backward-flights": backward_flights,
    "step-to": step_to,
    "two-at-a-time": two_at_a_time,
    "step-ups": step_ups,
    "stepper": stepper,
    "force-treads": force_treads,
    "grip-progression": grip_progression,
    "stall": stall,
    "grab": grab,
    "fall": fall,
    "mixed": mixed,
    "demo": demo,
}


def simulate(scenario: str = "mixed", *, seed: int = 0, noise: str = "typical", layout: RigLayout | None = None,
             weight_kg: float = 70.0, duration_s: float | None = None, **options) -> SimResult:
    """Run a named scenario (see :data:`SCENARIOS`)."""
    try:
        fn = SCENARIOS[scenario]
    except KeyError:
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}") from None
    return fn(layout=layout, seed=seed, noise=noise, weight_kg=weight_kg, duration_s=duration_s, **options)
