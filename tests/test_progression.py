"""The progression engine (rig/progression.py): one case per rule of RULES,
the boundaries, safety before advancing, and a walk up the whole ladder."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rig.progression import (
    LEVELS,
    RULES,
    ProgressionSettings,
    SessionOutcome,
    first_level,
    level,
    outcome_from_summary,
    recommend,
)

K = ProgressionSettings().sessions_to_advance


def good(key: str, **changes) -> SessionOutcome:
    """A session that meets the target of level ``key``; ``changes`` spoil it."""
    lv = level(key)
    s = SessionOutcome(level=key, flights=lv.planned_flights, active_s=120.0, cadence_spm=70.0,
                       contact_fraction=0.04, light_fraction=0.04, firm_fraction=0.0,
                       added_load_kg=lv.added_load_kg)
    return replace(s, **changes)


# rule key -> (history, current level, action, next level, words the reason must contain)
CASES = {
    "start": ([], "grip-firm", "stay", "grip-firm",
              ["Start with a firm grip on the rails", "2 flights", "40 to 90 steps a minute",
               "3 sessions in a row"]),
    "fall": ([good("grip-hover"), good("grip-hover", falls=1)], "grip-hover", "step_back",
             "grip-light", ["1 suspected fall", "go back to a light touch on the rails"]),
    "symptoms-repeat": ([good("grip-light", pain=5), good("grip-light", dizziness=True)],
                        "grip-light", "step_back", "grip-firm",
                        ["Pain above 3", "2 of the last 2 sessions", "dizziness",
                         "go back to a firm grip on the rails"]),
    "pain": ([good("grip-light"), good("grip-light", pain=4)], "grip-light", "rest",
             "grip-light", ["Pain 4 out of 10", "limit of 3", "stop on pain",
                            "repeat a light touch on the rails"]),
    "dizziness": ([good("volume-4", dizziness=True)], "volume-4", "rest", "volume-4",
                  ["Dizziness", "rest", "four flights with hands hovering"]),
    "grabs": ([good("grip-hover", grabs=1), good("grip-hover", grabs=1)], "grip-hover",
              "step_back", "grip-light",
              ["2 grabs in the last 2 sessions", "go back to a light touch on the rails"]),
    "mastered": ([good("load-4kg")] * K, "load-4kg", "stay", "load-4kg",
                 ["3 sessions in a row", "4 kg", "8, 8 and 8 flights", "96 %, 96 % and 96 %",
                  "top of the ladder"]),
    "advance": ([good("grip-light", firm_fraction=f) for f in (0.04, 0.06, 0.03)], "grip-light",
                "advance", "grip-hover",
                ["3 sessions in a row", "a light touch or less for 96 %, 94 % and 97 %",
                 "no grab", "move on to hands hovering above the rails"]),
    "whole-foot-first": ([good("grip-light", whole_foot_fraction=f) for f in (0.7, 0.75, 0.8)], "grip-light",
                         "stay", "grip-light",
                         ["3 sessions in a row met the target of a light touch on the rails",
                          "whole foot was on the step for only 75 % of the steps",
                          "entire foot on each step", "80 % or more"]),
    "steady-first": ([good("volume-8", step_time_cv=c) for c in (0.12, 0.14, 0.13)], "volume-8", "stay",
                     "volume-8", ["3 sessions in a row met the target of eight flights",
                                  "varied by 13 %", "even pace", "10 % or less"]),
    "keep-going": ([good("grip-light"), good("grip-light"), good("grip-light", firm_fraction=0.18)],
                   "grip-light", "stay", "grip-light",
                   ["Stay with a light touch on the rails", "a firm grip for 18 % of the time",
                    "aim for 10 % or less", "2 of the last 3 sessions", "3 in a row"]),
}


def check(rec, rule, action, next_level, words):
    assert (rec.rule, rec.action, rec.level) == (rule, action, next_level), rec.reason
    for w in words:
        assert w in rec.reason
    assert rec.drill.planned_flights == level(next_level).planned_flights
    for lv in LEVELS:   # plain words: titles, never keys
        assert lv.key not in rec.reason


@pytest.mark.parametrize("rule", list(CASES))
def test_each_rule_fires_with_its_numbers(rule):
    history, current, action, next_level, words = CASES[rule]
    rec = recommend(history, current)
    check(rec, rule, action, next_level, words)
    assert rec.previous_level == current


def test_rule_keys_are_unique_and_each_has_a_case():
    keys = [r.key for r in RULES]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(CASES)
    assert [r.key for r in RULES][-1] == "keep-going"   # the fallback is last


def test_ladder_keys_unique_and_first_level():
    assert len({lv.key for lv in LEVELS}) == len(LEVELS)
    assert first_level() is LEVELS[0] and first_level().grip == "firm"
    with pytest.raises(ValueError, match="unknown progression level"):
        level("grip-none")


# --- boundaries --------------------------------------------------------------

def test_exactly_k_sessions_advance_and_one_fewer_stays():
    assert recommend([good("grip-firm")] * (K - 1), "grip-firm").action == "stay"
    rec = recommend([good("grip-firm")] * K, "grip-firm")
    assert (rec.action, rec.level) == ("advance", "grip-light")
    rec = recommend([good("grip-firm")], "grip-firm", ProgressionSettings(sessions_to_advance=1))
    assert rec.action == "advance" and rec.reason.startswith("1 session in a row")


def test_target_share_exactly_090_meets_the_target():
    assert recommend([good("grip-light", firm_fraction=0.10)] * K, "grip-light").action == "advance"
    rec = recommend([good("grip-light", firm_fraction=0.1001)] * K, "grip-light")
    assert rec.action == "stay" and "10.01 % of the time" in rec.reason
    assert recommend([good("grip-hover", contact_fraction=0.10)] * K, "grip-hover").action == "advance"


def test_pain_exactly_max_does_not_stop_training():
    assert recommend([good("grip-firm", pain=3)] * K, "grip-firm").action == "advance"
    assert recommend([good("grip-firm", pain=3)] * (K - 1) + [good("grip-firm", pain=4)],
                     "grip-firm").rule == "pain"
    assert recommend([good("grip-firm", pain=None, dizziness=None)] * K, "grip-firm").action == "advance"


def test_cadence_band_edges_and_outside():
    assert recommend([good("grip-firm", cadence_spm=40.0), good("grip-firm", cadence_spm=90.0),
                      good("grip-firm")], "grip-firm").action == "advance"
    rec = recommend([good("grip-firm", cadence_spm=90.4)], "grip-firm")
    assert rec.rule == "keep-going" and "90.4 steps a minute (keep between 40 and 90)" in rec.reason
    # the speed level asks for 60 to 90: 50 is too slow there
    rec = recommend([good("speed", cadence_spm=50.0)], "speed")
    assert rec.action == "stay" and "50 steps a minute (keep between 60 and 90)" in rec.reason


def test_missing_flights_load_and_sensors_are_named():
    rec = recommend([good("load-2kg", flights=6, added_load_kg=0.0)], "load-2kg")
    assert "6 of 8 flights" in rec.reason and "a 0 kg vest (2 kg planned)" in rec.reason
    rec = recommend([good("grip-light", firm_fraction=None, contact_fraction=None)], "grip-light")
    assert rec.action == "stay" and "rail sensors missing" in rec.reason
    # without force sensors, contact bounds the firm share: little contact meets light touch
    no_force = good("grip-light", firm_fraction=None, light_fraction=None, contact_fraction=0.05)
    assert recommend([no_force] * K, "grip-light").action == "advance"


# --- safety ------------------------------------------------------------------

@pytest.mark.parametrize("spoil, rule, action", [
    ({"falls": 1}, "fall", "step_back"), ({"pain": 6}, "pain", "rest"),
    ({"dizziness": True}, "dizziness", "rest"), ({"grabs": 2}, "grabs", "step_back"),
])
def test_safety_rules_win_over_advancing(spoil, rule, action):
    history = [good("grip-hover")] * K + [good("grip-hover", **spoil)]
    rec = recommend(history, "grip-hover")
    assert (rec.rule, rec.action) == (rule, action)
    order = [r.key for r in RULES]
    assert order.index(rule) < order.index("advance")


def test_step_back_from_the_first_level_stays_there():
    rec = recommend([good("grip-firm", falls=1)], "grip-firm")
    assert (rec.action, rec.level, rec.rule) == ("stay", "grip-firm", "fall")
    assert "stay with a firm grip on the rails, the first level" in rec.reason
    rec = recommend([good("grip-firm", grabs=2)], "grip-firm")
    assert (rec.action, rec.level, rec.rule) == ("stay", "grip-firm", "grabs")
    rec = recommend([good("grip-firm", pain=5), good("grip-firm", pain=5)], "grip-firm")
    assert (rec.action, rec.level, rec.rule) == ("rest", "grip-firm", "symptoms-repeat")


def test_one_grab_holds_back_but_does_not_step_back():
    rec = recommend([good("grip-light")] * 2 + [good("grip-light", grabs=1)], "grip-light")
    assert (rec.rule, rec.action) == ("keep-going", "stay") and "1 grab" in rec.reason


def test_only_the_trailing_run_at_the_current_level_counts():
    # a step back after a fall: the old good sessions at the lower level do not count again
    history = [good("grip-light")] * K + [good("grip-hover", falls=1)]
    assert recommend(history, "grip-hover").level == "grip-light"
    rec = recommend(history, "grip-light")
    assert (rec.rule, rec.action, rec.level) == ("start", "stay", "grip-light")
    # sessions at another level in between break the run
    mixed = [good("grip-light")] * 2 + [good("grip-firm")] + [good("grip-light")]
    assert recommend(mixed, "grip-light").action == "stay"


def test_outcome_from_summary():
    summary = {"ascents": 3, "descents": 2, "active_s": 95.5, "cadence_spm": 61.2,
               "reliance": {"contact_fraction": 0.2, "firm_fraction": 0.05, "light_fraction": 0.15},
               "events": [{"type": "grab", "t": 1.0}, {"type": "stall", "t": 2.0},
                          {"type": "fall_suspected", "t": 3.0}, {"type": "grab", "t": 4.0}]}
    s = outcome_from_summary(summary, "grip-light", pain=2, added_load_kg=0.0)
    assert (s.flights, s.grabs, s.stalls, s.falls, s.pain) == (5, 2, 1, 1, 2)
    assert (s.cadence_spm, s.firm_fraction, s.contact_fraction) == (61.2, 0.05, 0.2)


# --- the whole ladder ----------------------------------------------------------

def test_perfect_athlete_walks_the_ladder_and_load_comes_last():
    history, current, visited = [], first_level().key, [first_level().key]
    for _ in range(len(LEVELS) + 1):
        rec = recommend(history, current)
        assert rec.action == "stay" and rec.rule == "start"
        history += [good(current)] * K
        rec = recommend(history, current)
        if rec.rule == "mastered":
            break
        assert rec.action == "advance"
        current = rec.level
        visited.append(current)
    assert visited == [lv.key for lv in LEVELS]
    hover = visited.index("grip-hover")
    loaded = [i for i, key in enumerate(visited) if level(key).added_load_kg > 0]
    assert loaded and min(loaded) > hover
    later = [i for i, key in enumerate(visited) if key.startswith(("volume", "speed"))]
    assert later and hover < min(later) and max(later) < min(loaded)
    for key in visited[hover:]:
        assert level(key).grip == "hover"   # volume, speed and load keep hands hovering


def test_grabs_in_one_session_are_said_in_the_singular():
    rec = recommend([good("grip-hover", grabs=3)], "grip-hover")
    assert rec.rule == "grabs"
    assert "3 grabs in the last session at" in rec.reason and "1 sessions" not in rec.reason


# --- technique before less support and before speed; asymmetry for the coach -------------------

def test_whole_foot_holds_back_less_support_only():
    feet = [good("grip-firm", whole_foot_fraction=0.6)] * K
    assert recommend(feet, "grip-firm").rule == "whole-foot-first"        # firm -> light: less support
    assert recommend([good("grip-hover", whole_foot_fraction=0.6)] * K, "grip-hover").action == "advance"  # more flights
    at_floor = [good("grip-firm", whole_foot_fraction=0.80)] * K
    assert recommend(at_floor, "grip-firm").action == "advance"           # 80 % is enough
    unknown = [good("grip-firm")] * K                                     # no split treads: does not block
    assert recommend(unknown, "grip-firm").action == "advance"


def test_unsteady_steps_hold_back_more_speed_only():
    shaky = [good("volume-8", step_time_cv=0.2)] * K
    assert recommend(shaky, "volume-8").rule == "steady-first"            # volume-8 -> speed
    assert recommend([good("grip-hover", step_time_cv=0.2)] * K, "grip-hover").action == "advance"
    assert recommend([good("volume-8", step_time_cv=0.10)] * K, "volume-8").action == "advance"


def test_safety_still_comes_before_technique():
    history = [good("grip-firm", whole_foot_fraction=0.5)] * (K - 1) + [good("grip-firm", falls=1)]
    assert recommend(history, "grip-firm").rule == "fall"


def test_a_leg_asymmetry_is_told_to_the_coach_and_changes_nothing():
    even = [good("grip-light", dwell_asymmetry=0.05)] * K
    uneven = [good("grip-light", dwell_asymmetry=0.05)] * (K - 1) + [good("grip-light", dwell_asymmetry=0.25)]
    calm, flagged = recommend(even, "grip-light"), recommend(uneven, "grip-light")
    assert calm.flags == () and len(flagged.flags) == 1
    assert "25 %" in flagged.flags[0] and "15 %" in flagged.flags[0] and "coach" in flagged.flags[0]
    assert (flagged.action, flagged.level, flagged.reason) == (calm.action, calm.level, calm.reason)


def test_the_gait_figures_come_from_the_summary():
    summary = {"steps": 10, "ascents": 1, "descents": 1, "active_s": 20.0, "cadence_spm": 60.0,
               "reliance": {"contact_fraction": 0.1, "light_fraction": 0.1, "firm_fraction": 0.0}, "events": [],
               "gait": {"whole_foot_fraction": 0.9, "step_time_cv": 0.05, "dwell_asymmetry": 0.02}}
    s = outcome_from_summary(summary, "grip-light")
    assert (s.whole_foot_fraction, s.step_time_cv, s.dwell_asymmetry) == (0.9, 0.05, 0.02)
    del summary["gait"]
    s = outcome_from_summary(summary, "grip-light")
    assert (s.whole_foot_fraction, s.step_time_cv, s.dwell_asymmetry) == (None, None, None)

