"""The coach's report: its JSON (``GET /api/athletes/<id>/report?from=&to=``) and its printable page.

The data is ``rig.coach_report``'s; here the query is read (``from``/``to`` as
YYYY-MM-DD in the rig's local time, absent: the last 28 days; a bad date is
a 400 naming the field), the rig's progression settings handed over, and
the page rendered (``report.html`` with ``static/report.css``: one or two
A4 pages in print, charts as inline SVG from ``web.report_svg``). Also the
progression's thresholds for the Progress page's charts, as template values.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify, render_template, request
from werkzeug.exceptions import NotFound

from rig.coach_report import GAIT_FIGURES, gather_report, parse_period
from rig.progression import LEVELS, ProgressionSettings
from web.errors import BadInput
from web.report_svg import sparkline

bp = Blueprint("api_report", __name__, url_prefix="/api/athletes")

ACTIONS = {"advance": "Move on", "stay": "Stay", "step_back": "Step back", "rest": "Rest"}
TEST_KINDS = {"timed_stair_climb": "Timed stair climb", "stair_climb_power": "Stair climb power"}


def _settings() -> ProgressionSettings:
    history = current_app.extensions["stairrig"].service.history
    return getattr(history, "progression", None) or ProgressionSettings()


def report_data(athlete_id: int) -> dict:
    """The report for the request's period; BadInput (400) for a bad date, NotFound (404) for no such athlete."""
    from web.api import store
    s = store()
    try:
        period = parse_period(request.args.get("from"), request.args.get("to"), today=dt.date.today())
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    report = gather_report(s, athlete_id, period, _settings())
    if report is None:
        raise NotFound(f"there is no athlete with id {athlete_id}")
    return report


@bp.get("/<id:athlete_id>/report")
def report(athlete_id: int):
    return jsonify(report_data(athlete_id))


@bp.app_context_processor
def progression_thresholds() -> dict:
    """The thresholds the Progress page draws (rig/progression_technique.py's settings)."""
    try:
        st = _settings()
    except (KeyError, AttributeError):
        st = ProgressionSettings()
    return {"asymmetry_flag_pct": round(st.asymmetry_flag * 100, 1),
            "min_whole_foot_pct": round(st.min_whole_foot * 100, 1),
            "max_step_time_cv_pct": round(st.max_step_time_cv * 100, 1)}


# -- the page -------------------------------------------------------------------------------

def _day(iso_date: str | None, short: bool = False) -> str:
    """``Fri 6 Nov 2026`` (short: ``Fri 6 Nov``), in English like the rest of the panel's words."""
    if not iso_date:
        return "–"
    d = dt.date.fromisoformat(iso_date)
    return f"{d:%a} {d.day} {d:%b}" if short else f"{d:%a} {d.day} {d:%b %Y}"


def _num(value, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return f"{text} {unit}" if unit else text


def _pct(fraction, digits: int = 0) -> str:
    return "–" if fraction is None else f"{fraction * 100:.{digits}f} %"


def _figure(key: str, value) -> str:
    """One gait figure in its unit, for people."""
    if key in ("step_time_s", "dwell_s"):
        return _num(value, 2, "s")
    if key == "step_time_cv":
        return _pct(value, 1)
    if key in ("best_ascent_power_w",):
        return _num(value, 0, "W")
    if key == "best_ascent_power_w_per_kg":
        return _num(value, 2, "W/kg")
    return _pct(value)


def _duration(seconds) -> str:
    if seconds is None:
        return "–"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def report_page(athlete_id: int, context: dict):
    """The printable page: the report, or (400) the period picker with what is wrong."""
    try:
        report = report_data(athlete_id)
    except BadInput as exc:
        from web.api import store
        athlete = store().athlete(athlete_id)
        if athlete is None:
            raise NotFound(f"there is no athlete with id {athlete_id}") from None
        return render_template("report.html", report=None, error=exc.description, athlete=athlete,
                               query=request.args, **_helpers(), **context), 400
    return render_template("report.html", report=report, error=None, athlete=report["athlete"],
                           query=request.args, charts=_charts(report), **_helpers(), **context)


def _helpers() -> dict:
    return {"today": dt.date.today().isoformat(), "day": _day, "num": _num, "pct": _pct, "figure": _figure, "duration": _duration,
            "actions": ACTIONS, "test_kinds": TEST_KINDS, "gait_figures": GAIT_FIGURES}


def _charts(report: dict) -> dict:
    """One small chart per figure over the period's sessions."""
    sessions = report["sessions"]
    flag = report["thresholds"].get("asymmetry_flag")
    charts = {}
    for key, words, unit, _ in GAIT_FIGURES:
        charts[key] = sparkline([s["gait"][key] for s in sessions], label=f"{words} per session",
                                threshold=flag if key == "dwell_asymmetry" else None,
                                low=0.0 if unit in ("%", "W", "W/kg") else None,
                                high=1.0 if key in ("whole_foot_fraction", "double_support_fraction") else None)
    index = {lv.key: i for i, lv in enumerate(LEVELS)}
    charts["level"] = sparkline([index.get(s["level"]) for s in sessions], label="Level per session",
                                low=0, high=len(LEVELS) - 1, stepped=True, width=240)
    for key, words in (("contact_fraction", "Hands on the rails"), ("within_target", "Within the grip target")):
        charts[key] = sparkline([s["rails"][key] for s in sessions], label=f"{words} per session",
                                low=0.0, high=1.0, width=240)
    return charts
