"""``<base>/event``: one JSON message per rig event, for Home Assistant's event entities.

``{"event_type": "grab", "time": "2026-11-21T10:15:02.125+00:00", "seq": 12, "details": {...}}``:
``event_type`` is what Home Assistant's event entity needs; ``time`` the wall
clock when the service saw it; ``seq`` counts the events of this run (so a
consumer can tell a gap or a repeat); ``details`` are small: the session
events carry a summary, never the samples.

``fall_suspected`` and ``fall_acknowledged`` also carry ``"test": true|false``
at the top (true for a test alarm, raised on purpose): Home Assistant shows it
as an attribute of the event entity, so an automation can tell a test.
"""

from __future__ import annotations

import datetime as dt

from rig.live import session_figures

EVENT_TYPES = ("grab", "stall", "fall_suspected", "fall_acknowledged", "session_started", "session_ended")
FALL_TYPES = ("fall_suspected", "fall_acknowledged")    # the events that say whether they are a test
_DROPPED = {"type", "at", "t", "fall_t", "test"}   # engine times mean nothing outside the rig; "test" is on top
_SUMMARY_KEYS = ("steps", "flights_up", "flights_down", "elevation_gain_m", "active_s", "cadence_spm",
                 "contact_pct", "firm_pct", "grabs", "stalls", "falls")


def wall_time(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="milliseconds")


def _athlete_name(athlete) -> str | None:
    return athlete.get("name") if isinstance(athlete, dict) else None


def event_details(event: dict) -> dict:
    """What an event says, without engine times or bulky parts."""
    etype = event["type"]
    if etype == "session_started":
        return {"key": event.get("key"), "started_at": event.get("started_at"), "reason": event.get("reason"),
                "athlete": _athlete_name(event.get("athlete")), "drill": event.get("drill")}
    if etype == "session_ended":
        details = {"key": event.get("key"), "started_at": event.get("started_at"), "ended_at": event.get("ended_at"),
                   "duration_s": round(float(event.get("duration_s") or 0.0), 1), "reason": event.get("reason"),
                   "athlete": _athlete_name(event.get("athlete")), "drill": event.get("drill")}
        energy = event.get("energy_kcal")
        details["energy_kcal"] = round(energy, 1) if isinstance(energy, (int, float)) else None
        if isinstance(event.get("summary"), dict):
            figures = session_figures(event["summary"])
            details.update({k: figures[k] for k in _SUMMARY_KEYS})
        return details
    return {k: v for k, v in event.items() if k not in _DROPPED}


def event_message(event: dict, seq: int, now: dt.datetime | None = None) -> dict:
    message = {"event_type": event["type"], "time": wall_time(now), "seq": seq, "details": event_details(event)}
    if event["type"] in FALL_TYPES:
        message["test"] = event.get("test") is True
    return message
