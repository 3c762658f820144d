"""The coach's report's data (rig/coach_report.py) on a real SQLite history built through the store."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest

from rig.coach_report import DEFAULT_DAYS, MAX_DAYS, Period, gather_report, parse_period, within_grip_target
from rig.history import HistoryStore
from rig.progression import ProgressionSettings
from tests.gait_history import LEVELS, gait_for, note_for, seed_gait_history

UTC = dt.timezone.utc
END = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)     # sessions at 09:00 UTC, the last on 28 February
DAYS = 20


@pytest.fixture
def history(tmp_path):
    store = HistoryStore.open(str(tmp_path / "data"))
    try:
        kim = store.add_athlete("Kim Example", 64.0)
        other = store.add_athlete("Sam", 80.0)
        ids = seed_gait_history(store, kim, DAYS, end=END)
        seed_gait_history(store, other, 5, end=END)           # someone else's: never in Kim's report
        store.begin_session(athlete_id=kim, started_at=(END - dt.timedelta(hours=1)).isoformat(),
                            drill=None, level="volume-4", trace_path=None)     # still running: not in it
        store.flush()
        yield store, kim, ids
    finally:
        store.close()


def period(first: str, last: str) -> Period:
    return parse_period(first, last, today=END.date(), tz=UTC)


# -- the period ---------------------------------------------------------------------------

def test_the_period_defaults_to_the_last_four_weeks_and_reads_dates():
    p = parse_period(None, None, today=dt.date(2026, 3, 1), tz=UTC)
    assert (p.first, p.last, p.days) == (dt.date(2026, 2, 2), dt.date(2026, 3, 1), DEFAULT_DAYS)
    assert p.bounds_utc() == ("2026-02-02T00:00:00+00:00", "2026-03-02T00:00:00+00:00")
    p = parse_period("2026-01-10", "", today=dt.date(2026, 3, 1), tz=UTC)
    assert (p.first, p.last) == (dt.date(2026, 1, 10), dt.date(2026, 3, 1))
    p = parse_period("", "2026-01-10", today=dt.date(2026, 3, 1), tz=UTC)
    assert (p.first, p.last) == (dt.date(2025, 12, 14), dt.date(2026, 1, 10))
    # local midnights, in the rig's time zone
    p = parse_period("2026-02-01", "2026-02-01", today=dt.date(2026, 3, 1), tz=dt.timezone(dt.timedelta(hours=10)))
    assert p.bounds_utc() == ("2026-01-31T14:00:00+00:00", "2026-02-01T14:00:00+00:00")


@pytest.mark.parametrize("first,last,field", [
    ("2026-13-01", None, "from"), ("yesterday", None, "from"), ("2026-02-01T00:00", None, "from"),
    (None, "1.3.2026", "to"), (None, "2026-02-30", "to"),
])
def test_a_bad_date_names_its_field(first, last, field):
    with pytest.raises(ValueError, match=f"^{field} must be a date as YYYY-MM-DD"):
        parse_period(first, last, today=dt.date(2026, 3, 1))


def test_a_period_backwards_or_too_long_is_refused_with_a_sentence():
    with pytest.raises(ValueError, match="is after to"):
        parse_period("2026-03-02", "2026-03-01", today=dt.date(2026, 3, 1))
    with pytest.raises(ValueError, match=f"longer than {MAX_DAYS} days"):
        parse_period("2024-01-01", "2026-03-01", today=dt.date(2026, 3, 1))


def test_within_the_grip_target_is_the_share_at_or_below_the_drills_grip():
    assert within_grip_target("firm", 0.9, 0.8) == 1.0
    assert within_grip_target("light", 0.9, 0.25) == pytest.approx(0.75)
    assert within_grip_target("light", 0.9, None) == pytest.approx(0.1)      # no force sensor: contact bounds it
    assert within_grip_target("hover", 0.3, 0.1) == pytest.approx(0.7)
    assert within_grip_target("hover", None, None) is None
    assert within_grip_target(None, 0.5, 0.1) is None                      # a session without a drill


# -- the report --------------------------------------------------------------------------

def test_the_report_holds_the_periods_sessions_figures_levels_and_notes(history):
    store, kim, ids = history
    report = gather_report(store, kim, period("2026-02-15", "2026-02-28"))
    assert report["athlete"]["name"] == "Kim Example" and report["athlete"]["weight_kg"] == 64.0
    assert report["period"] == {"from": "2026-02-15", "to": "2026-02-28", "days": 14}
    sessions = report["sessions"]
    first_n = DAYS - 14                            # session n started on 2026-02-09 + n days
    assert [s["id"] for s in sessions] == ids[first_n:]
    assert [s["date"] for s in sessions] == [f"2026-02-{d:02d}" for d in range(15, 29)]
    assert report["totals"]["sessions"] == 14
    assert report["totals"]["steps"] == sum(15 + n for n in range(first_n, DAYS))
    assert report["totals"]["flights"] == 14 * 3

    # the gait figures, the session's own; a session stored without them has none
    for n, s in zip(range(first_n, DAYS), sessions):
        gait = gait_for(n)
        if gait is None:
            assert set(s["gait"].values()) == {None}
        else:
            assert s["gait"]["step_time_cv"] == gait["step_time_cv"]
            assert s["gait"]["best_ascent_power_w"] == gait["flights"][0]["power_w"]
            assert s["gait"]["best_ascent_power_w_per_kg"] == pytest.approx(gait["flights"][0]["power_w"] / 64.0)
    cvs = [gait_for(n)["step_time_cv"] for n in range(first_n, DAYS) if gait_for(n)]
    figure = report["gait"]["step_time_cv"]
    assert figure["sessions"] == len(cvs) and figure["median"] == pytest.approx(statistics.median(cvs))
    assert figure["earlier"] == pytest.approx(statistics.fmean(cvs[:len(cvs) // 2]))
    assert figure["later"] == pytest.approx(statistics.fmean(cvs[-(len(cvs) // 2):]))
    assert figure["later"] < figure["earlier"] and figure["better"] == "lower"

    # the level history: each run of sessions at one level, in order
    stored = [store.session(i)["level"] for i in ids[first_n:]]
    runs = report["levels"]
    assert [r["level"] for r in runs] == [lv for i, lv in enumerate(stored) if i == 0 or stored[i - 1] != lv]
    assert sum(r["sessions"] for r in runs) == 14 and len(runs) >= 2
    assert runs[0]["first_date"] == "2026-02-15" and runs[-1]["last_date"] == "2026-02-28"
    assert runs[-1]["title"] == "four flights with hands hovering"

    # rail reliance as the sessions store it, and the share within the drill's grip target
    s0 = sessions[0]
    assert s0["rails"]["contact_fraction"] == store.session(ids[first_n])["contact_fraction"]
    assert s0["rails"]["within_target"] == within_grip_target(s0["rails"]["grip_target"],
                                                              s0["rails"]["contact_fraction"],
                                                              s0["rails"]["firm_fraction"])

    # every note of pain (1 or more) or dizziness, with its date and words; no other note
    wanted = [(n, note_for(n)) for n in range(first_n, DAYS)
              if note_for(n) and (note_for(n)["pain"] >= 1 or note_for(n)["dizziness"])]
    assert [(x["session_id"], x["pain"], x["dizziness"], x["text"]) for x in report["symptoms"]] == \
        [(ids[n], note["pain"], note["dizziness"], note["text"]) for n, note in wanted]
    assert any(x["dizziness"] for x in report["symptoms"]) and any(x["pain"] for x in report["symptoms"])

    rec = report["recommendation"]
    assert rec["action"] in ("advance", "stay", "step_back", "rest") and rec["reason"]
    assert rec["level"] in LEVELS + ["volume-8"]
    assert report["thresholds"]["asymmetry_flag"] == ProgressionSettings().asymmetry_flag


def test_a_leg_asymmetry_flag_reaches_the_report(history):
    store, kim, ids = history
    # the last stored session with an asymmetry above the threshold: the progression tells the coach
    sid = store.begin_session(athlete_id=kim, started_at=(END - dt.timedelta(minutes=30)).isoformat(),
                              drill=None, level="volume-4", trace_path=None)
    store.end_session(sid, ended_at=END.isoformat(), duration_s=60.0, summary={
        "steps": 10, "ascents": 1, "descents": 1, "active_s": 20.0, "cadence_spm": 50.0,
        "reliance": {"contact_fraction": 0.0, "firm_fraction": 0.0, "light_fraction": 0.0},
        "events": [], "gait": {**gait_for(1), "dwell_asymmetry": 0.3}}, flights=[], events=None, energy_kcal=None)
    store.update_athlete(kim, level="volume-4")     # as the rig moves the athlete along the ladder
    store.flush()
    report = gather_report(store, kim, period("2026-02-01", "2026-03-01"))
    assert report["sessions"][-1]["gait"]["dwell_asymmetry"] == 0.3
    assert report["athlete"]["level_title"] == "four flights with hands hovering"
    assert any("asymmetry 30 %" in flag for flag in report["recommendation"]["flags"])


def test_a_period_without_sessions_says_none(history):
    store, kim, ids = history
    report = gather_report(store, kim, period("2025-06-01", "2025-06-28"))
    assert report["sessions"] == [] and report["levels"] == [] and report["symptoms"] == []
    assert report["totals"] == {"sessions": 0, "steps": 0, "flights": 0, "active_s": 0.0, "grabs": 0, "falls": 0}
    assert all(g["sessions"] == 0 and g["median"] is None for g in report["gait"].values())
    assert report["recommendation"]["reason"]            # what to do next is still said


def test_no_such_athlete_is_none(history):
    store, kim, ids = history
    assert gather_report(store, 999, period("2026-02-01", "2026-02-28")) is None


def test_the_days_are_the_rigs_local_days(history):
    store, kim, ids = history
    # at UTC-10 (Hawaii), 09:00 UTC is 23:00 the day before
    hst = dt.timezone(dt.timedelta(hours=-10))
    report = gather_report(store, kim, parse_period("2026-02-27", "2026-02-27", today=END.date(), tz=hst))
    assert [s["started_at"][:10] for s in report["sessions"]] == ["2026-02-28"]
    assert report["sessions"][0]["date"] == "2026-02-27" and report["sessions"][0]["time"] == "23:00"


def test_the_ends_of_the_calendar_are_a_period_too(history):
    store, kim, ids = history
    east = dt.timezone(dt.timedelta(hours=14))
    for first, last, tz in (("9999-12-01", "9999-12-31", UTC), ("0001-01-01", "0001-01-28", east)):
        report = gather_report(store, kim, parse_period(first, last, today=END.date(), tz=tz))
        assert report["sessions"] == [] and report["period"]["from"] == first


def test_the_periods_stair_tests_are_in_the_report(history):
    store, kim, ids = history
    for when, kind, status, power, time_s in (("2026-02-14T23:59:59+00:00", "stair_climb_power", "done", 250.0, 4.1),
                                              ("2026-02-15T00:00:00+00:00", "stair_climb_power", "done", 262.5, 3.9),
                                              ("2026-02-20T10:00:00+00:00", "timed_stair_climb", "invalid", None, 11.0),
                                              ("2026-03-01T00:00:00+00:00", "timed_stair_climb", "done", None, 9.5)):
        store.add_stair_test(athlete_id=kim, kind=kind, started_at=when, status=status, duration_s=time_s, steps=10,
                             rise_m=1.7, power_w=power, power_w_per_kg=None if power is None else power / 64.0,
                             body_mass_kg=64.0, rails_used=status == "invalid", note=None)
    store.flush()
    report = gather_report(store, kim, period("2026-02-15", "2026-02-28"))
    tests = report["stair_tests"]
    # the period's own, both ends by the local day: not the one a second before, nor the next day's first
    assert [(t["started_at"][:19], t["status"]) for t in tests] == [("2026-02-15T00:00:00", "done"),
                                                                  ("2026-02-20T10:00:00", "invalid")]
    assert tests[0]["power_w"] == 262.5 and tests[0]["date"] == "2026-02-15" and tests[1]["rails_used"] is True
    assert "detail" not in tests[0]
