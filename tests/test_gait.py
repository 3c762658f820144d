"""The gait figures (docs/trace-format.md, "Gait figures") on walks whose figures are known by hand."""

from __future__ import annotations

import json
from statistics import median, pstdev

import pytest

from rig.core import Detector
from rig.layout import RigLayout
from rig.replay import replay
from rig.trace import TraceError

G = 9.80665


def run(layout: RigLayout, contacts, *, weight_kg: float = 70.0, added_load_kg: float = 0.0,
        halves: dict | None = None) -> dict:
    """Feed contacts ``(tread, on, off)`` (both halves of a split tread together unless ``halves``
    gives ``{contact index: "front" | "back"}``) and return the summary's ``gait``."""
    samples = []
    for k, (tread, on, off) in enumerate(contacts):
        channels = layout.tread_channels(tread)
        if halves and k in halves:
            channels = (f"tread.{tread}.{halves[k]}",)
        samples += [(on, ch, 1) for ch in channels] + [(off, ch, 0) for ch in channels]
    det = Detector(layout, weight_kg=weight_kg, added_load_kg=added_load_kg)
    for t, ch, v in sorted(samples):
        det.feed(t, ch, v)
    det.finish()
    return det.summary()


def up_flight(n: int, t0: float, step_s: float, stance_s: float):
    """Step over step up treads 1..n, each foot landing ``step_s`` after the last."""
    return [(i, t0 + (i - 1) * step_s, t0 + (i - 1) * step_s + stance_s) for i in range(1, n + 1)]


def test_an_up_flight_has_its_time_power_step_times_dwell_and_double_support():
    layout = RigLayout(treads=4, riser_m=0.17)
    contacts = up_flight(4, 1.0, 0.5, 0.8)
    summary = run(layout, contacts, weight_kg=70.0, added_load_kg=10.0)
    gait = summary["gait"]
    end = contacts[-1][2]                      # counted when tread 4 (the last) empties
    assert gait["flights"] == [{"dir": "up", "t": 1.0, "duration_s": pytest.approx(end - 1.0), "steps": 4,
                                "power_w": pytest.approx(80.0 * G * 5 * 0.17 / (end - 1.0), abs=1e-3)}]
    assert gait["step_time_s"] == pytest.approx(0.5)
    assert gait["step_time_cv"] == pytest.approx(0.0, abs=1e-9)
    assert gait["dwell_s"] == pytest.approx(0.8)
    assert gait["dwell_asymmetry"] == pytest.approx(0.0, abs=1e-9)
    # occupied 1.0 .. 3.3; two treads at once for 0.3 s after each of the 3 later landings
    assert gait["double_support_fraction"] == pytest.approx(0.9 / 2.3, abs=1e-6)
    assert gait["whole_foot_fraction"] is None            # no split treads


def test_uneven_legs_show_as_asymmetry_and_uneven_steps_as_variability():
    layout = RigLayout(treads=6, riser_m=0.17)
    step_times = [0.5, 0.7, 0.5, 0.7, 0.5]
    stances = [1.2, 0.9, 1.2, 0.9, 1.2, 0.9]              # one leg stands longer
    contacts, t = [], 1.0
    for i in range(6):
        contacts.append((i + 1, t, t + stances[i]))
        if i < 5:
            t += step_times[i]
    gait = run(layout, contacts)["gait"]
    assert gait["step_time_cv"] == pytest.approx(pstdev(step_times) / (sum(step_times) / 5), abs=1e-6)
    assert [f["steps"] for f in gait["flights"]] == [6]
    assert gait["dwell_asymmetry"] == pytest.approx(0.3 / 1.05, abs=1e-6)
    assert gait["dwell_s"] == pytest.approx(median(stances))


def test_a_step_over_two_risers_counts_its_height_and_a_turn_ends_the_run():
    layout = RigLayout(treads=4, riser_m=0.2)
    # up to 1, back down to the floor and up again: the turn ends the first run
    contacts = [(1, 1.0, 1.6), (2, 1.5, 2.0), (1, 1.9, 2.4),            # up, up, then down onto 1
                (2, 2.3, 3.0), (4, 2.9, 3.5)]                              # up, then two risers at once
    gait = run(layout, contacts, weight_kg=60.0)["gait"]
    assert [(f["dir"], f["steps"]) for f in gait["flights"]] == [("up", 2)]
    flight = gait["flights"][0]
    assert flight["t"] == pytest.approx(2.3)
    # height: steps 1 -> 2 (1 riser) and 2 -> 4 (2 risers), plus the top landing
    assert flight["power_w"] == pytest.approx(60.0 * G * 4 * 0.2 / (3.5 - 2.3), abs=1e-3)


def test_leaving_the_stairs_in_between_is_two_runs_and_down_flights_have_no_power():
    layout = RigLayout(treads=3, riser_m=0.17)
    contacts = up_flight(3, 1.0, 0.5, 0.7) + [(3, 5.0, 5.7), (2, 5.5, 6.2), (1, 6.0, 6.7)]
    gait = run(layout, contacts)["gait"]
    assert [(f["dir"], f["steps"], f["power_w"] is None) for f in gait["flights"]] == \
        [("up", 3, False), ("down", 3, True)]


def test_a_stepper_has_no_flights_and_no_double_support():
    layout = RigLayout(kind="stepper", treads=2, riser_m=0.2)
    contacts = [(1 + k % 2, 1.0 + 0.6 * k, 1.5 + 0.6 * k) for k in range(10)]
    gait = run(layout, contacts)["gait"]
    assert gait["flights"] == [] and gait["double_support_fraction"] is None and gait["step_time_s"] is None


def test_whole_foot_needs_each_half_on_for_the_minimum_contact():
    layout = RigLayout(treads=4, riser_m=0.17, split=True)
    contacts = up_flight(4, 1.0, 0.5, 0.8)
    assert run(layout, contacts)["gait"]["whole_foot_fraction"] == 1.0
    gait = run(layout, contacts, halves={1: "front", 3: "back"})["gait"]     # two steps on one half only
    assert gait["whole_foot_fraction"] == 0.5


def test_a_half_on_for_less_than_the_minimum_contact_is_not_whole_foot():
    layout = RigLayout(treads=2, riser_m=0.17, split=True)
    samples = [(1.0, "tread.1.back", 1), (1.05, "tread.1.front", 1), (1.12, "tread.1.front", 0),
               (1.7, "tread.1.back", 0)]                 # the front half on for 70 ms only
    det = Detector(layout)
    for s in samples:
        det.feed(*s)
    det.finish()
    assert det.summary()["gait"]["whole_foot_fraction"] == 0.0


def test_no_steps_no_figures():
    gait = run(RigLayout(treads=4, riser_m=0.17, split=True), [])["gait"]
    assert gait == {"flights": [], "step_time_s": None, "step_time_cv": None, "dwell_s": None,
                    "dwell_asymmetry": None, "double_support_fraction": None, "whole_foot_fraction": None}


HEADER = {"format": "stairrig-trace", "version": 1, "rig": {"kind": "flight", "treads": 3, "riser_m": 0.17},
          "athlete": {"weight_kg": 70.0}}


def write_trace(path, header: dict, contacts) -> str:
    lines = [json.dumps(header)]
    for tread, on, off in contacts:
        lines += [json.dumps({"t": on, "ch": f"tread.{tread}", "v": 1}),
                  json.dumps({"t": off, "ch": f"tread.{tread}", "v": 0})]
    lines.sort(key=lambda line: json.loads(line).get("t", -1))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_replay_counts_the_added_load_of_the_header_in_the_power(tmp_path):
    contacts = up_flight(3, 1.0, 0.5, 0.7)
    plain = replay(write_trace(tmp_path / "a.jsonl", HEADER, contacts))["gait"]["flights"][0]["power_w"]
    vest = replay(write_trace(tmp_path / "b.jsonl", {**HEADER, "drill": {"added_load_kg": 7.0}},
                              contacts))["gait"]["flights"][0]["power_w"]
    assert vest == pytest.approx(plain * 77.0 / 70.0, rel=1e-4)


@pytest.mark.parametrize("load", [-1, "7", True, [], 51])
def test_a_bad_added_load_is_named_at_line_1(tmp_path, load):
    path = write_trace(tmp_path / "t.jsonl", {**HEADER, "drill": {"added_load_kg": load}}, [])
    with pytest.raises(TraceError, match=r"t.jsonl:1: .*drill.added_load_kg"):
        replay(path)


def test_a_service_running_for_weeks_keeps_its_gait_figures_bounded(monkeypatch):
    """The whole-run detector of a service lives as long as the service: its flights and the
    values behind the medians keep only the latest (a one-hour trace has about 170 flights)."""
    from rig.core import gait as gait_module
    monkeypatch.setattr(gait_module, "MAX_FLIGHTS", 5)
    monkeypatch.setattr(gait_module, "MAX_VALUES", 12)
    layout = RigLayout(treads=3, riser_m=0.17)
    contacts, t = [], 1.0
    for k in range(20):                      # 20 ascents with slower and slower steps, back to the floor between
        step_s = 0.4 + 0.01 * k
        contacts += up_flight(3, t, step_s, 2 * step_s)
        contacts += [(3, t + 4.0, t + 4.5), (2, t + 4.4, t + 4.9), (1, t + 4.8, t + 5.3)]
        t += 8.0
    gait = run(layout, contacts)["gait"]
    assert len(gait["flights"]) == 5                                     # the latest five
    assert [(f["dir"], f["t"]) for f in gait["flights"][-2:]] == [("up", 153.0), ("down", 157.0)]
    # the medians are of the latest 12 step times: 6 descents' (0.4 s) and 6 ascents' (0.53 to 0.59 s)
    latest_up = [0.4 + 0.01 * k for k in range(17, 20) for _ in range(2)]
    assert gait["step_time_s"] == pytest.approx(median(latest_up + [0.4] * 6), abs=1e-6)


def test_the_panel_and_home_assistant_get_the_last_ascent_and_the_sessions_figures_in_percent():
    from rig.live import session_figures
    from rig.mqtt.state import GAIT_KEYS, SLOW_SESSION_KEYS
    layout = RigLayout(treads=4, riser_m=0.17, split=True)
    contacts = up_flight(4, 1.0, 0.5, 0.8) + [(4, 6.0, 6.8), (3, 6.5, 7.3), (2, 7.0, 7.8), (1, 7.5, 8.3)]
    summary = run(layout, contacts, halves={1: "front"})
    gait = summary["gait"]
    figures = session_figures(summary)
    up = gait["flights"][0]
    assert figures["last_ascent_s"] == round(up["duration_s"], 2)
    assert figures["last_ascent_power_w"] == round(up["power_w"])
    assert figures["last_flight"] == {"dir": "down", "duration_s": round(gait["flights"][1]["duration_s"], 2),
                                      "steps": 4, "power_w": None}
    assert figures["whole_foot_pct"] == 87.5                     # 7 of 8 steps with both halves loaded
    assert figures["step_variability_pct"] == round(gait["step_time_cv"] * 100, 1)
    assert figures["leg_asymmetry_pct"] == round(gait["dwell_asymmetry"] * 100, 1)
    assert set(GAIT_KEYS) <= set(figures) and set(GAIT_KEYS) <= set(SLOW_SESSION_KEYS)
    before = session_figures(run(layout, []))
    assert all(before[k] is None for k in (*GAIT_KEYS, "last_flight"))


def test_the_replay_text_shows_the_gait_figures(tmp_path):
    import subprocess
    import sys
    contacts = up_flight(3, 1.0, 0.5, 0.7) + [(3, 5.0, 5.7), (2, 5.5, 6.2), (1, 6.0, 6.7)]
    path = write_trace(tmp_path / "t.jsonl", HEADER, contacts)
    summary = replay(path)
    out = subprocess.run([sys.executable, "-m", "rig", "replay", path], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    up = summary["gait"]["flights"][0]
    assert f"2 flights; fastest ascent {up['duration_s']:.1f} s, most power {up['power_w']:.0f} W" in out.stdout
    # three steps a flight: two step times, too few for a variability; no split treads: no whole-foot share
    assert "step time 0.50 s (variability -)" in out.stdout and "whole foot on - of steps" in out.stdout
