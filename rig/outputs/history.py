"""Sessions into the history: a bus output over the HistoryStore.

``session_started`` inserts the session (status open), ``session_progress``
keeps its running summary (so a crash loses at most the last two seconds),
``session_ended`` closes it with its flights, events (the detector's, the
notes from outside it such as "I'm OK" or a test of the fall alarm, and a
last ``session_ended`` event with the session's key and why it ended) and
energy, moves the athlete along the progression, and prunes old traces past
their budget.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

from rig.energy import energy_kcal
from rig.history.failures import HistoryUnavailable, unavailable
from rig.history.writer import PROBE_EVERY_S
from rig.layout import RigLayout
from rig.progression import ProgressionSettings, SessionOutcome, first_level, recommend
from rig.progression import drill as progression_drill
from rig.progression import level as level_of
from rig.replay import replay
from rig.trace import TraceError

log = logging.getLogger(__name__)

TYPES = {"session_started", "session_progress", "session_ended", "tick"}
_POLL_EVERY_S = 2.0
MAX_WAITING_SESSIONS = 50     # sessions kept in memory while the history cannot take them


class HistoryRecorder:
    """Session events into the store. Runs in the bus thread.

    The athlete's level is decided when their next session starts, from the
    sessions and notes stored by then (notes come after a session, so the
    pain and dizziness rules see them). Every couple of seconds it checks
    which athlete is selected (``stairrig athletes select`` may change it
    while the rig runs) and hands the athlete and their level's drill to
    ``on_athlete_changed``.
    """

    def __init__(self, store, data_dir: str, *, trace_budget_mb: float, run_trace_budget_mb: float,
                 progression: ProgressionSettings | None = None):
        self.store = store
        self.data_dir = data_dir
        self.trace_budget_mb = trace_budget_mb
        self.run_trace_budget_mb = run_trace_budget_mb
        self.progression = progression or ProgressionSettings()
        self._ids: dict[str, int] = {}
        self.on_athlete_changed = None   # called with (athlete row, progression Drill)
        self.on_request = None           # called with "start_session" or "end_session" (from the command line)
        self._pushed: tuple | None = None
        self._next_poll = 0.0
        self._next_probe = 0.0
        self._lost = False
        store.probe_on_ticks()
        self._files_stamp: list | None = None
        self._waiting: dict[str, dict] = {}   # sessions the history could not take yet, by key
        self.lost_sessions = 0
        stale = store.take_request() if store.available else None
        if stale:
            log.info("dropped a %s request left while the rig was stopped", stale)

    def __call__(self, event: dict) -> None:
        etype = event["type"]
        if etype == "tick":
            if event["t"] >= self._next_probe and not self._lost:
                # the file still the one opened? (on the bus's tick: no thread wakes for it alone)
                self._next_probe = event["t"] + PROBE_EVERY_S
                self._lost = self.store.check_file() is not None
            if not self.store.available:
                return
            if self._waiting:
                self._save_waiting()
            if event["t"] >= self._next_poll:
                self._next_poll = event["t"] + _POLL_EVERY_S
                if not self._files_changed():
                    return      # nobody wrote to the history since the last look: nothing to take
                self.poll_athlete()
                request = self.store.take_request()
                if request and self.on_request is not None:
                    self.on_request(request)
        elif etype == "session_started":
            if event["athlete"].get("id") is None:
                return
            try:
                self._begin(event, decide=True)
            except HistoryUnavailable as exc:
                self._wait(event, exc)
        elif etype == "session_progress":
            session_id = self._ids.get(event["key"])
            if session_id is not None:
                summary = event["summary"]
                self.store.update_session(session_id, duration_s=summary["duration_s"], summary=summary)
            elif event["key"] in self._waiting:
                self._waiting[event["key"]]["progress"] = event
        elif etype == "session_ended":
            session_id = self._ids.pop(event["key"], None)
            if session_id is not None:
                self._end(session_id, event)
                if self.store.available:
                    self._prune()
            elif event["key"] in self._waiting:
                self._waiting[event["key"]]["end"] = event

    def _begin(self, event: dict, *, decide: bool) -> int:
        """Insert the session (open); raises HistoryUnavailable when the history cannot take it."""
        from rig.outputs.session_traces import session_trace_path
        athlete = event["athlete"]
        rec = self.decide_level(athlete["id"]) if decide else None
        chosen = event.get("drill_chosen") or rec is None
        drill = event["drill"] if chosen else {
            **event["drill"], "grip": rec.drill.grip, "planned_flights": rec.drill.planned_flights,
            "added_load_kg": rec.drill.added_load_kg}
        session_id = self.store.begin_session(
            athlete_id=athlete["id"], started_at=event["started_at"], drill=drill,
            level=rec.level if rec else athlete.get("level"),
            trace_path=session_trace_path(self.data_dir, event["key"]))
        self._ids[event["key"]] = session_id
        return session_id

    def _end(self, session_id: int, event: dict) -> None:
        summary = event["summary"]
        # why and as what it ended, so that the live "last session" reads the same after a restart
        end = {"type": "session_ended", "t": round(event["duration_s"], 3), "key": event["key"],
               "reason": event["reason"]}
        self.store.end_session(session_id, ended_at=event["ended_at"], duration_s=event["duration_s"],
                               summary=summary, flights=event["flights"],
                               events=summary["events"] + event.get("notes", []) + [end],
                               energy_kcal=event["energy_kcal"])

    def _wait(self, event: dict, exc: Exception) -> None:
        """The history cannot take a new session now: it waits in memory (bounded) until it can."""
        if len(self._waiting) >= MAX_WAITING_SESSIONS:
            key = next(iter(self._waiting))
            del self._waiting[key]
            self.lost_sessions += 1
            log.error("session %s is not kept for the history (%d sessions wait already); its raw trace "
                      "keeps its steps", key, MAX_WAITING_SESSIONS)
        self._waiting[event["key"]] = {"start": event, "progress": None, "end": None}
        log.warning("session %s waits in memory until the history works again (%s)", event["key"],
                    unavailable(str(exc)).split(";")[0])

    def _save_waiting(self) -> None:
        """The history works again: the sessions that waited go in, oldest first."""
        while self._waiting:
            key, entry = next(iter(self._waiting.items()))
            try:
                session_id = self._begin(entry["start"], decide=False)
                if entry["end"] is not None:
                    self._ids.pop(key, None)
                    self._end(session_id, entry["end"])
                elif entry["progress"] is not None:
                    summary = entry["progress"]["summary"]
                    self.store.update_session(session_id, duration_s=summary["duration_s"], summary=summary)
            except HistoryUnavailable:
                return
            except ValueError as exc:     # its athlete was deleted meanwhile, say
                log.error("session %s that waited cannot be saved: %s", key, exc)
            del self._waiting[key]
            log.warning("session %s that waited is saved in the history", key)

    @property
    def waiting_sessions(self) -> int:
        return len(self._waiting)

    def close(self) -> None:
        """At stop (after the bus): the sessions that still wait go in if the history works now;
        those that cannot are named in the log, with where their raw traces are."""
        if self._waiting and self.store.available:
            self._save_waiting()
        if self._waiting:
            from rig.outputs.session_traces import session_trace_path
            log.error("%d sessions waited for the history and are not saved in it; their raw traces keep "
                      "them (stairrig replay TRACE): %s", len(self._waiting),
                      ", ".join(session_trace_path(self.data_dir, key) for key in self._waiting))

    def _files_changed(self) -> bool:
        """Whether the database or its write-ahead log changed since the last look (a command
        line's request or athlete, or the rig's own writes): two stats instead of a transaction."""
        stamp = []
        for suffix in ("", "-wal"):
            try:
                st = os.stat(self.store.path + suffix)
                stamp.append((st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append(None)
        changed = stamp != self._files_stamp
        self._files_stamp = stamp
        return changed

    def decide_level(self, athlete_id: int):
        """The progression's recommendation now; the athlete's level follows it."""
        athlete = self.store.athlete(athlete_id)
        if athlete is None:
            return None
        level = athlete["level"] or first_level().key
        rec = recommend(outcomes(self.store, athlete_id), level, self.progression)
        if rec.level != athlete["level"]:
            self.store.update_athlete(athlete_id, level=rec.level)
        log.info("%s: %s", athlete["name"], rec.reason)
        for flag in rec.flags:
            log.warning("%s: %s", athlete["name"], flag)
        return rec

    def poll_athlete(self) -> None:
        """Hand a newly selected athlete (or a new weight or level) to the engine."""
        athlete = self.store.selected_athlete()
        if athlete is None or self.on_athlete_changed is None:
            return
        level = athlete["level"] or first_level().key
        key = (athlete["id"], athlete["name"], athlete["weight_kg"], level)
        if key != self._pushed:
            self._pushed = key
            self.on_athlete_changed({**athlete, "level": level}, progression_drill(level_of(level), self.progression))

    def _prune(self) -> None:
        from rig.history import prune_traces
        try:
            prune_traces(self.store, os.path.join(self.data_dir, "sessions"), self.trace_budget_mb)
            prune_traces(self.store, os.path.join(self.data_dir, "traces"), self.run_trace_budget_mb)
        except OSError as exc:
            log.warning("pruning old traces failed: %s", exc)


def outcomes(store, athlete_id: int) -> list[SessionOutcome]:
    """The athlete's recent sessions as the progression engine reads them, oldest first."""
    return [SessionOutcome(
        level=row["level"] or first_level().key,
        flights=(row["ascents"] or 0) + (row["descents"] or 0), active_s=row["active_s"] or 0.0,
        cadence_spm=row["cadence_spm"], contact_fraction=row["contact_fraction"],
        light_fraction=row["light_fraction"], firm_fraction=row["firm_fraction"],
        grabs=row["grabs"] or 0, falls=row["falls"] or 0, stalls=row["stalls"] or 0, pain=row["pain"],
        dizziness=None if row["dizziness"] is None else bool(row["dizziness"]), effort=row["effort"],
        added_load_kg=row["added_load_kg"] or 0.0, whole_foot_fraction=row["whole_foot_fraction"],
        step_time_cv=row["step_time_cv"], dwell_asymmetry=row["dwell_asymmetry"])
        for row in store.outcomes(athlete_id)]


def recover_open_sessions(store, layout: RigLayout, settings=None) -> list[int]:
    """Close the sessions a crash or a power cut left open (status ``recovered``).

    Their figures come from whichever reaches further: the session's trace
    (read up to its last flush, with the rig's detection settings) or the
    running summary the history last committed. A session whose figures
    cannot be read at all is closed empty rather than left open forever."""
    from rig.core import Detector
    recovered = []
    for row in store.open_sessions():
        try:
            candidates = [row.get("summary")]
            path = row.get("trace_path")
            if path and os.path.exists(path):
                try:
                    candidates.append(replay(path, settings, weight_kg=row.get("weight_kg")))
                except (TraceError, OSError) as exc:
                    log.warning("session %s: its trace cannot be read (%s)", row["id"], exc)
            candidates = [c for c in candidates if c]
            summary = max(candidates, key=lambda c: (c["duration_s"], c["steps"]), default=None)
            if summary is None:
                summary = Detector(layout, settings).summary()
            summary.pop("warnings", None)
            started = dt.datetime.fromisoformat(row["started_at"])
            duration = max(summary["duration_s"], row.get("duration_s") or 0.0)
            weight = row.get("weight_kg") or 70.0
            store.end_session(row["id"], ended_at=(started + dt.timedelta(seconds=duration)).isoformat(
                                  timespec="milliseconds"),
                              duration_s=duration, summary=summary, flights=[], events=summary["events"],
                              energy_kcal=energy_kcal(summary, layout, weight, row.get("added_load_kg") or 0.0,
                                                      row.get("drill_facing")),
                              status="recovered")
        except Exception as exc:  # one bad row must not keep the rig from starting
            log.error("session %s could not be recovered: %s", row.get("id"), exc)
            continue
        recovered.append(row["id"])
        log.warning("session %s was left open (a crash or a power cut); closed, %.0f s long", row["id"], duration)
    if recovered:
        store.flush()
    return recovered
