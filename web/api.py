"""The panel's JSON API: status, athletes, progress, the recommendation, commands, login.

Sessions and their exports are in ``api_sessions.py``, the rig check in
``api_rigcheck.py``; ``docs/api.md`` documents every endpoint. Handlers
read their input through ``web.errors`` (a bad request is a 4xx with a
sentence, never a 500) and act through the service's ``commands`` and
``store``, which check everything again.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from werkzeug.exceptions import Conflict, NotFound

from rig.commands import CommandError
from rig.stairtest_norms import power_drop_flag
from web import api_stairtests, auth
from web.context import panel, service, store  # noqa: F401 (web.api_sessions imports store from here)
from web.errors import MAX_ID, BadInput, error, field_number, field_str, json_body, query_int

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")
bp.register_blueprint(api_stairtests.bp)       # /api/athletes/<id>/stair-tests
health_bp = Blueprint("health", __name__)

ATHLETE_FIELDS = ("id", "name", "weight_kg", "level", "selected")


# -- status and health -------------------------------------------------------------------

def _mqtt_status() -> dict | None:
    """The MQTT client's link and its queue of events for the broker (None: no client)."""
    mqtt = service().mqtt
    if mqtt is None:
        return None
    return {"connected": bool(mqtt.connected), "queued": mqtt.queued, "dropped": mqtt.dropped}


def _storage() -> dict:
    """The history's and the raw traces' health, as status.json, ``stairrig status`` and MQTT say it."""
    health = service().storage_health()
    history = health["history"]
    return {"history": {"available": bool(history.get("available")), "error": history.get("error"),
                        "waiting_sessions": history.get("waiting_sessions", 0)},
            "traces": health["traces"]}


@bp.get("/status")
def status():
    cfg = panel().config
    return jsonify({
        "state": service().live.snapshot(),
        "healthy": service().healthy(),
        "mqtt": _mqtt_status(),
        **_storage(),
        "version": panel().version,
        "units": cfg.web.units,
        "rig": cfg.layout.to_header(),
        "pin_required": auth.pin_required(),
        "authorised": auth.authorised(),
    })


@health_bp.get("/healthz")
def healthz():
    """For systemd, monitoring and the kiosk: 200 while the rig counts and the panel serves, else 503."""
    p = panel()
    engine_ok = service().healthy()
    shutting_down = p.hub.closing()
    ok = engine_ok and not shutting_down
    body = {"ok": ok, "engine": engine_ok, "shutting_down": shutting_down,
            **_storage(),
            "threads": p.config.web.threads, **p.hub.stats()}
    return jsonify(body), 200 if ok else 503


@bp.get("/csrf")
def csrf():
    return jsonify({"token": auth.csrf_token()})


# -- login ---------------------------------------------------------------------------------

@bp.post("/login")
def login():
    data = json_body(("pin",), required=("pin",))
    auth.login(field_str(data, "pin", max_len=64))
    # a new token with the new rights: one read before the login is worth nothing after it
    return jsonify({"ok": True, "authorised": True, "csrf_token": auth.new_csrf_token()})


@bp.post("/logout")
def logout():
    json_body()
    auth.logout()
    return jsonify({"ok": True, "authorised": False})


# -- athletes ------------------------------------------------------------------------------

def _athlete_rows() -> list[dict]:
    s = service().store
    if s is None:
        rows = service().commands.athletes()     # the configuration's athlete, selected
    else:
        selected = s.selected_athlete()
        rows = [{**a, "selected": selected is not None and a["id"] == selected["id"]} for a in s.athletes()]
    return [{k: a.get(k) for k in ATHLETE_FIELDS} for a in rows]


def _athlete_row(athlete_id: int) -> dict:
    for a in _athlete_rows():
        if a["id"] == athlete_id:
            return a
    raise LookupError(athlete_id)


def _not_found_athlete(athlete_id: int):
    return error(f"there is no athlete with id {athlete_id}", 404)


@bp.get("/athletes")
def athletes():
    return jsonify({"athletes": _athlete_rows()})


def _store_call(fn, *args, **kwargs):
    """A store write; its ValueError (a bad name, a duplicate) becomes 400 or 409."""
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        message = str(exc)
        raise Conflict(message) if "already exists" in message else BadInput(message) from None


@bp.post("/athletes")
@auth.require_pin
def add_athlete():
    data = json_body(("name", "weight_kg"), required=("name", "weight_kg"))
    name = field_str(data, "name", max_len=100)
    weight_kg = field_number(data, "weight_kg")
    s = store(writable=True)
    athlete_id = _store_call(s.add_athlete, name, weight_kg)
    log.info("panel: added athlete %s (%d)", name, athlete_id)
    return jsonify({"athlete": _athlete_row(athlete_id)}), 201


@bp.patch("/athletes/<id:athlete_id>")
@auth.require_pin
def edit_athlete(athlete_id: int):
    data = json_body(("name", "weight_kg"))
    if not data:
        raise BadInput("give name or weight_kg (or both)")
    changes = {}
    if "name" in data:
        changes["name"] = field_str(data, "name", max_len=100)
    if "weight_kg" in data:
        changes["weight_kg"] = field_number(data, "weight_kg")
    s = store(writable=True)
    if s.athlete(athlete_id) is None:
        return _not_found_athlete(athlete_id)
    _store_call(s.update_athlete, athlete_id, **changes)
    return jsonify({"athlete": _athlete_row(athlete_id)})


@bp.delete("/athletes/<id:athlete_id>")
@auth.require_pin
def delete_athlete(athlete_id: int):
    json_body()
    s = store(writable=True)
    athlete = s.athlete(athlete_id)
    if athlete is None:
        return _not_found_athlete(athlete_id)
    current = service().sessions.current
    if current is not None and current.athlete.id == athlete_id:
        return error(f"{athlete['name']} is training now: stop the session first", 409)
    if len(s.athletes()) == 1:
        return error(f"{athlete['name']} is the only athlete: add another one first (the rig needs someone "
                     "to count for)", 409)
    selected = s.selected_athlete()
    counts = _store_call(s.delete_athlete, athlete_id)
    log.info("panel: deleted athlete %s (%d): %s", athlete["name"], athlete_id, counts)
    if selected is not None and selected["id"] == athlete_id:
        # the next session is someone else's now, and the live view says so at once
        try:
            service().commands.select_athlete(s.athletes()[0]["id"])
        except CommandError as exc:
            log.warning("after deleting the selected athlete: %s", exc)
    return jsonify({"ok": True, "deleted": counts})


# -- progress and the recommendation ----------------------------------------------------------

def _athlete_for_query() -> dict:
    s = store()
    athlete_id = query_int("athlete_id")
    athlete = s.selected_athlete() if athlete_id is None else s.athlete(athlete_id)
    if athlete is None:
        raise NotFound(f"there is no athlete with id {athlete_id}" if athlete_id else "there is no athlete yet")
    return athlete


@bp.get("/progress")
def progress():
    athlete = _athlete_for_query()
    return jsonify({"athlete": _athlete_row(athlete["id"]), "sessions": store().progress(athlete["id"])})


@bp.get("/recommendation")
def recommendation():
    """What the progression says the selected athlete trains next, and why; changes nothing."""
    from rig.outputs.history import outcomes
    from rig.progression import ProgressionSettings, first_level, level, recommend
    s = store()
    athlete = s.selected_athlete()
    if athlete is None:
        raise NotFound("there is no athlete yet")
    current = athlete["level"] or first_level().key
    try:
        level(current)
    except ValueError:
        log.warning("athlete %s has an unknown level %r; recommending from the first", athlete["id"], current)
        current = first_level().key
    history = service().history
    settings = getattr(history, "progression", None) or ProgressionSettings()
    rec = recommend(outcomes(s, athlete["id"]), current, settings)
    flags = list(rec.flags)
    stair_flag = power_drop_flag(s.stair_tests(athlete["id"]))   # a drop in stair climb power beyond the MDC
    if stair_flag:
        flags.append(stair_flag)
    return jsonify({"action": rec.action, "level": rec.level, "previous_level": rec.previous_level,
                    "reason": rec.reason, "rule": rec.rule, "drill": vars(rec.drill), "flags": flags,
                    "level_title": level(rec.level).title,
                    "athlete": {"id": athlete["id"], "name": athlete["name"]}})


# -- commands --------------------------------------------------------------------------------

def _start_session(data: dict):
    return service().commands.start_session()


def _stop_session(data: dict):
    return service().commands.stop_session()


def _acknowledge_fall(data: dict):
    if "by" in data:              # the page may say who pressed; the record says where: the panel
        field_str(data, "by", max_len=40)
    return service().commands.acknowledge_fall(by="panel")


def _test_fall_alarm(data: dict):
    """A test of the fall alarm (PIN): the record says where it was raised, the panel."""
    return service().commands.test_fall_alarm(by="panel")


def _select_athlete(data: dict):
    ref = data["athlete"]
    if isinstance(ref, bool) or not isinstance(ref, (int, str)):
        raise BadInput("athlete must be an athlete's id (a whole number) or name (a string)")
    if isinstance(ref, str):
        ref = field_str(data, "athlete", max_len=100)
        if not ref.strip():
            raise BadInput("athlete is blank: give an athlete's id or name")
    elif not 1 <= ref <= MAX_ID:
        raise BadInput(f"athlete must be an id from 1 to {MAX_ID}")
    store(writable=True)                 # no history: 503, as for every other use of it
    commands = service().commands
    try:
        commands.find_athlete(ref)
    except CommandError as exc:          # a well-formed id or name that nobody has
        raise NotFound(str(exc)) from None
    athlete = commands.select_athlete(ref)
    return {k: athlete.get(k) for k in ("id", "name", "weight_kg", "level")}


def _set_drill(data: dict):
    if not data:
        raise BadInput("give at least one of facing, grip, planned_flights, added_load_kg")
    kwargs = {}
    for name in ("facing", "grip"):
        if name in data:
            kwargs[name] = field_str(data, name, max_len=40)
    if "planned_flights" in data:
        if data["planned_flights"] is None:
            kwargs["clear_planned"] = True
        else:
            kwargs["planned_flights"] = data["planned_flights"]
            if isinstance(kwargs["planned_flights"], bool) or not isinstance(kwargs["planned_flights"], int):
                raise BadInput("planned_flights must be a whole number, or null to clear it")
    if "added_load_kg" in data:
        kwargs["added_load_kg"] = field_number(data, "added_load_kg")
    return service().commands.set_drill(**kwargs)


# name -> (handler, fields allowed, fields required, status for a CommandError)
COMMANDS = {
    "start_session": (_start_session, (), (), 409),
    "stop_session": (_stop_session, (), (), 409),
    "acknowledge_fall": (_acknowledge_fall, ("by",), (), 409),
    "test_fall_alarm": (_test_fall_alarm, (), (), 409),
    "select_athlete": (_select_athlete, ("athlete",), ("athlete",), 400),
    "set_drill": (_set_drill, ("facing", "grip", "planned_flights", "added_load_kg"), (), 400),
    "start_stair_test": (api_stairtests.start_stair_test, ("kind", "athlete_id", "added_load_kg", "rails_allowed"),
                         ("kind", "athlete_id"), 409),
    "cancel_stair_test": (api_stairtests.cancel_stair_test, (), (), 409),
}
# the commands that need the coach's PIN: a test alarm sounds the buzzer and reaches Home Assistant;
# a stair test is kept in the athlete's record
PIN_COMMANDS = frozenset({"test_fall_alarm", "start_stair_test"})


@bp.post("/commands/<name>")
def command(name: str):
    entry = COMMANDS.get(name)
    if entry is None:
        return error(f"unknown command {name[:40]!r}; commands: {', '.join(COMMANDS)}", 404)
    if name in PIN_COMMANDS:
        auth.check_pin()
    handler, allowed, required, conflict_status = entry
    data = json_body(allowed, required)
    try:
        result = handler(data)
    except CommandError as exc:
        return error(str(exc), conflict_status)
    return jsonify({"ok": True, "result": result})
