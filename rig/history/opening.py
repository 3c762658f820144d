"""Opening the history's file: checked, locked, migrated; never a file stairrig did not create.

``open_database`` refuses a file that is not a stairrig history (not SQLite,
another application's, damaged, or from a newer stairrig), a read-only data
directory or file, or a full disk, with a ``HistoryUnavailable`` naming the
file, what is wrong and what to do. A disk error (full, I/O, read-only) is
never called damage: only SQLite's integrity check can say a file is damaged.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pathlib
import sqlite3
import threading

from rig.history import schema
from rig.history.schema import FILENAME
from rig.history.failures import HistoryUnavailable, disk_is_full, is_damage

log = logging.getLogger(__name__)

# every store open in this process, by the real path of its file: a second
# open must not even read the file (closing any descriptor of a file drops
# the POSIX locks SQLite holds on it in this process)
_open_paths: set[str] = set()
_open_paths_lock = threading.Lock()


def _user() -> str:
    try:
        import pwd
        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return f"uid {os.geteuid()}"



def open_database(data_dir: str, path: str, exclusive: bool = True) -> tuple[sqlite3.Connection, int]:
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
    """Refuse a damaged file; a disk error on the way is a disk error, not damage."""
    try:
        rows = conn.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise HistoryUnavailable(_damaged(path, str(exc))) from exc
        raise        # a disk error: _describe_open_failure says so
    problems = [r[0] for r in rows if r[0] != "ok"]
    if problems:
        raise HistoryUnavailable(_damaged(path, "; ".join(problems)))


def _damaged(path: str, detail: str) -> str:
    return (f"history unavailable: {path} is damaged (SQLite's integrity check: {detail}); stairrig leaves it "
            "untouched and the rig counts live without history. To fix: restore a backup, or move the file "
            "away to start a new history")


def _integrity_problems(path: str) -> str | None:
    """What SQLite's integrity check finds in ``path`` (read-only), None when it is fine or
    cannot run (then a damage code came from the disk, not the file)."""
    try:
        check = sqlite3.connect(pathlib.Path(path).as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        rows = check.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.Error as exc:
        return str(exc) if is_damage(exc) else None
    finally:
        check.close()
    problems = [r[0] for r in rows if r[0] != "ok"]
    return "; ".join(problems) or None


def _describe_open_failure(path: str, exc: sqlite3.Error) -> str:
    """Why opening failed. Damage is named only when the integrity check confirms it; a full
    disk, an I/O error or a read-only file says what it is, and that the file is fine."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if is_damage(exc):
        problems = _integrity_problems(path)
        if problems:
            return _damaged(path, problems)
    if name.startswith("SQLITE_FULL") or "disk is full" in text or disk_is_full(path):
        return (f"history unavailable: the disk holding {path} is full ({exc}); the history itself is not "
                "damaged, and the rig counts live without it. To fix: free some space (old raw traces "
                "under traces/ can go; df shows the disk), then restart stairrig")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or "readonly" in text:
        return (f"history unavailable: cannot write {path} ({exc}): the file or its directory is read-only for "
                f"{_user()}; the rig counts live without history. To fix: make the data directory writable by "
                "the user running stairrig, or choose another data_dir")
    if name.startswith("SQLITE_IOERR") or "disk i/o error" in text or is_damage(exc):
        return (f"history unavailable: the disk failed while opening {path} ({exc}); SQLite's integrity "
                "check does not call the file damaged, so keep it. The rig counts live without history. "
                "To fix: check that the disk has free space (df) and is not read-only or failing (dmesg), "
                "then restart stairrig")
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
