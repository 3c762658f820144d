"""The training history: athletes and their sessions in SQLite in the data directory.

One file, ``<data_dir>/history.sqlite3``, in WAL mode with
``synchronous=NORMAL`` and foreign keys on. Writes go through one writer
thread (``stairrig-history``, see ``writer.py``) and are committed in
batches at most every ``commit_every_s``; the session manager updates an
open session's running summary every second, so a kill -9 loses at most the
last two seconds, and the session is found ``open`` at the next start
(``open_sessions()``), to be closed as ``recovered``.

Reads use one read-only connection per calling thread.

Bad storage never stops the rig: ``open()`` refuses a file that is not a
stairrig history (not SQLite, another application's, damaged, or from a
newer stairrig), a read-only data directory or file, or a full disk, with a
``HistoryUnavailable`` naming the file, what is wrong and what to do, and
never changes such a file. A storage failure while running (a full disk, an
I/O error) turns ``available`` False and ``error`` says why; writes are then
dropped and reads go on working.

Times are wall-clock ISO-8601 strings in UTC (stored as
``datetime.isoformat()`` of an aware UTC time, so that they sort as text);
durations are seconds.
"""

from __future__ import annotations

import bisect
import datetime as dt
import fcntl
import json
import logging
import os
import pathlib
import sqlite3
import threading
from collections import Counter
from typing import Any, Iterable

from rig.history import schema
from rig.history.schema import FILENAME
from rig.history.writer import HistoryUnavailable, Writer, describe_failure, is_fatal

log = logging.getLogger(__name__)

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
)
_OUTCOME_COLUMNS = (
    "id", "started_at", "duration_s", "status", "drill_facing", "drill_grip", "level",
    "ascents", "descents", "active_s", "cadence_spm",
    "contact_fraction", "light_fraction", "firm_fraction", "grabs", "stalls", "falls",
    "pain", "dizziness", "effort", "added_load_kg",
)
_FLIGHT_COLUMNS = ("idx", "direction", "t_start_s", "t_end_s", "duration_s", "steps",
                   "cadence_spm", "contact_s", "light_s", "firm_s")
_FLIGHT_ALIASES = {"t_start_s": ("t_start",), "t_end_s": ("t_end",), "idx": ("index",)}

# every store open in this process, by the real path of its file: a second
# open must not even read the file (closing any descriptor of a file drops
# the POSIX locks SQLite holds on it in this process)
_open_paths: set[str] = set()
_open_paths_lock = threading.Lock()


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


def _user() -> str:
    try:
        import pwd
        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return f"uid {os.geteuid()}"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _number(value: Any, what: str, *, integer: bool = False):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, not {value!r}")
    return int(value) if integer else float(value)


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
    )


def _event_row(i: int, event: dict) -> tuple:
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ValueError(f"event {i} must be a dict with a 'type', not {event!r}")
    t = event.get("t_s", event.get("t"))
    detail = {k: v for k, v in event.items() if k not in ("t", "t_s", "type", "at")}
    return (_number(t, "event t"), event["type"], _dumps(detail) if detail else None)


class HistoryStore:
    """The history of one data directory. Make one with ``HistoryStore.open()``."""

    def __init__(self, data_dir: str, path: str, conn: sqlite3.Connection, lock_fd: int,
                 real_path: str, *, commit_every_s: float):
        self.data_dir = data_dir
        self._path = path
        self._real_path = real_path
        self._lock_fd = lock_fd
        self._writer = Writer(conn, path, commit_every_s=commit_every_s)
        self._local = threading.local()
        self._readers: dict[int, sqlite3.Connection] = {}
        self._readers_lock = threading.Lock()
        self._ro_uri = pathlib.Path(path).as_uri() + "?mode=ro"
        self._closed = False
        # progress() per athlete: (writer generation, started_at list, rows), see progress()
        self._progress_cache: dict[int, tuple[int, list[str], list[dict]]] = {}
        self._progress_lock = threading.Lock()

    # -- opening and closing ---------------------------------------------------

    @classmethod
    def open(cls, data_dir: str, *, commit_every_s: float = 1.0, exclusive: bool = True) -> "HistoryStore":
        """Open (or create) ``<data_dir>/history.sqlite3`` and start the writer thread.

        Raises ``HistoryUnavailable`` with a message naming the file, what is
        wrong and what to do, leaving a file it did not create untouched.
        ``exclusive`` (the service) holds a lock so that two services never
        share a history; command-line tools open with ``exclusive=False`` and
        work beside a running service, SQLite's own locking keeping them apart.
        """
        data_dir = os.path.abspath(data_dir)
        path = os.path.join(data_dir, FILENAME)
        real = os.path.realpath(path)
        with _open_paths_lock:
            if real in _open_paths:
                raise HistoryUnavailable(
                    f"history unavailable: {path} is already open in this process; "
                    "use that store (one writer per history)")
            _open_paths.add(real)
        try:
            conn, fd = _open_database(data_dir, path, exclusive)
        except BaseException:
            with _open_paths_lock:
                _open_paths.discard(real)
            raise
        store = cls(data_dir, path, conn, fd, real, commit_every_s=commit_every_s)
        store._writer.start()
        return store

    def close(self) -> None:
        """Commit what is queued, stop the writer thread, close every connection."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with self._readers_lock:
            readers, self._readers = list(self._readers.values()), {}
        for conn in readers:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        try:
            # the last connection, and a writable one: it checkpoints and removes the WAL
            self._writer.conn.close()
        except sqlite3.Error as exc:
            log.error("closing %s: %s", self._path, exc)
        try:
            os.close(self._lock_fd)     # after SQLite's own descriptors: see _open_paths
        except OSError:
            pass
        with _open_paths_lock:
            _open_paths.discard(self._real_path)

    def __enter__(self) -> "HistoryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every write queued before is committed (or dropped, when unavailable)."""
        self._writer.flush(timeout)

    @property
    def path(self) -> str:
        return self._path

    @property
    def available(self) -> bool:
        """False once a storage failure stopped the writes (reads may still work)."""
        return self._writer.available and not self._closed

    @property
    def error(self) -> str | None:
        """Why the history is unavailable, and what to do (None while it works)."""
        if self._writer.error:
            return self._writer.error
        if self._closed:
            return f"history unavailable: the store for {self._path} is closed"
        return None

    # -- athletes ------------------------------------------------------------

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

    def read_connection(self) -> sqlite3.Connection:
        """This thread's read-only connection (for exports and backups)."""
        return self._reader()

    # -- internals -------------------------------------------------------------

    def _submit(self, op, *, significant: bool = True) -> None:
        if self._closed:
            raise HistoryUnavailable(self.error)
        self._writer.submit(op, significant=significant)

    def _call(self, op, **kw):
        if self._closed:
            raise HistoryUnavailable(self.error)
        return self._writer.call(op, **kw)

    def _checkpoint(self) -> None:
        try:
            self._call(lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone(),
                       outside_transaction=True)
        except HistoryUnavailable:
            raise
        except sqlite3.Error as exc:
            log.warning("checkpointing %s failed: %s", self._path, exc)

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise HistoryUnavailable(self.error)
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(self._ro_uri, uri=True, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.Error as exc:
            raise HistoryUnavailable(describe_failure(self._path, exc)) from exc
        self._local.conn = conn
        with self._readers_lock:
            alive = {t.ident for t in threading.enumerate()}
            for ident in [i for i in self._readers if i not in alive]:
                try:
                    self._readers.pop(ident).close()
                except sqlite3.Error:
                    pass
            self._readers[threading.get_ident()] = conn
        return conn

    def _read(self):
        return _ReadTransaction(self)

    def _rows(self, sql: str, params: Iterable = ()) -> list[dict]:
        with self._read() as conn:
            cur = conn.cursor()
            cur.row_factory = None          # plain tuples: a third faster than sqlite3.Row
            cur.execute(sql, tuple(params))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur]

    def _session_row(self, row: sqlite3.Row, *, blobs: bool = False) -> dict:
        out = {k: row[k] for k in _SESSION_COLUMNS}
        out["trace_path"] = self._abs_trace(out["trace_path"])
        if out["dizziness"] is not None:
            out["dizziness"] = bool(out["dizziness"])
        if blobs:
            out["summary"] = json.loads(row["summary_json"]) if row["summary_json"] else None
            out["drill"] = json.loads(row["drill_json"]) if row["drill_json"] else {}
        return out

    def _rel_trace(self, trace_path: str | None) -> str | None:
        """Traces inside the data directory are stored relative to it, so a
        history restored elsewhere with its traces still finds them."""
        if trace_path is None:
            return None
        if not isinstance(trace_path, (str, os.PathLike)):
            raise ValueError(f"trace_path must be a path, not {trace_path!r}")
        full = os.path.abspath(os.fspath(trace_path))
        try:
            rel = os.path.relpath(full, self.data_dir)
        except ValueError:
            return full
        return full if rel.startswith(os.pardir) else rel

    def _abs_trace(self, stored: str | None) -> str | None:
        if stored is None:
            return None
        return stored if os.path.isabs(stored) else os.path.join(self.data_dir, stored)


class _ReadTransaction:
    """One consistent snapshot for the queries of a read; storage errors become HistoryUnavailable."""

    def __init__(self, store: HistoryStore):
        self.store = store
        self.conn: sqlite3.Connection | None = None
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        self.conn = self.store._reader()
        self.outer = not self.conn.in_transaction     # a read inside a read shares its snapshot
        if self.outer:
            try:
                self.conn.execute("BEGIN")
            except sqlite3.Error as exc:
                raise HistoryUnavailable(describe_failure(self.store.path, exc)) from exc
        return self.conn

    def __exit__(self, etype, exc, tb) -> bool:
        try:
            if self.outer and self.conn.in_transaction:
                self.conn.execute("COMMIT")
        except sqlite3.Error:
            pass
        if isinstance(exc, sqlite3.Error) and is_fatal(exc):
            raise HistoryUnavailable(describe_failure(self.store.path, exc)) from exc
        return False


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


# -- opening the file ----------------------------------------------------------

def _open_database(data_dir: str, path: str, exclusive: bool = True) -> tuple[sqlite3.Connection, int]:
    """Check, lock, open and migrate the database; returns the write connection
    and the descriptor holding the lock. Never writes a file stairrig did not create."""
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as exc:
        raise HistoryUnavailable(
            f"history unavailable: cannot create the data directory {data_dir} for {path} "
            f"({exc.strerror or exc}); the rig counts live without history. To fix: create it, "
            f"writable by the user running stairrig ({_user()}), or choose another data_dir") from exc
    if not os.path.isdir(data_dir):
        raise HistoryUnavailable(f"history unavailable: the data directory {data_dir} is not a directory; "
                                 "choose another data_dir")
    exists = os.path.lexists(path)
    if exists and not os.path.isfile(path):
        raise HistoryUnavailable(f"history unavailable: {path} exists but is not a regular file; stairrig "
                                 "leaves it untouched: move it away, or choose another data directory")
    for suffix in ("-wal", "-journal"):
        if not exists and os.path.lexists(path + suffix):
            raise HistoryUnavailable(
                f"history unavailable: {path}{suffix} exists without {path} (left from a history that was "
                f"deleted or moved); stairrig will not start a new history beside it, because SQLite would "
                f"replay it into the new file: move {path}{suffix} away (with the history file it belongs to)")
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise HistoryUnavailable(
            f"history unavailable: the data directory {data_dir} is read-only for {_user()}, so stairrig cannot "
            f"{'write' if exists else 'create'} {path} (SQLite also creates {FILENAME}-wal beside it); the rig "
            f"counts live without history. To fix: make {data_dir} writable by the user running stairrig "
            "(with systemd, StateDirectory=), or choose another data_dir")
    if exists and not os.access(path, os.R_OK | os.W_OK):
        raise HistoryUnavailable(
            f"history unavailable: {path} is read-only for {_user()}; the rig counts live without history. "
            "To fix: give the user running stairrig read and write access to it (chown/chmod)")

    fd = -1
    conn = None
    try:
        if exists:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            header = schema.read_header(path, fd)
            why = schema.describe_foreign(path, header)
            if why:
                raise HistoryUnavailable("history unavailable: " + why)
            if exclusive:
                _lock(fd, path)
            created = header.empty
        else:
            created = True
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        if fd < 0:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            if exclusive:
                _lock(fd, path)
        if not created:
            _check_integrity(conn, path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        known = schema.schema_version()
        if version > known:
            raise HistoryUnavailable(
                f"history unavailable: {path} was written by a newer stairrig (schema version {version}; this one "
                f"knows up to {known}); stairrig leaves it untouched. To fix: update stairrig, or restore a backup "
                "made by this version")
        # the first migration (with application_id) commits before the switch to WAL,
        # so the stairrig mark is in the main file's header on disk from the start
        schema.migrate(conn, backup_before=lambda v: _backup_before_migration(conn, path, v))
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            log.warning("%s: WAL is not possible on this file system (journal mode %s)", path, mode)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")   # health data: deleted rows are overwritten
        return conn, fd
    except HistoryUnavailable:
        _abandon(conn, fd)
        raise
    except sqlite3.Error as exc:
        _abandon(conn, fd)
        raise HistoryUnavailable(_describe_open_failure(path, exc)) from exc
    except OSError as exc:
        _abandon(conn, fd)
        raise HistoryUnavailable(
            f"history unavailable: cannot open {path} ({exc.strerror or exc}); the rig counts live without "
            "history. To fix: check the data directory's disk and permissions") from exc


def _abandon(conn, fd: int) -> None:
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass
    if fd >= 0:
        os.close(fd)


def _lock(fd: int, path: str) -> None:
    """One stairrig per history: an exclusive flock on the database file, held
    while the store is open (flock and SQLite's POSIX locks do not interact on Linux)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise HistoryUnavailable(
            f"history unavailable: {path} is in use by another stairrig process; stop it first "
            "(one writer per history)") from None
    except OSError as exc:
        log.warning("cannot lock %s (%s); going on without the lock", path, exc)


def is_locked(path: str) -> bool:
    """Whether a store (in this process or another) has ``path`` open."""
    with _open_paths_lock:
        if os.path.realpath(path) in _open_paths:
            return True
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _check_integrity(conn: sqlite3.Connection, path: str) -> None:
    try:
        rows = conn.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_fatal(exc) and "full" not in str(exc).lower():
            raise HistoryUnavailable(_damaged(path, str(exc))) from exc
        raise
    problems = [r[0] for r in rows if r[0] != "ok"]
    if problems:
        raise HistoryUnavailable(_damaged(path, "; ".join(problems)))


def _damaged(path: str, detail: str) -> str:
    return (f"history unavailable: {path} is damaged ({detail}); stairrig leaves it untouched and the rig "
            "counts live without history. To fix: restore a backup, or move the file away to start a new history")


def _describe_open_failure(path: str, exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return _damaged(path, str(exc))
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return (f"history unavailable: the disk holding {path} is full; the rig counts live without history. "
                "To fix: free some space (old raw traces can go), then restart stairrig")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or "readonly" in text:
        return (f"history unavailable: cannot write {path} ({exc}): the file or its directory is read-only for "
                f"{_user()}; the rig counts live without history. To fix: make the data directory writable by "
                "the user running stairrig, or choose another data_dir")
    return (f"history unavailable: cannot open {path} ({exc}); the rig counts live without history. "
            "To fix: check the disk (dmesg) and the file")


def _backup_before_migration(conn: sqlite3.Connection, path: str, version: int) -> None:
    """Copy the history aside before changing its schema: ``history.sqlite3.v<N>.bak``."""
    dest = f"{path}.v{version}.bak"
    n = 1
    while os.path.lexists(dest):
        n += 1
        dest = f"{path}.v{version}.{n}.bak"
    copy = sqlite3.connect(dest)
    try:
        conn.backup(copy)
        copy.execute("PRAGMA journal_mode = DELETE")
    finally:
        copy.close()
    log.info("the history %s (schema version %d) was copied to %s before migrating", path, version, dest)
