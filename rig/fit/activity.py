"""A stairrig session as a FIT activity file, for Garmin Connect, Strava and intervals.icu.

``session_fit(session)`` takes a session as the history gives it
(``HistoryStore.session``: its row, ``flights`` and ``events``) and returns
the bytes of a FIT activity file (``rig/fit/encoder.py`` writes the format).
Pure: no I/O, no clock; the local time's offset from UTC is an argument.

What goes in, and why (the FIT profile of SDK 21.218):

- ``file_id``: an activity file (type 4) by a development manufacturer
  (255), product 1, ``product_name`` "stairrig", created at the session's
  start; ``device_info`` for the same device (the creator).
- the sport: ``fitness_equipment`` (4) with the sub-sport ``stair_climbing``
  (16), what Garmin's own watches write for their "Stair Stepper"
  activity. Garmin Connect files it as stair stepping; Strava maps that
  pair to its "StairStepper" type. The newer ``floor_climbing`` (48) is
  the watches' climb of a building's floors: some importers do not know
  it and call it a generic workout.
- ``event``: the timer started at the start, stopped (stop_all) at the end.
- ``record``: the session's start and end, and the start and end of each
  flight, with the steps so far (``total_cycles``), the height above the
  start (``altitude``: up flights add, down flights take away; never
  below FIT's -500 m), distance 0,
  and the flight's cadence in steps a minute. The history keeps no time of
  each step, so nothing is made up between these points.
- one ``lap`` a flight: its start and duration (to the millisecond; FIT
  times are whole seconds), its steps, cadence, and the height it climbed
  or came down. A session without flights (a stepper) has one lap for the
  whole of it: every activity needs one.
- ``session``: start, duration (``total_elapsed_time`` and
  ``total_timer_time``: the rig never pauses), the active time
  (``total_moving_time``), steps (``total_cycles``: FIT has no step count
  for this sport), ascent (the session's ``elevation_gain_m``), descent,
  energy (``total_calories``, kcal), the average and highest cadence, the
  number of laps (the flights).
- ``activity``: one session, with the local time.

Heights: the history keeps the height climbed (``elevation_gain_m``), not
the height of each flight nor the height came down. Both are estimated with
the session's own height per step up (``elevation_gain_m / steps_up``): a
flight's height is its steps times that, and the descent the steps down
times that; on a flight taken one step per tread both are exact. FIT keeps
ascent and descent in whole metres, and the centimetres beside them
(``total_fractional_ascent``/``descent``).
"""

from __future__ import annotations

import datetime as dt
import math

from rig.fit import profile
from rig.fit.encoder import FitWriter, fit_time, scaled

PRODUCT = 1
PRODUCT_NAME = "stairrig"
SERIAL_NUMBER = 0x53545231       # "STR1": one for every stairrig (FIT wants one; 0 means none)
SPORT = {"sport": profile.SPORT_FITNESS_EQUIPMENT, "sub_sport": profile.SUB_SPORT_STAIR_CLIMBING}


def session_fit(session: dict, *, utc_offset_s: int = 0, software_version: str | None = None) -> bytes:
    """The FIT activity file of an ended ``session`` (a ``HistoryStore.session`` dict).

    ``utc_offset_s``: local time minus UTC at the session's start, for the
    activity's local time. A ``ValueError`` names a missing or bad field, or
    a session still running.
    """
    s = _Session(session)
    w = FitWriter()
    created = fit_time(s.start)
    end = fit_time(s.end)
    device = {"manufacturer": profile.MANUFACTURER_DEVELOPMENT, "product": PRODUCT, "serial_number": SERIAL_NUMBER,
              "product_name": PRODUCT_NAME}
    w.message("file_id", {"type": profile.FILE_ACTIVITY, "time_created": created, **device})
    w.message("device_info", {"timestamp": created, "device_index": profile.DEVICE_CREATOR, **device,
                              "software_version": _version(software_version), "source_type": profile.SOURCE_LOCAL})
    w.message("event", {"timestamp": created, "event": profile.EVENT_TIMER, "event_type": profile.EVENT_START,
                        "event_group": 0})
    laps = s.laps()
    waiting = list(laps)
    for point in s.points():
        w.message("record", {"timestamp": fit_time(s.at(point["t_s"])),
                             "altitude": scaled(max(-500.0, point["altitude_m"]), 5, 500),
                             "cadence": _whole(point.get("cadence_spm")), "distance": 0,
                             "total_cycles": point["steps"]})
        while waiting and waiting[0]["written_after_s"] <= point["t_s"]:
            w.message("lap", _lap(s, waiting.pop(0)))
    w.message("event", {"timestamp": end, "event": profile.EVENT_TIMER, "event_type": profile.EVENT_STOP_ALL,
                        "event_group": 0})
    cadences = [lap["cadence_spm"] for lap in laps if lap["cadence_spm"] is not None]
    w.message("session", {
        "message_index": 0, "timestamp": end, "event": profile.EVENT_SESSION, "event_type": profile.EVENT_STOP,
        "start_time": created, **SPORT,
        "total_elapsed_time": scaled(s.duration_s, 1000), "total_timer_time": scaled(s.duration_s, 1000),
        "total_moving_time": scaled(s.active_s, 1000),
        "total_distance": 0, "total_cycles": s.steps,
        "total_calories": None if s.energy_kcal is None else round(s.energy_kcal),
        **_cadence(s.cadence_spm), "max_cadence": _whole(max(cadences, default=None)),
        **_height("ascent", s.elevation_gain_m), **_height("descent", s.height_per_step_m * s.steps_down),
        "first_lap_index": 0, "num_laps": len(laps), "trigger": profile.SESSION_TRIGGER_ACTIVITY_END,
    })
    w.message("activity", {
        "timestamp": end, "total_timer_time": scaled(s.duration_s, 1000), "num_sessions": 1,
        "type": profile.ACTIVITY_MANUAL, "event": profile.EVENT_ACTIVITY, "event_type": profile.EVENT_STOP,
        "local_timestamp": end + int(utc_offset_s),
    })
    return w.to_bytes()


def _lap(s: "_Session", lap: dict) -> dict:
    up = lap["direction"] == "up"
    return {
        "message_index": lap["index"], "timestamp": fit_time(s.at(lap["t_end_s"])),
        "event": profile.EVENT_LAP, "event_type": profile.EVENT_STOP, "start_time": fit_time(s.at(lap["t_start_s"])),
        "total_elapsed_time": scaled(lap["duration_s"], 1000), "total_timer_time": scaled(lap["duration_s"], 1000),
        "total_distance": 0, "total_cycles": lap["steps"], **_cadence(lap["cadence_spm"]),
        **_height("ascent", lap["height_m"] if up else 0.0), **_height("descent", 0.0 if up else lap["height_m"]),
        "intensity": profile.INTENSITY_ACTIVE,
        "lap_trigger": profile.LAP_TRIGGER_SESSION_END if lap["last"] else profile.LAP_TRIGGER_MANUAL, **SPORT,
    }


def _whole(x: float | None) -> int | None:
    return None if x is None else min(254, math.floor(x))


def _cadence(spm: float | None) -> dict:
    """Steps a minute as FIT's cadence: whole, and the fraction in 128ths."""
    if spm is None:
        return {}
    n = round(spm * 128)
    if n // 128 > 254:
        return {"avg_cadence": 254}
    return {"avg_cadence": n // 128, "avg_fractional_cadence": n % 128}


def _height(which: str, m: float) -> dict:
    """A height as FIT's total_ascent/descent (whole metres) and total_fractional_ascent/descent (cm)."""
    cm = round(m * 100)
    return {f"total_{which}": cm // 100, f"total_fractional_{which}": cm % 100}


def _version(text: str | None) -> int | None:
    """"0.1.0" as FIT's software_version (hundredths: 0.10 is 10); None when it does not read as one."""
    if not text:
        return None
    parts = text.split(".")
    try:
        value = round(float(f"{int(parts[0])}.{int(parts[1]) if len(parts) > 1 else 0}") * 100)
    except ValueError:
        return None
    return value if 0 <= value < 0xFFFF else None


class _Session:
    """The figures of a history session that the file needs, checked (a ValueError names the field)."""

    def __init__(self, session: dict):
        if not isinstance(session, dict):
            raise ValueError(f"a session must be a dict, not {type(session).__name__}")
        self.id = session.get("id")
        if session.get("status") == "open":
            raise ValueError(f"session {self.id} is still running: export it when it has ended")
        self.start = _time(session.get("started_at"), "started_at")
        self.duration_s = _number(session, "duration_s", low=0.0)
        self.end = self.start + dt.timedelta(seconds=self.duration_s)
        self.steps = _count(session, "steps")
        self.steps_up = _count(session, "steps_up")
        self.steps_down = _count(session, "steps_down")
        self.elevation_gain_m = _number(session, "elevation_gain_m", low=0.0, default=0.0)
        self.active_s = _number(session, "active_s", low=0.0, default=None)
        self.cadence_spm = _number(session, "cadence_spm", low=0.0, default=None)
        self.energy_kcal = _number(session, "energy_kcal", low=0.0, default=None)
        self.height_per_step_m = self.elevation_gain_m / self.steps_up if self.steps_up else 0.0
        flights = session.get("flights") or []
        if not isinstance(flights, list):
            raise ValueError(f"session {self.id}: flights must be a list")
        self.flights = [self._flight(i, f) for i, f in enumerate(flights)]
        self.flights.sort(key=lambda f: f["t_start_s"])

    def at(self, t_s: float) -> dt.datetime:
        return self.start + dt.timedelta(seconds=t_s)

    def _flight(self, i: int, f) -> dict:
        what = f"session {self.id} flight {i + 1}"
        if not isinstance(f, dict):
            raise ValueError(f"{what} must be a dict")
        direction = f.get("direction")
        if direction not in ("up", "down"):
            raise ValueError(f"{what}: direction must be up or down, not {direction!r}")
        t0 = _number(f, "t_start_s", low=0.0, what=what)
        t1 = _number(f, "t_end_s", low=t0, what=what)
        if t1 > self.duration_s + 1.0:
            raise ValueError(f"{what}: t_end_s {t1} is after the session's end ({self.duration_s} s)")
        # the flight's own duration (rounded from the unrounded times), else its times' difference
        duration = _number(f, "duration_s", low=0.0, default=t1 - t0, what=what)
        return {"direction": direction, "t_start_s": t0, "t_end_s": t1, "duration_s": duration,
                "steps": _count(f, "steps", what=what),
                "cadence_spm": _number(f, "cadence_spm", low=0.0, default=None, what=what)}

    def points(self) -> list[dict]:
        """The records' points: the start, each flight's start and end, the end (in time order)."""
        out = [{"t_s": 0.0, "steps": 0, "altitude_m": 0.0}]
        steps, height = 0, 0.0
        for f in self.flights:
            out.append({"t_s": f["t_start_s"], "steps": steps, "altitude_m": height,
                        "cadence_spm": f["cadence_spm"]})
            steps += f["steps"]
            climb = f["steps"] * self.height_per_step_m
            height += climb if f["direction"] == "up" else -climb
            out.append({"t_s": f["t_end_s"], "steps": steps, "altitude_m": height,
                        "cadence_spm": f["cadence_spm"]})
        out.append({"t_s": max(self.duration_s, out[-1]["t_s"]), "steps": max(steps, self.steps),
                    "altitude_m": height})
        return out

    def laps(self) -> list[dict]:
        """One lap a flight, each written after the record of its end; or one for the whole session."""
        if not self.flights:
            return [{"index": 0, "direction": "up", "t_start_s": 0.0, "t_end_s": self.duration_s,
                     "duration_s": self.duration_s, "steps": self.steps, "cadence_spm": self.cadence_spm,
                     "height_m": self.elevation_gain_m, "written_after_s": self.duration_s, "last": True}]
        return [{**f, "index": i, "height_m": f["steps"] * self.height_per_step_m,
                 "written_after_s": f["t_end_s"], "last": i == len(self.flights) - 1}
                for i, f in enumerate(self.flights)]


def _time(value, what: str) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be an ISO-8601 time, not {value!r}")
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an ISO-8601 time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    t = t.astimezone(dt.timezone.utc)
    if t.year < 1990 or t.year > 2100:
        raise ValueError(f"{what} {value!r} is outside what a FIT file holds (1990 to 2100)")
    return t


_MISSING = object()


def _number(d: dict, key: str, *, low: float, default=_MISSING, what: str = "the session") -> float | None:
    value = d.get(key)
    if value is None:
        if default is _MISSING:
            raise ValueError(f"{what} has no {key}")
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what}: {key} must be a number, not {value!r}")
    if value < low:
        raise ValueError(f"{what}: {key} {value} is below {low}")
    return float(value)


def _count(d: dict, key: str, what: str = "the session") -> int:
    value = d.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what}: {key} must be a whole number of 0 or more, not {value!r}")
    return value
