"""The history's one writer: a thread that owns the write connection.

Callers queue operations (a function of the connection). The thread applies
them in order inside one transaction and commits at most every
``commit_every_s`` (and on ``flush``, on ``close`` and after a synchronous
operation): on an SD card a handful of fsyncs a second instead of one per
write. With WAL and ``synchronous=NORMAL`` a commit survives a crash of the
process; a kill -9 loses at most the operations queued since the last commit.

Each operation runs in its own savepoint, so one that fails (a row that no
longer exists, a bad value) is rolled back alone and logged, and the others
of the batch are kept. A storage failure (a full disk, an I/O error, a file
that became read-only or damaged) is fatal to the store: it is logged once,
``available`` turns False with ``error`` saying why and what to do, and
every later write is dropped, so that the rig goes on counting.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from typing import Any, Callable

from rig.threads import named_thread

log = logging.getLogger(__name__)

Operation = Callable[[sqlite3.Connection], Any]

_OP, _RAW, _FLUSH, _STOP = "op", "raw", "flush", "stop"

# SQLite result codes that mean the storage itself has failed
_FATAL = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CORRUPT", "SQLITE_NOTADB",
          "SQLITE_CANTOPEN", "SQLITE_PERM")


class HistoryUnavailable(RuntimeError):
    """The history cannot be used; the message names the file, what is wrong
    and what to do. The rig goes on counting live without it."""


class _Future:
    __slots__ = ("event", "result", "exc")

    def __init__(self):
        self.event = threading.Event()
        self.result = None
        self.exc: BaseException | None = None

    def set(self, result=None, exc: BaseException | None = None) -> None:
        self.result, self.exc = result, exc
        self.event.set()


def is_fatal(exc: BaseException) -> bool:
    """True for errors that mean the database file or its disk has failed."""
    if not isinstance(exc, sqlite3.Error):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(_FATAL):
        return True
    text = str(exc).lower()
    return any(s in text for s in ("disk is full", "disk i/o error", "readonly database",
                                   "malformed", "not a database", "unable to open"))


def describe_failure(path: str, exc: BaseException) -> str:
    """The message for a storage failure: what happened, to which file, what to do."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        what = f"the disk holding {path} is full"
        todo = "free some space (old raw traces can go), then restart stairrig"
    elif name.startswith("SQLITE_READONLY") or "readonly" in text:
        what = f"{path} became read-only ({exc})"
        todo = "check the file's permissions and the mount (an SD card fault remounts read-only), then restart stairrig"
    elif name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text:
        what = f"{path} is damaged ({exc})"
        todo = "restore a backup, or move the file away to start a new history, then restart stairrig"
    else:
        what = f"writing {path} failed: {exc}"
        todo = "check the disk or SD card (dmesg), then restart stairrig"
    return (f"history unavailable: {what}; sessions are not being saved, the rig goes on "
            f"counting live. To fix: {todo}.")


class Writer:
    def __init__(self, conn: sqlite3.Connection, path: str, *, commit_every_s: float = 1.0,
                 name: str = "stairrig-history"):
        if conn.isolation_level is not None:
            raise ValueError("the writer needs a connection in autocommit mode (isolation_level=None)")
        self.conn = conn
        self.path = path
        self.commit_every_s = max(0.0, float(commit_every_s))
        self.available = True
        self.error: str | None = None
        self.commits = 0
        self.generation = 0       # bumped after each commit of a batch with a significant operation
        self._significant = False
        self.dropped = 0          # operations dropped because the store had failed
        self.failed_ops = 0       # operations that failed alone and were rolled back
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = named_thread(self._run, name)
        self._closed = False

    # -- caller side -------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, op: Operation, *, significant: bool = True) -> None:
        """Queue ``op``; it is committed with the next batch. An operation that is
        not ``significant`` does not bump ``generation`` (readers' caches stay)."""
        if not self.available or self._closed:
            self.dropped += 1
            return
        self._queue.put((_OP, op, None) if significant else (_OP, op, False))

    def call(self, op: Operation, timeout: float = 30.0, *, outside_transaction: bool = False):
        """Run ``op`` on the writer thread, commit, and return its result (or raise
        its exception; ``HistoryUnavailable`` when the store cannot write).

        ``outside_transaction``: commit the batch first and run ``op`` in
        autocommit mode (for a WAL checkpoint, which cannot run in a transaction).
        """
        if not self.available:
            raise HistoryUnavailable(self.error)
        if self._closed or not self._thread.is_alive():
            raise HistoryUnavailable(f"history unavailable: the store for {self.path} is closed")
        fut = _Future()
        self._queue.put((_RAW if outside_transaction else _OP, op, fut))
        if not fut.event.wait(timeout):
            raise HistoryUnavailable(f"history unavailable: writing {self.path} did not finish within {timeout:.0f} s")
        if fut.exc is not None:
            raise fut.exc
        return fut.result

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued before is committed (or dropped)."""
        if not self._thread.is_alive():
            return False
        fut = _Future()
        self._queue.put((_FLUSH, None, fut))
        return fut.event.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued and stop the thread."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._queue.put((_STOP, None, None))
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the history writer did not stop within %.0f s", timeout)

    # -- writer thread -----------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:   # a bug: say so, and answer every caller instead of leaving it waiting
            log.critical("the history writer failed", exc_info=True)
            self.available = False
            self.error = (f"history unavailable: the writer of {self.path} failed ({type(exc).__name__}: {exc}); "
                          "sessions are not being saved, the rig goes on counting live. To fix: restart "
                          "stairrig, and report the log")
            self._rollback()
            while True:
                kind, _, fut = self._queue.get()
                if fut:
                    fut.set(True) if kind == _FLUSH else fut.set(exc=HistoryUnavailable(self.error))
                if kind == _STOP:
                    return

    def _loop(self) -> None:
        conn = self.conn
        get = self._queue.get
        in_txn = False
        batch_started = 0.0
        while True:
            if in_txn:
                remaining = batch_started + self.commit_every_s - time.monotonic()
                try:
                    item = get(timeout=max(0.0, remaining))
                except queue.Empty:
                    in_txn = self._commit()
                    continue
            else:
                item = get()
            kind, op, fut = item
            if kind == _STOP:
                if in_txn:
                    self._commit()
                return
            if kind == _FLUSH:
                if in_txn:
                    in_txn = self._commit()
                fut.set(True)
                continue
            if fut is False:          # a queued operation that is not significant
                fut = None
            elif kind == _OP:
                self._significant = True
            if kind == _RAW:
                if in_txn:
                    in_txn = self._commit()
                if not self.available:
                    fut.set(exc=HistoryUnavailable(self.error))
                    continue
                try:
                    fut.set(op(conn))
                except Exception as exc:
                    if is_fatal(exc):
                        self._fail(exc)
                        exc = HistoryUnavailable(self.error)
                    fut.set(exc=exc)
                continue
            # an operation
            if not self.available:
                self.dropped += 1
                if fut is not None:
                    fut.set(exc=HistoryUnavailable(self.error))
                continue
            try:
                if not in_txn:
                    conn.execute("BEGIN IMMEDIATE")
                    in_txn = True
                    batch_started = time.monotonic()
                conn.execute("SAVEPOINT op")
            except sqlite3.Error as exc:
                in_txn = self._on_error(exc, None)
                self.dropped += 1
                if fut is not None:
                    fut.set(exc=HistoryUnavailable(self.error) if not self.available else exc)
                continue
            try:
                result = op(conn)
                conn.execute("RELEASE op")
            except Exception as exc:
                if is_fatal(exc):
                    in_txn = self._fail(exc)
                    if fut is not None:
                        fut.set(exc=HistoryUnavailable(self.error))
                    continue
                try:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                except sqlite3.Error as exc2:
                    in_txn = self._on_error(exc2, None)
                self.failed_ops += 1
                if fut is not None:
                    fut.set(exc=exc)
                else:
                    log.warning("a history write failed and was skipped: %s", exc)
                continue
            if fut is not None:
                # the caller waits: commit now, and answer only once it is on disk
                in_txn = self._commit()
                if self.available:
                    fut.set(result)
                else:
                    fut.set(exc=HistoryUnavailable(self.error))
            elif time.monotonic() - batch_started >= self.commit_every_s:
                in_txn = self._commit()

    def _commit(self) -> bool:
        """Commit the open batch; returns whether a transaction is still open (never)."""
        try:
            self.conn.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            return self._on_error(exc, "commit")
        finally:
            if self._significant:     # after the commit: a reader that sees the new number sees the data
                self._significant = False
                self.generation += 1
        return False

    def _on_error(self, exc: sqlite3.Error, where: str | None) -> bool:
        if is_fatal(exc):
            return self._fail(exc)
        log.error("history %s failed: %s; the batch is rolled back", where or "write", exc)
        self._rollback()
        return False

    def _fail(self, exc: BaseException) -> bool:
        self.available = False
        self.error = describe_failure(self.path, exc)
        log.error("%s", self.error)
        self._rollback()
        return False

    def _rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
