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

A storage failure (see ``failures.py``) turns ``available`` False, with
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
import os
import queue
import sqlite3
import threading
import time
from typing import Any, Callable

from rig.history.failures import (  # noqa: F401  (HistoryUnavailable, is_fatal, describe_failure: imported from here)
    HistoryUnavailable,
    describe_damaged,
    describe_disk,
    describe_failure,
    describe_lost,
    file_identity,
    is_damage,
    is_fatal,
    probe_file,
    unavailable,
)
from rig.threads import named_thread

log = logging.getLogger(__name__)

Operation = Callable[[sqlite3.Connection], Any]

_OP, _RAW, _FLUSH, _STOP, _WAKE = "op", "raw", "flush", "stop", "wake"

PROBE_EVERY_S = 1.0       # how often the file is checked to still be the one opened
RETRY_FIRST_S = 1.0       # after a disk failure, the first try again; doubling up to RETRY_MAX_S
RETRY_MAX_S = 30.0
BACKLOG_MAX = 5000        # operations that wait for the disk (an hour of running summaries)


class _Future:
    __slots__ = ("event", "result", "exc")

    def __init__(self):
        self.event = threading.Event()
        self.result = None
        self.exc: BaseException | None = None

    def set(self, result=None, exc: BaseException | None = None) -> None:
        self.result, self.exc = result, exc
        self.event.set()


class Writer:
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

    # -- failures and recovery -----------------------------------------------

    def _keep(self, op, significant: bool) -> None:
        """An operation that waits for the disk; when the backlog is full the oldest running
        summary goes (a later one replaces it), else the oldest operation."""
        if self.failure in ("damaged", "lost") and len(self.backlog) >= BACKLOG_MAX:
            self.dropped += 1
            return
        if len(self.backlog) >= BACKLOG_MAX:
            for i, (_, sig) in enumerate(self.backlog):
                if not sig:
                    del self.backlog[i]
                    break
            else:
                self.backlog.popleft()
            self.dropped += 1
        self.backlog.append((op, significant))

    def _classify(self, exc: BaseException) -> tuple[str, str]:
        """(failure, message) for a fatal error: damage only when the integrity check says so."""
        how = probe_file(self.path, self._identity, self._header_fd) if self._probe else None
        if how is not None:
            return "lost", describe_lost(self.path, how)
        if is_damage(exc):
            try:
                rows = self.conn.execute("PRAGMA quick_check(5)").fetchall()
            except sqlite3.Error as exc2:
                if is_damage(exc2):
                    return "damaged", describe_damaged(self.path, str(exc2))
                return "disk", describe_disk(self.path, exc2)
            problems = [r[0] for r in rows if r[0] != "ok"]
            if problems:
                return "damaged", describe_damaged(self.path, "; ".join(problems))
        return "disk", describe_disk(self.path, exc)

    def _fail(self, exc: BaseException) -> bool:
        """A fatal error: keep the batch's queued operations, say so once, try again later."""
        self._rollback()
        failure, message = self._classify(exc)
        self._set_failed(failure, message)
        return False

    def _lose(self, how: str) -> bool:
        """The file was removed, replaced or truncated: stop writing to it for good."""
        if self.failure == "lost":
            return False
        self._rollback()
        message = describe_lost(self.path, how)
        if how == "removed":
            rescued = self._rescue()
            if rescued:
                message = unavailable(
                    f"{self.path} was removed while stairrig ran; stairrig still held it open and copied the "
                    f"whole history to {rescued}. Sessions from now on are not saved in the history, but their "
                    "raw traces keep every step; the rig goes on counting live. To fix: stop stairrig, move "
                    f"{rescued} to {self.path} (or leave it, to start a new history), then start stairrig.")
        self._set_failed("lost", message)
        return False

    def _rescue(self) -> str | None:
        """Copy the history a removed file still holds (this connection has it open) beside its
        old path, never over a file: ``history.sqlite3.rescued-<UTC time>``. None when it cannot."""
        stamp = time.strftime("%Y-%m-%dT%H-%M-%SZ", time.gmtime())
        dest = f"{self.path}.rescued-{stamp}"
        try:
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            copy = sqlite3.connect(dest)
            try:
                self.conn.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")
            finally:
                copy.close()
        except (OSError, sqlite3.Error) as exc:
            log.error("%s was removed and its copy to %s failed: %s", self.path, dest, exc)
            try:
                os.remove(dest)
            except OSError:
                pass
            return None
        return dest

    def _set_failed(self, failure: str, message: str) -> None:
        for item in reversed(self._batch):       # they were rolled back: they wait, in order, first
            self.backlog.appendleft(item)
        self._batch.clear()
        while len(self.backlog) > BACKLOG_MAX:
            self.backlog.popleft()
            self.dropped += 1
        was, self.available = self.available, False
        if message != self.error or was:
            log.error("%s", message)
        self.error = message
        self.failure = failure
        if failure == "disk":
            if was:
                self._retry_s = RETRY_FIRST_S
            self._retry_at = time.monotonic() + self._retry_s
            self._retry_s = min(RETRY_MAX_S, self._retry_s * 2)
        else:
            self._retry_at = None

    def _retry(self) -> None:
        """Try the disk again: the operations that waited, in one transaction."""
        self._retry_at = None
        if self.failure != "disk":
            return
        how = probe_file(self.path, self._identity, self._header_fd) if self._probe else None
        if how is not None:
            self._lose(how)
            return
        waiting = list(self.backlog)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for op, _ in waiting:
                self.conn.execute("SAVEPOINT op")
                try:
                    op(self.conn)
                    self.conn.execute("RELEASE op")
                except sqlite3.Error as exc:
                    if is_fatal(exc):
                        raise
                    self.conn.execute("ROLLBACK TO op")
                    self.conn.execute("RELEASE op")
                    self.failed_ops += 1
                    log.warning("a history write that waited for the disk failed and was skipped: %s", exc)
                except Exception as exc:
                    self.conn.execute("ROLLBACK TO op")
                    self.conn.execute("RELEASE op")
                    self.failed_ops += 1
                    log.warning("a history write that waited for the disk failed and was skipped: %s", exc)
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            if not is_fatal(exc):
                log.error("history: trying again failed (%s); the waiting writes are kept", exc)
                failure, message = "disk", self.error
            else:
                failure, message = self._classify(exc)
            self._set_failed(failure, message)
            return
        for _ in waiting:
            self.backlog.popleft()
        self.commits += 1
        self.generation += 1
        self.recoveries += 1
        self.available, self.error, self.failure = True, None, None
        self._retry_s = RETRY_FIRST_S
        log.warning("history available again: %s is written to; %d writes that waited were saved",
                    self.path, len(waiting))

    def _rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
