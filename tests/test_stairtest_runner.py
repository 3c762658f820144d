"""The stair test runner (rig/core/stairtest.py) on hand-made event sequences: its states, its timing
from the treads, its power (with an added load), and the ways a test is aborted or invalid."""

from __future__ import annotations

import pytest

from rig.settings import G_M_S2 as G
from rig.core.stairtest import StairTestProtocol, StairTestRunner


def step(t, tread, direction):
    return {"type": "step", "t": t, "tread": tread, "direction": direction}


def runner(kind="stair_climb_power", *, treads=5, riser_m=0.17, mass=60.0, load=0.0, **protocol):
    changes = []
    r = StairTestRunner(StairTestProtocol(kind, treads, riser_m, **protocol), body_mass_kg=mass,
                        added_load_kg=load, on_change=changes.append)
    return r, changes


def climb(r, t0=10.0, dt=0.5, treads=5):
    """Begin at 0, go at 3, then one step up per tread every ``dt`` from ``t0``."""
    r.begin(0.0)
    r.advance(3.0)
    for i in range(treads):
        r.advance(t0 + i * dt)
        r.on_event(step(t0 + i * dt, i + 1, "up"))


def test_a_valid_power_test_is_timed_from_the_first_to_the_top_contact():
    r, changes = runner()
    r.begin(0.0)
    assert r.state == "countdown" and changes[-1]["state"] == "countdown"
    r.advance(2.9)
    assert r.state == "countdown"
    r.advance(3.0)
    assert r.state == "running" and r.phase == "up"
    for i, t in enumerate((4.2, 4.8, 5.3, 5.9, 6.6)):
        r.on_event(step(t, i + 1, "up"))
    assert r.state == "done" and r.note is None
    res = r.snapshot()
    assert res["duration_s"] == pytest.approx(6.6 - 4.2)
    assert res["rise_m"] == pytest.approx(4 * 0.17)           # floor to tread 4: four risers
    power = 60.0 * G * 4 * 0.17 / (6.6 - 4.2)
    assert res["power_w"] == pytest.approx(power, abs=0.05)
    assert res["power_w_per_kg"] == pytest.approx(power / 60.0, abs=0.001)
    assert res["steps"] == 5 and res["rails_used"] is False
    assert [c["state"] for c in changes] == ["countdown", "running", "done"]


def test_an_added_load_adds_to_the_mass_lifted_but_not_to_the_w_per_kg_divisor():
    plain, _ = runner()
    loaded, _ = runner(load=10.0)
    climb(plain)
    climb(loaded)
    assert loaded.power_w() == pytest.approx(plain.power_w() * 70.0 / 60.0)
    assert loaded.snapshot()["power_w_per_kg"] == pytest.approx(loaded.power_w() / 60.0, abs=0.001)
    assert loaded.snapshot()["added_load_kg"] == 10.0


def test_two_treads_at_a_time_climb_the_same_rise():
    r, _ = runner()
    r.begin(0.0)
    r.advance(3.0)
    for t, tread in ((4.0, 1), (4.6, 3), (5.2, 5)):
        r.on_event(step(t, tread, "up"))
    assert r.state == "done" and r.steps == 3
    assert r.snapshot()["rise_m"] == pytest.approx(3 * 0.17)    # the last step left tread 3


def test_a_slower_climb_has_less_power():
    fast, _ = runner()
    slow, _ = runner()
    climb(fast, dt=0.5)
    climb(slow, dt=1.5)
    assert slow.state == fast.state == "done"
    assert slow.power_w() == pytest.approx(fast.power_w() / 3)


def test_too_slow_a_climb_is_aborted_at_the_time_limit():
    r, _ = runner(max_s=20.0)
    r.begin(0.0)
    r.advance(3.0)
    r.on_event(step(4.0, 1, "up"))
    r.advance(23.9)
    assert r.state == "running"
    r.advance(24.1)
    assert r.state == "aborted" and "20 s" in r.note and r.power_w() is None


def test_no_step_after_go_is_aborted():
    r, _ = runner(first_step_within_s=30.0)
    r.begin(0.0)
    r.advance(3.0)
    r.advance(33.5)
    assert r.state == "aborted" and "no step" in r.note


def test_a_step_before_go_is_a_false_start():
    r, _ = runner()
    r.begin(0.0)
    r.on_event(step(1.0, 1, "up"))
    assert r.state == "aborted" and "before go" in r.note


@pytest.mark.parametrize("event, words", [
    ({"type": "stall", "t": 7.0, "tread": 2}, "stall"),
    ({"type": "fall_suspected", "t": 7.0, "tread": 2}, "fall"),
])
def test_a_stall_or_a_fall_aborts_the_test(event, words):
    r, changes = runner()
    r.begin(0.0)
    r.advance(3.0)
    r.on_event(step(4.0, 1, "up"))
    r.on_event(step(4.5, 2, "up"))
    r.on_event(event)
    assert r.state == "aborted" and words in r.note
    assert changes[-1]["state"] == "aborted"
    r.on_event(step(8.0, 3, "up"))          # nothing changes a finished test
    assert r.steps == 2


def test_cancel_aborts_and_a_finished_test_stays_finished():
    r, _ = runner()
    climb(r)
    r.cancel(99.0)
    assert r.state == "done"
    other, _ = runner()
    other.begin(0.0)
    other.cancel(1.0)
    assert other.state == "aborted" and other.note == "cancelled"


def test_a_rail_is_recorded_and_makes_a_test_without_rails_invalid():
    allowed, _ = runner(rails_allowed=True)
    forbidden, _ = runner(rails_allowed=False)
    for r in (allowed, forbidden):
        r.begin(0.0)
        r.advance(3.0)
        r.on_event(step(4.0, 1, "up"))
        r.on_event({"type": "grip", "t": 4.2, "rail": "left", "grip": "light"})
        for i, t in enumerate((4.6, 5.2, 5.8, 6.4)):
            r.on_event(step(t, i + 2, "up"))
    assert allowed.state == "done" and allowed.rails_used is True
    assert forbidden.state == "invalid" and "rail" in forbidden.note and forbidden.power_w() is not None


def test_a_grab_counts_as_rail_use_and_a_rig_without_rails_says_none():
    r, _ = runner(rails_allowed=False)
    r.begin(0.0)
    r.advance(3.0)
    r.on_event({"type": "grab", "t": 3.5, "rail": "right"})
    assert r.rails_used is True
    bare, _ = runner(has_rails=False)
    climb(bare)
    assert bare.rails_used is None and bare.state == "done"


def test_a_step_down_before_the_top_is_invalid():
    r, _ = runner()
    r.begin(0.0)
    r.advance(3.0)
    r.on_event(step(4.0, 1, "up"))
    r.on_event(step(4.5, 2, "up"))
    r.on_event(step(5.0, 1, "down"))
    assert r.state == "invalid" and "before the top" in r.note


def test_the_timed_test_runs_up_and_back_down_to_the_floor():
    r, changes = runner("timed_stair_climb", treads=4)
    r.begin(0.0)
    r.advance(3.0)
    for i, t in enumerate((4.0, 4.5, 5.0, 5.5)):
        r.on_event(step(t, i + 1, "up"))
    assert r.state == "running" and r.phase == "down"
    r.on_event({"type": "stall", "t": 8.5})      # stopped too long at the top: aborted
    assert r.state == "aborted" and r.duration_s() is None
    r, changes = runner("timed_stair_climb", treads=4)
    r.begin(0.0)
    r.advance(3.0)
    for i, t in enumerate((4.0, 4.5, 5.0, 5.5)):
        r.on_event(step(t, i + 1, "up"))
    for tread, t in ((3, 6.5), (2, 7.0), (1, 7.5)):
        r.on_event(step(t, tread, "down"))
    assert r.state == "running"
    r.on_event({"type": "descent", "t": 8.1})
    assert r.state == "done"
    res = r.snapshot()
    assert res["duration_s"] == pytest.approx(8.1 - 4.0)
    assert res["up_s"] == pytest.approx(1.5)
    assert res["power_w"] == pytest.approx(60 * G * 3 * 0.17 / 1.5, abs=0.05)
    assert res["steps"] == 7


def test_bad_protocols_and_masses_are_refused():
    with pytest.raises(ValueError, match="kind"):
        StairTestProtocol("six_minute_walk", 5, 0.17)
    with pytest.raises(ValueError, match="treads"):
        StairTestProtocol("stair_climb_power", 1, 0.17)
    with pytest.raises(ValueError, match="body_mass_kg"):
        StairTestRunner(StairTestProtocol("stair_climb_power", 5, 0.17), body_mass_kg=0)
    with pytest.raises(ValueError, match="added_load_kg"):
        StairTestRunner(StairTestProtocol("stair_climb_power", 5, 0.17), body_mass_kg=60, added_load_kg=-1)
    r, _ = runner()
    r.begin(0.0)
    with pytest.raises(ValueError, match="begun"):
        r.begin(1.0)
