"""Sessions into the history: a bus output over the HistoryStore.

``session_started`` inserts the session (status open), ``session_progress``
keeps its running summary (so a crash loses at most the last two seconds),
``session_ended`` closes it with its flights, events and energy, moves the
athlete along the progression, and prunes old traces past their budget.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

from rig.energy import energy_kcal
from rig.layout import RigLayout
from rig.progression import ProgressionSettings, first_level, outcome_from_summary, recommend
from rig.replay import replay
from rig.trace import TraceError

log = logging.getLogger(__name__)

TYPES = {"session_started", "session_progress", "session_ended"}


class HistoryRecorder:
    def __init__(self, store, data_dir: str, *, trace_budget_mb: float, run_trace_budget_mb: float,
                 progression: ProgressionSettings | None = None):
        self.store = store
        self.data_dir = data_dir
        self.trace_budget_mb = trace_budget_mb
        self.run_trace_budget_mb = run_trace_budget_mb
        self.progression = progression or ProgressionSettings()
        self._ids: dict[str, int] = {}
        self.last_recommendation = None
        self.on_athlete_changed = None   # called with the athlete's row when the progression moves it

    def __call__(self, event: dict) -> None:
        if not self.store.available:
            return
        etype = event["type"]
        if etype == "session_started":
            athlete = event["athlete"]
            if athlete.get("id") is None:
                return
            from rig.outputs.session_traces import session_trace_path
            self._ids[event["key"]] = self.store.begin_session(
                athlete_id=athlete["id"], started_at=event["started_at"], drill=event["drill"],
                level=athlete.get("level"), trace_path=session_trace_path(self.data_dir, event["key"]))
        elif etype == "session_progress":
            session_id = self._ids.get(event["key"])
            if session_id is not None:
                summary = event["summary"]
                self.store.update_session(session_id, duration_s=summary["duration_s"], summary=summary)
        elif etype == "session_ended":
            session_id = self._ids.pop(event["key"], None)
            if session_id is None:
                return
            summary = event["summary"]
            self.store.end_session(session_id, ended_at=event["ended_at"], duration_s=event["duration_s"],
                                   summary=summary, flights=event["flights"], events=summary["events"],
                                   energy_kcal=event["energy_kcal"])
            self.store.flush()
            self._progress(event["athlete"]["id"])
            self._prune()

    def _progress(self, athlete_id: int) -> None:
        """Move the athlete's level as the progression engine says, with its reason in the log."""
        athlete = next((a for a in self.store.athletes() if a["id"] == athlete_id), None)
        if athlete is None:
            return
        level = athlete["level"] or first_level().key
        rec = recommend(outcomes(self.store, athlete_id), level, self.progression)
        self.last_recommendation = rec
        if rec.level != level:
            self.store.update_athlete(athlete_id, level=rec.level)
            if self.on_athlete_changed is not None:
                self.on_athlete_changed({**athlete, "level": rec.level})
        log.info("next for %s: %s", athlete["name"], rec.reason)

    def _prune(self) -> None:
        from rig.history import prune_traces
        try:
            prune_traces(self.store, os.path.join(self.data_dir, "sessions"), self.trace_budget_mb)
            prune_traces(self.store, os.path.join(self.data_dir, "traces"), self.run_trace_budget_mb)
        except OSError as exc:
            log.warning("pruning old traces failed: %s", exc)


def outcomes(store, athlete_id: int) -> list:
    """The athlete's recent sessions as the progression engine reads them, oldest first."""
    out = []
    for row in store.outcomes(athlete_id):
        summary = {"ascents": row["ascents"] or 0, "descents": row["descents"] or 0,
                   "active_s": row["active_s"] or 0.0, "cadence_spm": row["cadence_spm"],
                   "reliance": {"contact_fraction": row["contact_fraction"],
                                "light_fraction": row["light_fraction"],
                                "firm_fraction": row["firm_fraction"]},
                   "events": ([{"type": "grab"}] * (row["grabs"] or 0) + [{"type": "fall_suspected"}] * (row["falls"] or 0)
                              + [{"type": "stall"}] * (row["stalls"] or 0))}
        out.append(outcome_from_summary(summary, row["level"] or first_level().key, pain=row["pain"],
                                        dizziness=None if row["dizziness"] is None else bool(row["dizziness"]),
                                        effort=row["effort"], added_load_kg=row["added_load_kg"] or 0.0))
    return out


def recover_open_sessions(store, layout: RigLayout) -> list[int]:
    """Close the sessions a crash or a power cut left open, from their traces
    (readable up to their last flush), else from the last running summary."""
    recovered = []
    for row in store.open_sessions():
        summary, path = None, row.get("trace_path")
        if path and os.path.exists(path):
            try:
                summary = replay(path)
            except TraceError as exc:
                log.warning("session %s: its trace cannot be read (%s); keeping its last stored figures",
                            row["id"], exc)
        if summary is None:
            summary = row.get("summary")
        if summary is None:
            continue
        summary.pop("warnings", None)
        started = dt.datetime.fromisoformat(row["started_at"])
        duration = summary["duration_s"]
        weight = row.get("weight_kg") or 70.0
        store.end_session(row["id"], ended_at=(started + dt.timedelta(seconds=duration)).isoformat(
                              timespec="milliseconds"),
                          duration_s=duration, summary=summary, flights=[], events=summary["events"],
                          energy_kcal=energy_kcal(summary, layout, weight, row.get("added_load_kg") or 0.0,
                                                  row.get("drill_facing")),
                          status="recovered")
        recovered.append(row["id"])
        log.warning("session %s was left open (a crash or a power cut); closed from its trace, %.0f s long",
                    row["id"], duration)
    if recovered:
        store.flush()
    return recovered
