"""The coach's report: one athlete's training over a period, on one or two sheets of paper.

Issue 13: for the coach or physiotherapist, what the athlete did (sessions,
steps, flights), at which levels, how much they still relied on the rails,
how their gait figures went (docs/trace-format.md, "Gait figures"), their
stair tests, every note of pain or dizziness, and what the progression
recommends now with its flags.

``parse_period`` reads the period (local dates, both days included);
``build_report`` is pure: it takes the athlete's row, the period and the
store's rows (``rig.history.gait_rows.sessions_with_gait``) and returns a
JSON-ready dict; ``gather_report`` reads them from a store. Dates are in the
rig's local time (the machine's time zone, as the panel shows times) unless
``tz`` is given. Words are for a patient and a physiotherapist.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

REPORT_FORMAT = "stairrig.coach_report"
DEFAULT_DAYS = 28                   # four weeks: the span of a typical review (engineering choice)
MAX_DAYS = 366                      # a year: longer runs past the two sheets the report is for

#: the gait figures of the report, in order: key, words, unit, which way is better (None: neither)
GAIT_FIGURES = (
    ("step_time_s", "Time between steps", "s", None),
    ("step_time_cv", "Step-time variability (steadiness)", "%", "lower"),
    ("dwell_s", "Time on each step", "s", None),
    ("dwell_asymmetry", "Leg asymmetry", "%", "lower"),
    ("double_support_fraction", "Both feet on the stairs", "%", None),
    ("whole_foot_fraction", "Whole foot on the step", "%", "higher"),
    ("best_ascent_power_w", "Best ascent power", "W", "higher"),
    ("best_ascent_power_w_per_kg", "Best ascent power per kg", "W/kg", "higher"),
)
#: what the report keeps of a stair test (rig/history/stairtests.py)
STAIR_TEST_FIELDS = ("id", "kind", "started_at", "duration_s", "steps", "rise_m", "power_w", "power_w_per_kg",
                     "body_mass_kg", "added_load_kg", "rails_used", "status", "note")


@dataclass(frozen=True)
class Period:
    """Local dates, both included; ``tz`` None: the machine's local time zone."""
    first: dt.date
    last: dt.date
    tz: dt.tzinfo | None = None

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def _midnight(self, day: dt.date) -> dt.datetime:
        naive = dt.datetime.combine(day, dt.time())
        return naive.replace(tzinfo=self.tz) if self.tz else naive.astimezone()

    def bounds_utc(self) -> tuple[str, str]:
        """The period as stored times: the first day's local midnight, and the one after the last day
        (at the ends of the calendar, the first and last times there are)."""
        def bound(day: dt.date, days: int, edge: str) -> str:
            try:
                return self._midnight(day + dt.timedelta(days=days)).astimezone(dt.timezone.utc).isoformat()
            except (OverflowError, ValueError):
                return edge
        return (bound(self.first, 0, "0001-01-01T00:00:00+00:00"),
                bound(self.last, 1, "9999-12-31T23:59:59.999999+00:00"))

    def local(self, iso_utc: str) -> dt.datetime:
        t = dt.datetime.fromisoformat(iso_utc)
        return t.astimezone(self.tz) if self.tz else t.astimezone()


def parse_period(first: str | None, last: str | None, *, today: dt.date, tz: dt.tzinfo | None = None) -> Period:
    """``from``/``to`` as YYYY-MM-DD (absent: the last ``DEFAULT_DAYS`` days to ``today``).
    A ValueError names the field and says what is wrong."""
    def day(text: str | None, field: str) -> dt.date | None:
        if text is None or text == "":
            return None
        try:
            if len(text) != 10:
                raise ValueError
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{field} must be a date as YYYY-MM-DD, such as {today.isoformat()}, "
                             f"not {text[:40]!r}") from None
    end = day(last, "to") or today
    start = day(first, "from") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValueError(f"from ({start.isoformat()}) is after to ({end.isoformat()}): give the earlier date first")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValueError(f"the period from {start.isoformat()} to {end.isoformat()} is longer than {MAX_DAYS} days: "
                         "choose a shorter one")
    return Period(start, end, tz)


def within_grip_target(grip: str | None, contact: float | None, firm: float | None) -> float | None:
    """Share of active time at or below the drill's grip (rig/progression.py's target): any grip
    is within a firm-grip drill, no firm grip within a light-touch one, no contact with hands hovering."""
    if grip is None:                    # no drill: no target to be within
        return None
    if grip == "firm":
        return None if contact is None and firm is None else 1.0
    above = (firm if firm is not None else contact) if grip == "light" else contact
    return None if above is None else max(0.0, 1.0 - above)


def _trend(values: Sequence[float]) -> dict:
    """The median, and the means of the earlier and later halves (for a small trend)."""
    if not values:
        return {"sessions": 0, "median": None, "earlier": None, "later": None}
    half = len(values) // 2
    return {"sessions": len(values), "median": statistics.median(values),
            "earlier": statistics.fmean(values[:half]) if half else None,
            "later": statistics.fmean(values[-half:]) if half else None}


def _session(row: dict, period: Period, weight_kg: float | None, level_titles: dict) -> dict:
    local = period.local(row["started_at"])
    power = row.get("best_ascent_power_w")
    gait = {key: row.get(key) for key, *_ in GAIT_FIGURES if key != "best_ascent_power_w_per_kg"}
    gait["best_ascent_power_w_per_kg"] = power / weight_kg if power is not None and weight_kg else None
    return {
        "id": row["id"], "started_at": row["started_at"], "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"), "status": row["status"],
        "level": row["level"], "level_title": level_titles.get(row["level"]),
        "steps": row["steps"], "flights": (row["ascents"] or 0) + (row["descents"] or 0),
        "active_s": row["active_s"], "duration_s": row["duration_s"], "cadence_spm": row["cadence_spm"],
        "grabs": row["grabs"], "falls": row["falls"],
        "rails": {"grip_target": row["drill_grip"], "contact_fraction": row["contact_fraction"],
                  "light_fraction": row["light_fraction"], "firm_fraction": row["firm_fraction"],
                  "within_target": within_grip_target(row["drill_grip"], row["contact_fraction"],
                                                      row["firm_fraction"])},
        "gait": gait,
        "notes": {"effort": row["effort"], "pain": row["pain"], "dizziness": row["dizziness"],
                  "text": row["notes_text"]},
    }


def _level_runs(sessions: list[dict]) -> list[dict]:
    """Consecutive sessions at one level: the level history over the period."""
    runs: list[dict] = []
    for s in sessions:
        if runs and runs[-1]["level"] == s["level"]:
            runs[-1].update(last_date=s["date"], sessions=runs[-1]["sessions"] + 1)
        else:
            runs.append({"level": s["level"], "title": s["level_title"], "first_date": s["date"],
                         "last_date": s["date"], "sessions": 1})
    return runs


def build_report(athlete: dict, period: Period, rows: Sequence[dict], *, recommendation: dict | None = None,
                 stair_tests: Sequence[dict] | None = None, thresholds: dict | None = None,
                 level_titles: dict | None = None, generated_at: str | None = None) -> dict:
    """The report's data. ``rows``: the athlete's ended sessions in the period (any order);
    ``stair_tests`` None: the rig keeps none (the report says so), else the period's tests."""
    titles = level_titles or {}
    sessions = [_session(r, period, athlete.get("weight_kg"), titles)
                for r in sorted(rows, key=lambda r: (r["started_at"], r["id"]))]
    gait = {}
    for key, words, unit, better in GAIT_FIGURES:
        values = [s["gait"][key] for s in sessions if s["gait"][key] is not None]
        gait[key] = {"label": words, "unit": unit, "better": better, **_trend(values)}
    reliance = {key: _trend([s["rails"][key] for s in sessions if s["rails"][key] is not None])
                for key in ("contact_fraction", "firm_fraction", "within_target")}
    symptoms = [{"session_id": s["id"], "date": s["date"], "time": s["time"], "pain": s["notes"]["pain"],
                 "dizziness": bool(s["notes"]["dizziness"]), "text": s["notes"]["text"]}
                for s in sessions if (s["notes"]["pain"] or 0) >= 1 or s["notes"]["dizziness"]]
    tests = None
    if stair_tests is not None:
        tests = []
        for t in sorted(stair_tests, key=lambda t: (t["started_at"], t["id"])):
            local = period.local(t["started_at"])
            tests.append({**{k: t.get(k) for k in STAIR_TEST_FIELDS},
                          "date": local.date().isoformat(), "time": local.strftime("%H:%M")})
    return {
        "format": REPORT_FORMAT,
        "generated_at": generated_at or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "athlete": {"id": athlete["id"], "name": athlete["name"], "weight_kg": athlete.get("weight_kg"),
                    "level": athlete.get("level"), "level_title": titles.get(athlete.get("level"))},
        "period": {"from": period.first.isoformat(), "to": period.last.isoformat(), "days": period.days},
        "totals": {"sessions": len(sessions), "steps": sum(s["steps"] or 0 for s in sessions),
                   "flights": sum(s["flights"] for s in sessions),
                   "active_s": sum(s["active_s"] or 0.0 for s in sessions),
                   "grabs": sum(s["grabs"] or 0 for s in sessions), "falls": sum(s["falls"] or 0 for s in sessions)},
        "levels": _level_runs(sessions),
        "reliance": reliance,
        "gait": gait,
        "sessions": sessions,
        "stair_tests": tests,
        "symptoms": symptoms,
        "recommendation": recommendation,
        "thresholds": dict(thresholds or {}),
    }


def gather_report(store, athlete_id: int, period: Period, settings=None) -> dict | None:
    """The report from a history store (None: there is no such athlete). ``settings``: the
    rig's ``ProgressionSettings`` (the recommendation and the thresholds)."""
    from rig.history.gait_rows import sessions_with_gait
    from rig.outputs.history import outcomes
    from rig.progression import LEVELS, ProgressionSettings, first_level, level, recommend

    athlete = store.athlete(athlete_id)
    if athlete is None:
        return None
    settings = settings or ProgressionSettings()
    since, until = period.bounds_utc()
    rows = sessions_with_gait(store, athlete_id=athlete_id, since=since, until=until, ended=True)
    tests = None
    if hasattr(store, "stair_tests"):
        # its ``until`` is inclusive; the period's end is the next day's first instant
        tests = [t for t in store.stair_tests(athlete_id, since=since, until=until) if t["started_at"] < until]
    current = athlete["level"] or first_level().key
    try:
        level(current)
    except ValueError:
        current = first_level().key
    rec = recommend(outcomes(store, athlete_id), current, settings)
    titles = {lv.key: lv.title for lv in LEVELS}
    return build_report(
        athlete, period, rows, stair_tests=tests, level_titles=titles,
        recommendation={"action": rec.action, "level": rec.level, "level_title": titles[rec.level],
                        "reason": rec.reason, "flags": list(rec.flags)},
        thresholds={"asymmetry_flag": settings.asymmetry_flag, "min_whole_foot": settings.min_whole_foot,
                    "max_step_time_cv": settings.max_step_time_cv, "max_pain": settings.max_pain})
