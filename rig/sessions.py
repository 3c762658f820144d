"""Training sessions: when they start and end, and what each one measured.

Lives in the engine thread, next to the run's detector, and does no I/O: it
publishes ``session_started``, ``session_samples``, ``session_progress`` and
``session_ended`` events that outputs turn into a trace file and history
rows.

A session starts at its first step (or by command) and ends after
``idle_end_s`` with no tread occupied (or by command, or when the service
stops). Each session runs its own detector, fed from ``pre_roll_s`` before
the step that started it (the samples kept in a ring buffer, each channel's
state at that moment first), on a time base that starts at 0: the session's
trace holds exactly what its detector was fed, so replaying the trace
reproduces the stored summary.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from rig.core import Detector
from rig.energy import energy_kcal
from rig.layout import RigLayout
from rig.settings import DetectionSettings
from rig.trace.resolution import time_on_grid

Publish = Callable[[dict], None]
_CONFIRM_MARGIN_S = 2.0
WallClock = Callable[[], dt.datetime]


@dataclass
class Drill:
    """What the athlete sets out to do in a session."""
    facing: str = "backward"
    grip: str = "light"
    planned_flights: int | None = None
    added_load_kg: float = 0.0

    def as_dict(self) -> dict:
        return {"facing": self.facing, "grip": self.grip, "planned_flights": self.planned_flights,
                "added_load_kg": self.added_load_kg}


@dataclass
class Athlete:
    id: int | None
    name: str
    weight_kg: float
    level: str | None = None


@dataclass
class _Flight:
    direction: str
    t_start_s: float
    steps_at_start: int
    rails_at_start: dict


@dataclass
class _Session:
    key: str
    detector: Detector
    t0: float                    # engine time that is 0 in the session's time base
    started_at: dt.datetime      # wall clock, read once at the start
    athlete: Athlete
    drill: Drill
    flights: list[dict] = field(default_factory=list)
    flight: _Flight | None = None
    idle_since: float | None = None   # engine time since when no tread is occupied
    last_progress: float = 0.0
    notes: list[dict] = field(default_factory=list)   # events from outside the detector (fall_acknowledged,
    #                                                   fall_alarm_test): kept, never counted in the summary


class SessionManager:
    """Start, feed and end sessions; call from the engine thread only."""

    def __init__(self, layout: RigLayout, settings: DetectionSettings, publish: Publish, *,
                 athlete: Athlete, drill: Drill, idle_end_s: float = 120.0, pre_roll_s: float = 1.0,
                 progress_every_s: float = 1.0, wall_clock: WallClock | None = None):
        self.layout = layout
        self.settings = settings
        self.publish = publish
        self.athlete = athlete
        self.drill = drill
        self.drill_chosen = False   # set by a coach (panel, MQTT): kept over the progression's
        self.idle_end_s = idle_end_s
        self.pre_roll_s = pre_roll_s
        self.progress_every_s = progress_every_s
        self.wall_clock = wall_clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.current: _Session | None = None
        self._ring: deque[tuple[float, str, float]] = deque()
        self._values: dict[str, float] = {}     # each channel's value before the ring's first sample
        self._batch: list[tuple[float, str, float]] = []

    # -- input from the engine ---------------------------------------------
    def sample(self, t: float, channel: str, value: float) -> None:
        """Every raw sample, in order (already clamped by the engine)."""
        session = self.current
        if session is not None:
            rt = time_on_grid(t - session.t0)
            session.detector.feed(rt, channel, value)
            self._batch.append((rt, channel, value))
            self._values[channel] = value   # the ring is empty during a session
            return
        ring = self._ring
        ring.append((t, channel, value))
        # keep more than the pre-roll: a step is known up to min_contact + bridging after its edge
        horizon = t - self.pre_roll_s - _CONFIRM_MARGIN_S
        while ring and ring[0][0] < horizon:
            _, ch, v = ring.popleft()
            self._values[ch] = v

    def keep(self, samples: list) -> None:
        """``sample()`` for a run of samples while no session runs, before the run's detector
        sees them: the pre-roll ring takes them all (its horizon from the run's first sample, so
        that a session started by a step within the run finds what ``sample()`` would have left)."""
        ring = self._ring
        ring.extend(samples)
        horizon = samples[0][0] - self.pre_roll_s - _CONFIRM_MARGIN_S
        values = self._values
        while ring[0][0] < horizon:
            _, ch, v = ring.popleft()
            values[ch] = v

    def sample_many(self, samples: list) -> None:
        """``sample()`` for a run of samples while a session runs: its detector takes them at once."""
        session = self.current
        t0 = session.t0
        rts = [(time_on_grid(t - t0), ch, v) for t, ch, v in samples]
        session.detector.feed_many(rts)
        self._batch.extend(rts)
        values = self._values           # the ring is empty during a session
        for _, ch, v in samples:
            values[ch] = v

    def on_run_event(self, event: dict, now: float) -> None:
        """An event of the run's detector: its first step starts a session."""
        if event["type"] == "step" and self.current is None:
            self.start(now, t_first=event["t"], reason="first step")

    def tick(self, now: float) -> None:
        """Time passes: advance the session, flush its samples, end it when idle."""
        session = self.current
        if session is None:
            return
        session.detector.advance(time_on_grid(now - session.t0))
        if self._batch:
            self.publish({"type": "session_samples", "key": session.key, "samples": self._batch})
            self._batch = []
        if session.idle_since is not None and now - session.idle_since >= self.idle_end_s:
            self.end(now, reason=f"no one on the stairs for {self.idle_end_s:g} s")
            return
        if now - session.last_progress >= self.progress_every_s:
            session.last_progress = now
            self.publish({"type": "session_progress", "key": session.key, "t": now - session.t0,
                          "summary": session.detector.summary()})

    def note_event(self, event: dict, now: float) -> None:
        """An event from outside the detector, kept with the current session (not in its summary,
        which stays the replay of its trace)."""
        session = self.current
        if session is not None:
            session.notes.append({**{k: v for k, v in event.items() if k != "t"},
                                  "t": round(now - session.t0, 3)})

    def set_drill(self, drill: Drill, *, chosen: bool = False) -> None:
        """The next session's drill; ``chosen``: a coach's choice, which the progression does not override."""
        self.drill = drill
        self.drill_chosen = chosen

    # -- commands --------------------------------------------------------------
    def start(self, now: float, *, t_first: float | None = None, reason: str = "command") -> dict:
        """Start a session (ending the current one first)."""
        if self.current is not None:
            self.end(now, reason="a new session was started")
        t0 = (t_first if t_first is not None else now) - self.pre_roll_s
        started_at = self.wall_clock() - dt.timedelta(seconds=max(0.0, now - t0))
        key = started_at.strftime("%Y-%m-%dT%H-%M-%S.%fZ")
        session = _Session(key=key, detector=Detector(self.layout, self.settings, self.athlete.weight_kg,
                                                             added_load_kg=self.drill.added_load_kg or 0.0),
                           t0=t0, started_at=started_at, athlete=self.athlete, drill=self.drill)
        session.detector.on_event = lambda e, s=session: self._on_session_event(s, e)
        # the channels' state at the session's start, then the buffered samples since
        state = dict(self._values)
        for t, ch, v in self._ring:
            if t < t0:
                state[ch] = v
        # rails carry their state in; a foot already on a tread is not a step of this session
        pre = [(0.0, ch, v) for ch, v in state.items() if v and not ch.startswith("tread.")]
        pre += [(time_on_grid(t - t0), ch, v) for t, ch, v in self._ring if t >= t0]
        self._values = state
        self._ring.clear()
        self.current = session
        self.publish({"type": "session_started", "key": key, "t": now, "t0": t0, "reason": reason,
                      "started_at": started_at.isoformat(timespec="milliseconds"),
                      "athlete": vars(self.athlete).copy(), "drill": self.drill.as_dict(),
                      "drill_chosen": self.drill_chosen, "layout": self.layout.to_header(), "samples": pre})
        for rt, ch, v in pre:
            session.detector.feed(rt, ch, v)
        session.detector.advance(time_on_grid(now - t0))
        if t_first is None:
            session.idle_since = now   # started by command: idle until somebody steps on
        return {"key": key}

    def end(self, now: float, *, reason: str = "command") -> dict | None:
        session = self.current
        if session is None:
            return None
        t_end = time_on_grid(now - session.t0)
        det = session.detector
        det.advance(t_end)
        if self._batch:
            self.publish({"type": "session_samples", "key": session.key, "samples": self._batch})
            self._batch = []
        det.finish(t_end)
        summary = det.summary()
        self.current = None
        duration_s = t_end   # from the session's start (0 on its time base) to its end
        ended = {
            "type": "session_ended", "key": session.key, "t": now, "reason": reason,
            "started_at": session.started_at.isoformat(timespec="milliseconds"),
            "ended_at": (session.started_at + dt.timedelta(seconds=duration_s)).isoformat(timespec="milliseconds"),
            "duration_s": duration_s, "summary": summary, "flights": session.flights, "notes": session.notes,
            "athlete": vars(session.athlete).copy(), "drill": session.drill.as_dict(),
            "energy_kcal": energy_kcal(summary, self.layout, session.athlete.weight_kg,
                                       session.drill.added_load_kg, session.drill.facing),
        }
        self.publish(ended)
        return ended

    # -- the session detector's events -------------------------------------------
    def _on_session_event(self, session: _Session, event: dict) -> None:
        etype = event["type"]
        det = session.detector
        if etype in ("step", "ascent", "descent"):
            # the live figures of the session (a counter on the panel and in Home Assistant)
            self.publish({"type": "session_update", "key": session.key, "t": session.t0 + event["t"],
                          "summary": det.summary()})
        if etype == "step":
            session.idle_since = None
            direction = event["direction"]
            if direction not in ("up", "down"):
                session.flight = None   # a step neither up nor down ends the run (the spec's flights)
            elif session.flight is None or session.flight.direction != direction:
                # a flight starts at its first step, and again where the athlete turns round
                session.flight = _Flight(direction, event["t"], det.steps - 1, _rail_totals(det))
        elif etype in ("ascent", "descent"):
            self._close_flight(session, event["t"], "up" if etype == "ascent" else "down")
        elif etype == "vacated" and event["occupied"] == 0:
            session.idle_since = session.t0 + event["t"]
            session.flight = None   # off the stairs without finishing the flight

    def _close_flight(self, session: _Session, t_end: float, direction: str) -> None:
        start = session.flight
        session.flight = None
        if start is None:
            return
        det = session.detector
        steps = det.steps - start.steps_at_start
        t_start = start.t_start_s
        power = None
        spec = det.last_flight      # the same flight as the summary's gait.flights: its figures win
        if spec is not None and spec["dir"] == direction:
            t_start, steps, power = spec["t"], spec["steps"], spec["power_w"]
        duration = t_end - t_start
        now_rails = _rail_totals(det)
        rails = {k: round(now_rails[k] - start.rails_at_start[k], 3) for k in now_rails}
        session.flights.append({
            "idx": len(session.flights) + 1, "direction": direction,
            "t_start_s": round(t_start, 3), "t_end_s": round(t_end, 3),
            "duration_s": round(duration, 3), "steps": steps,
            "cadence_spm": round(steps / duration * 60, 1) if duration > 0 else None,
            **rails, "power_w": None if power is None else round(power, 1),
        })


def _rail_totals(det: Detector) -> dict:
    """Seconds of active time with some rail in contact, some firm, some in contact and none firm
    (the session's reliance measures), so far: a flight's are the difference across it."""
    return det.reliance_seconds()
