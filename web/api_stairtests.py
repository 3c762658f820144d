"""The stair tests' API: one athlete's tests as a trend, with the norms and the MDC to read them by.

``GET /api/athletes/<id>/stair-tests`` (``kind``, ``since``, ``until``
optional). The commands ``start_stair_test`` (behind the PIN) and
``cancel_stair_test`` are in ``web/api.py``'s table; their handlers are here.
``docs/api.md`` and ``docs/stair-tests.md`` document them.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import NotFound

from rig.commands import MAX_ADDED_LOAD_KG
from rig.core.stairtest import KINDS
from rig.stairtest_norms import REFERENCES, compare, power_drop_flag
from web.context import service, store as context_store
from web.errors import MAX_ID, BadInput, error, field_number, field_str

bp = Blueprint("stairtests", __name__)      # nested in web/api.py's blueprint: under /api

#: what a test row carries over the API (the history's columns; ``detail`` holds the protocol's)
TEST_FIELDS = ("id", "athlete_id", "kind", "started_at", "duration_s", "steps", "rise_m", "power_w",
               "power_w_per_kg", "body_mass_kg", "added_load_kg", "rails_used", "status", "note", "detail")


def store(*, writable: bool = False):
    return context_store(writable=writable, what="stair tests")


def _bound(name: str) -> str | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            dt.date.fromisoformat(raw)
        else:
            dt.datetime.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"{name} must be an ISO-8601 date (2026-03-01) or time, not {raw[:40]!r}") from None
    return raw


@bp.get("/athletes/<id:athlete_id>/stair-tests")
def stair_tests(athlete_id: int):
    kind = request.args.get("kind", "").strip() or None
    if kind is not None and kind not in KINDS:
        raise BadInput(f"kind must be one of {', '.join(KINDS)}, not {kind[:40]!r}")
    since, until = _bound("since"), _bound("until")
    s = store()
    athlete = s.athlete(athlete_id)
    if athlete is None:
        return error(f"there is no athlete with id {athlete_id}", 404)
    tests = s.stair_tests(athlete_id, since=since, until=until)
    if kind is not None:
        tests = [t for t in tests if t["kind"] == kind]
    rows = []
    for i, test in enumerate(tests):
        row = {k: test.get(k) for k in TEST_FIELDS}
        row["comparison"] = compare(test, tests[:i])
        rows.append(row)
    return jsonify({"athlete": {k: athlete[k] for k in ("id", "name", "weight_kg")}, "tests": rows,
                    "references": {k: REFERENCES[k] for k in KINDS}, "flag": power_drop_flag(tests)})


# -- the commands' handlers (web/api.py's COMMANDS) ------------------------------------------

def start_stair_test(data: dict):
    kind = field_str(data, "kind", max_len=40)
    ref = data["athlete_id"]
    if isinstance(ref, bool) or not isinstance(ref, int) or not 1 <= ref <= MAX_ID:
        raise BadInput(f"athlete_id must be an athlete's id, a whole number from 1 to {MAX_ID}")
    kwargs = {}
    if "added_load_kg" in data:
        kwargs["added_load_kg"] = field_number(data, "added_load_kg")
        if not 0 <= kwargs["added_load_kg"] <= MAX_ADDED_LOAD_KG:
            raise BadInput(f"added_load_kg must be from 0 to {MAX_ADDED_LOAD_KG:g} kg")
    if "rails_allowed" in data:
        if not isinstance(data["rails_allowed"], bool):
            raise BadInput("rails_allowed must be true or false")
        kwargs["rails_allowed"] = data["rails_allowed"]
    if kind not in KINDS:
        raise BadInput(f"kind must be one of {', '.join(KINDS)}, not {kind[:40]!r}")
    store(writable=True)            # the result is kept there: no history, no test (503)
    if store().athlete(ref) is None:
        raise NotFound(f"there is no athlete with id {ref}")
    return service().commands.start_stair_test(kind, ref, **kwargs)


def cancel_stair_test(data: dict):
    return service().commands.cancel_stair_test()
