"""``<base>/state``: one compact retained JSON document, and when to publish it.

The document is a subset of the live state (``LiveState.snapshot()``): what
Home Assistant's entities read through their ``value_template``. Nothing in
it moves by itself with the clock (no engine time, no elapsed seconds, no raw
forces), so it changes only when something happens on the rig.

When to publish (``StateThrottle``): on change, at most ``state_max_hz`` times
a second. The first change after a quiet window (1 / ``state_max_hz``) goes
out at once, so a step is never held back; later changes in the window are
coalesced and go out at the window's end, by a timer. Figures that drift
while someone trains (active time, cadence, the handrail shares, each rail's
grip now) are "slow": they ride along with the next change that matters
(a step, a flight, occupancy, the alarm, a session starting or ending, the
athlete or drill), and go out on their own only after ``slow_after_s``
without one. While the athlete climbs, every step therefore goes out at
once with fresh figures, instead of waiting behind a figure that changed
a moment before. (The state also waits, at most 60 ms, from a step until the
session's new count arrives: see ``HOLD_TYPES`` in state_publisher.py.)
"""

from __future__ import annotations

import json
import math

# the gait figures change only when a flight is counted, which sends the state anyway
GAIT_KEYS = ("last_ascent_s", "last_ascent_power_w", "step_variability_pct", "whole_foot_pct", "leg_asymmetry_pct")
SLOW_SESSION_KEYS = ("active_s", "cadence_spm", "contact_pct", "light_pct", "firm_pct", "within_target_pct",
                     *GAIT_KEYS)
_SESSION_KEYS = ("active", "key", "started_at", "steps", "steps_up", "steps_down", "flights_up", "flights_down",
                 "elevation_gain_m", *SLOW_SESSION_KEYS, "grabs", "stalls", "falls")
_LAST_SESSION_KEYS = ("key", "started_at", "ended_at", "duration_s", "reason", "athlete", "steps", "flights_up",
                      "flights_down", "elevation_gain_m", "active_s", "cadence_spm", "contact_pct", "firm_pct",
                      "within_target_pct", "energy_kcal", "grabs", "stalls", "falls", *GAIT_KEYS)


def state_document(snapshot: dict) -> dict:
    """The published state, from a live snapshot."""
    session = snapshot["session"]
    athlete = snapshot.get("athlete") or {}
    drill = snapshot.get("drill") or {}
    alarm = snapshot.get("alarm")
    last = snapshot.get("last_session")
    if last is not None:
        last = {k: last.get(k) for k in _LAST_SESSION_KEYS}
        if isinstance(last.get("energy_kcal"), float):
            last["energy_kcal"] = round(last["energy_kcal"], 1)
    return {
        "rig_id": snapshot["rig_id"],
        "running": snapshot.get("running", True),
        "occupied": snapshot["occupied"],
        "session": {k: session.get(k) for k in _SESSION_KEYS},
        "steps_today": snapshot["steps_today"],
        "steps_total": snapshot["steps_total"],
        "rails": {side: rail["grip"] for side, rail in snapshot.get("rails", {}).items()},
        "athlete": {"id": athlete.get("id"), "name": athlete.get("name"), "level": athlete.get("level")},
        "drill": {k: drill.get(k) for k in ("facing", "grip", "planned_flights", "added_load_kg")},
        "fall_alarm": alarm is not None,
        "fall_alarm_test": alarm is not None and alarm.get("test") is True,
        "last_session": last,
    }


def prompt_part(doc: dict) -> dict:
    """The document without its slow figures: a change here goes out at once. A rail's grip is
    slow: hands move on the rails with every step, and a grip sent at once would hold the next
    step back for the rest of the quarter second."""
    return {**doc, "rails": None,
            "session": {k: v for k, v in doc["session"].items() if k not in SLOW_SESSION_KEYS}}


def diagnostics_document(snapshot: dict, *, queued: int, dropped: int, storage: dict | None = None) -> dict:
    """``<base>/diagnostics``: the rig's health, apart from the state (uptime moves all the time);
    with ``storage`` (``Service.storage_health()``), whether the history and the raw traces are kept."""
    doc = {"uptime_s": int(snapshot.get("uptime_s", 0)), "stuck_channels": list(snapshot.get("stuck_channels", [])),
           "queued_events": queued, "dropped_events": dropped}
    if storage is not None:
        doc.update(storage_part(storage))
    return doc


def storage_part(storage: dict) -> dict:
    """The diagnostics' keys for the history and the raw traces (what changes them goes out within a second)."""
    history = storage["history"]
    return {"history_available": bool(history["available"]), "history_error": history.get("error"),
            "waiting_sessions": history.get("waiting_sessions", 0),
            "trace_problems": list(storage["traces"]["problems"])}


def encode(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True, default=str).encode()


class StateThrottle:
    """Decides when the state goes out; times are seconds of one monotonic clock.

    ``changed(now, prompt)`` records a change (``prompt``: one that matters at
    once); ``due()`` is when to publish (None: nothing to publish); ``sent(now)``
    after publishing. Pure, so that tests give it the times.
    """

    def __init__(self, max_hz: float, slow_after_s: float = 1.0):
        if not max_hz > 0:
            raise ValueError("max_hz must be positive")
        self.interval_s = 1.0 / max_hz
        self.slow_after_s = slow_after_s
        self.last_sent = -math.inf
        self.last_prompt = -math.inf
        self.pending: str | None = None      # None, "slow" or "prompt"

    def changed(self, now: float, prompt: bool) -> None:
        if prompt:
            self.pending = "prompt"
            self.last_prompt = now
        elif self.pending is None:
            self.pending = "slow"

    def due(self) -> float | None:
        if self.pending is None:
            return None
        window_end = self.last_sent + self.interval_s
        if self.pending == "prompt":
            return window_end
        return max(window_end, max(self.last_sent, self.last_prompt) + self.slow_after_s)

    def sent(self, now: float) -> None:
        self.last_sent = now
        self.pending = None

    def clear(self) -> None:
        """Nothing to send after all (the document changed back)."""
        self.pending = None
