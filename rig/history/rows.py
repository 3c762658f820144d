"""The rows of the history: checking and shaping what goes into it.

Names, weights, levels and numbers are checked here (a ``ValueError`` naming
the field); a session's summary becomes its denormalised columns, flights
and events become rows. Times are wall-clock ISO-8601 strings in UTC.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import Counter
from typing import Any

SESSION_STATUSES = ("open", "closed", "recovered")
END_STATUSES = ("closed", "recovered")

_REQUEST_KEY = "request"
_REQUESTS = ("start_session", "end_session")
_SELECTED_KEY = "selected_athlete_id"

# the compact row of sessions(): every column but the JSON blobs
_SESSION_COLUMNS = (
    "id", "athlete_id", "started_at", "ended_at", "duration_s", "status",
    "drill_facing", "drill_grip", "planned_flights", "added_load_kg", "level",
    "steps", "steps_up", "steps_down", "ascents", "descents", "elevation_gain_m",
    "active_s", "cadence_spm", "contact_fraction", "light_fraction", "firm_fraction",
    "grabs", "stalls", "falls", "energy_kcal", "trace_path",
    "effort", "pain", "dizziness", "notes_text",
)
_SUMMARY_COLUMNS = (
    "steps", "steps_up", "steps_down", "ascents", "descents", "elevation_gain_m",
    "active_s", "cadence_spm", "contact_fraction", "light_fraction", "firm_fraction",
    "grabs", "stalls", "falls",
)
# each column costs ~0.1 us per row in the sqlite3 module: only what the charts need
_PROGRESS_COLUMNS = (
    "id", "started_at", "level", "steps", "ascents", "descents", "active_s", "cadence_spm",
    "contact_fraction", "light_fraction", "firm_fraction", "grabs", "falls",
    "whole_foot_fraction", "step_time_cv", "dwell_asymmetry",   # null: stored without the gait figures
    # the flights' powers (0.1 W) through their index: the sessions' query still reads only its own
    "(SELECT max(f.power_w) FROM flights f WHERE f.session_id = sessions.id) AS best_ascent_power_w",
)
_OUTCOME_COLUMNS = (
    "id", "started_at", "duration_s", "status", "drill_facing", "drill_grip", "level",
    "ascents", "descents", "active_s", "cadence_spm",
    "contact_fraction", "light_fraction", "firm_fraction", "grabs", "stalls", "falls",
    "pain", "dizziness", "effort", "added_load_kg",
    "whole_foot_fraction", "step_time_cv", "dwell_asymmetry",   # null: stored without the gait figures
)
# a session's gait figures as its summary holds them, read in the same query as its row (the CSV
# export, the coach's report): ``->`` returns a number's JSON text as stored, so that json.loads
# gives exactly the float the summary has; the best ascent is the flight with the most power
GAIT_SUMMARY_COLUMNS = {
    "best_ascent_power_w": "(SELECT g.value -> '$.power_w' FROM json_each(summary_json, '$.gait.flights') g "
                           "WHERE g.value ->> '$.power_w' IS NOT NULL ORDER BY g.value ->> '$.power_w' DESC LIMIT 1)",
    **{k: f"summary_json -> '$.gait.{k}'" for k in ("step_time_s", "step_time_cv", "dwell_s", "dwell_asymmetry",
                                                       "double_support_fraction", "whole_foot_fraction")},
}
_FLIGHT_COLUMNS = ("idx", "direction", "t_start_s", "t_end_s", "duration_s", "steps",
                   "cadence_spm", "contact_s", "light_s", "firm_s", "power_w")
_FLIGHT_ALIASES = {"t_start_s": ("t_start",), "t_end_s": ("t_end",), "idx": ("index",)}


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def normalise_time(value: str, what: str = "time") -> str:
    """An ISO-8601 time as an aware UTC ``isoformat()`` (naive times are UTC)."""
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, str):
        try:
            t = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{what} {value!r} is not an ISO-8601 time") from None
    else:
        raise ValueError(f"{what} must be an ISO-8601 string, not {type(value).__name__}")
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc).isoformat()



def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _number(value: Any, what: str, *, integer: bool = False):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, not {value!r}")
    return int(value) if integer else float(value)


GAIT_COLUMNS = ("whole_foot_fraction", "step_time_cv", "dwell_asymmetry")


def gait_columns(gait: dict | None) -> dict:
    """The session's gait figures that the progression reads (None: not measured, or no gait)."""
    gait = gait if isinstance(gait, dict) else {}
    return {k: _number(gait.get(k), f"gait {k}") for k in GAIT_COLUMNS}


def summary_columns(summary: dict) -> dict:
    """The denormalised columns of a session from the spec's summary dict."""
    if not isinstance(summary, dict):
        raise ValueError(f"summary must be a dict, not {type(summary).__name__}")
    reliance = summary.get("reliance") or {}
    events = summary.get("events") or []
    counts = Counter(e.get("type") for e in events if isinstance(e, dict))

    def fraction(key):
        return _number(reliance.get(key, summary.get(key)), key)

    return {
        "steps": _number(summary.get("steps"), "steps", integer=True),
        "steps_up": _number(summary.get("steps_up"), "steps_up", integer=True),
        "steps_down": _number(summary.get("steps_down"), "steps_down", integer=True),
        "ascents": _number(summary.get("ascents"), "ascents", integer=True),
        "descents": _number(summary.get("descents"), "descents", integer=True),
        "elevation_gain_m": _number(summary.get("elevation_gain_m"), "elevation_gain_m"),
        "active_s": _number(summary.get("active_s"), "active_s"),
        "cadence_spm": _number(summary.get("cadence_spm"), "cadence_spm"),
        "contact_fraction": fraction("contact_fraction"),
        "light_fraction": fraction("light_fraction"),
        "firm_fraction": fraction("firm_fraction"),
        "grabs": counts["grab"],
        "stalls": counts["stall"],
        "falls": counts["fall_suspected"],
        **gait_columns(summary.get("gait")),
    }


def _flight_row(i: int, flight: dict) -> tuple:
    if not isinstance(flight, dict):
        raise ValueError(f"flight {i} must be a dict, not {type(flight).__name__}")

    def get(key):
        if key in flight:
            return flight[key]
        for alias in _FLIGHT_ALIASES.get(key, ()):
            if alias in flight:
                return flight[alias]
        return None

    direction = get("direction")
    if direction not in ("up", "down", None):
        raise ValueError(f"flight {i}: direction must be 'up' or 'down', not {direction!r}")
    idx = get("idx")
    return (
        i if idx is None else _number(idx, "flight idx", integer=True),
        direction,
        _number(get("t_start_s"), "flight t_start_s"),
        _number(get("t_end_s"), "flight t_end_s"),
        _number(get("duration_s"), "flight duration_s"),
        _number(get("steps"), "flight steps", integer=True),
        _number(get("cadence_spm"), "flight cadence_spm"),
        _number(get("contact_s"), "flight contact_s"),
        _number(get("light_s"), "flight light_s"),
        _number(get("firm_s"), "flight firm_s"),
        _number(get("power_w"), "flight power_w"),
    )


def _event_row(i: int, event: dict) -> tuple:
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ValueError(f"event {i} must be a dict with a 'type', not {event!r}")
    t = event.get("t_s", event.get("t"))
    detail = {k: v for k, v in event.items() if k not in ("t", "t_s", "type", "at")}
    return (_number(t, "event t"), event["type"], _dumps(detail) if detail else None)



def _selected_id(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT a.id FROM meta m JOIN athletes a ON a.id = CAST(m.value AS INTEGER) "
                       "WHERE m.key = ?", (_SELECTED_KEY,)).fetchone()
    if row is None:
        row = conn.execute("SELECT id FROM athletes ORDER BY id LIMIT 1").fetchone()
    return row[0] if row else None


def _athlete_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("an athlete's name must be a non-empty string")
    name = " ".join(name.split())
    if len(name) > 100:
        raise ValueError("an athlete's name is at most 100 characters")
    return name


def _weight(weight_kg: float) -> float:
    w = _number(weight_kg, "weight_kg")
    if w is None or not 10.0 <= w <= 400.0:
        raise ValueError(f"body weight must be from 10 to 400 kg, not {weight_kg!r}")
    return w


def _level(level: str | None) -> str | None:
    if level is None:
        return None
    if not isinstance(level, str):
        raise ValueError(f"level must be a string, not {type(level).__name__}")
    return level.strip() or None


def _text(value, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, not {value!r}")
    return value
