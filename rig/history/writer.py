"""The history's one writer: a thread that owns the write connection.

Callers queue operations (a function of the connection). The thread applies
them in order inside one transaction and commits at most every
``commit_every_s`` (and on ``flush``, on ``close`` and after a synchronous
operation): on an SD card a handful of fsyncs a second instead of one per
write. With WAL and ``synchronous=NORMAL`` a commit survives a crash of the
process; a kill -9 loses at most the operations queued since the last commit.

Each operation runs in its own savepoint, so one that fails (a row that no
longer exists, a bad value) is rolled back alone and logged, and the others
of the batch are kept.

A storage failure (see ``failures.py``; handled in ``recovery.py``) turns ``available`` False, with
``error`` saying why and what to do, logged once:

- a disk failure (full, I/O, read-only): the queued operations of the batch
  that failed, and those queued after it, wait in memory (at most
  ``BACKLOG_MAX``; the running summaries go first when it is full), and the
  writer tries again after 1, 2, 4 ... up to 30 s. When a try commits, the
  history is available again, without a restart, and the log says so.
- damage that SQLite's integrity check confirms, or the file removed,
  replaced or truncated under it (looked at every ``PROBE_EVERY_S``, so
  health tells the truth within seconds even when nothing is written):
  writes stop for good, and the file is never overwritten with a new one.

While unavailable, synchronous calls raise ``HistoryUnavailable`` at once.
"""

from __future__ import annotations

import collections
import logging
import queue
import sqlite3
import threading
import time
from typing import Any, Callable

from rig.history.failures import (  # noqa: F401  (HistoryUnavailable, is_fatal, describe_failure: imported from here)
    HistoryUnavailable,
    describe_failure,
    file_identity,
    is_fatal,
    probe_file,
    unavailable,
)
from rig.history.recovery import RETRY_FIRST_S, RecoveryMixin
from rig.threads import named_thread

log = logging.getLogger(__name__)

Operation = Callable[[sqlite3.Connection], Any]

_OP, _RAW, _FLUSH, _STOP, _WAKE = "op", "raw", "flush", "stop", "wake"

PROBE_EVERY_S = 1.0       # how often the file is checked to still be the one opened


class _Future:
    __slots__ = ("event", "result", "exc")

    def __init__(self):
        self.event = threading.Event()
        self.result = None
        self.exc: BaseException | None = None

    def set(self, result=None, exc: BaseException | None = None) -> None:
        self.result, self.exc = result, exc
        self.event.set()


class Writer(RecoveryMixin):
    def __init__(self, conn: sqlite3.Connection, path: str, *, commit_every_s: float = 1.0,
                 name: str = "stairrig-history", probe: bool = True, header_fd: int | None = None):
        if conn.isolation_level is not None:
            raise ValueError("the writer needs a connection in autocommit mode (isolation_level=None)")
        self.conn = conn
        self.path = path
        self.commit_every_s = max(0.0, float(commit_every_s))
        self.available = True
        self.error: str | None = None
        self.failure: str | None = None   # None, "disk", "damaged" or "lost"
        self.commits = 0
        self.generation = 0       # bumped after each commit of a batch with a significant operation
        self._significant = False
        self.dropped = 0          # operations dropped (the backlog was full, or the store is closed)
        self.failed_ops = 0       # operations that failed alone and were rolled back
        self.recoveries = 0       # times the history came back after a disk failure
        self.backlog: collections.deque = collections.deque()   # (op, significant) waiting for the disk
        self._batch: list = []    # the queued operations of the open transaction, to keep on a failure
        self._identity = file_identity(path) if probe else None
        self._header_fd = header_fd       # a descriptor the store keeps open on the file (never opened here)
        self._probe = probe
        self._next_probe = 0.0
        self._retry_at: float | None = None
        self._retry_s = RETRY_FIRST_S
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = named_thread(self._run, name)
        self._closed = False

    # -- caller side -------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, op: Operation, *, significant: bool = True) -> None:
        """Queue ``op``; it is committed with the next batch (or, after a disk failure,
        when the disk works again). An operation that is not ``significant`` does not
        bump ``generation`` (readers' caches stay)."""
        if self._closed or self.failure in ("damaged", "lost"):
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
            raise HistoryUnavailable(unavailable(f"the store for {self.path} is closed"))
        fut = _Future()
        self._queue.put((_RAW if outside_transaction else _OP, op, fut))
        if not fut.event.wait(timeout):
            raise HistoryUnavailable(unavailable(f"writing {self.path} did not finish within {timeout:.0f} s"))
        if fut.exc is not None:
            raise fut.exc
        return fut.result

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued before is committed (or waits for the disk, or was dropped)."""
        if not self._thread.is_alive():
            return False
        fut = _Future()
        self._queue.put((_FLUSH, None, fut))
        return fut.event.wait(timeout)

    def probe_elsewhere(self) -> None:
        """Someone else looks at the file every PROBE_EVERY_S (the service, on the engine's ticks,
        through ``HistoryStore.check_file``): this thread no longer wakes for it, so an idle rig's
        history sleeps until there is something to write (issue 12)."""
        self._probe = False

    def note_lost(self, how: str) -> None:
        """A reader found the file removed, replaced or truncated: stop writing to it."""
        if self.failure != "lost":
            self._queue.put((_WAKE, how, None))

    def retry_now(self) -> None:
        """Try the disk again at once (instead of at the next backoff)."""
        self._queue.put((_WAKE, None, None))

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
        if self.backlog:
            log.error("%s: %d writes that waited for the disk are lost at stop (the sessions' raw traces "
                      "keep their steps)", self.path, len(self.backlog))

    # -- writer thread -----------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:   # a bug: say so, and answer every caller instead of leaving it waiting
            log.critical("the history writer failed", exc_info=True)
            self.available = False
            self.failure = "damaged"
            self.error = unavailable(
                f"the writer of {self.path} failed ({type(exc).__name__}: {exc}); sessions are not being "
                "saved, the rig goes on counting live. To fix: restart stairrig, and report the log")
            self._rollback()
            while True:
                kind, _, fut = self._queue.get()
                if fut:
                    fut.set(True) if kind == _FLUSH else fut.set(exc=HistoryUnavailable(self.error))
                if kind == _STOP:
                    return

    def _timeout(self, in_txn: bool, batch_started: float) -> float | None:
        now = time.monotonic()
        waits = []
        if in_txn:
            waits.append(batch_started + self.commit_every_s - now)
        if self._probe and self.failure != "lost":
            waits.append(self._next_probe - now)
        if self._retry_at is not None:
            waits.append(self._retry_at - now)
        return max(0.0, min(waits)) if waits else None

    def _housekeeping(self, in_txn: bool, batch_started: float) -> bool:
        """Commit a batch that is due, look at the file, try the disk again; returns in_txn."""
        now = time.monotonic()
        if in_txn and now - batch_started >= self.commit_every_s:
            in_txn = self._commit()
        if self._probe and self.failure != "lost" and now >= self._next_probe:
            self._next_probe = now + PROBE_EVERY_S
            how = probe_file(self.path, self._identity, self._header_fd)
            if how is not None:
                in_txn = self._lose(how)
        if self._retry_at is not None and now >= self._retry_at:
            self._retry()
        return in_txn

    def _loop(self) -> None:
        get = self._queue.get
        in_txn = False
        batch_started = 0.0
        while True:
            try:
                item = get(timeout=self._timeout(in_txn, batch_started))
            except queue.Empty:
                in_txn = self._housekeeping(in_txn, batch_started)
                continue
            kind, op, fut = item
            if kind == _STOP:
                if in_txn:
                    self._commit()
                if self.failure == "disk" and self.backlog:
                    self._retry()          # one last try: the disk may have room again by now
                return
            if kind == _WAKE:
                if op is not None:
                    in_txn = self._lose(op)
                elif self.failure == "disk":
                    self._retry_at = time.monotonic()
                in_txn = self._housekeeping(in_txn, batch_started)
                continue
            if kind == _FLUSH:
                if in_txn:
                    in_txn = self._commit()
                fut.set(True)
                continue
            significant = fut is not False
            if fut is False:          # a queued operation that is not significant
                fut = None
            if kind == _RAW:
                if in_txn:
                    in_txn = self._commit()
                self._raw(op, fut)
                continue
            if not self.available:
                if fut is not None:
                    fut.set(exc=HistoryUnavailable(self.error))
                else:
                    self._keep(op, significant)
                continue
            if significant:
                self._significant = True
            try:
                if not in_txn:
                    self.conn.execute("BEGIN IMMEDIATE")
                    in_txn = True
                    batch_started = time.monotonic()
                self.conn.execute("SAVEPOINT op")
            except sqlite3.Error as exc:
                if fut is None:
                    self._batch.append((op, significant))
                in_txn = self._on_error(exc, None)
                if fut is not None:
                    fut.set(exc=HistoryUnavailable(self.error) if not self.available else exc)
                continue
            try:
                result = op(self.conn)
                self.conn.execute("RELEASE op")
            except Exception as exc:
                if is_fatal(exc):
                    if fut is None:
                        self._batch.append((op, significant))
                    in_txn = self._fail(exc)
                    if fut is not None:
                        fut.set(exc=HistoryUnavailable(self.error))
                    continue
                try:
                    self.conn.execute("ROLLBACK TO op")
                    self.conn.execute("RELEASE op")
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
            else:
                self._batch.append((op, significant))
                in_txn = self._housekeeping(in_txn, batch_started)

    def _raw(self, op, fut) -> None:
        if not self.available:
            fut.set(exc=HistoryUnavailable(self.error))
            return
        try:
            fut.set(op(self.conn))
        except Exception as exc:
            if is_fatal(exc):
                self._fail(exc)
                exc = HistoryUnavailable(self.error)
            fut.set(exc=exc)

    def _commit(self) -> bool:
        """Commit the open batch; returns whether a transaction is still open (never)."""
        try:
            self.conn.execute("COMMIT")
            self.commits += 1
            self._batch.clear()
        except sqlite3.Error as exc:
            return self._on_error(exc, "commit")
        finally:
            if self._significant and self.available:   # after the commit: a reader that sees the new number sees the data
                self._significant = False
                self.generation += 1
        return False

    def _on_error(self, exc: sqlite3.Error, where: str | None) -> bool:
        if is_fatal(exc):
            return self._fail(exc)
        log.error("history %s failed: %s; the batch is rolled back", where or "write", exc)
        self._batch.clear()
        self._rollback()
        return False
