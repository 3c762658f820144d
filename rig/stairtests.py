"""Standard stair tests in the service: one test at a time, run in the engine thread.

The engine hands every event of the run's detector here first (``on_event``):
while a test runs, and after it until the athlete has left the flight at the
bottom, its steps are kept from the session manager, so a test is never a
training session. The test's state goes out on the bus as ``stair_test``
events (the live document shows it; ``rig/outputs/stairtests.py`` keeps a
finished one in the history). No I/O here: the engine thread owns it.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

from rig.core.stairtest import FINAL_STATES, StairTestProtocol, StairTestRunner
from rig.layout import RigLayout

#: engineering choices (no published figure): the countdown, the time to begin after go, and the most a
#: test may take before it is aborted (docs/stair-tests.md)
COUNTDOWN_S = 3.0
FIRST_STEP_WITHIN_S = 30.0
MAX_S = {"stair_climb_power": 60.0, "timed_stair_climb": 120.0}
#: after a test, the steps of leaving the flight start no session until it was left at the bottom,
#: or for at most this long
LEAVE_FLIGHT_S = 120.0


class StairTestControl:
    def __init__(self, layout: RigLayout, publish: Callable[[dict], None], *,
                 wall_clock: Callable[[], dt.datetime] | None = None):
        self.layout = layout
        self.publish = publish
        self.wall_clock = wall_clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.runner: StairTestRunner | None = None
        self._info: dict = {}
        self._leaving_until: float | None = None    # engine time until which the flight is being left
        self._serial = 0

    @property
    def running(self) -> bool:
        return self.runner is not None and not self.runner.finished

    def start(self, now: float, *, kind: str, athlete: dict, added_load_kg: float = 0.0,
              rails_allowed: bool = True) -> dict:
        """Begin a test (its countdown starts now); returns its state."""
        if self.running:
            raise ValueError("a stair test is already running: cancel it first")
        if self.layout.kind != "flight":
            raise ValueError("stair tests need a flight of treads, not a stepper")
        protocol = StairTestProtocol(kind, self.layout.treads, self.layout.riser_m,
                                     has_rails=bool(self.layout.rails), rails_allowed=rails_allowed,
                                     countdown_s=COUNTDOWN_S, first_step_within_s=FIRST_STEP_WITHIN_S,
                                     max_s=MAX_S[kind])
        self._serial += 1
        self._info = {"serial": self._serial, "athlete_id": athlete["id"], "athlete_name": athlete["name"]}
        self.runner = StairTestRunner(protocol, body_mass_kg=athlete["weight_kg"], added_load_kg=added_load_kg,
                                      on_change=self._changed)
        self._leaving_until = None
        self.runner.begin(now)
        return self.state()

    def command(self, name: str, now: float, kwargs: dict, *, walk_test: bool, session: bool,
                alarm, occupied: int = 0) -> dict | None:
        """The engine's ``start_stair_test`` and ``cancel_stair_test``; a test waits for what else runs."""
        if name == "cancel_stair_test":
            return self.cancel(now, kwargs.get("reason", "cancelled"))
        if walk_test:
            raise ValueError("a walk test is running: finish or cancel it before a stair test")
        if session:
            raise ValueError("a training session is running: stop it before a stair test (a test is never "
                             "part of a session)")
        if alarm is not None:
            raise ValueError("a fall alarm is on: press \"I'm OK\" before a stair test")
        if occupied and not self.running:
            # the rise is counted from the floor: a foot already on a tread would add a riser never climbed
            raise ValueError("someone is on the stairs: a stair test starts from the floor, so step off first")
        return self.start(now, **kwargs)

    def cancel(self, now: float, reason: str = "cancelled") -> dict | None:
        if not self.running:
            return None
        self.runner.cancel(now, reason)
        return self.state()

    def state(self) -> dict | None:
        return None if self.runner is None else {**self.runner.snapshot(), **self._info}

    def next_deadline(self) -> float:
        """When the countdown ends (the engine wakes for "go")."""
        r = self.runner
        if r is not None and r.state == "countdown":
            return r.go_t
        return float("inf")

    def tick(self, now: float) -> None:
        if self.running:
            self.runner.advance(now)
        if self._leaving_until is not None and now >= self._leaving_until:
            self._leaving_until = None

    def on_event(self, event: dict, now: float) -> bool:
        """An event of the run's detector; True when the sessions must not see it (a test's step)."""
        if self.running:
            self.runner.on_event(event)
            return True
        if self._leaving_until is not None:
            etype = event["type"]
            if etype == "descent" or (etype == "vacated" and event.get("occupied") == 0
                                      and event.get("tread") == 1):
                self._leaving_until = None      # off the flight at the bottom: the next step trains
            return True
        return False

    def _changed(self, state: dict) -> None:
        test = {**state, **self._info}
        if state["state"] in FINAL_STATES:
            t = state["t"]
            back_on_the_floor = state["kind"] == "timed_stair_climb" and state["state"] != "aborted"
            self._leaving_until = None if back_on_the_floor else t + LEAVE_FLIGHT_S
            # the wall-clock time of the first contact (of "go" when none came)
            first = state["start_t"] if state["start_t"] is not None else (state["go_t"] or t)
            started = self.wall_clock() - dt.timedelta(seconds=max(0.0, t - first))
            test["started_at"] = started.isoformat(timespec="milliseconds")
        self.publish({"type": "stair_test", "t": state["t"], "test": test})
