"""Who may do what on the panel: the PIN, the session cookie and CSRF.

Watching, starting and stopping a session, "I'm OK" after a fall,
choosing the athlete and the drill need nothing: that is what the tablet
on the wall is for. Changing athletes, calibrating, deleting history and
raising a test fall alarm need the coach's PIN (``[web] pin``); with no PIN configured they are
refused, with a message saying how to set one.

Every request that changes something (POST, PATCH, PUT, DELETE) carries
the session's CSRF token in ``X-CSRF-Token`` (pages have it in
``<meta name="csrf-token">``, scripts may ``GET /api/csrf``), and one sent
from another origin is refused whatever it carries.

The session lives in a signed cookie (HttpOnly, SameSite=Strict). Its key
is kept in ``<data_dir>/panel-secret`` (mode 0600), so a restart of the
service does not log the coach out; an unwritable data directory falls back
to a key in memory (logins then end with the process). A login lasts
``AUTH_TTL_S`` and ends when the PIN is changed.

A login is also known on the server (``web.logins.LoginRegistry``): the
cookie carries a random login id that logging out ends for every copy of
the cookie.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import socket
import threading
import time
from typing import Callable

from flask import Flask, current_app, request, session

from web.errors import error
from web.logins import LoginRegistry

log = logging.getLogger(__name__)

SECRET_FILE = "panel-secret"
AUTH_TTL_S = 3600.0                 # a PIN login lasts an hour
MAX_WRONG_PINS = 5                  # in a row; then the login is refused for LOCKOUT_S
LOCKOUT_S = 30.0
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
wall_clock = time.time              # logins are stamped with it (a cookie outlives the process)


class AccessDenied(Exception):
    """A request refused by the access rules; ``status`` 401, 403 or 429."""

    def __init__(self, message: str, status: int, retry_after_s: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


# -- the secret key ---------------------------------------------------------------

def load_secret_key(data_dir: str) -> bytes:
    """The cookie-signing key from ``<data_dir>/panel-secret``, made (0600) the first time;
    a random key in memory when the file cannot be read or written."""
    path = os.path.join(data_dir, SECRET_FILE)
    try:
        with open(path, "rb") as f:
            key = f.read().strip()
        if len(key) >= 32:
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, 0o600)
            return key
        log.warning("%s is too short to be a key; making a new one", path)
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot read the panel's key %s (%s); logins will end when the service stops", path, exc)
        return secrets.token_hex(32).encode()
    key = secrets.token_hex(32).encode()
    try:
        os.makedirs(data_dir, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key + b"\n")
            f.flush()
            os.fsync(f.fileno())
    except FileExistsError:
        return load_secret_key(data_dir)    # another process made it first: use theirs
    except OSError as exc:
        log.warning("cannot keep the panel's key in %s (%s); logins will end when the service stops", path, exc)
    return key


def _logins():
    return current_app.extensions["stairrig"].logins


# -- the PIN ------------------------------------------------------------------------

class LoginThrottle:
    """After ``MAX_WRONG_PINS`` wrong PINs in a row every login is refused for
    ``LOCKOUT_S``; the run of wrong PINs ends only with a right one, so past the
    limit each further wrong PIN locks again. One for the whole panel: a PIN of
    four digits must not be guessable by trying from many tablets."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self.wrong_in_a_row = 0
        self.locked_until = 0.0

    def attempt(self, given: str, wanted: str) -> None:
        """Check a PIN, refusing while locked; the check and its count are one step under the
        lock, so guesses sent in parallel cannot all pass before the lockout is recorded."""
        # digests of equal length: the comparison tells nothing, not even the PIN's length
        given_d, wanted_d = (hashlib.sha256(p.encode()).digest() for p in (given, wanted))
        with self._lock:
            left = self.locked_until - self.clock()
            if left > 0:
                raise AccessDenied(f"too many wrong PINs: try again in {int(left) + 1} s", 429, retry_after_s=left)
            if hmac.compare_digest(given_d, wanted_d):
                self.wrong_in_a_row = 0
                self.locked_until = 0.0
                return
            self.wrong_in_a_row += 1
            if self.wrong_in_a_row >= MAX_WRONG_PINS:
                self.locked_until = self.clock() + LOCKOUT_S
                log.warning("%d wrong panel PINs in a row: logins refused for %.0f s", self.wrong_in_a_row, LOCKOUT_S)
        raise AccessDenied("wrong PIN", 401)


def _pin() -> str | None:
    return current_app.extensions["stairrig"].config.web.pin


def pin_required() -> bool:
    """A PIN is configured (the settings, calibration and deleting history can be unlocked)."""
    return _pin() is not None


def _pin_tag(pin: str) -> str:
    """Ties a login to the PIN it was made with: a changed PIN ends every login."""
    key = current_app.secret_key
    key = key if isinstance(key, bytes) else str(key).encode()
    return hmac.new(key, b"pin:" + pin.encode(), hashlib.sha256).hexdigest()[:32]


def authorised() -> bool:
    """This browser logged in with the configured PIN within the last ``AUTH_TTL_S``."""
    pin = _pin()
    auth = session.get("auth")
    if pin is None or not isinstance(auth, dict):
        return False
    at, tag, login_id = auth.get("at"), auth.get("pin"), auth.get("id")
    if not isinstance(at, (int, float)) or not isinstance(tag, str) or not isinstance(login_id, str):
        return False
    if not 0 <= wall_clock() - at < AUTH_TTL_S:
        return False
    return hmac.compare_digest(tag, _pin_tag(pin)) and _logins().is_open(login_id)


def login(pin_given: str) -> None:
    """Check the PIN (constant time, throttled); on success the session is authorised."""
    pin = _pin()
    if pin is None:
        raise AccessDenied("no PIN is configured, so there is nothing to unlock: set [web] pin in the "
                           "configuration file and restart the service", 403)
    throttle: LoginThrottle = current_app.extensions["stairrig"].throttle
    throttle.attempt(pin_given, pin)
    previous = session.get("auth")
    if isinstance(previous, dict) and isinstance(previous.get("id"), str):
        _logins().end(previous["id"])          # a login again replaces the one before
    session["auth"] = {"at": wall_clock(), "pin": _pin_tag(pin), "id": _logins().add()}


def logout() -> None:
    """End this login on the server too: every copy of the cookie is refused from now on."""
    auth = session.pop("auth", None)
    if isinstance(auth, dict) and isinstance(auth.get("id"), str):
        _logins().end(auth["id"])


def check_pin() -> None:
    """Refuse the request without a PIN login (403 when no PIN is configured, 401 when not logged in)."""
    if not pin_required():
        raise AccessDenied("this needs the coach's PIN, and none is configured: set [web] pin "
                           "(4 to 12 digits) in the configuration file and restart the service", 403)
    if not authorised():
        raise AccessDenied("this needs the coach's PIN: log in first", 401)


def require_pin(view):
    """Decorator: the view needs a PIN login (see ``check_pin``)."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        check_pin()
        return view(*args, **kwargs)
    return wrapped


# -- CSRF ---------------------------------------------------------------------------------

def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def new_csrf_token() -> str:
    """Replace this session's CSRF token (at login); the pages' scripts take the new one."""
    session.pop("csrf", None)
    return csrf_token()


def _same_origin(origin: str) -> bool:
    return origin.rstrip("/").lower() == request.host_url.rstrip("/").lower()


def _allowed_host(host: str) -> bool:
    """An IP address, localhost, this machine's name (bare or .local), the configured host, or a
    name in ``[web] allowed_hosts``: any other Host header is a page on another site that
    re-pointed its own name at the rig (DNS rebinding), which the origin check cannot see."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").rstrip(".").lower()
    if not name:
        return False
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    machine = socket.gethostname().lower()
    web = current_app.extensions["stairrig"].config.web
    allowed = {"localhost", machine, machine + ".local", web.host.lower(), *(h.lower() for h in web.allowed_hosts)}
    return name in allowed


def check_host() -> None:
    host = request.host or ""
    if not _allowed_host(host):
        raise AccessDenied(f"this panel does not answer to the name {host[:80]!r}: open it by the rig's address, "
                           "or add the name to [web] allowed_hosts", 400)


def check_csrf() -> None:
    """Refuse a state-changing request from another origin or without this session's token."""
    if request.method not in UNSAFE_METHODS:
        return
    if request.routing_exception is not None:
        return                     # no such route or method: it changes nothing, and says 404 or 405
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin):
        raise AccessDenied(f"a request from another origin ({origin[:80]}) is refused", 403)
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise AccessDenied("a request from another site is refused", 403)
    sent = request.headers.get(CSRF_HEADER, "")
    expected = session.get("csrf")
    if not isinstance(expected, str) or not expected:
        raise AccessDenied(f"missing CSRF token: reload the page (or GET /api/csrf) and send it in {CSRF_HEADER}",
                           403)
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise AccessDenied(f"missing or wrong CSRF token in {CSRF_HEADER}: reload the page", 403)


def _denied(exc: AccessDenied):
    response, status = error(str(exc), exc.status, pin_required=pin_required(), authorised=authorised())
    if exc.retry_after_s is not None:
        response.headers["Retry-After"] = str(int(exc.retry_after_s) + 1)
    return response, status


def init_app(app: Flask) -> None:
    data_dir = app.extensions["stairrig"].config.data_dir
    app.secret_key = load_secret_key(data_dir)
    app.config.update(
        SESSION_COOKIE_NAME="stairrig_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=False,        # the panel is plain HTTP on the local network
    )
    app.extensions["stairrig"].throttle = LoginThrottle()
    # the clock is looked up at each call: a test that moves wall_clock moves it too
    app.extensions["stairrig"].logins = LoginRegistry(data_dir, AUTH_TTL_S, clock=lambda: wall_clock())
    app.before_request(check_host)
    app.before_request(check_csrf)
    app.register_error_handler(AccessDenied, _denied)
