"""A standard stair test run from the treads: the protocol's states, its timing and its result.

Pure and streaming like the detector beside it: it is told the run detector's
events (``on_event``) and the time (``advance``), and says what changed
through ``on_change``. Nothing here reads a clock, a pin or a file.

Two kinds (docs/stair-tests.md has the protocols and their sources):

- ``stair_climb_power``: up the rig's flight once, as quickly as is safe
  (the Stair Climb Power Test of Bean et al. 2007, on the rig's 4 to 6
  treads as in the 4-step version of Ni et al. 2017). The time runs from the
  onset of the first step after "go" to the onset of the first contact on the
  top tread: the rig cannot see a foot leave the floor, and a flight need not
  have a landing to step onto.
- ``timed_stair_climb``: up the flight and back down to the floor (a stair
  climb test of the OARSI core set, Dobson et al. 2013): from the first step's
  onset to the descent being counted (the bottom tread left with the last
  step down). Its power is that of the climb up, as for the power test.

States: ``ready`` -> ``countdown`` (``countdown_s``, then "go") -> ``running``
-> ``done``, ``aborted`` (a stall, a suspected fall, no step within
``first_step_within_s`` of go, over ``max_s``, a step before go, cancelled) or
``invalid`` (finished against the protocol: a rail used where the test is run
without rails, or a step down before the top).

Power is mass x g x rise / time, mass being the body mass plus any added load:
the rise is the height the body climbed between the first contact and the top
tread's contact, from the floor to the tread the last step up left
(``treads - 1`` risers with one step per tread). W/kg is per body mass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rig.settings import G_M_S2

KINDS = ("timed_stair_climb", "stair_climb_power")
STATES = ("ready", "countdown", "running", "done", "aborted", "invalid")
FINAL_STATES = ("done", "aborted", "invalid")


@dataclass(frozen=True)
class StairTestProtocol:
    """How a test is run on this rig: its kind, the flight, and the limits (seconds of engine time)."""
    kind: str
    treads: int
    riser_m: float
    has_rails: bool = True
    rails_allowed: bool = True
    countdown_s: float = 3.0
    first_step_within_s: float = 30.0
    max_s: float = 60.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if isinstance(self.treads, bool) or not isinstance(self.treads, int) or self.treads < 2:
            raise ValueError(f"a stair test needs a flight of at least 2 treads, not {self.treads!r}")
        if not isinstance(self.riser_m, (int, float)) or not 0 < self.riser_m <= 1:
            raise ValueError(f"riser_m must be a height in metres between 0 and 1, not {self.riser_m!r}")
        for name in ("countdown_s", "first_step_within_s", "max_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number of seconds, not {value!r}")


class StairTestRunner:
    """One test, from "ready" to its result. Call from one thread (the engine's)."""

    def __init__(self, protocol: StairTestProtocol, *, body_mass_kg: float, added_load_kg: float = 0.0,
                 on_change: Callable[[dict], None] | None = None):
        if not isinstance(body_mass_kg, (int, float)) or isinstance(body_mass_kg, bool) or body_mass_kg <= 0:
            raise ValueError(f"body_mass_kg must be a positive number, not {body_mass_kg!r}")
        if not isinstance(added_load_kg, (int, float)) or isinstance(added_load_kg, bool) or added_load_kg < 0:
            raise ValueError(f"added_load_kg must be a number of kg, at least 0, not {added_load_kg!r}")
        self.protocol = protocol
        self.body_mass_kg = float(body_mass_kg)
        self.added_load_kg = float(added_load_kg)
        self.on_change = on_change
        self.state = "ready"
        self.phase: str | None = None          # while running: "up", then "down" (timed test)
        self.note: str | None = None
        self.go_t: float | None = None         # engine time of "go"
        self.start_t: float | None = None      # onset of the first step after go
        self.top_t: float | None = None        # onset of the first contact on the top tread
        self.end_t: float | None = None
        self.steps = 0
        self.rise_levels = 0                   # risers the body climbed from the first to the top contact
        self._level = 0                        # the tread the athlete last stepped onto (0: the floor)
        self.rails_used: bool | None = False if protocol.has_rails else None

    # -- driving it ------------------------------------------------------------------
    def begin(self, now: float) -> None:
        """The instructions were given: count down to "go"."""
        if self.state != "ready":
            raise ValueError(f"the test has already begun (it is {self.state})")
        self.go_t = now + self.protocol.countdown_s
        self._set("countdown", now)
        if self.protocol.countdown_s <= 0:
            self.advance(now)

    def cancel(self, now: float, reason: str = "cancelled") -> None:
        if self.state not in FINAL_STATES:
            self._finish("aborted", now, reason)

    def advance(self, now: float) -> None:
        """Time passes: "go" at the end of the countdown; the limits."""
        p = self.protocol
        if self.state == "countdown" and now >= self.go_t:
            self.phase = "up"
            self._set("running", now)
        elif self.state == "running":
            if self.start_t is None and now - self.go_t > p.first_step_within_s:
                self._finish("aborted", now, f"no step within {p.first_step_within_s:g} s of go")
            elif self.start_t is not None and now - self.start_t > p.max_s:
                self._finish("aborted", now, f"not finished within {p.max_s:g} s")

    def on_event(self, event: dict) -> None:
        """An event of the run's detector (step, grip, grab, stall, fall_suspected, descent...)."""
        etype = event.get("type")
        t = event.get("t", 0.0)
        if self.state == "countdown":
            if etype == "step":
                self._finish("aborted", t, "a step before go: wait for go, then climb")
            return
        if self.state != "running":
            return
        if etype == "grip" and event.get("grip") not in (None, "none") or etype == "grab":
            self.rails_used = True
        elif etype == "stall" and self.start_t is not None:
            self._finish("aborted", t, "stopped on the stairs (a stall)")
        elif etype == "fall_suspected":
            self._finish("aborted", t, "a fall is suspected")
        elif etype == "step":
            self._on_step(event)
        elif etype == "descent" and self.phase == "down":
            self.end_t = t
            self._finish_valid(t)

    def _on_step(self, event: dict) -> None:
        t, tread, direction = event["t"], event.get("tread"), event.get("direction")
        top = self.protocol.treads
        if self.start_t is None:
            if direction != "up":
                self._finish("invalid", t, "the first step must be up from the floor")
                return
            self.start_t = t
        self.steps += 1
        if self.phase == "up":
            if direction != "up":
                self._finish("invalid", t, "a step down or sideways before the top")
                return
            if tread == top:
                self.top_t = t
                self.rise_levels = self._level     # the body is at the level the last step left
                if self.protocol.kind == "stair_climb_power":
                    self.end_t = t
                    self._finish_valid(t)
                    return
                self.phase = "down"
                self._change(t)
        self._level = tread if isinstance(tread, int) else self._level

    def _finish_valid(self, t: float) -> None:
        if self.rails_used and not self.protocol.rails_allowed:
            self._finish("invalid", t, "a rail was used: this test is run without the rails")
        else:
            self._finish("done", t, None)

    def _finish(self, state: str, t: float, note: str | None) -> None:
        self.phase = None
        self.note = note
        self._set(state, t)

    def _set(self, state: str, t: float) -> None:
        self.state = state
        self._change(t)

    def _change(self, t: float) -> None:
        if self.on_change is not None:
            self.on_change({**self.snapshot(), "t": t})

    # -- reading ---------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def up_time_s(self) -> float | None:
        if self.start_t is None or self.top_t is None:
            return None
        return self.top_t - self.start_t

    def duration_s(self) -> float | None:
        if self.start_t is None or self.end_t is None:
            return None
        return self.end_t - self.start_t

    def rise_m(self) -> float | None:
        return None if self.top_t is None else self.rise_levels * self.protocol.riser_m

    def power_w(self) -> float | None:
        """Stair climb power of the climb up (None before the top, or when no rise was climbed)."""
        up_s, rise = self.up_time_s(), self.rise_m()
        if up_s is None or rise is None or up_s <= 0 or rise <= 0:
            return None
        return (self.body_mass_kg + self.added_load_kg) * G_M_S2 * rise / up_s

    def snapshot(self) -> dict:
        """The state and (once known) the result, as the live document and the history keep them."""
        power = self.power_w()
        duration = self.duration_s()
        up_s = self.up_time_s()
        return {
            "kind": self.protocol.kind, "state": self.state, "phase": self.phase, "note": self.note,
            "go_t": self.go_t, "start_t": self.start_t,
            "countdown_s": self.protocol.countdown_s,
            "steps": self.steps, "treads": self.protocol.treads, "riser_m": self.protocol.riser_m,
            "duration_s": None if duration is None else round(duration, 3),
            "up_s": None if up_s is None else round(up_s, 3),
            "rise_m": None if self.rise_m() is None else round(self.rise_m(), 4),
            "power_w": None if power is None else round(power, 1),
            "power_w_per_kg": None if power is None else round(power / self.body_mass_kg, 3),
            "body_mass_kg": self.body_mass_kg, "added_load_kg": self.added_load_kg,
            "rails_used": self.rails_used, "rails_allowed": self.protocol.rails_allowed,
        }
