"""The simulator's gait cases (issue 13, point 7): athletes with asymmetric legs, partial foot
placements, a weighted vest, a faster or slower pace.

For each case, forward and backward, several seeds, typical and harsh noise, the detector's ``gait``
(``replay``) agrees with the simulator's truth within ``shared/traces/README.md``'s tolerances
(``tests/truth.py``); and each case really shows what it claims, read from what the simulated athlete
did (its foot contacts), not from the truth's own arithmetic. The demo walks them too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from statistics import mean

import pytest

from rig.config import example_config_path, load_config
from rig.replay import replay
from rig.sim import ATHLETES, SCENARIOS, AthleteGait, simulate, write_sim
from rig.sim.athlete import FIRST_ZONE, FootContact
from rig.sim.gait_params import leg_factors
from rig.sim.truth import compute_truth
from rig.trace import read_trace
from tests.truth import differences, gait_differences, shared_dir

CASES = ("asymmetric", "partial", "loaded", "fast", "slow")
SEEDS = (0, 1, 2)


def replayed(result, tmp_path, name: str = "t") -> dict:
    path = tmp_path / f"{name}.jsonl"
    write_sim(result, path)
    return replay(path)


def step_feet(result) -> list[FootContact]:
    """The foot contact that began each step of the truth (the foot that made it)."""
    out = []
    for step in result.steps:
        found = [c for c in result.foot_contacts if c.tread == step["tread"] and abs(c.t_on_s - step["t"]) < 2e-6]
        assert len(found) == 1, step
        out.append(found[0])
    return out


def flight_steps(result) -> list[list[int]]:
    """The indices of the truth's steps in each of its flights (the flight's first ``steps`` from its start)."""
    onsets = [s["t"] for s in result.steps]
    out = []
    for flight in result.truth["gait"]["flights"]:
        first = min(range(len(onsets)), key=lambda k: abs(onsets[k] - flight["t"]))
        out.append(list(range(first, first + flight["steps"])))
    return out


# -- the detector agrees with the truth ------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("scenario", ["forward-flights", "backward-flights"])
@pytest.mark.parametrize("noise", ["typical", "harsh"])
def test_the_detectors_gait_matches_the_truth_for_every_case(case, scenario, noise, tmp_path):
    for seed in SEEDS:
        result = simulate(scenario, seed=seed, noise=noise, gait=ATHLETES[case])
        assert result.truth["gait"]["flights"], "a case without flights proves nothing"
        summary = replayed(result, tmp_path, f"{case}-{seed}")
        assert differences(summary, result.truth) == [], (case, scenario, noise, seed)


@pytest.mark.parametrize("case", CASES)
def test_the_named_gait_scenarios_match_their_truth(case, tmp_path):
    result = simulate(case, seed=5, noise="harsh")
    assert result.truth["name"] == case
    assert differences(replayed(result, tmp_path), result.truth) == []


def test_a_force_tread_rig_carries_body_and_vest_and_still_matches(tmp_path):
    loaded = simulate("force-treads", seed=1, noise="typical", gait=ATHLETES["loaded"])
    plain = simulate("force-treads", seed=1, noise="none")
    peak = max(v for _, ch, v in loaded.clean if ch.startswith("tread."))
    assert peak > max(v for _, ch, v in plain.clean if ch.startswith("tread.")) * 1.1   # 80 kg, not 70
    assert differences(replayed(loaded, tmp_path), loaded.truth, force_treads=1 / 50) == []


def test_the_truths_gait_agrees_with_the_shared_truth_files():
    """The shared truth files come from a reference simulator's clean signals; only their noisy traces are
    published, so the plain computation runs on those (the noise is made to leave every definition's
    answer unchanged) and must land within the README's tolerances of theirs."""
    traces = sorted((shared_dir() / "traces").glob("*.jsonl"))
    assert len(traces) >= 8
    for path in traces:
        trace = read_trace(path)
        header = trace.header
        truth, _, _ = compute_truth(list(trace), header.layout, weight_kg=header.weight_kg,
                                    added_load_kg=header.drill_added_load_kg)
        want = json.loads(path.with_name(path.name.replace(".jsonl", ".truth.json")).read_text())
        assert gait_differences(truth["gait"], want["gait"]) == [], path.name


# -- each case shows what it claims ----------------------------------------------------------

@pytest.mark.parametrize("bias, longer", [(0.30, "R"), (-0.30, "L")])
@pytest.mark.parametrize("scenario", ["forward-flights", "backward-flights"])
def test_asymmetric_legs_show_as_dwell_asymmetry_on_the_weaker_legs_side(bias, longer, scenario, tmp_path):
    for seed in SEEDS:
        result = simulate(scenario, seed=seed, noise="harsh", gait=AthleteGait(leg_bias=bias))
        detected = replayed(result, tmp_path, f"{seed}")["gait"]["dwell_asymmetry"]
        assert detected > 0.15, seed
        feet = step_feet(result)
        for run in flight_steps(result):
            if len(run) < 4:
                continue
            dwell = {foot: mean(feet[k].t_off_s - feet[k].t_on_s for k in run if feet[k].foot == foot)
                     for foot in ("R", "L")}
            shorter = "L" if longer == "R" else "R"
            assert dwell[longer] > 1.15 * dwell[shorter], (seed, dwell)
        # the stance ratio asked for, on average, and the figure it makes: |r - 1| / ((r + 1) / 2)
        stance = {foot: mean(c.t_off_s - c.t_on_s for c in feet if c.foot == foot) for foot in ("R", "L")}
        assert stance["R"] / stance["L"] == pytest.approx(1 + bias, rel=0.06)
        assert detected == pytest.approx(abs(bias) / (1 + bias / 2), abs=0.06)


def test_even_legs_show_little_asymmetry(tmp_path):
    result = simulate("backward-flights", seed=1, noise="harsh")
    assert replayed(result, tmp_path)["gait"]["dwell_asymmetry"] < 0.05


@pytest.mark.parametrize("part", ["toes", "heel", "either"])
def test_partial_placements_make_the_whole_foot_share(part, tmp_path):
    share = 1 / 3
    result = simulate("forward-flights", seed=3, noise="harsh", flights=8,
                      gait=AthleteGait(partial_share=share, partial_part=part))
    feet = step_feet(result)
    partial = sum(1 for c in feet if c.only_zone is not None)
    assert abs(partial / len(feet) - share) < 0.1                  # near the share asked for (88 steps)
    whole = replayed(result, tmp_path)["gait"]["whole_foot_fraction"]
    assert whole == pytest.approx(1 - partial / len(feet), abs=0.03)   # exactly those steps are not whole-foot
    assert result.truth["gait"]["whole_foot_fraction"] == pytest.approx(1 - partial / len(feet), abs=1e-6)
    # toes: the half a foot loads first (the spec's facing table), heel: the other, either: both kinds
    kinds = {"toes" if c.only_zone == FIRST_ZONE[(c.direction, "forward")] else "heel" for c in feet if c.only_zone}
    assert kinds == ({"toes", "heel"} if part == "either" else {part})


def test_toes_only_is_the_half_loaded_first_and_keeps_the_facing(tmp_path):
    plain = simulate("backward-flights", seed=4, noise="none")
    partial = simulate("backward-flights", seed=4, noise="none", gait=AthleteGait(partial_share=0.5))
    # the athlete's own draws do not move the walk: the same steps at the same times
    assert [(s["t"], s["tread"], s["direction"]) for s in partial.steps] == \
        [(s["t"], s["tread"], s["direction"]) for s in plain.steps]
    assert partial.truth["facing"]["backward"] >= plain.truth["facing"]["backward"]
    assert partial.truth["gait"]["whole_foot_fraction"] < 0.75 < plain.truth["gait"]["whole_foot_fraction"]
    for c in partial.foot_contacts:
        if c.only_zone is not None:
            assert c.zone_intervals() == {c.only_zone: (c.t_on_s, c.t_off_s)} and c.first_zone == c.only_zone


@pytest.mark.parametrize("scenario", ["backward-flights", "forward-flights"])
def test_added_load_scales_the_power_with_body_plus_load(scenario, tmp_path):
    for seed in SEEDS:
        plain = simulate(scenario, seed=seed, noise="harsh")
        loaded = simulate(scenario, seed=seed, noise="harsh", gait=AthleteGait(added_load_kg=10.0))
        assert loaded.header.drill_added_load_kg == 10.0 and plain.header.drill_added_load_kg == 0.0
        assert loaded.samples == plain.samples                   # the same walk; only the header differs
        got_plain = [f["power_w"] for f in replayed(plain, tmp_path, "p")["gait"]["flights"] if f["power_w"]]
        got_loaded = [f["power_w"] for f in replayed(loaded, tmp_path, "l")["gait"]["flights"] if f["power_w"]]
        assert len(got_loaded) == len(got_plain) == 3
        for p, q in zip(got_plain, got_loaded):
            assert q / p == pytest.approx(80.0 / 70.0, rel=1e-4)


@pytest.mark.parametrize("scenario, cadence_spm", [("forward-flights", 90.0), ("backward-flights", 60.0)])
def test_faster_and_slower_climbers_step_at_their_cadence(scenario, cadence_spm, tmp_path):
    step_s = {}
    for case in ("fast", "typical", "slow"):
        factor = ATHLETES[case].cadence_factor
        result = simulate(scenario, seed=2, noise="harsh", gait=ATHLETES[case])
        gait = replayed(result, tmp_path, case)["gait"]
        step_s[case] = gait["step_time_s"]
        assert gait["step_time_s"] == pytest.approx(60.0 / (cadence_spm * factor), rel=0.06), case
        # the stance is 1.2 step intervals (stance : swing 60 : 40)
        assert gait["dwell_s"] == pytest.approx(1.2 * 60.0 / (cadence_spm * factor), rel=0.08), case
    assert step_s["fast"] < step_s["typical"] < step_s["slow"]


# -- the parameters themselves ---------------------------------------------------------------

def test_the_default_athlete_changes_nothing():
    for name in ("mixed", "step-to", "force-treads"):
        a, b = simulate(name, seed=6, noise="harsh"), simulate(name, seed=6, noise="harsh", gait=AthleteGait())
        assert a.samples == b.samples and a.truth == b.truth and a.header == b.header


def test_leg_factors_give_the_stance_ratio_and_keep_the_pace():
    d = 0.2
    for bias in (-0.5, -0.2, 0.1, 0.3, 1.0):
        f = leg_factors(bias, d)
        assert (f["R"] + f["L"]) / 2 == pytest.approx(1.0)
        # a foot stands through its own double support and the other foot's whole placement
        assert (d * f["L"] + f["R"]) / (d * f["R"] + f["L"]) == pytest.approx(1 + bias)
    assert leg_factors(0.0, d) == {"R": 1.0, "L": 1.0}


@pytest.mark.parametrize("bad, field", [({"leg_bias": 3.0}, "leg_bias"), ({"partial_share": 1.5}, "partial_share"),
                                        ({"partial_part": "ankle"}, "partial_part"),
                                        ({"added_load_kg": -1.0}, "added_load_kg"),
                                        ({"cadence_factor": 0.0}, "cadence_factor")])
def test_a_bad_gait_parameter_is_named(bad, field):
    with pytest.raises(ValueError, match=field):
        AthleteGait(**bad)


def test_the_gait_scenarios_are_registered_and_explained():
    assert set(CASES) <= set(SCENARIOS)
    done = subprocess.run([sys.executable, "-m", "rig", "simulate", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for case in CASES:
        assert re.search(rf"\b{case}\b", text)
    assert "--athlete" in text


def test_simulate_with_an_athlete_writes_its_load_and_gait(tmp_path):
    out = tmp_path / "vest.jsonl"
    done = subprocess.run([sys.executable, "-m", "rig", "simulate", "--out", str(out), "--scenario", "stall",
                           "--athlete", "loaded", "--seed", "2"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    header = json.loads(out.read_text().splitlines()[0])
    assert header["drill"]["added_load_kg"] == 10.0
    truth = json.loads((tmp_path / "vest.truth.json").read_text())
    assert differences(replay(out), truth) == []
    bad = subprocess.run([sys.executable, "-m", "rig", "simulate", "--out", str(out), "--athlete", "tired"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--athlete" in bad.stderr and "Traceback" not in bad.stderr


# -- the demo walks them ---------------------------------------------------------------------

def demo_sessions(tmp_path, athlete: str) -> tuple[str, list[dict]]:
    """A 60-simulated-second demo at x30 with ``--athlete``: (its output, its sessions as the panel shows them)."""
    data = tmp_path / athlete
    done = subprocess.run([sys.executable, "-m", "rig", "demo", "--athlete", athlete, "--duration", "60",
                           "--speed", "30", "--port", "0", "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([sys.executable, "-m", "rig", "sessions", "list", "--json", "--data-dir", str(data)],
                            capture_output=True, text=True, timeout=60)
    sessions = []
    for row in json.loads(listed.stdout):
        shown = subprocess.run([sys.executable, "-m", "rig", "sessions", "show", str(row["id"]), "--json",
                                "--data-dir", str(data)], capture_output=True, text=True, timeout=60)
        sessions.append(json.loads(shown.stdout))
    return done.stdout, sessions


def test_the_demo_with_an_asymmetric_athlete_shows_the_leg_asymmetry(tmp_path):
    from rig.live import session_figures
    out, sessions = demo_sessions(tmp_path, "asymmetric")
    assert "the athlete walks asymmetric" in out
    printed = re.search(r"leg asymmetry (\d+) %", out)           # the demo's (live) summary
    assert printed and int(printed.group(1)) > 15
    figures = [session_figures(s["summary"]) for s in sessions if s["summary"]["gait"]["flights"]]
    assert figures and all(f["leg_asymmetry_pct"] > 15 for f in figures)   # what the live screen shows
    _, typical = demo_sessions(tmp_path, "typical")
    assert all(session_figures(s["summary"])["leg_asymmetry_pct"] < 10 for s in typical
               if s["summary"]["gait"]["dwell_asymmetry"] is not None)


def test_the_demo_with_a_loaded_athlete_counts_the_vest_in_the_power(tmp_path):
    _, loaded = demo_sessions(tmp_path, "loaded")
    _, typical = demo_sessions(tmp_path, "typical")
    powers = [[f["power_w"] for s in demo for f in s["summary"]["gait"]["flights"] if f["power_w"]]
              for demo in (loaded, typical)]
    assert loaded[0]["added_load_kg"] == 10.0 and powers[0] and len(powers[0]) == len(powers[1])
    weight = load_config(example_config_path()).athlete.weight_kg       # the demo's athlete
    for q, p in zip(*powers):
        assert q / p == pytest.approx((weight + 10.0) / weight, rel=1e-3)
