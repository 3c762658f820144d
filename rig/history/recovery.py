"""The history writer's failures and recovery (a mixin of ``Writer``; its thread runs all of it).

A fatal error is classified (``failures.py``): ``disk`` keeps the rolled-back
batch and what comes after it in a bounded backlog and tries again with
backoff; ``damaged`` (confirmed by ``PRAGMA quick_check``) and ``lost`` (the
file removed, replaced, truncated) stop the writes for good. A removed file
is copied aside whole (``history.sqlite3.rescued-<UTC time>``) from the
connection that still holds it open, never written over anything.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time

from rig.history.failures import (
    describe_damaged,
    describe_disk,
    describe_lost,
    is_damage,
    is_fatal,
    probe_file,
    unavailable,
)

log = logging.getLogger("rig.history.writer")

RETRY_FIRST_S = 1.0       # after a disk failure, the first try again; doubling up to RETRY_MAX_S
RETRY_MAX_S = 30.0
BACKLOG_MAX = 5000        # operations that wait for the disk (an hour of running summaries)


class RecoveryMixin:
    """What ``Writer`` does when the storage fails, and how it comes back."""


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
