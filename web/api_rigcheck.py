"""The rig check over the API: raw channels, calibration (PIN) and the walk test.

Everything is done by the service's ``rigcheck`` (``rig.rigcheck.RigCheck``),
which checks its input and raises ``CommandError`` with a sentence; the
answers are its dicts as they are. Calibrating changes how forces are read,
so it needs the PIN; a walk test only watches, so it needs nothing but the
CSRF token every POST carries.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.exceptions import NotFound, ServiceUnavailable

from rig.commands import CommandError
from web import auth
from web.api import service
from web.errors import error, field_number, json_body

bp = Blueprint("api_rigcheck", __name__, url_prefix="/api")


def rigcheck():
    check = getattr(service(), "rigcheck", None)
    if check is None:
        raise ServiceUnavailable("the rig check is not available in this service")
    return check


def _force_channel(check, channel: str) -> None:
    """404 for a path that names no force channel of this rig (the rig check says which there are)."""
    known = check.calibration()
    if channel not in known:
        names = ", ".join(known) or "none"
        raise NotFound(f"{channel[:60]!r} is not a force channel of this rig (its force channels: {names})")


def _answer(call, status_on_error: int = 400):
    try:
        return jsonify(call())
    except CommandError as exc:
        return error(str(exc), status_on_error)


def _walk_or_none(check) -> dict | None:
    """The walk test's state, or None before the first (the page asks here, never for a 404)."""
    try:
        return check.walk_state()
    except CommandError:
        return None


@bp.get("/rigcheck")
def overview():
    check = rigcheck()
    return _answer(lambda: {"channels": check.channels(), "calibration": check.calibration(),
                            "walktest": _walk_or_none(check)})


@bp.post("/calibration/<channel>/tare")
@auth.require_pin
def tare(channel: str):
    json_body()
    check = rigcheck()
    _force_channel(check, channel)
    return _answer(lambda: check.tare(channel))


@bp.post("/calibration/<channel>/scale")
@auth.require_pin
def scale(channel: str):
    data = json_body(("known_kg",), required=("known_kg",))
    known_kg = field_number(data, "known_kg")
    check = rigcheck()
    _force_channel(check, channel)
    return _answer(lambda: check.scale(channel, known_kg))


@bp.post("/walktest/start")
def start_walk():
    json_body()
    check = rigcheck()
    return _answer(check.start_walk, 409)


@bp.get("/walktest")
def walk_state():
    return _answer(rigcheck().walk_state, 404)      # none started yet


@bp.post("/walktest/skip")
def skip_walk():
    """Give up on the current prompt (a channel that never switches on) and go on to the next."""
    json_body()
    return _answer(rigcheck().skip_walk, 409)


@bp.post("/walktest/cancel")
def cancel_walk():
    json_body()
    return _answer(rigcheck().cancel_walk, 409)
