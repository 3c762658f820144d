"""The history of sessions over the API: list, one session, delete, export.

Rows are the store's (``HistoryStore.sessions`` / ``session``) with one
change: the raw trace's path on the Pi's disk becomes ``has_trace`` (the
browser needs to know there is one, not where it lives; it downloads it as
``export.jsonl.gz``). ``export.fit`` is an ended session as a FIT activity
file, for Garmin Connect, Strava and intervals.icu (``rig/fit``).
"""

from __future__ import annotations

import io
import json
import logging
import os

from flask import Blueprint, Response, jsonify, send_file

from rig.history.export import export_session_fit, export_session_json, export_sessions_csv
from web import auth
from web.api import store
from web.errors import error, json_body, query_int

log = logging.getLogger(__name__)

bp = Blueprint("api_sessions", __name__, url_prefix="/api/sessions")

PAGE_DEFAULT = 50
PAGE_MAX = 500
EXPORT_FORMATS = ("json", "csv", "fit", "jsonl.gz")


def _public(row: dict) -> dict:
    out = {k: v for k, v in row.items() if k != "trace_path"}
    out["has_trace"] = bool(row.get("trace_path"))
    return out


def _unknown(session_id: int):
    return error(f"there is no session {session_id}", 404)


@bp.get("")
def sessions():
    athlete_id = query_int("athlete_id")
    limit = query_int("limit", default=PAGE_DEFAULT, high=PAGE_MAX)
    before_id = query_int("before_id")
    rows = store().sessions(athlete_id=athlete_id, limit=limit, before_id=before_id)
    return jsonify({"sessions": [_public(r) for r in rows]})


@bp.get("/<id:session_id>")
def session(session_id: int):
    s = store()
    row = s.session(session_id)
    if row is None:
        return _unknown(session_id)
    athlete = s.athlete(row["athlete_id"])
    out = _public(row)
    out["athlete"] = None if athlete is None else {"id": athlete["id"], "name": athlete["name"]}
    return jsonify(out)


@bp.delete("/<id:session_id>")
@auth.require_pin
def delete_session(session_id: int):
    json_body()
    s = store(writable=True)
    row = s.session(session_id)
    if row is None:
        return _unknown(session_id)
    if row["status"] == "open":
        return error(f"session {session_id} is still running: stop it first", 409)
    try:
        counts = s.delete_session(session_id)
    except ValueError:                 # deleted by someone else in between
        return _unknown(session_id)
    log.info("panel: deleted session %d: %s", session_id, counts)
    return jsonify({"ok": True, "deleted": counts})


@bp.get("/<id:session_id>/export.<path:fmt>")
def export(session_id: int, fmt: str):
    if fmt not in EXPORT_FORMATS:
        return error(f"unknown export format {fmt[:20]!r}; formats: {', '.join(EXPORT_FORMATS)}", 404)
    s = store()
    row = s.session(session_id)
    if row is None:
        return _unknown(session_id)
    name = f"stairrig-session-{session_id}"
    if fmt == "fit":
        try:        # a session still running is refused (ValueError), as is one deleted meanwhile
            body, filename = export_session_fit(s, session_id)
        except ValueError as exc:
            return _unknown(session_id) if s.session(session_id) is None else error(str(exc), 409)
        return _attachment(body, filename, "application/vnd.ant.fit")
    if fmt == "json":
        body = json.dumps(export_session_json(s, session_id), ensure_ascii=False, indent=1, default=str)
        return _attachment(body.encode(), f"{name}.json", "application/json")
    if fmt == "csv":
        out = io.StringIO(newline="")
        export_sessions_csv(s, out, session_id=session_id)
        return _attachment(out.getvalue().encode(), f"{name}.csv", "text/csv; charset=utf-8")
    trace = row["trace_path"]
    if not trace or not os.path.isfile(trace):
        return error(f"session {session_id} has no raw trace (not recorded, or pruned to save space)", 404)
    return send_file(trace, mimetype="application/gzip", as_attachment=True, download_name=f"{name}.jsonl.gz",
                     conditional=False, etag=False, max_age=0)


def _attachment(body: bytes, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

