"""Errors as JSON, and the checks that turn bad input into a 4xx instead of a 500.

Everything under ``/api``, ``/events`` and ``/healthz`` answers errors as
``{"error": "a sentence for people"}`` with the right status: a wrong
method, an unknown id, bad JSON, a wrong type, a body over 64 KB. Pages get
HTML. A bug (an exception nobody expected) is logged with its traceback
and answered 500 with a sentence that says to look at the log, never the
traceback itself.

``json_body`` and the ``query_*``/``field_*`` helpers are what the API
handlers use to read their input; each raises ``BadInput`` (400) naming
the field and what was expected.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from flask import Flask, jsonify, request
from markupsafe import escape
from werkzeug.exceptions import (BadRequest, HTTPException, InternalServerError, RequestEntityTooLarge,
                                 UnsupportedMediaType)
from werkzeug.routing import BaseConverter

from rig.history import HistoryUnavailable

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 20                  # every body the API takes is a flat object; deeper is refused unparsed
MAX_NUMBER_CHARS = 40                # a longer number literal is refused (Python's own limit is 4300 digits)
MAX_ID = 2 ** 63 - 1                 # SQLite's INTEGER: a larger id is unknown, never an OverflowError
_JSON_PREFIXES = ("/api/", "/events", "/healthz")
_WHOLE = re.compile(r"-?[0-9]+")


class BadInput(BadRequest):
    """A request whose body or query is wrong; the description says what and how to fix it."""


class IdConverter(BaseConverter):
    """``<id:name>``: a positive whole number that fits SQLite (1 to 18 digits)."""
    regex = r"[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


def wants_json() -> bool:
    return request.path.startswith(_JSON_PREFIXES) or request.path == "/api"


def error(message: str, status: int, **extra) -> tuple:
    """A JSON error response: ``{"error": message, ...extra}``."""
    return jsonify({"error": message, **extra}), status


# -- reading input ---------------------------------------------------------------

def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


class _BadNumber:
    """A number in the body that no field can take (beyond a float, or too many digits):
    kept as a marker while parsing, refused once its field is known."""
    __slots__ = ("why",)

    def __init__(self, why: str):
        self.why = why


def _parse_int(text: str):
    if len(text) > MAX_NUMBER_CHARS:
        return _BadNumber(f"a number of {len(text.lstrip('-'))} digits is too large")
    return int(text)


def _parse_float(text: str):
    if len(text) > MAX_NUMBER_CHARS:
        return _BadNumber(f"a number written with {len(text)} characters is too long")
    value = float(text)
    if not math.isfinite(value):
        return _BadNumber(f"{text[:20]} is too large for a number")
    return value


def json_depth_over(raw: bytes, limit: int) -> bool:
    """True when the JSON text nests arrays/objects deeper than ``limit`` (strings skipped);
    checked before parsing, so a body nested 30,000 deep never reaches the parser's recursion."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:            # backslash
                escaped = True
            elif byte == 0x22:            # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):        # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):        # ] }
            depth -= 1
    return False


def _first_bad_number(value: Any, where: str) -> tuple[str, _BadNumber] | None:
    if isinstance(value, _BadNumber):
        return where, value
    if isinstance(value, dict):
        items = ((f"{where}.{k}" if where else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for name, item in items:
        found = _first_bad_number(item, name)
        if found:
            return found
    return None


def parse_json(raw: bytes) -> Any:
    """A JSON body, refused (``BadInput``) when it is not JSON, nests deeper than
    ``MAX_JSON_DEPTH`` or holds a number no field could take (the message names the field)."""
    if json_depth_over(raw, MAX_JSON_DEPTH):
        raise BadInput(f"the body nests lists or objects deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                          parse_int=_parse_int, parse_float=_parse_float)
    except RecursionError:               # cannot happen below MAX_JSON_DEPTH; never a 500 all the same
        raise BadInput("the body nests too deep") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"the body is not valid JSON ({str(exc)[:120]})") from None
    found = _first_bad_number(data, "")
    if found:
        name, bad = found
        raise BadInput(f"{name[:60] or 'the body'}: {bad.why}")
    return data


def json_body(allowed: tuple[str, ...] = (), required: tuple[str, ...] = ()) -> dict:
    """The request's JSON object; an empty body is ``{}``.

    Raises ``BadInput`` for a body that is not JSON, not an object, nested
    too deep, holds a number out of any range, has a key outside ``allowed``
    or lacks one in ``required``; 413 over 64 KB and 415 for a body sent as
    something other than JSON.
    """
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise RequestEntityTooLarge(f"the body is larger than {MAX_BODY_BYTES // 1024} KB")
    raw = request.get_data(cache=True)       # MAX_CONTENT_LENGTH: 413 for a chunked body that is too large
    if not raw.strip():
        data: Any = {}
    else:
        if request.mimetype != "application/json":
            raise UnsupportedMediaType("send the body as JSON, with Content-Type: application/json")
        data = parse_json(raw)
    if not isinstance(data, dict):
        raise BadInput(f"the body must be a JSON object, not {_kind(data)}")
    unknown = [k for k in data if k not in allowed]
    if unknown:
        expected = ", ".join(allowed) if allowed else "nothing (send {} or no body)"
        raise BadInput(f"unknown field {unknown[0][:40]!r}; expected {expected}")
    missing = [k for k in required if k not in data]
    if missing:
        raise BadInput(f"{missing[0]!r} is required")
    return data


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "a whole number", float: "a number", str: "a string",
             list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def field_int(data: dict, name: str, *, low: int | None = None, high: int | None = None) -> int:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{name} must be a whole number, not {_kind(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadInput(f"{name} must be from {low} to {high}, not {value}")
    return value


def field_number(data: dict, name: str) -> float:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput(f"{name} must be a number, not {_kind(value)}")
    if not math.isfinite(value):
        raise BadInput(f"{name} is too large for a number")
    return float(value)


def field_str(data: dict, name: str, *, max_len: int = 200) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a string, not {_kind(value)}")
    if len(value) > max_len:
        raise BadInput(f"{name} is longer than {max_len} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:   # a lone surrogate ("\ud800" in the JSON): no text can hold it
        raise BadInput(f"{name} is not valid text") from None
    return value


def query_int(name: str, *, default: int | None = None, low: int = 1, high: int = MAX_ID) -> int | None:
    """A whole-number query parameter in [low, high]; absent or empty: ``default``."""
    raw = request.args.get(name, "")
    if raw.strip() == "":
        return default
    text = raw.strip()
    # ASCII digits only: int() would also take "1_0", "+5" and other scripts' digits
    if not _WHOLE.fullmatch(text):
        raise BadInput(f"{name} must be a whole number, not {raw[:40]!r}")
    if len(text.lstrip("-").lstrip("0")) > len(str(high)):
        raise BadInput(f"{name} must be from {low} to {high}, not a number of {len(text)} digits")
    value = int(text, 10)
    if not low <= value <= high:
        raise BadInput(f"{name} must be from {low} to {high}, not {value}")
    return value


# -- handlers ----------------------------------------------------------------------

def http_error(exc: HTTPException):
    """An HTTP error as JSON under the API (pages get werkzeug's own; the 404 page is ``web.pages``')."""
    if not wants_json():
        return exc
    headers = exc.get_response().headers
    message = exc.description or exc.name
    if message == type(exc).description:          # werkzeug's generic sentence: say what was asked
        if exc.code == 404:
            message = f"{request.path[:100]} is not part of the panel's API (see docs/api.md)"
        elif exc.code == 405:
            message = f"{request.method} is not allowed on {request.path[:100]}; allowed: {headers.get('Allow', '')}"
    response = jsonify({"error": message})
    response.status_code = exc.code or 500
    for name in ("Allow", "Retry-After", "WWW-Authenticate"):
        value = headers.get(name)
        if value:
            response.headers[name] = value
    return response


def _server_error(exc: InternalServerError):
    original = getattr(exc, "original_exception", None)
    # Flask has logged the traceback already (app.logger, "web"); say which request it was
    log.error("the panel failed on %s %s: %r", request.method, request.path, original)
    if not wants_json():
        return ("<!doctype html><title>Error</title><h1>Something went wrong</h1>"
                "<p>The panel hit an error; the service's log says more.</p>",
                500, {"Content-Type": "text/html; charset=utf-8"})
    return error("the panel hit an internal error; the service's log (journalctl -u stairrig) says more", 500)


def _history_unavailable(exc: HistoryUnavailable):
    message = str(exc) or "the history is not available"
    if wants_json():
        return error(message, 503)
    return (f"<!doctype html><title>History unavailable</title><p>{escape(message)}</p>", 503,
            {"Content-Type": "text/html; charset=utf-8"})


def init_app(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(InternalServerError, _server_error)
    app.register_error_handler(HistoryUnavailable, _history_unavailable)

    @app.before_request
    def _limit_body():
        # a body nobody reads is still refused: the 64 KB rule holds for every request
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            raise RequestEntityTooLarge(f"the body is larger than {MAX_BODY_BYTES // 1024} KB")
