"""What can go wrong with the history's storage, and how to say it.

Three kinds of failure, told apart because what to do differs:

- ``disk``: the disk is full, an I/O error, the file or its directory became
  read-only, permissions. Nothing is damaged: the writer keeps what waits
  to be written (bounded) and tries again, and the history comes back by
  itself when the disk does.
- ``damaged``: SQLite's own integrity check (``PRAGMA quick_check``) found
  damage. Only then is the file called damaged; writes stop.
- ``lost``: the file was removed, replaced or truncated while stairrig ran
  (``probe_file``). stairrig never writes a fresh, empty history over it.

Every message starts with ``history unavailable:`` once, names the file,
says what happened and what to do.
"""

from __future__ import annotations

import os
import sqlite3

PREFIX = "history unavailable: "
SQLITE_MAGIC = b"SQLite format 3\x00"

# SQLite result codes that mean the storage itself has failed
_DISK = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")
_DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_DISK_TEXT = ("disk is full", "disk i/o error", "readonly database", "unable to open")
_DAMAGE_TEXT = ("malformed", "not a database")


class HistoryUnavailable(RuntimeError):
    """The history cannot be used; the message names the file, what is wrong
    and what to do. The rig goes on counting live without it."""


def unavailable(text: str) -> str:
    """``text`` with the ``history unavailable:`` prefix, exactly once."""
    text = str(text or "the history is not available")
    while text.startswith(PREFIX + PREFIX):
        text = text[len(PREFIX):]
    return text if text.startswith(PREFIX) else PREFIX + text


def is_damage(exc: BaseException) -> bool:
    """SQLite says the file is damaged (to be confirmed by an integrity check)."""
    if not isinstance(exc, sqlite3.Error):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(_DAMAGE) or any(s in str(exc).lower() for s in _DAMAGE_TEXT)


def is_disk(exc: BaseException) -> bool:
    """A full disk, an I/O error, a read-only file or directory, a permission."""
    if not isinstance(exc, sqlite3.Error):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(_DISK) or any(s in str(exc).lower() for s in _DISK_TEXT)


def is_fatal(exc: BaseException) -> bool:
    """True for errors that mean the database file or its disk has failed."""
    return is_disk(exc) or is_damage(exc)


def disk_is_full(path: str, *, below_bytes: int = 64 * 1024) -> bool:
    """Whether the file system holding ``path`` has (almost) no room left: SQLite reports a full
    disk as an I/O error when it happens while it maps its shared memory or opens its log."""
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < below_bytes


def describe_disk(path: str, exc: BaseException, *, retrying: bool = True) -> str:
    """A disk failure: what happened, to which file, what to do. Never "damaged"."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if name.startswith("SQLITE_FULL") or "disk is full" in text or "no space" in text or disk_is_full(path):
        what = f"the disk holding {path} is full"
        todo = "free some space (old raw traces under the data directory's traces/ can go)"
    elif name.startswith(("SQLITE_READONLY", "SQLITE_PERM")) or "readonly" in text or "read-only" in text:
        what = f"{path} or its directory became read-only ({exc})"
        todo = ("check the file's permissions and the mount (an SD card with faults is remounted "
                "read-only: dmesg says so)")
    else:
        what = f"writing {path} failed ({exc}); the file is not damaged as far as SQLite can tell"
        todo = "check the disk or SD card (dmesg)"
    then = ("stairrig tries again by itself and saves what waits (sessions wait in memory and in their "
            "raw traces)") if retrying else "then restart stairrig"
    return unavailable(f"{what}; sessions are not being saved, the rig goes on counting live. "
                       f"To fix: {todo}; {then}.")


def describe_damaged(path: str, detail: str) -> str:
    return unavailable(f"{path} is damaged (SQLite's integrity check: {detail}); stairrig stopped writing to "
                       "it and the rig goes on counting live. To fix: restore a backup (stairrig history "
                       "restore FILE), or move the file away to start a new history, then restart stairrig.")


def describe_failure(path: str, exc: BaseException) -> str:
    """The message for a storage failure (damage named only for SQLite's damage codes; the
    writer confirms damage with an integrity check before it says so)."""
    if is_damage(exc):
        return describe_damaged(path, str(exc))
    return describe_disk(path, exc)


def file_identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def probe_file(path: str, identity: tuple[int, int] | None, fd: int | None = None) -> str | None:
    """Why the history file at ``path`` is no longer the one opened (``identity``: its
    device and inode then), or None while it is: removed, replaced, truncated or overwritten.

    It never opens the file: closing a descriptor of it would drop the POSIX locks SQLite
    holds on it in this process. ``fd``, a descriptor kept open on the file (the store's
    lock), lets it read the header in place."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "removed"
    except OSError:
        return None            # cannot tell (a permission, an I/O error): the writes will say
    if identity is not None and (st.st_dev, st.st_ino) != identity:
        return "replaced"
    if st.st_size < len(SQLITE_MAGIC):
        return "truncated"
    if fd is None:
        return None
    try:
        head = os.pread(fd, len(SQLITE_MAGIC), 0)
    except OSError:
        return None
    if head != SQLITE_MAGIC:
        return "truncated" if not head.strip(b"\x00") else "overwritten"
    return None


def describe_lost(path: str, how: str) -> str:
    """The file was removed, replaced, truncated or overwritten while stairrig ran."""
    what = {
        "removed": f"{path} was removed while stairrig ran",
        "replaced": f"{path} was replaced by another file while stairrig ran",
        "truncated": f"{path} was truncated (emptied) while stairrig ran",
        "overwritten": f"{path} was overwritten while stairrig ran (it is no SQLite file now)",
    }.get(how, f"{path} changed under stairrig ({how})")
    return unavailable(
        f"{what}; stairrig stopped writing to it and will not put a new, empty history in its place. "
        "Sessions from now on are not saved in the history, but their raw traces under traces/ and sessions/ "
        "keep every step (stairrig replay TRACE); the rig goes on counting live. "
        "To fix: put the history back (stairrig history restore FILE, from a backup) or move the file "
        "away to start a new history, then restart stairrig.")
