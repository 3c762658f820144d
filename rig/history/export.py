"""Getting the history out, and back: CSV, JSON and FIT exports, the raw trace, backup and restore.

The athlete owns their data: one session or the whole history (of one
athlete or of everyone) as JSON, the sessions as CSV for a spreadsheet, one
session as a FIT activity file for Garmin Connect, Strava or intervals.icu
(``rig/fit``), the raw trace of a session as recorded, and a backup of the whole history to one
SQLite file, made with SQLite's backup API (a consistent copy while the rig
is writing), which ``restore`` puts back.

``restore`` never touches a file stairrig did not create: it checks that the
backup is a stairrig history it can read, refuses to replace an existing
history unless asked (and then keeps the old one beside it), and writes the
new file under a temporary name before renaming it into place.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import pathlib
import shutil
import sqlite3
from typing import IO, Any

from rig import __version__
from rig.fit import session_fit
from rig.history import schema
from rig.history.gait_rows import GAIT_FIGURES, sessions_with_gait
from rig.history.schema import FILENAME
from rig.history.store import HistoryStore, HistoryUnavailable, is_locked, utc_now

EXPORT_FORMAT_VERSION = 1

#: the gait figures of export_sessions_csv (docs/trace-format.md, "Gait figures"); the best ascent's power in W
GAIT_CSV_COLUMNS = GAIT_FIGURES
#: the columns of export_sessions_csv, in order
CSV_COLUMNS = (
    "session_id", "athlete_id", "athlete", "started_at", "ended_at", "duration_s", "status",
    "drill_facing", "drill_grip", "planned_flights", "added_load_kg", "level",
    "steps", "steps_up", "steps_down", "ascents", "descents", "elevation_gain_m",
    "active_s", "cadence_spm", "contact_fraction", "light_fraction", "firm_fraction",
    "grabs", "stalls", "falls", "energy_kcal",
    *GAIT_CSV_COLUMNS,
    "effort", "pain", "dizziness", "notes",
)
_FREE_TEXT = ("athlete", "notes", "level", "drill_facing", "drill_grip")


# -- JSON ------------------------------------------------------------------------

def export_session_json(store: HistoryStore, session_id: int) -> dict:
    """One session with everything about it, and its athlete; ValueError if there is none."""
    session = store.session(session_id)
    if session is None:
        raise ValueError(f"there is no session {session_id}")
    return {
        "format": "stairrig.session",
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": utc_now(),
        "athlete": store.athlete(session["athlete_id"]),
        "session": _portable(session),
    }


def export_history_json(store: HistoryStore, file: str | os.PathLike | IO[str],
                        athlete_id: int | None = None) -> dict:
    """The whole history (or one athlete's) as one JSON document written to
    ``file`` (a path or a text file): each athlete with their sessions and stair
    tests; returns the counts written."""
    athletes = store.athletes()
    if athlete_id is not None:
        athletes = [a for a in athletes if a["id"] == athlete_id]
        if not athletes:
            raise ValueError(f"there is no athlete with id {athlete_id}")
    doc: dict[str, Any] = {
        "format": "stairrig.history",
        "format_version": EXPORT_FORMAT_VERSION,
        "schema_version": schema.schema_version(),
        "exported_at": utc_now(),
        "athletes": [],
    }
    n_sessions = 0
    for athlete in athletes:
        ids = [s["id"] for s in reversed(store.sessions(athlete_id=athlete["id"]))]
        sessions = []
        for sid in ids:
            s = store.session(sid)
            if s is not None:
                sessions.append(_portable(s))
        n_sessions += len(sessions)
        # the standard stair tests are the athlete's too (kept apart from the sessions)
        doc["athletes"].append({**athlete, "sessions": sessions, "stair_tests": store.stair_tests(athlete["id"])})
    text = json.dumps(doc, ensure_ascii=False)   # compact: indent= would use the slow Python encoder
    with _text_out(file) as out:
        out.write(text)
        out.write("\n")
    return {"athletes": len(athletes), "sessions": n_sessions}


def _portable(session: dict) -> dict:
    """A session for export: the compact notes columns live in ``notes``."""
    out = {k: v for k, v in session.items() if k not in ("effort", "pain", "dizziness", "notes_text")}
    return out


# -- CSV -------------------------------------------------------------------------

def export_sessions_csv(store: HistoryStore, path_or_file: str | os.PathLike | IO[str],
                        athlete_id: int | None = None, session_id: int | None = None) -> int:
    """One row per session (all, one athlete's, or just ``session_id``), oldest
    first, with a header row; returns the rows written.

    Free text (names, notes) that a spreadsheet would take for a formula
    (starting with = + - @) is prefixed with a single quote.
    """
    names = {a["id"]: a["name"] for a in store.athletes()}
    if athlete_id is not None and athlete_id not in names:
        raise ValueError(f"there is no athlete with id {athlete_id}")
    # one query: the rows with their gait figures (rig/history/gait_rows.py), not one read per row
    rows = sessions_with_gait(store, athlete_id=athlete_id, session_id=session_id)
    if session_id is not None and not rows:
        exists = athlete_id is not None and store.session(session_id) is not None
        raise ValueError(f"there is no session {session_id}" + (f" of athlete {athlete_id}" if exists else ""))
    with _text_out(path_or_file, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for s in rows:
            record = {**s, "session_id": s["id"], "athlete": names.get(s["athlete_id"], ""),
                      "notes": s["notes_text"]}
            writer.writerow([_cell(c, record.get(c)) for c in CSV_COLUMNS])
    return len(rows)


def _cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column in _FREE_TEXT and isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@contextlib.contextmanager
def _text_out(target, newline: str | None = None):
    if hasattr(target, "write"):
        yield target
        return
    path = os.fspath(target)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


# -- FIT ---------------------------------------------------------------------------

def export_session_fit(store: HistoryStore, session_id: int) -> tuple[bytes, str]:
    """One ended session as a FIT activity file: its bytes and a file name for it,
    ``stairrig-<local date>-<id>.fit``. ValueError when there is no such session or
    it is still running."""
    session = store.session(session_id)
    if session is None:
        raise ValueError(f"there is no session {session_id}")
    start = dt.datetime.fromisoformat(session["started_at"])
    local = start.astimezone()          # this machine's time zone, as the panel shows times
    offset = local.utcoffset()
    body = session_fit(session, utc_offset_s=int(offset.total_seconds()) if offset else 0,
                       software_version=__version__)
    return body, fit_filename(session_id, local)


def fit_filename(session_id: int, local_start: dt.datetime) -> str:
    return f"stairrig-{local_start:%Y-%m-%d}-{session_id}.fit"


# -- the raw trace -------------------------------------------------------------------

def export_trace(store: HistoryStore, session_id: int, dest: str | os.PathLike | IO[bytes]) -> str:
    """Copy a session's raw trace (gzip JSON Lines, as recorded) to ``dest``
    (a path or a binary file); returns the trace's path. ValueError when the
    session has none (never recorded, or pruned by retention)."""
    session = store.session(session_id)
    if session is None:
        raise ValueError(f"there is no session {session_id}")
    trace = session["trace_path"]
    if not trace:
        raise ValueError(f"session {session_id} has no raw trace (not recorded, or pruned by retention)")
    if not os.path.isfile(trace):
        raise ValueError(f"the raw trace of session {session_id}, {trace}, is missing")
    if hasattr(dest, "write"):
        with open(trace, "rb") as f:
            shutil.copyfileobj(f, dest)
    else:
        shutil.copyfile(trace, os.fspath(dest))
    return trace


# -- backup and restore --------------------------------------------------------------

def backup(store: HistoryStore, dest_path: str | os.PathLike, *, overwrite: bool = False) -> dict:
    """Copy the whole history to one SQLite file, consistently, while the rig runs.

    Raw traces are not included (they are files under ``traces/``). The copy
    is written under a temporary name and renamed into place; an existing
    ``dest_path`` is refused unless ``overwrite``. Returns path, size and counts.
    """
    dest = os.path.abspath(os.fspath(dest_path))
    if os.path.realpath(dest) == os.path.realpath(store.path):
        raise ValueError(f"the backup cannot be the history itself ({dest})")
    if os.path.lexists(dest) and not overwrite:
        raise FileExistsError(f"{dest} exists: choose another file name (a backup never replaces a file)")
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    tmp = f"{dest}.tmp-{os.getpid()}"
    _remove_quietly(tmp)
    store.flush()
    try:
        copy = sqlite3.connect(tmp, isolation_level=None)
        try:
            store.read_connection().backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")   # one self-contained file
            _check(copy, tmp)
            counts = _counts(copy)
        finally:
            copy.close()
        _fsync(tmp)
        os.replace(tmp, dest)
        _fsync_dir(os.path.dirname(dest))
    except sqlite3.Error as exc:
        _remove_quietly(tmp)
        raise HistoryUnavailable(f"backing up {store.path} to {dest} failed: {exc}") from exc
    except BaseException:
        _remove_quietly(tmp)
        raise
    return {"path": dest, "bytes": os.path.getsize(dest), **counts}


def restore(data_dir: str | os.PathLike, backup_path: str | os.PathLike, *, force: bool = False) -> dict:
    """Put a backup in place as ``<data_dir>/history.sqlite3``; the service must be stopped.

    The backup must be a stairrig history of a schema version this stairrig
    knows, and whole (``quick_check``); an older version is migrated at the
    next open. An existing history is refused unless ``force``; then it is
    kept as ``history.sqlite3.before-restore-<time>`` (with its WAL). A file
    that is not a stairrig history is never replaced, even with ``force``.
    Returns the path, the kept previous history (or None) and the counts.
    """
    data_dir = os.path.abspath(os.fspath(data_dir))
    source = os.path.abspath(os.fspath(backup_path))
    dest = os.path.join(data_dir, FILENAME)
    if not os.path.isfile(source):
        raise ValueError(f"the backup {source} does not exist")
    if os.path.realpath(source) == os.path.realpath(dest):
        raise ValueError(f"the backup {source} is the history itself")
    why = schema.describe_foreign(source, schema.read_header(source))
    if why or os.path.getsize(source) == 0:
        raise ValueError(f"cannot restore: {why or f'{source} is empty'}")

    existing = os.path.lexists(dest)
    leftovers = [p for p in (dest + "-wal", dest + "-journal") if os.path.lexists(p)]
    if existing or leftovers:
        if is_locked(dest):
            raise HistoryUnavailable(f"cannot restore: {dest} is in use by a running stairrig; stop it first")
        if existing:
            why = schema.describe_foreign(dest, schema.read_header(dest))
            if why:
                raise ValueError(f"cannot restore over {dest}: {why}")
        if not force:
            raise FileExistsError(f"a history already exists at {dest}; to replace it with {source} use "
                                  "--force (the current one is then kept beside it)")
        if not existing:
            raise ValueError(f"cannot restore: {leftovers[0]} exists without {dest}; move it away first")

    os.makedirs(data_dir, exist_ok=True)
    tmp = os.path.join(data_dir, f".{FILENAME}.restore-{os.getpid()}")
    _remove_quietly(tmp)
    try:
        src = sqlite3.connect(pathlib_uri(source) + "?mode=ro", uri=True)
        try:
            version = src.execute("PRAGMA user_version").fetchone()[0]
            app = src.execute("PRAGMA application_id").fetchone()[0]
            if app != schema.APPLICATION_ID:
                raise ValueError(f"cannot restore: {source} is not a stairrig history")
            if version > schema.schema_version():
                raise ValueError(f"cannot restore: {source} was written by a newer stairrig (schema version "
                                 f"{version}; this one knows up to {schema.schema_version()}): update stairrig")
            _check(src, source)
            copy = sqlite3.connect(tmp, isolation_level=None)
            try:
                src.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")
                _check(copy, tmp)
                counts = _counts(copy)
            finally:
                copy.close()
        finally:
            src.close()
        _fsync(tmp)
        previous = None
        if existing:
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            previous = f"{dest}.before-restore-{stamp}"
            n = 1
            while os.path.lexists(previous):
                n += 1
                previous = f"{dest}.before-restore-{stamp}-{n}"
            os.rename(dest, previous)
            if os.path.lexists(dest + "-wal"):
                os.rename(dest + "-wal", previous + "-wal")   # the pair stays a readable database
            _remove_quietly(dest + "-shm")                    # an index of the WAL, rebuilt on open
        os.replace(tmp, dest)
        _fsync_dir(data_dir)
    except sqlite3.Error as exc:
        _remove_quietly(tmp)
        raise ValueError(f"cannot restore from {source}: {exc}") from exc
    except BaseException:
        _remove_quietly(tmp)
        raise
    return {"path": dest, "previous": previous, "schema_version": version, **counts}


def pathlib_uri(path: str) -> str:
    return pathlib.Path(path).as_uri()


def _check(conn: sqlite3.Connection, path: str) -> None:
    problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall() if r[0] != "ok"]
    if problems:
        raise ValueError(f"{path} is damaged: {'; '.join(problems)}")


def _counts(conn: sqlite3.Connection) -> dict:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("athletes", "sessions", "flights", "events")}


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


__all__ = ["export_session_json", "export_sessions_csv", "export_history_json", "export_session_fit", "export_trace",
           "backup", "restore", "CSV_COLUMNS"]
