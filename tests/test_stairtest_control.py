"""The service's side of the stair tests without the service: the control that keeps a test's steps
(and those of leaving the flight) from the sessions, and the words a result is read by."""

from __future__ import annotations

import datetime as dt

import pytest

from rig.layout import RigLayout
from rig.stairtest_norms import REFERENCES, compare, power_drop_flag, reference
from rig.stairtests import LEAVE_FLIGHT_S, StairTestControl

ANN = {"id": 1, "name": "Ann", "weight_kg": 60.0}
WALL = dt.datetime(2026, 3, 1, 10, 0, 0, tzinfo=dt.timezone.utc)


def step(t, tread, direction):
    return {"type": "step", "t": t, "tread": tread, "direction": direction}


def control(**layout):
    published = []
    c = StairTestControl(RigLayout(treads=4, riser_m=0.17, **layout), published.append, wall_clock=lambda: WALL)
    return c, published


def test_a_tests_steps_and_those_of_leaving_the_flight_are_kept_from_the_sessions():
    c, published = control()
    assert c.on_event(step(1.0, 1, "up"), 1.0) is False          # no test: the sessions see it
    c.start(10.0, kind="stair_climb_power", athlete=ANN)
    assert c.next_deadline() == 13.0
    c.tick(13.0)
    for i, t in enumerate((14.0, 14.5, 15.0, 15.5)):
        assert c.on_event(step(t, i + 1, "up"), t) is True
    assert not c.running and published[-1]["test"]["state"] == "done"
    assert published[-1]["test"]["athlete_id"] == 1 and published[-1]["test"]["started_at"].startswith("2026-03-01T09:59")
    # down from the top after the test: still not a session, until the flight is left at the bottom
    assert c.on_event(step(20.0, 3, "down"), 20.0) is True
    assert c.on_event({"type": "vacated", "t": 22.0, "tread": 1, "occupied": 0}, 22.0) is True
    assert c.on_event(step(30.0, 1, "up"), 30.0) is False         # the next climb trains


def test_leaving_the_flight_ends_by_itself_after_a_while():
    c, _ = control()
    c.start(0.0, kind="stair_climb_power", athlete=ANN)
    c.cancel(1.0)
    assert c.on_event(step(2.0, 1, "up"), 2.0) is True
    c.tick(1.0 + LEAVE_FLIGHT_S)
    assert c.on_event(step(LEAVE_FLIGHT_S + 5, 1, "up"), LEAVE_FLIGHT_S + 5) is False


def test_one_test_at_a_time_and_only_on_a_flight():
    c, published = control()
    c.start(0.0, kind="timed_stair_climb", athlete=ANN)
    with pytest.raises(ValueError, match="already running"):
        c.start(1.0, kind="stair_climb_power", athlete=ANN)
    assert c.cancel(2.0)["state"] == "aborted" and c.cancel(3.0) is None
    assert [p["test"]["state"] for p in published] == ["countdown", "aborted"]
    stepper = StairTestControl(RigLayout(kind="stepper", treads=2), lambda e: None)
    with pytest.raises(ValueError, match="flight"):
        stepper.start(0.0, kind="stair_climb_power", athlete=ANN)
    bare, _ = control(rails={})
    bare.start(0.0, kind="stair_climb_power", athlete=ANN)
    assert bare.state()["rails_used"] is None


def done(kind, value, *, rise_m=0.51, status="done", tid=1):
    measure = REFERENCES[kind]["measure"]
    return {"id": tid, "kind": kind, "status": status, "rise_m": rise_m, measure: value}


@pytest.mark.parametrize("before, after, change, start", [
    (10.0, 7.0, "better", "faster than the last test by more than the MDC (2.6 s)"),
    (10.0, 13.0, "worse", "slower than the last test by more than the MDC (2.6 s)"),
    (10.0, 9.0, "none", "within the MDC (2.6 s) of the last test: no real change"),
])
def test_a_timed_test_is_read_by_its_mdc(before, after, change, start):
    result = compare(done("timed_stair_climb", after, tid=2), [done("timed_stair_climb", before)])
    assert result["change"] == change and result["text"].startswith(start)


def test_only_valid_tests_on_the_same_rise_are_compared():
    latest = done("stair_climb_power", 300.0, tid=3)
    assert compare(latest, [])["change"] is None
    assert "not comparable" in compare(latest, [done("stair_climb_power", 100.0, rise_m=0.68)])["text"]
    # an invalid test in between is passed over
    earlier = [done("stair_climb_power", 200.0), done("stair_climb_power", 10.0, status="invalid", tid=2)]
    assert compare(latest, earlier)["delta"] == 100.0
    assert compare(done("stair_climb_power", None, status="aborted"), earlier)["change"] is None


def test_the_coach_is_flagged_only_for_a_power_drop_beyond_the_mdc():
    assert power_drop_flag([done("stair_climb_power", 300.0), done("stair_climb_power", 270.0, tid=2)]) is None
    flag = power_drop_flag([done("stair_climb_power", 300.0), done("stair_climb_power", 250.0, tid=2)])
    assert flag and "50 W" in flag and "44 W" in flag
    assert power_drop_flag([done("stair_climb_power", 300.0)]) is None


def test_every_kind_says_its_norm_in_words_and_no_number_is_made_up():
    for kind in REFERENCES:
        ref = reference(kind)
        assert ref["norm"] is None and ref["norm_text"].startswith("no published norm found")
        assert ref["mdc_source"] and ref["comparable"]
    with pytest.raises(ValueError):
        reference("six_minute_walk")


def test_a_test_starts_from_the_floor_and_waits_for_what_else_runs():
    c, _ = control()
    start = {"kind": "stair_climb_power", "athlete": ANN}
    free = {"walk_test": False, "session": False, "alarm": None, "occupied": 0}
    for key, value, words in (("occupied", 1, "step off"), ("walk_test", True, "walk test"),
                              ("session", True, "session"), ("alarm", {"type": "fall_suspected"}, "fall alarm")):
        with pytest.raises(ValueError, match=words):
            c.command("start_stair_test", 0.0, start, **{**free, key: value})
    assert not c.running
    assert c.command("start_stair_test", 0.0, start, **free)["state"] == "countdown"
    assert c.command("cancel_stair_test", 1.0, {}, **free)["state"] == "aborted"
