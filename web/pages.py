"""The panel's pages: each renders its template with the same small context.

The pages are shells; their figures come from ``/events`` and ``/api``.
Every template gets ``rig_id``, ``units``, ``csrf_token`` (for its
``<meta name="csrf-token">``), ``authorised``, ``pin_required``, ``page``
(the page's name) and ``version``; ``session_detail.html`` also gets
``session_id``. Nothing secret is ever in the context. An unknown page is
the 404 page (``404.html`` when the front end has one, else a plain page);
under the API a 404 stays JSON (``web.errors``).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from jinja2 import TemplateNotFound
from markupsafe import escape
from werkzeug.exceptions import NotFound

from web import auth, errors

bp = Blueprint("pages", __name__)

PAGES = {
    "live": ("/", "live.html"),
    "session": ("/session", "session.html"),
    "history": ("/history", "history.html"),
    "progress": ("/progress", "progress.html"),
    "tests": ("/tests", "stairtests.html"),
    "rigcheck": ("/rigcheck", "rigcheck.html"),
    "settings": ("/settings", "settings.html"),
}


def page_context(page: str) -> dict:
    panel = current_app.extensions["stairrig"]
    return {
        "rig_id": panel.config.rig_id,
        "units": panel.config.web.units,
        "csrf_token": auth.csrf_token(),
        "authorised": auth.authorised(),
        "pin_required": auth.pin_required(),
        "page": page,
        "version": panel.version,
    }


def _page_view(page: str, template: str):
    def view():
        return render_template(template, **page_context(page))
    view.__name__ = page
    view.__doc__ = f"The {page} page ({template})."
    return view


for _name, (_rule, _template) in PAGES.items():
    bp.add_url_rule(_rule, _name, _page_view(_name, _template))


@bp.get("/history/<id:session_id>")
def session_detail(session_id: int):
    store = current_app.extensions["stairrig"].service.store
    if store is None or store.session(session_id) is None:
        abort(404)
    return render_template("session_detail.html", session_id=session_id, **page_context("session_detail"))


@bp.get("/athletes/<id:athlete_id>/report")
def coach_report(athlete_id: int):
    """The coach's printable report (web/api_report.py): 404 without such an athlete, 400 for bad dates."""
    from web.api_report import report_page
    return report_page(athlete_id, page_context("report"))


@bp.app_errorhandler(NotFound)
def not_found(exc: NotFound):
    if errors.wants_json():
        return errors.http_error(exc)
    try:
        return render_template("404.html", **page_context("404")), 404
    except TemplateNotFound:
        return (f"<!doctype html><title>Not found</title><h1>Not found</h1>"
                f"<p>{escape(request.path)} is not a page of this rig. <a href=\"/\">Back to the live view</a></p>",
                404, {"Content-Type": "text/html; charset=utf-8"})
