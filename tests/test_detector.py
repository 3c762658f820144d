"""The detection core against the trace spec (docs/trace-format.md).

Every test here is written from the spec's "Replay summary" definitions and
its "Default detection settings" table, on small hand-built sample sequences
(see ``tests/tracebuild.py``). Expected values are worked out by hand in the
comments; times are in seconds, forces in newtons.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from rig.core.detector import Detector
from rig.settings import DetectionSettings
from tests.tracebuild import (
    Run,
    bounce,
    contact,
    flight,
    hold,
    idle,
    live,
    points,
    ramp,
    replay,
    split_step,
    stepper,
    trace,
    tread,
)

R = 0.17            # riser of the test flights
G = 9.80665


def near(x: float, tol: float = 2e-4):
    return pytest.approx(x, abs=tol)


def counts(run: Run) -> tuple[int, int, int, int, int]:
    s = run.summary
    return s["steps"], s["steps_up"], s["steps_down"], s["ascents"], s["descents"]


def settings(**changes) -> DetectionSettings:
    return replace(DetectionSettings(), **changes)


# =====================================================================
# Default settings: the table's numbers
# =====================================================================

def test_defaults_are_the_spec_table():
    s = DetectionSettings()
    assert s.min_contact_s == pytest.approx(0.100)
    assert s.bridge_s == pytest.approx(0.060)
    assert s.rail_contact_on_n == pytest.approx(0.25)
    assert s.rail_contact_off_n == pytest.approx(0.15)
    assert s.rail_min_contact_s == pytest.approx(0.050)
    assert s.firm_on_n == pytest.approx(1.0)
    assert s.firm_off_n == pytest.approx(0.8)
    assert s.grab_window_s == pytest.approx(0.250)
    assert s.grab_floor_n == pytest.approx(8.0)
    assert s.stall_s == pytest.approx(3.0)
    assert s.fall_wait_s == pytest.approx(1.0)
    assert s.facing_simultaneity_s == pytest.approx(0.015)


@pytest.mark.parametrize("kg, tread_on, grab_rise", [
    (70.0, 0.05 * 70 * G, 0.10 * 70 * G),      # 34.32 N, 68.65 N
    (100.0, 49.03325, 98.0665),
    (30.0, 20.0, 50.0),                        # light athlete: the newton minimums win
])
def test_weight_scaled_thresholds(kg, tread_on, grab_rise):
    th = DetectionSettings().resolve(kg)
    assert th.tread_force_on_n == pytest.approx(tread_on, abs=1e-3)
    assert th.tread_force_off_n == pytest.approx(tread_on / 2, abs=1e-3)
    assert th.grab_rise_n == pytest.approx(grab_rise, abs=1e-3)


# =====================================================================
# Contacts
# =====================================================================

def test_bounce_is_merged_into_one_contact():
    # raw pieces 50, 50, 30 and 21 ms, gaps 40, 50 and 59 ms: no piece lasts
    # 100 ms, but the merged contact runs 1.0 -> 1.3
    run = replay(flight(3), trace(bounce("tread.1", 1.0, 1.3, [(1.05, 0.04), (1.14, 0.05), (1.22, 0.059)])))
    assert counts(run) == (1, 1, 0, 0, 0)
    assert run.summary["active_s"] == near(0.3)


@pytest.mark.parametrize("gap, steps, active", [
    (0.059, 1, 1.0),           # bridged: one contact 1.0 -> 2.0, the gap is occupied time
    (0.061, 2, 1.0 - 0.061),   # split: two contacts, two steps
    (0.070, 2, 1.0 - 0.070),
    (0.040, 1, 1.0),
])
def test_gap_shorter_than_bridging_is_bridged_longer_splits(gap, steps, active):
    run = replay(flight(3), trace(bounce("tread.1", 1.0, 2.0, [(1.5, gap)])))
    s = run.summary
    assert s["steps"] == steps
    # tread 1 emptying means the floor: a second contact is another step up
    assert s["steps_up"] == steps
    assert s["elevation_gain_m"] == near(steps * R)
    assert s["active_s"] == near(active)


@pytest.mark.parametrize("t_off, steps, active", [
    (1.099, 0, 0.0),
    (1.090, 0, 0.0),
    (1.101, 1, 0.101),
    (1.150, 1, 0.150),
])
def test_contact_shorter_than_minimum_is_ignored(t_off, steps, active):
    run = replay(flight(3), trace(tread(1, 1.0, t_off), idle("tread.2", 2.0)))
    assert run.summary["steps"] == steps
    assert run.summary["active_s"] == near(active)


def test_merged_contact_counts_from_first_edge_to_last_release():
    # 1.00-1.03 on, 40 ms gap, 1.07-1.09 on: 90 ms in all -> ignored
    short = replay(flight(3), trace(bounce("tread.1", 1.0, 1.09, [(1.03, 0.04)]), idle("tread.2", 2.0)))
    assert short.summary["steps"] == 0
    # 1.00-1.03 on, 40 ms gap, 1.07-1.11 on: 110 ms in all -> counts
    ok = replay(flight(3), trace(bounce("tread.1", 1.0, 1.11, [(1.03, 0.04)]), idle("tread.2", 2.0)))
    assert ok.summary["steps"] == 1
    assert ok.summary["active_s"] == near(0.11)


def test_two_short_contacts_separated_by_a_long_gap_are_not_merged():
    # two 60 ms contacts 70 ms apart: not merged, each too short
    run = replay(flight(3), trace(tread(1, 1.0, 1.06), tread(1, 1.13, 1.19), idle("tread.2", 2.0)))
    assert run.summary["steps"] == 0
    assert run.summary["active_s"] == 0.0


def test_split_tread_halves_are_combined_before_anything_else():
    # front 1.00-1.06 and back 1.05-1.12: each half alone is shorter than
    # 100 ms; either half on = on gives one 120 ms contact
    run = replay(flight(3, split=True), trace(contact("tread.1.front", 1.0, 1.06),
                                              contact("tread.1.back", 1.05, 1.12),
                                              idle("tread.2.front", 2.0)))
    assert run.summary["steps"] == 1
    assert run.summary["active_s"] == near(0.12)


def test_split_tread_either_half_on_is_on():
    # front 1.0-2.0, back 1.5-3.0: one contact 1.0 -> 3.0, one step
    run = replay(flight(3, split=True), trace(contact("tread.1.front", 1.0, 2.0),
                                              contact("tread.1.back", 1.5, 3.0)))
    assert run.summary["steps"] == 1
    assert run.summary["active_s"] == near(2.0)


def test_split_tread_halves_alternating_with_a_short_gap_are_one_contact():
    # front 1.0-1.4, nothing for 40 ms, back 1.44-2.0: bridged
    run = replay(flight(3, split=True), trace(contact("tread.1.front", 1.0, 1.4),
                                              contact("tread.1.back", 1.44, 2.0)))
    assert run.summary["steps"] == 1
    assert run.summary["active_s"] == near(1.0)


def test_open_contact_ends_at_the_last_sample():
    run = replay(flight(3), trace(tread(1, 1.0), idle("tread.2", 2.5)))
    assert run.summary["steps"] == 1
    assert run.summary["active_s"] == near(1.5)
    assert run.summary["duration_s"] == near(1.5)


def test_open_contact_shorter_than_minimum_at_the_end_is_ignored():
    run = replay(flight(3), trace(tread(1, 1.0), idle("tread.2", 1.05)))
    assert run.summary["steps"] == 0
    assert run.summary["active_s"] == 0.0


# =====================================================================
# Steps and reference levels
# =====================================================================

def test_empty_to_occupied_is_a_step_and_a_joining_foot_is_not():
    # step-to gait on split treads: the lead foot lands on the back half, the
    # trail foot joins on the front half 0.4 s later (no new step)
    run = replay(flight(3, split=True), trace(
        split_step(1, 1.0, 2.3, first="back", lag=0.4),
        split_step(2, 2.0, 3.3, first="back", lag=0.4),
        split_step(3, 3.0, 4.0, first="back", lag=0.4)))
    s = run.summary
    assert counts(run) == (3, 3, 0, 1, 0)
    assert s["elevation_gain_m"] == near(4 * R)
    assert s["facing"] == {"forward": 3, "backward": 0, "unknown": 0}


def test_joining_foot_on_a_switch_tread_with_a_dropout_is_not_a_step():
    # the trail foot's landing makes the switch drop out for 30 ms
    run = replay(flight(3), trace(bounce("tread.1", 1.0, 2.5, [(1.4, 0.03)]),
                                  bounce("tread.2", 2.0, 3.5, [(2.4, 0.03)])))
    assert run.summary["steps"] == 2
    assert run.summary["steps_up"] == 2


def test_reference_is_the_most_recent_step_still_occupied():
    # N=5. t1 1-6 (up from floor, +1); t3 2-3 (ref 1: up, +2);
    # t2 2.5-7 (ref 3, the most recent occupied step: down);
    # t3 empties; t4 4-8 (ref 2, the most recent step still occupied: up, +2)
    run = replay(flight(5), trace(tread(1, 1.0, 6.0), tread(3, 2.0, 3.0), tread(2, 2.5, 7.0),
                                  tread(4, 4.0, 8.0)))
    s = run.summary
    assert counts(run) == (4, 3, 1, 0, 0)
    assert s["elevation_gain_m"] == near(5 * R)
    # a stall 3 s after the last step (4.0); the fall check on tread 4 would need time after 8.0
    assert [(e["type"], e["t"]) for e in s["events"]] == [("stall", pytest.approx(7.0))]


def test_after_tread_1_empties_the_reference_is_the_floor():
    # N=5: t1, t1 again, then t2 two levels above the floor
    run = replay(flight(5), trace(tread(1, 1.0, 2.0), tread(1, 3.0, 4.0), tread(2, 5.0, 6.0)))
    assert counts(run) == (3, 3, 0, 0, 0)
    assert run.summary["elevation_gain_m"] == near((1 + 1 + 2) * R)


def test_after_tread_N_empties_the_reference_is_the_top_landing():
    # N=3: first step on tread 3 (start: top landing, so down), leave to the
    # landing, tread 3 again (down), tread 2 (down); tread 2 empties ->
    # unknown; tread 1 0.5 s later is neither up nor down, so no descent
    run = replay(flight(3), trace(tread(3, 1.0, 2.0), tread(3, 3.0, 4.0), tread(2, 5.0, 6.0),
                                  tread(1, 6.5, 7.5)))
    s = run.summary
    assert counts(run) == (4, 0, 3, 0, 0)
    assert s["elevation_gain_m"] == near(0.0)
    assert s["events"] == []


def test_after_a_middle_tread_empties_the_next_step_is_neither_up_nor_down():
    # N=3: t2 1-2 (up from the floor, +2); t2 empties: unknown; t3 at 2.5 is
    # neither (and its emptying is no ascent); t2 at 3.0 while t3 is occupied:
    # ref 3, down
    run = replay(flight(3), trace(tread(2, 1.0, 2.0), tread(3, 2.5, 3.5), tread(2, 3.0, 4.0)))
    s = run.summary
    assert counts(run) == (3, 1, 1, 0, 0)
    assert s["elevation_gain_m"] == near(2 * R)


@pytest.mark.parametrize("first, up, down, levels", [
    (4, 0, 1, 0),    # first step on tread N: reference is the top landing
    (3, 1, 0, 3),    # first step elsewhere: reference is the floor
    (1, 1, 0, 1),
])
def test_start_reference(first, up, down, levels):
    run = replay(flight(4), trace(tread(first, 1.0, 2.0)))
    s = run.summary
    assert (s["steps"], s["steps_up"], s["steps_down"]) == (1, up, down)
    assert s["elevation_gain_m"] == near(levels * R)


def test_single_tread_rig_every_step_is_up():
    # step-ups: with one tread, emptying it always means the floor
    run = replay(flight(1), trace(tread(1, 1.0, 2.0), tread(1, 3.0, 4.0), tread(1, 5.0, 6.0)))
    s = run.summary
    assert counts(run) == (3, 3, 0, 0, 0)      # no ascents or descents: N > 1 for both
    assert s["elevation_gain_m"] == near(3 * R)
    assert s["events"] == []


def test_two_at_a_time_counts_two_risers():
    # N=5: t2 (+2 from the floor), t4 (+2), t5 (+1), leave at the top (+1)
    run = replay(flight(5), trace(tread(2, 1.0, 1.6), tread(4, 1.5, 2.1), tread(5, 2.0, 2.6)))
    assert counts(run) == (3, 3, 0, 1, 0)
    assert run.summary["elevation_gain_m"] == near(6 * R)


def test_down_steps_add_no_elevation():
    # N=5 from the landing, two at a time: t5 (first step on N: down from 6),
    # t3 (down), t1 (down), descent
    run = replay(flight(5), trace(tread(5, 1.0, 1.6), tread(3, 1.5, 2.1), tread(1, 2.0, 2.6)))
    assert counts(run) == (3, 0, 3, 0, 1)
    assert run.summary["elevation_gain_m"] == near(0.0)


# =====================================================================
# Equal times: an emptying before an occupying
# =====================================================================

@pytest.mark.parametrize("on_first", [False, True])
def test_emptying_is_taken_before_occupying_at_equal_times(on_first):
    # N=3: tread 2 occupied 1.0 -> 2.0; tread 1 occupied at exactly 2.0.
    # Emptying first: at 2.0 no tread is occupied after tread 2 -> reference
    # unknown -> the step on tread 1 is neither up nor down, and its emptying
    # is no descent. (Occupying first would make it a down step and a descent.)
    t = 2.0
    t2 = [(1.0, "tread.2", 1), (t, "tread.2", 0)]
    t1 = [(t, "tread.1", 1), (3.0, "tread.1", 0)]
    samples = [t2[0], t1[0], t2[1], t1[1]] if on_first else [t2[0], t2[1], t1[0], t1[1]]
    run = replay(flight(3), samples)
    s = run.summary
    assert counts(run) == (2, 1, 0, 0, 0)
    assert s["elevation_gain_m"] == near(2 * R)
    assert s["active_s"] == near(2.0)
    assert s["events"] == []     # tread 1 was occupied within the fall wait


def test_equal_time_emptying_and_occupying_in_the_middle_of_a_flight():
    # N=3: t1 1.0-2.0, t2 2.0-3.0 (equal time), t3 at 4.0.
    # At 2.0 tread 1 empties first -> floor -> t2 is up by 2;
    # then t2 empties at 3.0 -> unknown -> t3 at 4.0 (within fall wait)
    # is neither up nor down -> no ascent.
    run = replay(flight(3), trace(tread(1, 1.0, 2.0), tread(2, 2.0, 3.0), tread(3, 3.5, 4.0)))
    assert counts(run) == (3, 2, 0, 0, 0)
    assert run.summary["elevation_gain_m"] == near(3 * R)


# =====================================================================
# Ascents and descents
# =====================================================================

def test_up_and_down_the_flight():
    run = replay(flight(3), trace(
        tread(1, 1.0, 1.6), tread(2, 1.5, 2.1), tread(3, 2.0, 2.6),      # up, ascent at 2.6
        tread(3, 4.0, 4.6), tread(2, 4.5, 5.1), tread(1, 5.0, 5.6)))     # down, descent at 5.6
    s = run.summary
    assert counts(run) == (6, 3, 3, 1, 1)
    assert s["elevation_gain_m"] == near(4 * R)     # 3 up steps + the top landing
    assert s["events"] == []


def test_up_to_the_top_and_back_down_without_leaving():
    # tread 3 empties while tread 2 is occupied: no ascent; tread 1 empties
    # last after down steps: a descent
    run = replay(flight(3), trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.1), tread(3, 2.0, 3.1),
                                  tread(2, 3.0, 3.6), tread(1, 3.5, 4.1)))
    s = run.summary
    assert counts(run) == (5, 3, 2, 0, 1)
    assert s["elevation_gain_m"] == near(3 * R)


def test_leaving_tread_1_after_an_up_step_is_no_descent():
    run = replay(flight(3), trace(tread(1, 1.0, 2.0)))
    assert counts(run) == (1, 1, 0, 0, 0)


def test_leaving_tread_N_after_a_down_step_is_no_ascent():
    # up and off the top (ascent), back onto tread 3 from the landing (down), off again
    run = replay(flight(3), trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.1), tread(3, 2.0, 2.6),
                                  tread(3, 4.0, 5.0)))
    s = run.summary
    assert counts(run) == (4, 3, 1, 1, 0)
    assert s["elevation_gain_m"] == near(4 * R)


def test_two_tread_flight_has_ascents():
    run = replay(flight(2), trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.1),
                                  tread(2, 3.0, 3.6), tread(1, 3.5, 4.1)))
    assert counts(run) == (4, 2, 2, 1, 1)
    assert run.summary["elevation_gain_m"] == near(3 * R)


def test_stepper_every_press_is_a_step_up_of_one_riser():
    run = replay(stepper(riser_m=0.2), trace(
        tread(1, 1.0, 1.5), tread(2, 1.4, 2.0), tread(1, 1.9, 2.5), tread(2, 2.4, 3.0),
        tread(2, 3.5, 4.0)))      # the same pedal twice in a row: still a step up
    s = run.summary
    assert counts(run) == (5, 5, 0, 0, 0)
    assert s["elevation_gain_m"] == near(5 * 0.2)
    assert s["events"] == []


# =====================================================================
# Active time, duration, cadence
# =====================================================================

def test_active_time_is_the_union_of_occupancy():
    # [1,2] u [1.5,3] u [4,5] = 3 s; samples from 0.5 to 5.5
    run = replay(flight(3), trace(idle("tread.3", 0.5), tread(1, 1.0, 2.0), tread(2, 1.5, 3.0),
                                  tread(1, 4.0, 5.0), idle("tread.3", 5.5)))
    s = run.summary
    assert s["steps"] == 3
    assert s["active_s"] == near(3.0)
    assert s["duration_s"] == near(5.0)
    assert s["cadence_spm"] == pytest.approx(60.0, abs=0.02)    # 3 steps per 3 s


def test_cadence_is_steps_per_active_minute():
    run = replay(flight(3), trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.1), tread(3, 2.0, 2.6)))
    assert run.summary["active_s"] == near(1.6)
    assert run.summary["cadence_spm"] == pytest.approx(3 / 1.6 * 60, abs=0.02)   # 112.5


def test_no_active_time_gives_null_cadence_and_reliance():
    layout = flight(3, rails={"left": ("touch", "force")})
    run = replay(layout, trace(contact("rail.left.touch", 1.0, 2.0),
                               points("rail.left.force", (1.0, 3.0), (2.0, 0.0)),
                               tread(1, 2.5, 2.55)))      # too short to count
    s = run.summary
    assert s["steps"] == 0
    assert s["active_s"] == 0.0
    assert s["duration_s"] == near(1.55)
    assert s["cadence_spm"] is None
    assert s["reliance"] == {"contact_fraction": None, "firm_fraction": None, "light_fraction": None}
    assert s["rails"]["left"]["contact_s"] == 0.0


def test_no_samples():
    det = Detector(flight(3), DetectionSettings(), weight_kg=70.0)
    det.finish()
    s = det.summary()
    assert s["steps"] == 0 and s["duration_s"] == 0 and s["active_s"] == 0
    assert s["cadence_spm"] is None
    assert s["events"] == []


# =====================================================================
# Facing on split treads
# =====================================================================

def _facing(run: Run) -> tuple[int, int, int]:
    f = run.summary["facing"]
    return f["forward"], f["backward"], f["unknown"]


@pytest.mark.parametrize("first, expected", [
    ("back", (1, 0, 0)),    # up, back (riser side) first -> forward
    ("front", (0, 1, 0)),   # up, front (nosing side) first -> backward
])
def test_facing_on_an_up_step(first, expected):
    run = replay(flight(3, split=True), trace(split_step(1, 1.0, 2.0, first=first)))
    assert run.summary["steps_up"] == 1
    assert _facing(run) == expected


@pytest.mark.parametrize("first, expected", [
    ("front", (1, 0, 0)),   # down, front first -> forward
    ("back", (0, 1, 0)),    # down, back first -> backward
])
def test_facing_on_a_down_step(first, expected):
    # the first step on tread N is down from the top landing
    run = replay(flight(3, split=True), trace(split_step(3, 1.0, 2.0, first=first)))
    assert run.summary["steps_down"] == 1
    assert _facing(run) == expected


def test_facing_over_a_whole_flight():
    # backward up (front first) and forward down (front first)
    run = replay(flight(3, split=True), trace(
        split_step(1, 1.0, 1.6, "front"), split_step(2, 1.5, 2.1, "front"), split_step(3, 2.0, 2.6, "front"),
        split_step(3, 4.0, 4.6, "front"), split_step(2, 4.5, 5.1, "front"), split_step(1, 5.0, 5.6, "front")))
    assert counts(run) == (6, 3, 3, 1, 1)
    assert _facing(run) == (3, 3, 0)


@pytest.mark.parametrize("lag, expected", [
    (0.010, (0, 0, 1)),     # both halves within 15 ms: unknown
    (0.0, (0, 0, 1)),
    (0.020, (1, 0, 0)),     # 20 ms apart: back first on an up step -> forward
])
def test_facing_simultaneous_halves_are_unknown(lag, expected):
    run = replay(flight(3, split=True), trace(split_step(1, 1.0, 2.0, first="back", lag=lag)))
    assert _facing(run) == expected


def test_facing_of_a_step_neither_up_nor_down_is_unknown():
    # t2 up (back first: forward); t2 empties -> unknown; t1 back first: unknown
    run = replay(flight(3, split=True), trace(split_step(2, 1.0, 2.0, "back"), split_step(1, 2.5, 3.5, "back")))
    assert counts(run) == (2, 1, 0, 0, 0)
    assert _facing(run) == (1, 0, 1)


def test_facing_on_unsplit_treads_is_unknown():
    run = replay(flight(3), trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.1), tread(3, 2.0, 2.6)))
    assert _facing(run) == (0, 0, 3)


def test_facing_uses_the_half_that_closed_first_in_the_merged_contact():
    # front closes at 1.00 for 20 ms, then 30 ms of nothing (bridged), then
    # back closes at 1.05 and the front again later: front first on an up
    # step -> backward
    run = replay(flight(3, split=True), trace(contact("tread.1.front", 1.0, 1.02),
                                              contact("tread.1.back", 1.05, 2.0),
                                              contact("tread.1.front", 1.3, 1.9)))
    assert run.summary["steps"] == 1
    assert _facing(run) == (0, 1, 0)


def test_facing_ignores_an_earlier_contact_too_short_to_count():
    # a 30 ms touch of the front half, 0.3 s of nothing, then a step landing back first
    run = replay(flight(3, split=True), trace(contact("tread.1.front", 0.5, 0.53),
                                              split_step(1, 0.83, 2.0, "back")))
    assert run.summary["steps"] == 1
    assert _facing(run) == (1, 0, 0)


# =====================================================================
# Rails
# =====================================================================

LEFT_TF_RIGHT_T = {"left": ("touch", "force"), "right": ("touch",)}


def test_rail_figures_by_hand():
    # Active time: tread 1 from 1.0 to 3.0.
    # Left: touch 0.5-2.5, force (held between samples):
    #   0.5 N from 0.5, 5 N at 0.6 (before active time), 0.5 at 0.8,
    #   2.0 at 1.5 (firm), 0.9 at 2.0 (still firm: not below 0.8),
    #   0.7 at 2.2 (light), 1.2 at 2.3 (firm), 4.0 at 2.7 (out of contact), 0 at 3.5
    # Over active time in contact, [1.0, 2.5]:
    #   [1.0,1.5) 0.5 light  0.5 s  0.25 Ns
    #   [1.5,2.0) 2.0 firm   0.5 s  1.00
    #   [2.0,2.2) 0.9 firm   0.2 s  0.18
    #   [2.2,2.3) 0.7 light  0.1 s  0.07
    #   [2.3,2.5) 1.2 firm   0.2 s  0.24
    # Right: touch 2.0-4.0 -> 1.0 s of active time.
    layout = flight(3, rails=LEFT_TF_RIGHT_T)
    run = replay(layout, trace(
        points("rail.left.force", (0.0, 0.0), (0.5, 0.5), (0.6, 5.0), (0.8, 0.5), (1.5, 2.0), (2.0, 0.9),
               (2.2, 0.7), (2.3, 1.2), (2.7, 4.0), (3.5, 0.0)),
        contact("rail.left.touch", 0.5, 2.5),
        contact("rail.right.touch", 2.0, 4.0),
        tread(1, 1.0, 3.0)))
    s = run.summary
    left, right = s["rails"]["left"], s["rails"]["right"]
    assert s["active_s"] == near(2.0)
    assert left["contact_s"] == near(1.5)
    assert left["light_s"] == near(0.6)
    assert left["firm_s"] == near(0.9)
    assert left["peak_force_n"] == pytest.approx(2.0, abs=1e-3)
    assert left["impulse_ns"] == pytest.approx(0.25 + 1.0 + 0.18 + 0.07 + 0.24, abs=1e-3)
    assert right["contact_s"] == near(1.0)
    assert right["light_s"] is None and right["firm_s"] is None
    assert right["peak_force_n"] is None and right["impulse_ns"] is None
    # some rail in contact: all of [1,3]; some rail firm: 0.9 s;
    # in contact and none firm: [1,1.5) + [2.2,2.3) + [2.5,3) = 1.1 s
    assert s["reliance"]["contact_fraction"] == near(1.0)
    assert s["reliance"]["firm_fraction"] == near(0.45)
    assert s["reliance"]["light_fraction"] == near(0.55)


def test_firm_hysteresis():
    # firm above 1.0, light again below 0.8
    layout = flight(3, rails={"left": ("touch", "force")})
    run = replay(layout, trace(
        tread(1, 0.0, 4.0), contact("rail.left.touch", 0.0, 4.0),
        points("rail.left.force", (0.0, 0.0), (0.5, 0.9), (1.0, 1.1), (1.5, 0.85), (2.0, 0.79),
               (2.5, 0.95), (3.0, 1.01))))
    left = run.summary["rails"]["left"]
    # light 0-1 (0.9 is not above 1.0), firm 1-2 (0.85 is not below 0.8),
    # light 2-3 (0.95 is not above 1.0), firm 3-4
    assert left["firm_s"] == near(2.0)
    assert left["light_s"] == near(2.0)
    assert left["contact_s"] == near(4.0)
    assert run.summary["reliance"]["firm_fraction"] == near(0.5)
    assert run.summary["reliance"]["light_fraction"] == near(0.5)


def test_touch_rail_bridging_and_minimum():
    layout = flight(3, rails={"left": ("touch",)})
    run = replay(layout, trace(
        tread(1, 0.0, 5.0),
        bounce("rail.left.touch", 1.0, 1.5, [(1.2, 0.04)]),    # bridged: 0.5 s
        bounce("rail.left.touch", 2.0, 2.5, [(2.2, 0.07)]),    # split: 0.43 s
        contact("rail.left.touch", 3.0, 3.04),                 # 40 ms: ignored
        contact("rail.left.touch", 3.5, 3.56)))                # 60 ms: counts
    s = run.summary
    assert s["rails"]["left"]["contact_s"] == near(0.5 + 0.43 + 0.06)
    assert s["rails"]["left"]["light_s"] is None
    assert s["reliance"]["contact_fraction"] == near(0.99 / 5.0)
    assert s["reliance"]["firm_fraction"] is None      # no rail has a force sensor
    assert s["reliance"]["light_fraction"] is None


def test_touch_rail_short_contacts_bridged_into_one_long_enough():
    # 30 ms, 40 ms gap, 30 ms: one 100 ms contact (>= 50 ms)
    layout = flight(3, rails={"left": ("touch",)})
    run = replay(layout, trace(tread(1, 0.0, 2.0), bounce("rail.left.touch", 1.0, 1.1, [(1.03, 0.04)])))
    assert run.summary["rails"]["left"]["contact_s"] == near(0.1)


def test_force_only_rail_contact_hysteresis_and_minimum():
    layout = flight(3, rails={"left": ("force",)})
    run = replay(layout, trace(
        tread(1, 0.5, 3.0),
        points("rail.left.force",
               (0.0, 0.0),
               (1.0, 0.2),      # below 0.25: not yet in contact
               (1.2, 0.3),      # on
               (1.5, 0.2),      # not below 0.15: still on
               (1.8, 0.1),      # off: contact 1.2-1.8
               (2.0, 0.2),      # below 0.25: no contact
               (2.2, 0.0),
               (2.3, 0.3), (2.34, 0.0),    # 40 ms: ignored
               (2.5, 0.3), (2.56, 0.0))))  # 60 ms: counts
    left = run.summary["rails"]["left"]
    assert left["contact_s"] == near(0.66)
    assert left["light_s"] == near(0.66)
    assert left["firm_s"] == near(0.0)
    assert left["peak_force_n"] == pytest.approx(0.3, abs=1e-3)
    assert left["impulse_ns"] == pytest.approx(0.3 * 0.3 + 0.2 * 0.3 + 0.3 * 0.06, abs=1e-3)


def test_force_only_rail_short_dropout_is_bridged():
    layout = flight(3, rails={"left": ("force",)})
    run = replay(layout, trace(
        tread(1, 0.0, 3.0),
        points("rail.left.force", (0.0, 0.0), (1.0, 0.5), (1.5, 0.1), (1.54, 0.5), (2.0, 0.0))))
    left = run.summary["rails"]["left"]
    assert left["contact_s"] == near(1.0)    # 1.0-2.0, the 40 ms dropout bridged
    # impulse over the contact, with the force held: 0.5*0.5 + 0.1*0.04 + 0.5*0.46
    assert left["impulse_ns"] == pytest.approx(0.25 + 0.004 + 0.23, abs=1e-3)


def test_rail_contact_only_counts_during_active_time():
    layout = flight(3, rails={"left": ("touch", "force")})
    run = replay(layout, trace(
        contact("rail.left.touch", 1.0, 3.0),
        points("rail.left.force", (0.0, 0.0), (1.0, 10.0), (1.5, 3.0), (2.5, 2.0), (3.0, 0.0)),
        tread(1, 2.0, 4.0)))
    left = run.summary["rails"]["left"]
    assert left["contact_s"] == near(1.0)       # 2.0-3.0
    assert left["firm_s"] == near(1.0)
    assert left["peak_force_n"] == pytest.approx(3.0, abs=1e-3)   # the 10 N came before active time
    assert left["impulse_ns"] == pytest.approx(3.0 * 0.5 + 2.0 * 0.5, abs=1e-3)
    assert run.summary["reliance"]["contact_fraction"] == near(0.5)


def test_rail_force_without_touch_is_no_contact_on_a_touch_rail():
    layout = flight(3, rails={"left": ("touch", "force")})
    run = replay(layout, trace(tread(1, 0.0, 2.0), points("rail.left.force", (0.0, 0.0), (0.5, 5.0), (1.5, 0.0))))
    left = run.summary["rails"]["left"]
    assert left["contact_s"] == 0.0
    assert left["firm_s"] == 0.0
    assert left["impulse_ns"] == 0.0
    assert run.summary["reliance"]["contact_fraction"] == 0.0
    assert run.summary["reliance"]["firm_fraction"] == 0.0


def test_no_rails_reliance():
    run = replay(flight(3), trace(tread(1, 1.0, 2.0)))
    assert run.summary["rails"] == {}
    assert run.summary["reliance"]["contact_fraction"] == 0.0
    assert run.summary["reliance"]["firm_fraction"] is None
    assert run.summary["reliance"]["light_fraction"] is None


# =====================================================================
# Force treads
# =====================================================================

def _force_tread_run(force_parts, kg):
    return replay(flight(3, sensor="force"), trace(*force_parts), weight_kg=kg)


@pytest.mark.parametrize("kg, load, steps", [
    (70.0, 45.0, 1),     # on at 34.32 N
    (100.0, 45.0, 0),    # on at 49.03 N
    (100.0, 48.9, 0),
    (100.0, 49.2, 1),
    (30.0, 19.5, 0),     # on at 20 N (5 % BW is only 14.7 N)
    (30.0, 20.5, 1),
])
def test_force_tread_on_threshold_scales_with_body_weight(kg, load, steps):
    ch = "tread.1.force"
    run = _force_tread_run([hold(ch, 0.0, 1.0, 0.0, 50), hold(ch, 1.0, 2.0, load, 50), hold(ch, 2.0, 2.5, 0.0, 50)],
                           kg)
    assert run.summary["steps"] == steps
    assert run.summary["active_s"] == near(1.0 if steps else 0.0)


@pytest.mark.parametrize("kg, active", [
    (100.0, 1.5),   # off below 24.52 N: 30 N holds it, 24 N releases at 2.5
    (70.0, 2.0),    # off below 17.16 N: 24 N holds it too, 0 N releases at 3.0
])
def test_force_tread_off_at_half_the_on_threshold(kg, active):
    run = _force_tread_run([points("tread.1.force", (0.0, 0.0), (1.0, 600.0), (2.0, 30.0), (2.5, 24.0),
                                   (3.0, 0.0), (3.5, 0.0))], kg)
    assert run.summary["steps"] == 1
    assert run.summary["active_s"] == near(active)


def test_force_tread_light_athlete_off_threshold():
    # 30 kg: on at 20 N, off below 10 N
    run = _force_tread_run([points("tread.1.force", (0.0, 0.0), (1.0, 25.0), (2.0, 12.0), (2.5, 9.0),
                                   (3.0, 0.0))], 30.0)
    assert run.summary["active_s"] == near(1.5)


def test_force_tread_contacts_are_debounced_like_switches():
    ch = "tread.1.force"
    run = _force_tread_run([points(ch, (0.0, 0.0), (1.0, 600.0), (1.08, 0.0),     # 80 ms: ignored
                                   (2.0, 600.0), (2.5, 5.0), (2.54, 600.0),        # 40 ms dip: bridged
                                   (3.0, 0.0), (3.5, 0.0))], 70.0)
    assert run.summary["steps"] == 1
    assert run.summary["active_s"] == near(1.0)


def test_force_tread_flight():
    parts = []
    for i, (a, b) in enumerate([(1.0, 1.6), (1.5, 2.1), (2.0, 2.6)], start=1):
        ch = f"tread.{i}.force"
        parts += [hold(ch, 0.0, a, 0.0, 50), hold(ch, a, b, 400.0, 50), hold(ch, b, 3.0, 0.0, 50)]
    run = _force_tread_run(parts, 70.0)
    assert counts(run) == (3, 3, 0, 1, 0)
    assert run.summary["elevation_gain_m"] == near(4 * R)


# =====================================================================
# Grabs
# =====================================================================

TF = {"left": ("touch", "force"), "right": ("touch", "force")}


def test_grab_at_the_sample_where_the_rise_is_reached_and_rearm_below_the_floor():
    # 70 kg: rise 68.65 N. Nobody on the stairs: grabs count anyway.
    run = replay(flight(3, rails=TF), trace(points(
        "rail.left.force",
        (0.0, 2.0), (1.00, 2.0), (1.01, 30.0), (1.02, 60.0),   # +58: not yet
        (1.03, 75.0),                                          # +73: grab at 1.03
        (1.2, 80.0), (1.5, 30.0), (1.6, 110.0),                # never below 8 N: not re-armed
        (2.0, 5.0),                                            # re-armed
        (2.1, 80.0),                                           # +75 from 5 N: grab at 2.1
        (2.5, 0.0))))
    grabs = run.events("grab")
    assert [g["t"] for g in grabs] == [pytest.approx(1.03), pytest.approx(2.1)]
    assert all(g["rail"] == "left" for g in grabs)
    assert run.summary["steps"] == 0


@pytest.mark.parametrize("kg, grabs", [(40.0, 1), (70.0, 0)])
def test_grab_rise_is_the_larger_of_50_n_and_10_percent_body_weight(kg, grabs):
    # a 52 N rise: enough at 40 kg (rise 50 N), not at 70 kg (rise 68.65 N)
    run = replay(flight(3, rails=TF), trace(points("rail.left.force", (0.0, 0.0), (1.0, 0.0), (1.05, 52.0),
                                                   (1.5, 0.0))), weight_kg=kg)
    assert len(run.events("grab")) == grabs


def test_grab_rise_scales_for_a_heavy_athlete():
    # 120 kg: rise 117.68 N
    run = replay(flight(3, rails=TF), trace(points("rail.left.force", (0.0, 0.0), (1.0, 0.0), (1.1, 110.0),
                                                   (1.5, 0.0), (1.6, 120.0), (2.0, 0.0))), weight_kg=120.0)
    assert run.times("grab") == [pytest.approx(1.6)]


def test_two_rails_grabbing_at_once_are_two_events():
    run = replay(flight(3, rails=TF), trace(
        points("rail.left.force", (0.0, 0.0), (1.0, 0.0), (1.05, 90.0), (1.5, 0.0)),
        points("rail.right.force", (0.0, 0.0), (1.0, 0.0), (1.05, 90.0), (1.5, 0.0))))
    grabs = run.events("grab")
    assert sorted(g["rail"] for g in grabs) == ["left", "right"]
    assert [g["t"] for g in grabs] == [pytest.approx(1.05)] * 2


def test_slow_rise_is_not_a_grab():
    # 0 -> 120 N over 1 s at 100 Hz: about 30 N per 250 ms
    run = replay(flight(3, rails=TF), trace(ramp("rail.left.force", 1.0, 2.0, 0.0, 120.0),
                                            points("rail.left.force", (2.5, 0.0))))
    assert run.events("grab") == []


def test_rise_over_more_than_the_window_is_not_a_grab_but_a_held_low_value_counts():
    layout = flight(3, rails=TF)
    # 0 N until 1.2, 40 N until 1.5, then 80 N: the 0 N was last held 300 ms
    # before the 80 N sample -> no grab
    slow = replay(layout, trace(points("rail.left.force", (0.0, 0.0), (1.2, 40.0), (1.5, 80.0), (2.0, 0.0))))
    assert slow.events("grab") == []
    # the same with 80 N at 1.4: the 0 N held until 1.2, within 250 ms -> grab at 1.4
    fast = replay(layout, trace(points("rail.left.force", (0.0, 0.0), (1.2, 40.0), (1.4, 80.0), (2.0, 0.0))))
    assert fast.times("grab") == [pytest.approx(1.4)]
    # a force holds its last value between samples: 0 N sampled at 1.0 and
    # 80 N at 1.3 is a jump at 1.3 -> grab at 1.3
    jump = replay(layout, trace(points("rail.left.force", (0.0, 0.0), (1.0, 0.0), (1.3, 80.0), (2.0, 0.0))))
    assert jump.times("grab") == [pytest.approx(1.3)]


@pytest.mark.parametrize("start, grabs", [(10.0, 0), (8.0, 0), (7.9, 1)])
def test_grab_must_start_below_the_floor(start, grabs):
    run = replay(flight(3, rails=TF), trace(points("rail.left.force", (0.0, start), (1.0, start), (1.05, 95.0),
                                                   (1.5, start))))
    assert len(run.events("grab")) == grabs


def test_grabs_count_on_the_stairs_too():
    run = replay(flight(3, rails=TF), trace(tread(1, 0.5, 2.0), contact("rail.left.touch", 0.5, 2.0),
                                            points("rail.left.force", (0.0, 0.0), (1.0, 2.0), (1.1, 90.0),
                                                   (1.5, 2.0))))
    assert run.times("grab") == [pytest.approx(1.1)]


# spec: "A channel is 0 until its first sample"; a force first sampled at 90 N rose from 0 N.
def test_grab_from_the_implicit_zero_before_a_channels_first_sample():
    run = replay(flight(3, rails=TF), trace(idle("tread.1", 0.0),
                                            points("rail.left.force", (1.0, 90.0), (1.5, 0.0))))
    assert run.times("grab") == [pytest.approx(1.0)]


# =====================================================================
# Stalls
# =====================================================================

def test_stall_three_seconds_after_the_last_step():
    run = replay(flight(3), trace(tread(1, 1.0, 5.0)))
    assert run.times("stall") == [pytest.approx(4.0)]
    assert len(run.summary["events"]) == 1


def test_one_stall_per_stop():
    run = replay(flight(3), trace(tread(1, 1.0, 12.0)))
    assert run.times("stall") == [pytest.approx(4.0)]


def test_a_new_step_ends_the_stop_and_a_later_stop_gives_another_stall():
    # steps at 1.0, 3.5 (before the stall at 4.0) and 7.0; stalls at 6.5 and 10.0
    run = replay(flight(3), trace(tread(1, 1.0, 12.0), tread(2, 3.5, 12.1), tread(3, 7.0, 12.2)))
    assert run.times("stall") == [pytest.approx(6.5), pytest.approx(10.0)]


def test_a_foot_joining_is_not_a_new_step_for_stalls():
    # split tread: the second foot joins at 2.5, the stall is still at 4.0
    run = replay(flight(3, split=True), trace(contact("tread.1.back", 1.0, 5.0), contact("tread.1.front", 2.5, 5.0)))
    assert run.times("stall") == [pytest.approx(4.0)]


def test_no_stall_when_the_treads_empty_first():
    run = replay(flight(3), trace(tread(1, 1.0, 3.5), idle("tread.2", 6.0)))
    assert run.times("stall") == []


def test_stall_any_tread_staying_occupied():
    # the last step was onto tread 2, which empties, but tread 1 stays occupied
    run = replay(flight(3), trace(tread(1, 1.0, 6.0), tread(2, 1.5, 2.0)))
    assert run.times("stall") == [pytest.approx(4.5)]


def test_stall_needing_time_beyond_the_end_is_not_reported():
    run = replay(flight(3), trace(tread(1, 1.0), idle("tread.2", 3.9)))
    assert run.times("stall") == []


def test_stall_on_a_stepper():
    run = replay(stepper(), trace(tread(1, 1.0, 1.5), tread(2, 1.4, 6.0)))
    assert run.times("stall") == [pytest.approx(4.4)]


# =====================================================================
# Suspected falls
# =====================================================================

def test_fall_suspected_when_the_treads_empty_from_a_middle_tread():
    run = replay(flight(3), trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.5), idle("tread.3", 4.0)))
    falls = run.events("fall_suspected")
    assert [f["t"] for f in falls] == [pytest.approx(2.5)]
    assert len(run.summary["events"]) == 1


def test_no_fall_when_somebody_is_back_within_the_wait():
    run = replay(flight(3), trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.5), tread(1, 3.2, 3.8), idle("tread.3", 6.0)))
    assert run.times("fall_suspected") == []
    assert run.summary["steps"] == 3


def test_back_after_the_wait_is_still_a_fall():
    run = replay(flight(3), trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.5), tread(1, 3.7, 4.2)))
    assert run.times("fall_suspected") == [pytest.approx(2.5)]


@pytest.mark.parametrize("parts", [
    [tread(1, 1.0, 2.0)],                                               # last step on tread 1
    [tread(1, 1.0, 1.6), tread(2, 1.5, 2.1), tread(3, 2.0, 2.6)],       # last step on tread N
    [tread(3, 1.0, 2.0)],
])
def test_no_fall_from_tread_1_or_N(parts):
    run = replay(flight(3), trace(*parts, idle("tread.3", 6.0)))
    assert run.times("fall_suspected") == []


def test_fall_needing_time_beyond_the_end_is_not_reported():
    run = replay(flight(3), trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.5), idle("tread.3", 3.0)))
    assert run.times("fall_suspected") == []


def test_fall_when_the_last_step_was_on_a_middle_tread_but_another_tread_empties_last():
    # spec, literally: every tread empties (at 3.0) while the last step
    # landed on a middle tread (tread 2 at 2.0)
    run = replay(flight(3), trace(tread(1, 1.0, 3.0), tread(2, 2.0, 2.5), idle("tread.3", 5.0)))
    assert run.times("fall_suspected") == [pytest.approx(3.0)]


def test_no_fall_on_a_two_tread_flight_or_a_stepper():
    for layout in (flight(2), stepper()):
        run = replay(layout, trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.5), tread(1, 2.4, 2.6), idle("tread.2", 6.0)))
        assert run.times("fall_suspected") == []


# =====================================================================
# Streaming
# =====================================================================

def test_step_is_emitted_as_soon_as_the_contact_is_confirmed():
    seen: list[dict] = []
    det = Detector(flight(3), DetectionSettings(), weight_kg=70.0, on_event=seen.append)
    det.feed(1.0, "tread.1", 1)
    det.advance(1.05)
    assert [e for e in seen if e["type"] == "step"] == []     # not confirmed yet
    det.advance(1.0 + 0.101)
    steps = [e for e in seen if e["type"] == "step"]
    assert len(steps) == 1
    assert steps[0]["t"] == pytest.approx(1.0, abs=1e-9)
    assert det.summary()["steps"] == 1
    det.finish()
    assert len([e for e in seen if e["type"] == "step"]) == 1


def test_bounced_contact_is_confirmed_at_most_min_plus_bridge_after_its_first_edge():
    # on 1.000-1.098 (not yet 100 ms), 57 ms gap, on again at 1.155: the
    # merged contact has lasted 155 ms
    seen: list[dict] = []
    det = Detector(flight(3), DetectionSettings(), weight_kg=70.0, on_event=seen.append)
    det.feed(1.0, "tread.1", 1)
    det.feed(1.098, "tread.1", 0)
    det.feed(1.155, "tread.1", 1)
    det.advance(1.0 + 0.100 + 0.060)
    steps = [e for e in seen if e["type"] == "step"]
    assert len(steps) == 1 and steps[0]["t"] == pytest.approx(1.0, abs=1e-9)


def test_short_contact_is_never_emitted():
    seen: list[dict] = []
    det = Detector(flight(3), DetectionSettings(), weight_kg=70.0, on_event=seen.append)
    det.feed(1.0, "tread.1", 1)
    det.feed(1.09, "tread.1", 0)
    det.advance(1.5)
    det.feed(2.0, "tread.2", 0)
    det.finish()
    assert [e for e in seen if e["type"] == "step"] == []


def test_bounce_on_a_switched_stepper_pedal_is_one_step_live():
    seen: list[dict] = []
    det = Detector(stepper(), DetectionSettings(), weight_kg=70.0, on_event=seen.append)
    for t, ch, v in bounce("tread.1", 1.0, 1.6, [(1.01, 0.005), (1.02, 0.01), (1.59, 0.005)]):
        det.advance(t)
        det.feed(t, ch, v)
    det.advance(1.2)
    assert len([e for e in seen if e["type"] == "step"]) == 1
    det.advance(2.0)
    det.finish()
    assert det.summary()["steps"] == 1


def test_stall_is_emitted_live_once_its_time_has_passed():
    seen: list[dict] = []
    det = Detector(flight(3), DetectionSettings(), weight_kg=70.0, on_event=seen.append)
    det.feed(1.0, "tread.1", 1)
    det.advance(3.9)
    assert [e for e in seen if e["type"] == "stall"] == []
    det.advance(4.01)
    stalls = [e for e in seen if e["type"] == "stall"]
    assert len(stalls) == 1 and stalls[0]["t"] == pytest.approx(4.0)


def _rich_sequence():
    """A bit of everything on a split flight with a touch+force and a force-only rail."""
    layout = flight(3, split=True, rails={"left": ("touch", "force"), "right": ("force",)})
    samples = trace(
        points("rail.left.force", (0.0, 0.0)), points("rail.right.force", (0.0, 0.0)),
        # a bounced step up, back first
        [(1.0, "tread.1.back", 1), (1.01, "tread.1.back", 0), (1.03, "tread.1.back", 1),
         (1.2, "tread.1.front", 1), (1.6, "tread.1.front", 0), (1.62, "tread.1.back", 0)],
        split_step(2, 1.5, 2.1, "back"),
        split_step(3, 2.0, 2.6, "back"),            # ascent at 2.6
        split_step(3, 4.0, 4.6, "front"),
        split_step(2, 4.5, 9.0, "front"),           # stall at 7.5, fall at 9.0
        split_step(1, 10.5, 10.55, "back"),         # too short
        split_step(1, 12.0, 12.4, "front", lag=0.005),
        contact("rail.left.touch", 0.9, 2.3),
        bounce("rail.left.touch", 4.1, 8.0, [(5.0, 0.03)]),
        hold("rail.left.force", 0.9, 2.3, 0.6, 50), hold("rail.left.force", 2.3, 4.1, 0.0, 50),
        ramp("rail.left.force", 4.1, 4.3, 0.0, 100.0, 50), hold("rail.left.force", 4.32, 6.0, 1.5, 50),
        hold("rail.left.force", 6.0, 8.0, 0.9, 50), hold("rail.left.force", 8.0, 13.0, 0.0, 50),
        hold("rail.right.force", 1.0, 2.5, 0.4, 20), hold("rail.right.force", 2.5, 5.0, 0.05, 20),
        points("rail.right.force", (5.0, 3.0), (5.04, 95.0), (5.5, 2.0), (5.52, 0.1), (13.0, 0.0)),
    )
    return layout, samples


def test_live_and_replay_give_identical_summaries():
    layout, samples = _rich_sequence()
    one_shot = replay(layout, samples)
    streamed = live(layout, samples, tick=0.013)
    assert streamed.summary == one_shot.summary
    s = one_shot.summary
    assert s["steps"] == 6 and s["ascents"] == 1
    assert [e["type"] for e in s["events"]] == ["grab", "grab", "stall", "fall_suspected"]

    def steps(run):
        return [(e["t"], e["tread"], e["direction"], e["facing"]) for e in run.emitted_of("step")]
    assert steps(streamed) == steps(one_shot)


def test_live_summary_mid_stream_matches_the_replay_of_the_same_prefix():
    layout, samples = _rich_sequence()
    prefix = [s for s in samples if s[0] <= 3.5]
    one_shot = replay(layout, prefix)
    streamed = live(layout, prefix, tick=0.004)
    assert streamed.summary == one_shot.summary


# =====================================================================
# Every number in the defaults table is a setting
# =====================================================================

def test_setting_min_contact():
    samples = trace(tread(1, 1.0, 1.15), idle("tread.2", 2.0))
    assert replay(flight(3), samples).summary["steps"] == 1
    assert replay(flight(3), samples, settings(min_contact_s=0.2)).summary["steps"] == 0


def test_setting_bridge():
    samples = trace(bounce("tread.1", 1.0, 2.0, [(1.5, 0.08)]))
    assert replay(flight(3), samples).summary["steps"] == 2
    assert replay(flight(3), samples, settings(bridge_s=0.1)).summary["steps"] == 1


def test_setting_stall():
    samples = trace(tread(1, 1.0, 2.5))
    assert replay(flight(3), samples).times("stall") == []
    assert replay(flight(3), samples, settings(stall_s=1.0)).times("stall") == [pytest.approx(2.0)]


def test_setting_fall_wait():
    back_after_1_5 = trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.5), tread(1, 4.0, 4.5), idle("tread.3", 6.0))
    assert replay(flight(3), back_after_1_5).times("fall_suspected") == [pytest.approx(2.5)]
    assert replay(flight(3), back_after_1_5, settings(fall_wait_s=2.0)).times("fall_suspected") == []
    back_after_0_7 = trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.5), tread(1, 3.2, 3.8), idle("tread.3", 6.0))
    assert replay(flight(3), back_after_0_7).times("fall_suspected") == []
    assert replay(flight(3), back_after_0_7, settings(fall_wait_s=0.5)).times("fall_suspected") == [
        pytest.approx(2.5)]


def _rail_run(force_points, st=None):
    layout = flight(3, rails={"left": ("touch", "force")})
    return replay(layout, trace(tread(1, 0.0, 2.0), contact("rail.left.touch", 0.0, 2.0),
                                points("rail.left.force", *force_points)), st)


def test_setting_firm_on():
    fp = [(0.0, 1.5), (1.0, 0.0)]
    assert _rail_run(fp).summary["rails"]["left"]["firm_s"] == near(1.0)
    assert _rail_run(fp, settings(firm_on_n=2.0)).summary["rails"]["left"]["firm_s"] == near(0.0)


def test_setting_firm_off():
    fp = [(0.0, 2.0), (1.0, 0.7)]
    assert _rail_run(fp).summary["rails"]["left"]["firm_s"] == near(1.0)
    assert _rail_run(fp, settings(firm_off_n=0.5)).summary["rails"]["left"]["firm_s"] == near(2.0)


def test_setting_rail_contact_thresholds():
    layout = flight(3, rails={"left": ("force",)})
    samples = trace(tread(1, 0.0, 3.0), points("rail.left.force", (0.0, 0.0), (1.0, 0.3), (2.0, 0.12), (2.5, 0.0)))
    assert replay(layout, samples).summary["rails"]["left"]["contact_s"] == near(1.0)
    assert replay(layout, samples, settings(rail_contact_on_n=0.4)).summary["rails"]["left"]["contact_s"] == near(0.0)
    assert replay(layout, samples, settings(rail_contact_off_n=0.1)).summary["rails"]["left"]["contact_s"] == near(1.5)


def test_setting_rail_min_contact():
    layout = flight(3, rails={"left": ("touch",)})
    samples = trace(tread(1, 0.0, 2.0), contact("rail.left.touch", 1.0, 1.04))
    assert replay(layout, samples).summary["rails"]["left"]["contact_s"] == near(0.0)
    assert replay(layout, samples, settings(rail_min_contact_s=0.03)).summary["rails"]["left"]["contact_s"] == near(0.04)


def test_setting_grab_rise_window_floor():
    layout = flight(3, rails=TF)
    rise_60 = trace(points("rail.left.force", (0.0, 0.0), (1.0, 0.0), (1.05, 60.0), (1.5, 0.0)))
    assert replay(layout, rise_60).events("grab") == []                  # 68.65 N needed at 70 kg
    assert len(replay(layout, rise_60, settings(grab_rise_min_n=55.0, grab_rise_bw=0.05)).events("grab")) == 1
    assert replay(layout, rise_60, settings(grab_rise_bw=0.05)).events("grab") != []   # max(50, 34.3)
    slow = trace(points("rail.left.force", (0.0, 0.0), (1.0, 0.0), (1.2, 40.0), (1.5, 90.0), (2.0, 0.0)))
    assert replay(layout, slow).events("grab") == []
    assert replay(layout, slow, settings(grab_window_s=0.4)).times("grab") == [pytest.approx(1.5)]
    from_9 = trace(points("rail.left.force", (0.0, 9.0), (1.0, 9.0), (1.05, 90.0), (1.5, 0.0)))
    assert replay(layout, from_9).events("grab") == []
    assert replay(layout, from_9, settings(grab_floor_n=10.0)).times("grab") == [pytest.approx(1.05)]


def test_setting_facing_simultaneity():
    samples = trace(split_step(1, 1.0, 2.0, "back", lag=0.010))
    assert _facing(replay(flight(3, split=True), samples)) == (0, 0, 1)
    assert _facing(replay(flight(3, split=True), samples, settings(facing_simultaneity_s=0.005))) == (1, 0, 0)


def test_setting_force_tread_thresholds():
    ch = "tread.1.force"
    samples = trace(points(ch, (0.0, 0.0), (1.0, 30.0), (2.0, 12.0), (2.5, 0.0), (3.0, 0.0)))
    layout = flight(3, sensor="force")
    # defaults at 70 kg: on at 34.32 N -> 30 N is no contact
    assert replay(layout, samples).summary["steps"] == 0
    # on at max(20, 2 % BW = 13.7) = 20 N, off below 10 N: contact 1.0-2.5
    st = settings(tread_force_on_bw=0.02)
    assert replay(layout, samples, st).summary["active_s"] == near(1.5)
    # on at max(25, 13.7) = 25 N, off below 12.5 N: contact 1.0-2.0
    st = settings(tread_force_on_bw=0.02, tread_force_on_min_n=25.0)
    assert replay(layout, samples, st).summary["active_s"] == near(1.0)
    # off ratio 0.3: off below 7.5 N -> contact 1.0-2.5
    st = settings(tread_force_on_bw=0.02, tread_force_on_min_n=25.0, tread_force_off_ratio=0.3)
    assert replay(layout, samples, st).summary["active_s"] == near(1.5)


# =====================================================================
# Thresholds at exactly their value (values exact in binary floating point)
# =====================================================================

def test_force_tread_on_at_reaching_the_threshold_off_only_below_it():
    # 30 kg: on at exactly 20 N ("reaches"), off below exactly 10 N ("falls below")
    run = _force_tread_run([points("tread.1.force", (0.0, 0.0), (1.0, 20.0), (2.0, 10.0), (2.5, 9.99),
                                   (3.0, 0.0))], 30.0)
    assert run.summary["steps"] == 1
    assert run.summary["active_s"] == near(1.5)


def test_firm_is_above_the_firm_threshold_light_only_below_the_light_one():
    # 1.0 N is not above 1.0: light; 1.5 N firm; 0.8 N is not below 0.8: still firm
    fp = [(0.0, 1.0), (0.5, 1.5), (1.0, 0.8), (1.5, 0.0)]
    left = _rail_run(fp).summary["rails"]["left"]
    assert left["firm_s"] == near(1.0)
    assert left["light_s"] == near(1.0)


def test_grab_rise_of_exactly_the_grab_rise_counts():
    # 40 kg: grab rise max(50, 39.2) = 50 N; 0 -> 50 N is "at least" 50 N
    run = replay(flight(3, rails=TF), trace(points("rail.left.force", (0.0, 0.0), (1.0, 0.0), (1.125, 50.0),
                                                   (1.5, 0.0))), weight_kg=40.0)
    assert run.times("grab") == [pytest.approx(1.125)]


def test_grab_does_not_rearm_at_exactly_the_floor():
    run = replay(flight(3, rails=TF), trace(points("rail.left.force", (0.0, 0.0), (1.0, 90.0), (1.5, 8.0),
                                                   (1.6, 90.0), (2.0, 7.0), (2.1, 90.0))))
    assert run.times("grab") == [pytest.approx(1.0), pytest.approx(2.1)]


def test_contact_of_exactly_the_minimum_counts_and_gap_of_exactly_the_bridge_splits():
    st = settings(min_contact_s=0.125, bridge_s=0.0625)
    exact_min = replay(flight(3), trace(tread(1, 1.0, 1.125), idle("tread.2", 2.0)), st)
    assert exact_min.summary["steps"] == 1        # "at least the minimum time"
    exact_gap = replay(flight(3), trace(bounce("tread.1", 1.0, 2.0, [(1.5, 0.0625)])), st)
    assert exact_gap.summary["steps"] == 2        # a gap not shorter than the bridging time


# =====================================================================
# The end of the trace and contacts still being decided
# =====================================================================

def test_stall_is_reported_when_an_open_contact_at_the_end_is_too_short():
    # tread 1 from 1.0 to the end; tread 2 closes at 3.95 and the trace ends
    # at 4.02: that open contact lasts 70 ms, no step -> stall at 4.0
    run = replay(flight(3), trace(tread(1, 1.0), tread(2, 3.95), idle("tread.3", 4.02)))
    assert run.summary["steps"] == 1
    assert run.times("stall") == [pytest.approx(4.0)]


def test_no_stall_when_an_open_contact_at_the_end_is_a_step_before_it():
    run = replay(flight(3), trace(tread(1, 1.0), tread(2, 3.95), idle("tread.3", 4.2)))
    assert run.summary["steps"] == 2
    assert run.times("stall") == []


@pytest.mark.parametrize("back_at, end, falls", [
    (3.45, 3.6, []),          # back at 3.45, open 150 ms at the end: a step within the wait
    (3.55, 3.6, [2.5]),       # open 50 ms at the end: no step, and the wait is over by 3.5
])
def test_fall_with_a_contact_open_at_the_end(back_at, end, falls):
    run = replay(flight(3), trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.5), tread(1, back_at), idle("tread.3", end)))
    assert run.times("fall_suspected") == [pytest.approx(t) for t in falls]


def test_live_fall_check_waits_for_a_step_still_being_confirmed():
    # back on tread 1 at 3.45 (within the wait, which runs out at 3.5); the
    # step is only confirmed at 3.55
    samples = trace(tread(1, 1.0, 1.6), tread(2, 1.5, 2.5), tread(1, 3.45, 4.0), idle("tread.3", 6.0))
    for run in (live(flight(3), samples, tick=0.005), replay(flight(3), samples)):
        assert run.times("fall_suspected") == []
        assert run.emitted_of("fall_suspected") == []


def test_rail_contact_open_at_the_end_and_active_time_ending_first():
    layout = flight(3, rails={"left": ("touch", "force")})
    run = replay(layout, trace(tread(1, 0.0, 2.0), contact("rail.left.touch", 1.0),
                               points("rail.left.force", (0.0, 0.0), (0.5, 4.0), (2.5, 9.0), (3.0, 0.0))))
    left = run.summary["rails"]["left"]
    assert left["contact_s"] == near(1.0)          # contact 1.0-3.0, active 0-2
    assert left["impulse_ns"] == pytest.approx(4.0, abs=1e-3)
    assert left["peak_force_n"] == pytest.approx(4.0, abs=1e-3)
    assert run.summary["duration_s"] == near(3.0)


# =====================================================================
# A force sample at the very instant the active time in contact ends
# =====================================================================
# Tread 1 and the left touch are on from 0.0; the force is 1.0 N from 0.0
# and is sampled at 50 N at 2.0, the instant the contact (or the active time,
# or the trace) ends. The 50 N holds from 2.0 on, outside the active time in
# contact, so the peak over the active time in contact is 1.0 N; and in any
# case the summary cannot depend on advance() calls or on a sample that
# changes nothing.

_PEAK_BASE = [(0.0, "tread.1", 1), (0.0, "rail.left.touch", 1), (0.0, "rail.left.force", 1.0)]
_PEAK_CASES = {
    "trace ends": _PEAK_BASE + [(2.0, "rail.left.force", 50.0)],
    "tread empties": _PEAK_BASE + [(2.0, "rail.left.force", 50.0), (2.0, "tread.1", 0), (3.0, "tread.2", 0)],
    "touch released": _PEAK_BASE + [(2.0, "rail.left.force", 50.0), (2.0, "rail.left.touch", 0), (3.0, "tread.1", 0)],
}


def _peak(case: str, how: str) -> float:
    layout = flight(3, rails={"left": ("touch", "force")})
    samples = list(_PEAK_CASES[case])
    if how == "replay":
        run = replay(layout, samples)
    elif how == "replay with a no-op sample":
        run = replay(layout, trace(samples, idle("tread.2", 1.5)))   # tread 2 is already 0
    else:
        run = live(layout, samples, tick=0.5)                         # advance(0.5), (1.0), (1.5)
    return run.summary["rails"]["left"]["peak_force_n"]


@pytest.mark.parametrize("case, how", [
    ("trace ends", "replay"),
    ("trace ends", "replay with a no-op sample"),
    ("trace ends", "live"),
    ("tread empties", "replay"),
    ("tread empties", "replay with a no-op sample"),
    ("tread empties", "live"),
    ("touch released", "replay"),
    ("touch released", "replay with a no-op sample"),
    ("touch released", "live"),
])
def test_peak_ignores_a_force_sampled_the_instant_contact_ends(case, how):
    # at equal times a contact's end is taken before the force: the force holds from its
    # sample on, the contact ends at its release (half-open), however the samples are fed
    assert _peak(case, how) == pytest.approx(1.0)


def test_force_sample_just_before_the_contact_ends_is_in_the_peak():
    # the same 50 N 10 ms before the release counts, whichever way it is fed
    layout = flight(3, rails={"left": ("touch", "force")})
    samples = _PEAK_BASE + [(1.99, "rail.left.force", 50.0), (2.0, "tread.1", 0), (3.0, "tread.2", 0)]
    for run in (replay(layout, samples), live(layout, samples, tick=0.5),
                replay(layout, trace(samples, idle("tread.2", 1.5)))):
        left = run.summary["rails"]["left"]
        assert left["peak_force_n"] == pytest.approx(50.0)
        assert left["impulse_ns"] == pytest.approx(1.0 * 1.99 + 50.0 * 0.01, abs=1e-3)


def test_summary_events_are_in_time_order():
    # the grab at 4.02 is known at once, the stall at 4.0 only once time
    # passes 4.0; the fall at 6.5 is known at 7.5, after the grab at 7.0
    layout = flight(3, rails=TF)
    run = replay(layout, trace(
        tread(1, 1.0, 5.6), tread(2, 5.5, 6.5), idle("tread.3", 8.0),
        points("rail.left.force", (0.0, 0.0), (4.02, 90.0), (4.5, 0.0), (7.0, 90.0), (7.5, 0.0))))
    assert [(e["type"], e["t"]) for e in run.summary["events"]] == [
        ("stall", pytest.approx(4.0)), ("grab", pytest.approx(4.02)),
        ("fall_suspected", pytest.approx(6.5)), ("grab", pytest.approx(7.0))]
