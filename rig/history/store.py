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

import json
import logging
import os
import pathlib
import sqlite3
import threading
from typing import Iterable

from rig.history.athletes import AthletesMixin
from rig.history.opening import _open_paths, _open_paths_lock, is_locked, open_database
from rig.history.rows import (  # noqa: F401  (the names callers import from here)
    _OUTCOME_COLUMNS,
    _PROGRESS_COLUMNS,
    _SESSION_COLUMNS,
    END_STATUSES,
    SESSION_STATUSES,
    normalise_time,
    summary_columns,
    utc_now,
)
from rig.history.schema import FILENAME
from rig.history.sessions import SessionsMixin
from rig.history.stairtests import StairTestsMixin
from rig.history.failures import describe_lost, probe_file
from rig.history.writer import HistoryUnavailable, Writer, describe_failure, is_fatal

log = logging.getLogger(__name__)

__all__ = ["HistoryStore", "HistoryUnavailable", "is_locked", "normalise_time", "summary_columns", "utc_now"]


class HistoryStore(AthletesMixin, SessionsMixin, StairTestsMixin):
    """The history of one data directory. Make one with ``HistoryStore.open()``."""

    def __init__(self, data_dir: str, path: str, conn: sqlite3.Connection, lock_fd: int,
                 real_path: str, *, commit_every_s: float):
        self.data_dir = data_dir
        self._path = path
        self._real_path = real_path
        self._lock_fd = lock_fd
        self._writer = Writer(conn, path, commit_every_s=commit_every_s, header_fd=lock_fd)
        self._local = threading.local()
        self._readers: dict[int, sqlite3.Connection] = {}
        self._readers_lock = threading.Lock()
        self._ro_uri = pathlib.Path(path).as_uri() + "?mode=ro"
        self._closed = False
        self._close_lock = threading.Lock()
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
            conn, fd = open_database(data_dir, path, exclusive)
        except BaseException:
            with _open_paths_lock:
                _open_paths.discard(real)
            raise
        store = cls(data_dir, path, conn, fd, real, commit_every_s=commit_every_s)
        store._writer.start()
        return store

    def close(self) -> None:
        """Commit what is queued, stop the writer thread, close every connection."""
        with self._close_lock:          # twice at once would close the lock's descriptor twice
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

    def health(self) -> dict:
        """For status pages: available, why not (``error``), the kind of failure (``disk``: it
        comes back by itself; ``damaged``, ``lost``: a person must act), and the writes
        waiting for the disk or dropped."""
        w = self._writer
        return {"path": self._path, "available": self.available, "error": self.error,
                "failure": w.failure, "waiting_writes": len(w.backlog), "dropped_writes": w.dropped,
                "recoveries": w.recoveries}

    def probe_on_ticks(self) -> None:
        """The caller will call ``check_file()`` every ``PROBE_EVERY_S`` from a thread that is awake
        anyway; the writer stops waking for it (``Writer.probe_elsewhere``)."""
        self._writer.probe_elsewhere()

    def check_file(self) -> str | None:
        """Look at the file now (any thread): why the history is lost, or None while it is there."""
        how = probe_file(self._path, self._writer._identity, self._lock_fd)
        if how is not None:
            self._writer.note_lost(how)
            return describe_lost(self._path, how)
        return None

    def _read_failure(self, exc: sqlite3.Error) -> HistoryUnavailable | None:
        """A read failed: the file lost or the disk failing is HistoryUnavailable (the API's 503)."""
        lost = self.check_file()
        if lost is not None:
            return HistoryUnavailable(lost)
        if is_fatal(exc):
            return HistoryUnavailable(self._writer.error or describe_failure(self._path, exc))
        return None

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
                raise (self.store._read_failure(exc) or HistoryUnavailable(
                    describe_failure(self.store.path, exc))) from exc
        return self.conn

    def __exit__(self, etype, exc, tb) -> bool:
        try:
            if self.outer and self.conn.in_transaction:
                self.conn.execute("COMMIT")
        except sqlite3.Error:
            pass
        if isinstance(exc, sqlite3.Error):
            failure = self.store._read_failure(exc)
            if failure is not None:
                raise failure from exc
        return False
