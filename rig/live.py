"""The rig's live figures, one document for every output that shows them.

``LiveState`` is a bus output (subscribed first, so that the outputs after
it read a state that already holds the event they are handling). It keeps
what Home Assistant's ``<base>/state``, the panel's ``/events`` stream and
``/api/status`` show: the current session's figures, today's and all-time
steps, each rail's grip now, who trains with which drill, the fall alarm,
the last session, and each channel's raw value for the rig check.

It runs in the bus thread; ``snapshot()`` and ``channels()`` may be called
from any thread (the MQTT client's, waitress's workers).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from typing import Callable

from rig.layout import RigLayout
from rig.progression import ProgressionSettings

log = logging.getLogger(__name__)

# every event that changes the document (samples only change the raw channels)
TYPES = {"samples", "step", "vacated", "ascent", "descent", "grip", "grab", "stall", "fall_suspected",
         "fall_acknowledged", "session_started", "session_update", "session_progress", "session_ended",
         "athlete_changed", "tick", "stopped", "stair_test"}
ALERTS = ("grab", "stall", "fall_suspected", "fall_acknowledged")
# events that count in ``changes`` only when they change more than the time and the raw channels
_QUIET = {"samples", "tick"}
_ALERT_SHOWN_S = 10.0      # a grab or stall banner stays this long (engine seconds)


def _copy(value):
    """A copy of a document of dicts and lists (a quarter of copy.deepcopy's time: no memo, and
    the leaves are numbers, strings, None or tuples, which are never changed in place)."""
    kind = type(value)
    if kind is dict:       # a leaf is taken as it is, without a call (most of the document is leaves)
        return {k: _copy(v) if type(v) in _NESTED else v for k, v in value.items()}
    if kind is list:
        return [_copy(v) if type(v) in _NESTED else v for v in value]
    return value


_NESTED = frozenset({dict, list})


def _pct(fraction: float | None) -> float | None:
    return None if fraction is None else round(fraction * 100.0, 1)


def _flight(flight: dict | None) -> dict | None:
    if flight is None:
        return None
    power = flight.get("power_w")
    return {"dir": flight["dir"], "duration_s": round(flight["duration_s"], 2), "steps": flight["steps"],
            "power_w": None if power is None else round(power)}


def gait_figures(gait: dict | None) -> dict:
    """The gait figures the panel and Home Assistant show (docs/trace-format.md, "Gait figures"):
    the last flight and the last ascent (time, steps, power), and this session's step-time
    variability, whole-foot share and leg asymmetry, in %."""
    gait = gait or {}
    flights = gait.get("flights") or ()
    ascents = [f for f in flights if f["dir"] == "up"]
    last_up = _flight(ascents[-1]) if ascents else None
    return {
        "last_flight": _flight(flights[-1]) if flights else None,
        "last_ascent_s": last_up["duration_s"] if last_up else None,
        "last_ascent_power_w": last_up["power_w"] if last_up else None,
        "step_variability_pct": _pct(gait.get("step_time_cv")),
        "whole_foot_pct": _pct(gait.get("whole_foot_fraction")),
        "leg_asymmetry_pct": _pct(gait.get("dwell_asymmetry")),
    }


def session_figures(summary: dict) -> dict:
    """The figures of a detector summary that the panel and Home Assistant show."""
    rel = summary["reliance"]
    kinds = [e["type"] for e in summary.get("events", ())]
    return {
        "steps": summary["steps"], "steps_up": summary["steps_up"], "steps_down": summary["steps_down"],
        "flights_up": summary["ascents"], "flights_down": summary["descents"],
        "elevation_gain_m": summary["elevation_gain_m"], "active_s": round(summary["active_s"], 1),
        "cadence_spm": summary["cadence_spm"],
        "contact_pct": _pct(rel["contact_fraction"]), "light_pct": _pct(rel["light_fraction"]),
        "firm_pct": _pct(rel["firm_fraction"]),
        "facing": summary.get("facing", {}),
        "grabs": kinds.count("grab"), "stalls": kinds.count("stall"), "falls": kinds.count("fall_suspected"),
        **gait_figures(summary.get("gait")),
    }


def within_target_pct(figures: dict, grip: str) -> float | None:
    """The share (%) of active time at or below the drill's grip: firm -> any, light -> not firm,
    hover/none -> no contact. None when the rig cannot tell (no force sensor for light)."""
    if grip == "firm":
        return 100.0 if figures["active_s"] > 0 else None
    if grip == "light":
        firm = figures["firm_pct"]
        return None if firm is None else round(100.0 - firm, 1)
    contact = figures["contact_pct"]
    return None if contact is None else round(100.0 - contact, 1)


def _empty_figures() -> dict:
    return {"steps": 0, "steps_up": 0, "steps_down": 0, "flights_up": 0, "flights_down": 0,
            "elevation_gain_m": 0.0, "active_s": 0.0, "cadence_spm": None, "contact_pct": None,
            "light_pct": None, "firm_pct": None, "facing": {}, "grabs": 0, "stalls": 0, "falls": 0,
            **gait_figures(None)}


def last_session_document(*, key: str, started_at: str, ended_at: str | None, duration_s: float, reason: str | None,
                          athlete: str | None, drill: dict, energy_kcal: float | None, flights: int,
                          figures: dict) -> dict:
    """The live document's ``last_session``: the same whether the session just ended or was read
    from the history at start."""
    return {
        "key": key, "started_at": started_at, "ended_at": ended_at, "duration_s": round(duration_s, 1),
        "reason": reason, "athlete": athlete, "drill": drill, "energy_kcal": energy_kcal, "flights": flights,
        **figures, "within_target_pct": within_target_pct(figures, drill.get("grip", "light")),
    }


_STORED_REASONS = {"recovered": "the service stopped unexpectedly (closed at its next start)"}


def _ms(stored: str | None) -> str | None:
    """A stored UTC time as sessions announce it (milliseconds)."""
    return None if stored is None else dt.datetime.fromisoformat(stored).isoformat(timespec="milliseconds")


def _stored_key(row: dict) -> str:
    """A session's key for a row that does not record it: its trace's name, else from its start."""
    path = row.get("trace_path")
    if path and path.endswith(".jsonl.gz"):
        return os.path.basename(path)[:-len(".jsonl.gz")]
    return dt.datetime.fromisoformat(row["started_at"]).strftime("%Y-%m-%dT%H-%M-%S.%fZ")


def local_midnight_utc(now: dt.datetime | None = None) -> str:
    """The start of today (local time) as UTC ISO, the way sessions store ``started_at``."""
    local = (now or dt.datetime.now()).astimezone()
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(dt.timezone.utc).isoformat()


class LiveState:
    """The live document; see the module docstring. ``on_change`` listeners are
    called (in the bus thread) with the event that changed it."""

    def __init__(self, *, rig_id: str, layout: RigLayout, athlete: dict, drill: dict, store=None,
                 stuck_after_s: float = 300.0, progression: ProgressionSettings | None = None,
                 wall_clock: Callable[[], dt.datetime] | None = None):
        self.layout = layout
        self.store = store
        self.stuck_after_s = stuck_after_s
        self._wall = wall_clock or dt.datetime.now
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.cadence_limit_spm = (progression or ProgressionSettings()).control_band_spm[1]
        rails = {}
        for side, sensors in layout.rails.items():
            rails[side] = {"grip": "none", "force_n": None, "has_force": "force" in sensors}
        self._doc = {
            "rig_id": rig_id,
            "t_s": 0.0,
            "occupied": False,
            "occupied_treads": 0,
            "rails": rails,
            "athlete": dict(athlete),
            "drill": {**drill, "cadence_limit_spm": self.cadence_limit_spm},
            "drill_chosen": False,
            "session": {"active": False, "key": None, "started_at": None, "elapsed_s": 0.0,
                        **_empty_figures(), "within_target_pct": None},
            "steps_today": 0,
            "steps_total": 0,
            "alarm": None,          # {"t", "tread"...} of an unacknowledged fall_suspected
            "alert": None,          # the latest grab / stall / fall event, for banners
            "last_session": None,
            "stuck_channels": [],
            "stair_test": None,     # the running or last stair test (rig/stairtests.py), with its result
            "running": True,
        }
        self._session_t0: float | None = None
        self._base_total = 0
        self._base_today = 0
        self._day = None
        self._channels: dict[str, dict] = {c: {"value": None, "t_s": None} for c in layout.channels()}
        self._on_since: dict[str, float] = {}
        self._analog = {c for c in layout.channels() if layout.is_analog(c)}
        # rail side of each force channel: its force is shown with the rail
        self._force_rails = {c: c.split(".")[1] for c in self._analog if c.startswith("rail.")}
        # how many times the document changed in more than its time, raw forces and channels: a reader
        # that saw the same count has nothing new to look at (MQTT skips an idle rig's ticks by it)
        self.changes = 0
        self._load_totals()

    # -- reading -------------------------------------------------------------
    def snapshot(self) -> dict:
        """A copy of the live document (safe to serialise from any thread)."""
        with self._lock:
            doc = _copy(self._doc)
        doc["uptime_s"] = round(time.monotonic() - self._started, 1)
        return doc

    def channels(self) -> dict:
        """Each channel's last raw value and the engine time it was sampled (None: never)."""
        with self._lock:
            return {c: dict(v) for c, v in self._channels.items()}

    # -- the bus output ----------------------------------------------------------
    def __call__(self, event: dict) -> None:
        etype = event["type"]
        with self._lock:
            handler = getattr(self, "_on_" + etype, None)
            if handler is not None:
                handler(event)
                if etype not in _QUIET:
                    self.changes += 1

    def _load_totals(self) -> None:
        self._day = self._wall().date()
        store = self.store
        if store is None or not getattr(store, "available", False):
            return
        try:
            totals = store.step_totals(local_midnight_utc(self._wall()))
        except Exception as exc:  # the history is a nicety here: live counting goes on
            log.warning("cannot read the step totals from the history: %s", exc)
            return
        self._base_total, self._base_today = totals["total"], totals["since"]
        self._count_steps()
        try:
            self._doc["last_session"] = self._stored_last_session()
        except Exception as exc:  # as above: a nicety
            log.warning("cannot read the last session from the history: %s", exc)

    def _stored_last_session(self) -> dict | None:
        """The newest ended session in the history, in the shape ``_on_session_ended`` gives it."""
        ended = [row for row in self.store.sessions(limit=3) if row["status"] != "open"]
        if not ended:
            return None
        row = self.store.session(ended[0]["id"])
        if row is None or not row.get("summary"):
            return None
        end = next((e.get("detail") or {} for e in row["events"] if e["type"] == "session_ended"), {})
        athlete = self.store.athlete(row["athlete_id"])
        drill = row["drill"] or {"facing": row["drill_facing"], "grip": row["drill_grip"],
                                 "planned_flights": row["planned_flights"], "added_load_kg": row["added_load_kg"]}
        return last_session_document(
            key=end.get("key") or _stored_key(row), started_at=_ms(row["started_at"]), ended_at=_ms(row["ended_at"]),
            duration_s=row["duration_s"] or 0.0, reason=end.get("reason") or _STORED_REASONS.get(row["status"]),
            athlete=athlete["name"] if athlete else None, drill=drill, energy_kcal=row["energy_kcal"],
            flights=len(row["flights"]), figures=session_figures(row["summary"]))

    def _count_steps(self) -> None:
        current = self._doc["session"]["steps"] if self._doc["session"]["active"] else 0
        self._doc["steps_total"] = self._base_total + current
        self._doc["steps_today"] = self._base_today + current

    def _on_samples(self, event: dict) -> None:
        # only each channel's last sample matters here (and whether a switch let go in between)
        last: dict[str, tuple] = {}
        released = set()
        for sample in event["samples"]:
            last[sample[1]] = sample
            if not sample[2]:
                released.add(sample[1])
        rails = self._doc["rails"]
        for channel, (t, _, value) in last.items():
            entry = self._channels.get(channel)
            if entry is None:
                continue
            entry["value"] = value
            entry["t_s"] = t
            side = self._force_rails.get(channel)
            if side is not None and side in rails:
                rails[side]["force_n"] = round(value, 1)
            if channel in self._analog:
                continue
            if not value:
                self._on_since.pop(channel, None)
            elif channel in released:       # off, then on again: on since the last press
                self._on_since[channel] = t
            else:
                self._on_since.setdefault(channel, t)

    def _on_tick(self, event: dict) -> None:
        t = event["t"]
        doc = self._doc
        doc["t_s"] = t
        stuck = sorted(c for c, since in self._on_since.items() if t - since >= self.stuck_after_s)
        if stuck != doc["stuck_channels"]:
            doc["stuck_channels"] = stuck
            self.changes += 1
        if doc["session"]["active"] and self._session_t0 is not None:
            doc["session"]["elapsed_s"] = round(t - self._session_t0, 1)
        alert = doc["alert"]
        if alert is not None and alert["type"] in ("grab", "stall") and t - alert["t"] >= _ALERT_SHOWN_S:
            doc["alert"] = None
            self.changes += 1
        today = self._wall().date()
        if today != self._day:         # past midnight: today's count starts again
            self._day = today
            self._base_today = 0
            if doc["session"]["active"]:
                self._base_today = -doc["session"]["steps"]   # the session's earlier steps were yesterday's
            self._count_steps()
            self.changes += 1

    def _on_step(self, event: dict) -> None:
        self._doc["occupied"] = True
        self._doc["occupied_treads"] = min(self.layout.treads, self._doc["occupied_treads"] + 1)
        self._doc["t_s"] = max(self._doc["t_s"], event["t"])

    def _on_vacated(self, event: dict) -> None:
        self._doc["occupied_treads"] = event["occupied"]
        self._doc["occupied"] = event["occupied"] > 0

    def _on_grip(self, event: dict) -> None:
        rail = self._doc["rails"].get(event["rail"])
        if rail is not None:
            rail["grip"] = event["grip"]
            if event.get("force_n") is not None:
                rail["force_n"] = event["force_n"]

    def _alert(self, event: dict) -> None:
        self._doc["alert"] = {k: v for k, v in event.items() if k != "at"}

    _on_grab = _alert
    _on_stall = _alert

    def _on_fall_suspected(self, event: dict) -> None:
        self._alert(event)
        self._doc["alarm"] = {k: v for k, v in event.items() if k != "at"}

    def _on_fall_acknowledged(self, event: dict) -> None:
        self._doc["alarm"] = None
        self._alert(event)

    def _on_athlete_changed(self, event: dict) -> None:
        self._doc["athlete"] = dict(event["athlete"])
        self._doc["drill"] = {**event["drill"], "cadence_limit_spm": self.cadence_limit_spm}
        self._doc["drill_chosen"] = event.get("drill_chosen", False)

    def _on_session_started(self, event: dict) -> None:
        self._session_t0 = event.get("t0", event["t"])   # the session's own time base (its duration's)
        self._doc["athlete"] = dict(event["athlete"])
        self._doc["drill"] = {**event["drill"], "cadence_limit_spm": self.cadence_limit_spm}
        self._doc["session"] = {"active": True, "key": event["key"], "started_at": event["started_at"],
                                "elapsed_s": round(event["t"] - self._session_t0, 1), **_empty_figures(),
                                "within_target_pct": None}
        self._count_steps()

    def _figures(self, summary: dict) -> None:
        session = self._doc["session"]
        figures = session_figures(summary)
        # a counter never dips: a later, slower report cannot take back a step already shown
        for key in ("steps", "steps_up", "steps_down", "flights_up", "flights_down"):
            figures[key] = max(figures[key], session[key])
        session.update(figures)
        session["within_target_pct"] = within_target_pct(figures, self._doc["drill"].get("grip", "light"))
        self._count_steps()

    def _on_session_update(self, event: dict) -> None:
        if self._doc["session"]["key"] == event["key"]:
            self._figures(event["summary"])

    def _on_session_progress(self, event: dict) -> None:
        if self._doc["session"]["key"] == event["key"]:
            self._figures(event["summary"])
            self._doc["session"]["elapsed_s"] = round(event["t"], 1)

    def _on_session_ended(self, event: dict) -> None:
        figures = session_figures(event["summary"])
        steps = max(figures["steps"], self._doc["session"]["steps"] if self._doc["session"]["key"] == event["key"] else 0)
        self._base_total += steps
        self._base_today += steps
        self._doc["last_session"] = last_session_document(
            key=event["key"], started_at=event["started_at"], ended_at=event["ended_at"],
            duration_s=event["duration_s"], reason=event["reason"], athlete=event["athlete"]["name"],
            drill=event["drill"], energy_kcal=event.get("energy_kcal"), flights=len(event.get("flights", ())),
            figures={**figures, "steps": steps})
        self._doc["session"] = {"active": False, "key": None, "started_at": None, "elapsed_s": 0.0,
                                **_empty_figures(), "within_target_pct": None}
        self._session_t0 = None
        self._count_steps()

    def _on_stair_test(self, event: dict) -> None:
        self._doc["stair_test"] = dict(event["test"])

    def _on_stopped(self, event: dict) -> None:
        self._doc["running"] = False
