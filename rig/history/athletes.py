"""The athletes of the history, and the requests left for the running service."""

from __future__ import annotations

import logging
import os

from rig.history.rows import (
    _REQUEST_KEY,
    _REQUESTS,
    _SELECTED_KEY,
    _athlete_name,
    _level,
    _selected_id,
    _weight,
    utc_now,
)

log = logging.getLogger(__name__)


class AthletesMixin:
    """``HistoryStore``'s athletes (see store.py for ``_call``, ``_read`` and ``_rows``)."""

    def athletes(self) -> list[dict]:
        return self._rows("SELECT id, name, weight_kg, level, created_at FROM athletes ORDER BY id")

    def athlete(self, athlete_id: int) -> dict | None:
        rows = self._rows("SELECT id, name, weight_kg, level, created_at FROM athletes WHERE id = ?",
                          (athlete_id,))
        return rows[0] if rows else None

    def add_athlete(self, name: str, weight_kg: float, level: str | None = None) -> int:
        name = _athlete_name(name)
        weight_kg = _weight(weight_kg)
        level = _level(level)
        created_at = utc_now()

        def op(conn):
            if conn.execute("SELECT 1 FROM athletes WHERE name = ?", (name,)).fetchone():
                raise ValueError(f"an athlete named {name!r} already exists (names are case-insensitive)")
            return conn.execute("INSERT INTO athletes (name, weight_kg, level, created_at) VALUES (?, ?, ?, ?)",
                                (name, weight_kg, level, created_at)).lastrowid
        return self._call(op)

    def update_athlete(self, athlete_id: int, *, name: str | None = None, weight_kg: float | None = None,
                       level: str | None = None) -> None:
        """Change what is given (``level=""`` clears the level)."""
        changes = {}
        if name is not None:
            changes["name"] = _athlete_name(name)
        if weight_kg is not None:
            changes["weight_kg"] = _weight(weight_kg)
        if level is not None:
            changes["level"] = _level(level) or None

        def op(conn):
            if not conn.execute("SELECT 1 FROM athletes WHERE id = ?", (athlete_id,)).fetchone():
                raise ValueError(f"there is no athlete with id {athlete_id}")
            if "name" in changes and conn.execute("SELECT 1 FROM athletes WHERE name = ? AND id != ?",
                                                  (changes["name"], athlete_id)).fetchone():
                raise ValueError(f"an athlete named {changes['name']!r} already exists (names are case-insensitive)")
            if changes:
                sets = ", ".join(f"{k} = ?" for k in changes)
                conn.execute(f"UPDATE athletes SET {sets} WHERE id = ?", (*changes.values(), athlete_id))
        self._call(op)

    def delete_athlete(self, athlete_id: int) -> dict:
        """Delete the athlete, their sessions, flights, events and raw trace files.

        This is health data: the rows are overwritten (``secure_delete``) and
        the WAL is checkpointed and truncated so no copy of them remains in the
        database files. Returns the counts deleted. Deleting the last athlete
        is allowed; ``ensure_default_athlete`` creates a new default at the
        next start.
        """
        def op(conn):
            if not conn.execute("SELECT 1 FROM athletes WHERE id = ?", (athlete_id,)).fetchone():
                raise ValueError(f"there is no athlete with id {athlete_id}")
            counts = {
                "athletes": 1,
                "sessions": conn.execute("SELECT count(*) FROM sessions WHERE athlete_id = ?",
                                         (athlete_id,)).fetchone()[0],
                "flights": conn.execute("SELECT count(*) FROM flights JOIN sessions s ON s.id = session_id "
                                        "WHERE s.athlete_id = ?", (athlete_id,)).fetchone()[0],
                "events": conn.execute("SELECT count(*) FROM events JOIN sessions s ON s.id = session_id "
                                       "WHERE s.athlete_id = ?", (athlete_id,)).fetchone()[0],
            }
            traces = [r[0] for r in conn.execute(
                "SELECT DISTINCT trace_path FROM sessions WHERE athlete_id = ? AND trace_path IS NOT NULL",
                (athlete_id,))]
            conn.execute("DELETE FROM athletes WHERE id = ?", (athlete_id,))
            if traces:  # a trace shared with someone else's session goes too: it holds this athlete's data
                conn.executemany("UPDATE sessions SET trace_path = NULL WHERE trace_path = ?",
                                 [(t,) for t in traces])
            conn.execute("DELETE FROM meta WHERE key = ? AND value = ?", (_SELECTED_KEY, str(athlete_id)))
            return counts, traces

        counts, traces = self._call(op)
        self._checkpoint()
        removed, errors = 0, []
        for stored in traces:
            trace = self._abs_trace(stored)
            if not trace.endswith(".jsonl.gz") or not os.path.isfile(trace) or os.path.islink(trace):
                continue
            try:
                os.remove(trace)
                removed += 1
            except OSError as exc:
                errors.append(f"{trace}: {exc.strerror or exc}")
                log.error("could not delete the raw trace %s of a deleted athlete: %s", trace, exc)
        counts["traces"] = removed
        if errors:
            counts["trace_errors"] = errors
        return counts

    def ensure_default_athlete(self, name: str, weight_kg: float) -> int:
        """Create the default athlete when there is none; returns the selected athlete's id."""
        name = _athlete_name(name)
        weight_kg = _weight(weight_kg)
        created_at = utc_now()

        def op(conn):
            if conn.execute("SELECT count(*) FROM athletes").fetchone()[0] == 0:
                aid = conn.execute("INSERT INTO athletes (name, weight_kg, level, created_at) VALUES (?, ?, NULL, ?)",
                                   (name, weight_kg, created_at)).lastrowid
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_SELECTED_KEY, str(aid)))
                return aid
            return _selected_id(conn)
        return self._call(op)

    def selected_athlete(self) -> dict | None:
        """The athlete chosen for the next session: the one selected, else the
        first (None only when there is no athlete at all)."""
        with self._read() as conn:
            aid = _selected_id(conn)
            if aid is None:
                return None
            row = conn.execute("SELECT id, name, weight_kg, level, created_at FROM athletes WHERE id = ?",
                               (aid,)).fetchone()
        return dict(row) if row else None

    def select_athlete(self, athlete_id: int) -> None:
        def op(conn):
            if not conn.execute("SELECT 1 FROM athletes WHERE id = ?", (athlete_id,)).fetchone():
                raise ValueError(f"there is no athlete with id {athlete_id}")
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_SELECTED_KEY, str(athlete_id)))
        self._call(op)

    # -- requests to the running service ------------------------------------------

    def request(self, name: str) -> None:
        """Leave a request (``start_session``, ``end_session``) for the running service,
        which takes it within a few seconds; a newer request replaces an older one."""
        if name not in _REQUESTS:
            raise ValueError(f"unknown request {name!r}")
        def op(conn):
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_REQUEST_KEY, name))
        self._call(op)

    def take_request(self) -> str | None:
        """The pending request, removed (the service calls this)."""
        def op(conn):
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (_REQUEST_KEY,)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM meta WHERE key = ?", (_REQUEST_KEY,))
            return row[0]
        return self._call(op)
