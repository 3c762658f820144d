"""Gait figures: flights with their power, step times, steadiness, dwell, leg
asymmetry, double support and whole-foot placement (``docs/trace-format.md``,
"Gait figures"), streaming, from the same contacts as the steps.

``StepRules`` tells a ``Gait`` each step (its onset, tread, direction and
rise), each tread emptying (with how many stay occupied) and each flight
counted, all at their own times on the ordered timeline; a split tread's
``HalfTimes`` keeps its halves' raw on-times, so that a step's whole-foot
placement can be judged when its tread empties: ``vacated`` then returns that
verdict (``placement``), which the step rules emit as a ``placement`` event for
the panel's whole-foot cue (per contact, never per sample; it is no part of the
summary). ``summary()`` gives the summary's ``gait`` object at any moment.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from statistics import pstdev

from rig.settings import G_M_S2

_INF = float("inf")
_MAX_SPANS = 4096
MAX_FLIGHTS = 10_000
"""Flights a summary lists, and flights whose figures its medians take (the latest): a one-hour
trace has about 170; only a service running for weeks without a restart reaches it (its whole-run
summary, which nobody reads for gait), and its memory and summary time stay bounded."""
MAX_VALUES = 100_000


class _Median:
    """The median of the latest ``MAX_VALUES`` values, kept sorted as they come (O(1) to read)."""

    __slots__ = ("order", "sorted")

    def __init__(self) -> None:
        self.order: deque[float] = deque()
        self.sorted: list[float] = []

    def add(self, value: float) -> None:
        self.order.append(value)
        insort(self.sorted, value)
        if len(self.order) > MAX_VALUES:
            del self.sorted[bisect_left(self.sorted, self.order.popleft())]

    def __bool__(self) -> bool:
        return bool(self.sorted)

    def value(self) -> float:
        v, n = self.sorted, len(self.sorted)
        return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


class HalfTimes:
    """The raw on-intervals of a split tread's two halves, kept until the contact they fall in is judged."""

    __slots__ = ("spans",)

    def __init__(self) -> None:
        # front, back: [on_t, off_t] (off_t inf while on); a switch that chatters for hours
        # without ever making a step keeps only its latest intervals
        self.spans: tuple[deque, deque] = (deque(maxlen=_MAX_SPANS), deque(maxlen=_MAX_SPANS))

    def edge(self, front: bool, t: float, on: bool) -> None:
        spans = self.spans[0 if front else 1]
        if on:
            spans.append([t, _INF])
        elif spans and spans[-1][1] == _INF:
            spans[-1][1] = t

    def on_time(self, front: bool, start: float, end: float) -> float:
        """Raw on-time of a half within ``[start, end]``."""
        total = 0.0
        for on_t, off_t in self.spans[0 if front else 1]:
            a = on_t if on_t > start else start
            b = off_t if off_t < end else end
            if b > a:
                total += b - a
        return total

    def forget_until(self, t: float) -> None:
        """Drop the intervals that ended by ``t`` (their contact has been judged)."""
        for spans in self.spans:
            while spans and spans[0][1] <= t:
                spans.popleft()


class _Step:
    __slots__ = ("onset", "tread", "direction", "rise", "facing", "dwell")

    def __init__(self, onset: float, tread: int, direction: str | None, rise: int, facing: str):
        self.onset = onset
        self.tread = tread
        self.direction = direction
        self.rise = rise
        self.facing = facing
        self.dwell: float | None = None


def placement(step: _Step, t: float, front_s: float, back_s: float, need_s: float) -> dict:
    """The ``placement`` event of a split tread's step whose contact ended at ``t``: whole foot when
    each half was on for at least ``need_s``; else ``half`` names the half that was (the other was
    not), or is None when neither was on that long. ``at`` is the caller's to add."""
    front, back = front_s >= need_s, back_s >= need_s
    return {"type": "placement", "t": t, "step_t": step.onset, "tread": step.tread,
            "whole_foot": front and back, "half": None if front == back else ("front" if front else "back"),
            "front_s": round(front_s, 3), "back_s": round(back_s, 3),
            "direction": step.direction, "facing": step.facing}


def _r(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


class Gait:
    """The gait figures of one rig's steps (see the module's docstring)."""

    def __init__(self, *, treads: int, stepper: bool, split: bool, riser_m: float, mass_kg: float,
                 min_contact_s: float):
        self.stepper = stepper
        self.split = split
        self.treads = treads
        self.riser_m = riser_m
        self.mass_kg = mass_kg
        self.min_contact_s = min_contact_s
        self.halves: list[HalfTimes] | None = [HalfTimes() for _ in range(treads)] if split else None
        self._on_tread: dict[int, _Step] = {}     # the step whose contact occupies each tread
        self._run: list[_Step] = []               # the current run of same-direction steps, occupied throughout
        self._run_broken = True                   # every tread emptied since the run's last step
        self.flights: deque[dict] = deque(maxlen=MAX_FLIGHTS)
        self._step_times = _Median()
        self._cvs = _Median()
        self._dwells = _Median()
        self._asymmetries = _Median()
        self._summary: dict | None = None     # the last summary, until something changes
        self._occupied = 0
        self._t = 0.0
        self._active_s = 0.0
        self._double_s = 0.0
        self.judged_steps = 0       # split treads: steps whose contact has ended, so could be judged
        self.whole_foot_steps = 0

    # -- from the step rules ------------------------------------------------------
    def _integrate(self, t: float) -> None:
        self._summary = None
        dt = t - self._t
        if dt > 0:
            if self._occupied >= 1:
                self._active_s += dt
                if self._occupied >= 2:
                    self._double_s += dt
        self._t = t

    def step(self, t: float, tread: int, direction: str | None, rise: int, facing: str = "unknown") -> None:
        """A step: ``tread`` went from empty to occupied at ``t`` (its onset), facing ``facing``."""
        self._integrate(t)
        self._occupied += 1
        if self.halves is not None:
            self.halves[tread - 1].forget_until(t)    # blips before this contact were never a step
        step = _Step(t, tread, direction, rise, facing)
        self._on_tread[tread] = step
        if self.stepper:
            return
        run = self._run
        if direction is None or self._run_broken or (run and run[-1].direction != direction):
            run.clear()
        self._run_broken = False
        if direction is not None:
            run.append(step)

    def vacated(self, t: float, tread: int, occupied_left: int) -> dict | None:
        """``tread`` emptied at ``t`` (the last raw release of its contact). On a split tread, the
        step's whole-foot verdict (see ``placement``); else None."""
        self._integrate(t)
        self._occupied = occupied_left
        step = self._on_tread.pop(tread, None)
        verdict = None
        if step is not None:
            step.dwell = t - step.onset
            if self.halves is not None:
                halves = self.halves[tread - 1]
                verdict = placement(step, t, halves.on_time(True, step.onset, t), halves.on_time(False, step.onset, t),
                                    self.min_contact_s - 1e-9)
                self.judged_steps += 1
                if verdict["whole_foot"]:
                    self.whole_foot_steps += 1
                halves.forget_until(t)
        if occupied_left == 0:
            self._run_broken = True     # a flight needs some tread occupied from its first onset to its count
        return verdict

    def flight(self, t: float, direction: str) -> None:
        """An ascent (``up``) or a descent (``down``) was counted at ``t``: the current run is its flight."""
        run = [s for s in self._run if s.direction == direction]
        self._run = []
        if not run:
            return
        start = run[0].onset
        duration = t - start
        power = None
        if direction == "up" and duration > 0:
            height_m = (sum(s.rise for s in run) + 1) * self.riser_m
            power = self.mass_kg * G_M_S2 * height_m / duration
        self.flights.append({"dir": direction, "t": _r(start), "duration_s": _r(duration), "steps": len(run),
                             "power_w": _r(power, 3)})
        self._summary = None
        onsets = [s.onset for s in run]
        times = [b - a for a, b in zip(onsets, onsets[1:])]
        for time_s in times:
            self._step_times.add(time_s)
        if len(times) >= 3:
            mean = sum(times) / len(times)
            if mean > 0:
                self._cvs.add(pstdev(times) / mean)
        dwells = [s.dwell if s.dwell is not None else t - s.onset for s in run]
        for dwell in dwells:
            self._dwells.add(dwell)
        if len(dwells) >= 4:
            mean = sum(dwells) / len(dwells)
            odd, even = dwells[0::2], dwells[1::2]
            if mean > 0:
                self._asymmetries.add(abs(sum(odd) / len(odd) - sum(even) / len(even)) / mean)

    # -- the summary's ``gait`` ---------------------------------------------------
    def summary(self) -> dict:
        """The summary's ``gait``, built again only after a change (an idle rig's summaries cost
        nothing); a copy each time, so that what outputs do with theirs stays theirs."""
        if self._summary is None:
            self._summary = self._build()
        out = dict(self._summary)
        out["flights"] = [dict(f) for f in out["flights"]]
        return out

    def _build(self) -> dict:
        double = None
        if not self.stepper and self.treads > 1 and self._active_s > 0:
            double = _r(self._double_s / self._active_s)
        # every step is judged once its contact ends (at the end of a trace, every one)
        whole = _r(self.whole_foot_steps / self.judged_steps) if self.split and self.judged_steps else None
        return {
            "flights": list(self.flights),
            "step_time_s": _r(self._step_times.value()) if self._step_times else None,
            "step_time_cv": _r(self._cvs.value()) if self._cvs else None,
            "dwell_s": _r(self._dwells.value()) if self._dwells else None,
            "dwell_asymmetry": _r(self._asymmetries.value()) if self._asymmetries else None,
            "double_support_fraction": double,
            "whole_foot_fraction": whole,
        }
