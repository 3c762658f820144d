"""The sessions of the history: begun, kept up to date, ended, noted, read and deleted."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import logging
import os
from typing import Iterable

from rig.history.rows import (
    _FLIGHT_COLUMNS,
    _OUTCOME_COLUMNS,
    _PROGRESS_COLUMNS,
    _SESSION_COLUMNS,
    END_STATUSES,
    _dumps,
    _event_row,
    _flight_row,
    _level,
    _number,
    _text,
    gait_columns,
    normalise_time,
    summary_columns,
)

log = logging.getLogger(__name__)


class SessionsMixin:
    """``HistoryStore``'s sessions (see store.py for ``_call``, ``_submit``, ``_read`` and ``_rows``)."""

    # -- sessions: writes ------------------------------------------------------

    def begin_session(self, *, athlete_id: int, started_at: str, drill: dict | None, level: str | None,
                      trace_path: str | None) -> int:
        """Insert an ``open`` session now (committed before returning) and return its id."""
        started_at = normalise_time(started_at, "started_at")
        drill = dict(drill or {})
        values = (
            athlete_id, started_at,
            _text(drill.get("facing", drill.get("drill_facing")), "drill facing"),
            _text(drill.get("grip", drill.get("drill_grip")), "drill grip"),
            _number(drill.get("planned_flights", drill.get("flights")), "planned_flights", integer=True),
            _number(drill.get("added_load_kg"), "added_load_kg"),
            _dumps(drill) if drill else None,
            _level(level),
            self._rel_trace(trace_path),
        )

        def op(conn):
            if not conn.execute("SELECT 1 FROM athletes WHERE id = ?", (athlete_id,)).fetchone():
                raise ValueError(f"there is no athlete with id {athlete_id}")
            return conn.execute(
                "INSERT INTO sessions (athlete_id, started_at, status, drill_facing, drill_grip, planned_flights,"
                " added_load_kg, drill_json, level, trace_path, duration_s)"
                " VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, 0.0)", values).lastrowid
        return self._call(op)

    def update_session(self, session_id: int, *, duration_s: float, summary: dict) -> None:
        """Keep an open session's running summary (queued; committed with the next batch).

        An update that arrives after the session was ended changes nothing.
        """
        cols = summary_columns(summary)
        values = (_number(duration_s, "duration_s"), _dumps(summary), *cols.values(), session_id)
        sets = ", ".join(f"{k} = ?" for k in ("duration_s", "summary_json", *cols))
        sql = f"UPDATE sessions SET {sets} WHERE id = ? AND status = 'open'"
        # not significant: an open session is in no cached read (progress, outcomes)
        self._submit(lambda conn: conn.execute(sql, values), significant=False)

    def end_session(self, session_id: int, *, ended_at: str, duration_s: float, summary: dict,
                    flights: list[dict], events: list[dict] | None, energy_kcal: float | None,
                    status: str = "closed") -> None:
        """Close a session with its final summary, flights and events (queued).

        ``events=None`` takes them from ``summary["events"]``. Ending a session
        again replaces its flights and events.
        """
        if status not in END_STATUSES:
            raise ValueError(f"status must be one of {END_STATUSES}, not {status!r}")
        ended_at = normalise_time(ended_at, "ended_at")
        cols = summary_columns(summary)
        if events is None:
            events = summary.get("events") or []
        flight_rows = [(session_id, *_flight_row(i, f)) for i, f in enumerate(flights or [])]
        event_rows = [(session_id, *_event_row(i, e)) for i, e in enumerate(events)]
        names = ("ended_at", "duration_s", "status", "summary_json", "energy_kcal", *cols)
        values = (ended_at, _number(duration_s, "duration_s"), status, _dumps(summary),
                  _number(energy_kcal, "energy_kcal"), *cols.values(), session_id)
        sql = f"UPDATE sessions SET {', '.join(f'{k} = ?' for k in names)} WHERE id = ?"
        flight_sql = (f"INSERT INTO flights (session_id, {', '.join(_FLIGHT_COLUMNS)}) "
                      f"VALUES (?{', ?' * len(_FLIGHT_COLUMNS)})")

        def op(conn):
            if conn.execute(sql, values).rowcount == 0:
                raise ValueError(f"there is no session {session_id} to end (deleted?)")
            conn.execute("DELETE FROM flights WHERE session_id = ?", (session_id,))
            conn.execute("DELETE FROM events WHERE session_id = ?", (session_id,))
            conn.executemany(flight_sql, flight_rows)
            conn.executemany("INSERT INTO events (session_id, t_s, type, detail_json) VALUES (?, ?, ?, ?)",
                             event_rows)
        self._submit(op)

    def set_notes(self, session_id: int, *, effort: int | None = None, pain: int | None = None,
                  dizziness: bool | None = None, text: str | None = None) -> None:
        """The athlete's notes on a session (what is given is changed; ``text=""`` clears it)."""
        changes = {}
        for key, value in (("effort", effort), ("pain", pain)):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
                    raise ValueError(f"{key} must be a whole number from 0 to 10, not {value!r}")
                changes[key] = value
        if dizziness is not None:
            if not isinstance(dizziness, bool):
                raise ValueError(f"dizziness must be True or False, not {dizziness!r}")
            changes["dizziness"] = int(dizziness)
        if text is not None:
            if not isinstance(text, str):
                raise ValueError(f"notes text must be a string, not {type(text).__name__}")
            if len(text) > 10_000:
                raise ValueError("notes text is longer than 10,000 characters")
            changes["notes_text"] = text or None
        if not changes:
            return

        def op(conn):
            sets = ", ".join(f"{k} = ?" for k in changes)
            if conn.execute(f"UPDATE sessions SET {sets} WHERE id = ?", (*changes.values(), session_id)).rowcount == 0:
                raise ValueError(f"there is no session {session_id}")
        self._call(op)

    # -- sessions: reads -------------------------------------------------------

    def open_sessions(self) -> list[dict]:
        """Sessions still ``open`` (left so by a crash, or running now), oldest
        first, with their last stored ``summary`` and ``drill``, and the
        athlete's ``weight_kg`` (for the energy estimate): what recovery needs."""
        cols = ", ".join(f"s.{c}" for c in _SESSION_COLUMNS)
        with self._read() as conn:
            rows = conn.execute(f"SELECT {cols}, s.summary_json, s.drill_json, a.weight_kg FROM sessions s "
                                "JOIN athletes a ON a.id = s.athlete_id WHERE s.status = 'open' "
                                "ORDER BY s.id").fetchall()
        out = []
        for r in rows:
            row = self._session_row(r, blobs=True)
            row["weight_kg"] = r["weight_kg"]
            out.append(row)
        return out

    def session(self, session_id: int) -> dict | None:
        """Everything about one session: its columns, ``summary`` and ``drill``
        (parsed), ``flights``, ``events`` and ``notes``."""
        with self._read() as conn:
            row = conn.execute(f"SELECT {', '.join(_SESSION_COLUMNS)}, summary_json, drill_json FROM sessions "
                               "WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                return None
            flights = conn.execute(f"SELECT {', '.join(_FLIGHT_COLUMNS)} FROM flights WHERE session_id = ? "
                                   "ORDER BY idx, id", (session_id,)).fetchall()
            events = conn.execute("SELECT t_s, type, detail_json FROM events WHERE session_id = ? "
                                  "ORDER BY t_s, id", (session_id,)).fetchall()
        out = self._session_row(row, blobs=True)
        out["flights"] = [dict(f) for f in flights]
        out["events"] = [{"t_s": e["t_s"], "type": e["type"],
                          "detail": json.loads(e["detail_json"]) if e["detail_json"] else {}} for e in events]
        out["notes"] = {"effort": out["effort"], "pain": out["pain"], "dizziness": out["dizziness"],
                        "text": out["notes_text"]}
        return out

    def sessions(self, *, athlete_id: int | None = None, limit: int | None = None,
                 before_id: int | None = None) -> list[dict]:
        """Compact rows (no summary, flights or events), newest first; page with
        ``before_id`` = the last id of the previous page."""
        where, params = [], []
        if athlete_id is not None:
            where.append("athlete_id = ?")
            params.append(athlete_id)
        if before_id is not None:
            where.append("id < ?")
            params.append(before_id)
        sql = f"SELECT {', '.join(_SESSION_COLUMNS)} FROM sessions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [self._session_row(r) for r in rows]

    def progress(self, athlete_id: int, *, days: int | None = None) -> list[dict]:
        """Per ended session (closed or recovered), oldest first: the figures
        behind the progress charts (id, started_at, level, steps, ascents,
        descents, active_s, cadence_spm, contact/light/firm_fraction, grabs,
        falls). ``days`` keeps the last so many days.

        The rows are cached per athlete until the next commit that can change
        an ended session (the running session's updates do not), so the
        panel's repeated loads cost a copy, not a query.
        """
        generation = self._writer.generation        # read before the query: see Writer._commit
        with self._progress_lock:
            cached = self._progress_cache.get(athlete_id)
        if cached is None or cached[0] != generation:
            rows = self._rows(f"SELECT {', '.join(_PROGRESS_COLUMNS)} FROM sessions "
                              "WHERE athlete_id = ? AND status != 'open' ORDER BY started_at",
                              (athlete_id,))
            cached = (generation, [r["started_at"] for r in rows], rows)
            with self._progress_lock:
                self._progress_cache[athlete_id] = cached
        _, starts, rows = cached
        first = 0
        if days is not None:
            since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
            first = bisect.bisect_left(starts, since.isoformat())
        return [r.copy() for r in rows[first:]]

    def outcomes(self, athlete_id: int, limit: int = 20) -> list[dict]:
        """The last ``limit`` ended sessions, oldest first, with what the
        progression engine needs (``dizziness`` as a bool or None)."""
        sql = (f"SELECT * FROM (SELECT {', '.join(_OUTCOME_COLUMNS)} FROM sessions "
               "WHERE athlete_id = ? AND status != 'open' ORDER BY id DESC LIMIT ?) "
               "ORDER BY id")
        rows = self._rows(sql, (athlete_id, int(limit)))
        for r in rows:
            r["dizziness"] = None if r["dizziness"] is None else bool(r["dizziness"])
        return rows

    def step_totals(self, since: str) -> dict:
        """Steps of every ended session (closed or recovered), and of those started at or after
        ``since`` (an ISO time in UTC, as sessions store it): ``{"total": n, "since": n}``."""
        with self._read() as conn:
            total, recent = conn.execute(
                "SELECT coalesce(sum(steps), 0), coalesce(sum(CASE WHEN started_at >= ? THEN steps END), 0) "
                "FROM sessions WHERE status != 'open'", (since,)).fetchone()
        return {"total": int(total), "since": int(recent)}

    def counts(self) -> dict:
        """How many athletes, sessions, flights and events the history holds."""
        with self._read() as conn:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                    for t in ("athletes", "sessions", "flights", "events")}

    # -- for retention and exports --------------------------------------------

    def sessions_without_gait(self) -> list[dict]:
        """Ended sessions stored before the gait figures (their summary has no ``gait``):
        id, trace_path (absolute, or None), added_load_kg."""
        rows = self._rows("SELECT id, trace_path, added_load_kg FROM sessions WHERE status != 'open' "
                          "AND summary_json IS NOT NULL AND json_type(summary_json, '$.gait') IS NULL "
                          "ORDER BY started_at, id")
        for r in rows:
            r["trace_path"] = self._abs_trace(r["trace_path"])
        return rows

    def set_gait(self, session_id: int, gait: dict) -> None:
        """Add the gait figures to a stored session's summary, and each ascent's power to its
        flights where they are the same flights (same count and directions); queued."""
        powers = [f.get("power_w") for f in gait.get("flights") or ()]
        directions = [f.get("dir") for f in gait.get("flights") or ()]
        gait_json = _dumps(gait)

        columns = gait_columns(gait)
        sets = ", ".join(f"{k} = ?" for k in columns)

        def op(conn):
            done = conn.execute(f"UPDATE sessions SET summary_json = json_set(summary_json, '$.gait', json(?)), "
                                f"{sets} WHERE id = ? AND json_type(summary_json, '$.gait') IS NULL",
                                (gait_json, *columns.values(), session_id)).rowcount
            if not done:
                return
            stored = conn.execute("SELECT id, direction FROM flights WHERE session_id = ? ORDER BY idx",
                                  (session_id,)).fetchall()
            if [row[1] for row in stored] == directions:
                conn.executemany("UPDATE flights SET power_w = ? WHERE id = ?",
                                 [(None if p is None else round(p, 1), row[0]) for p, row in zip(powers, stored)])
        self._submit(op)

    def trace_references(self) -> list[dict]:
        """Every session with a trace: id, status, started_at, trace_path (absolute)."""
        rows = self._rows("SELECT id, status, started_at, trace_path FROM sessions "
                          "WHERE trace_path IS NOT NULL ORDER BY started_at, id")
        for r in rows:
            r["trace_path"] = self._abs_trace(r["trace_path"])
        return rows

    def clear_trace(self, session_ids: Iterable[int]) -> None:
        """Forget the traces of these sessions (committed before returning)."""
        ids = [(int(i),) for i in session_ids]
        self._call(lambda conn: conn.executemany("UPDATE sessions SET trace_path = NULL WHERE id = ?", ids))

    def delete_session(self, session_id: int) -> dict:
        """Delete one session: its row, flights and events (cascade) and its raw trace file.

        Health data, as for ``delete_athlete``: rows are overwritten and the
        WAL is checkpointed and truncated. A trace file that another session
        also names is kept (it holds that session's data too). Returns the
        counts deleted; ValueError when there is no such session.
        """
        def op(conn):
            row = conn.execute("SELECT trace_path FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                raise ValueError(f"there is no session {session_id}")
            trace = row[0]
            counts = {
                "sessions": 1,
                "flights": conn.execute("SELECT count(*) FROM flights WHERE session_id = ?",
                                        (session_id,)).fetchone()[0],
                "events": conn.execute("SELECT count(*) FROM events WHERE session_id = ?",
                                       (session_id,)).fetchone()[0],
            }
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            shared = trace is not None and conn.execute(
                "SELECT 1 FROM sessions WHERE trace_path = ?", (trace,)).fetchone() is not None
            return counts, None if shared else trace

        counts, stored = self._call(op)
        self._checkpoint()
        counts["traces"] = 0
        trace = self._abs_trace(stored)
        if trace is not None and trace.endswith(".jsonl.gz") and os.path.isfile(trace) and not os.path.islink(trace):
            try:
                os.remove(trace)
                counts["traces"] = 1
            except OSError as exc:
                counts["trace_errors"] = [f"{trace}: {exc.strerror or exc}"]
                log.error("could not delete the raw trace %s of deleted session %s: %s", trace, session_id, exc)
        return counts
