"""The PIN logins that are open, known on the server, so that a logout ends every copy of a cookie.

A login puts a random login id in the session cookie; the panel keeps the
ids of the logins that are open (their SHA-256, never the ids) with when
each ends, in ``<data_dir>/panel-logins.json`` (0600), at most
``MAX_LOGINS`` (the oldest ends first). Logging out removes the id, so every
copy of that cookie is refused at once; a restart of the service keeps the
logins that were open (and not the ones that ended). A missing, unreadable
or damaged file ends every login: the safe side. A file that cannot be
written leaves the logins in memory (they end with the process; the log
says so once).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)

LOGINS_FILE = "panel-logins.json"
MAX_LOGINS = 64                     # open at once; the oldest ends first beyond it


def _digest(login_id: str) -> str:
    return hashlib.sha256(login_id.encode()).hexdigest()


class LoginRegistry:
    """The open logins, by the digest of their id, with when each ends (wall clock);
    kept in ``<data_dir>/panel-logins.json`` so that a restart keeps them."""

    def __init__(self, data_dir: str, ttl_s: float, clock: Callable[[], float] = time.time):
        self.path = os.path.join(data_dir, LOGINS_FILE)
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, float] = self._load()
        self._warned = False

    def _load(self) -> dict[str, float]:
        try:
            with open(self.path, "rb") as f:
                data = json.loads(f.read(64 * 1024).decode("utf-8"))
            now = self.clock()
            return {k: float(v) for k, v in list(data.items())[-MAX_LOGINS:]
                    if isinstance(k, str) and len(k) == 64 and type(v) in (int, float) and now < v < now + self.ttl_s}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            log.warning("cannot read the panel's logins %s (%s): every login has ended", self.path,
                        type(exc).__name__)
            return {}

    def _save(self) -> None:
        tmp = self.path + ".tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(self._open, f)
            os.replace(tmp, self.path)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot keep the panel's logins in %s (%s); logins will end when the service "
                            "stops", self.path, exc)
            try:
                os.remove(tmp)
            except OSError:
                pass

    def add(self) -> str:
        """A new login's id (for the cookie)."""
        login_id = secrets.token_urlsafe(24)
        now = self.clock()
        with self._lock:
            self._open = {k: v for k, v in self._open.items() if v > now}
            while len(self._open) >= MAX_LOGINS:
                self._open.pop(min(self._open, key=self._open.get))
            self._open[_digest(login_id)] = now + self.ttl_s
            self._save()
        return login_id

    def is_open(self, login_id: str) -> bool:
        with self._lock:
            return _digest(login_id) in self._open

    def end(self, login_id: str) -> None:
        with self._lock:
            if self._open.pop(_digest(login_id), None) is not None:
                self._save()


