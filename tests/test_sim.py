"""The simulator: readable traces, reproducible noise, and a truth that follows the script.

No test here runs the detector (rig/core): the truth is checked against
closed forms of each script, and the noise against the limits that keep
the truth unchanged.
"""

from __future__ import annotations

import json
import math
import statistics
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.layout import RigLayout
from rig.settings import G_M_S2, DetectionSettings
from rig.sim import DEFAULT_LAYOUTS, NOISE_LEVELS, SCENARIOS, add_noise, compute_truth, simulate, write_sim
from rig.sim.intervals import bridge, edges_to_intervals, hysteresis, subtract, union
from rig.sim.result import truth_path
from rig.trace import read_trace

TRUTH_KEYS = ["steps", "steps_up", "steps_down", "ascents", "descents", "elevation_gain_m", "active_s",
              "facing", "rails", "events", "gait", "reliance", "duration_s", "name"]
RAIL_KEYS = {"contact_s", "light_s", "firm_s", "peak_force_n", "impulse_ns"}
COUNTS = ("steps", "steps_up", "steps_down", "ascents", "descents", "elevation_gain_m", "facing", "events")

# short sessions where a scenario takes a duration, to keep the suite fast
FAST = {"demo": {"duration_s": 150.0}}


def run(name: str, **kw):
    return simulate(name, **{**FAST.get(name, {}), **kw})


def counts(truth: dict) -> dict:
    return {k: truth[k] for k in COUNTS}


def flat_steps(result) -> int:
    """Steps the script landed flat-foot (facing unknown on split treads)."""
    return sum(1 for s in result.steps if s["facing"] == "unknown")


# -- traces the reader accepts ----------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_writes_a_trace_the_reader_accepts(name, tmp_path):
    result = run(name, seed=1, noise="harsh")
    path = tmp_path / (f"{name}.jsonl.gz" if len(name) % 2 else f"{name}.jsonl")  # half of them gzipped
    write_sim(result, path)

    trace = read_trace(path)
    assert trace.header.source == "sim"
    assert trace.header.layout == DEFAULT_LAYOUTS[name]
    samples = list(trace)
    assert not trace.warnings
    assert len(samples) == len(result.samples) > 0
    declared = set(trace.header.layout.channels())
    assert {ch for _, ch, _ in samples} <= declared
    times = [t for t, _, _ in samples]
    assert times[0] >= 0 and times == sorted(times)
    for (t, ch, v), (t0, ch0, v0) in zip(samples, result.samples):
        assert ch == ch0 and abs(t - t0) < 1e-6
        assert (abs(v - v0) < 1e-3) if ch.endswith(".force") else v == v0

    truth = json.loads(truth_path(path).read_text())
    assert list(truth) == TRUTH_KEYS
    assert truth["name"] == path.name.split(".")[0]
    assert {k: v for k, v in truth.items() if k != "name"} == \
        {k: v for k, v in result.truth.items() if k != "name"}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("noise", ["none", "harsh"])
def test_samples_follow_the_format(name, noise):
    result = run(name, seed=2, noise=noise)
    layout = result.header.layout
    times = [t for t, _, _ in result.samples]
    assert times == sorted(times) and times[0] >= 0
    last: dict[str, int] = {}
    for t, ch, v in result.samples:
        assert round(t, 6) == t
        if layout.is_analog(ch):
            assert isinstance(v, float) and math.isfinite(v) and v >= 0.0
        else:
            assert type(v) is int and v in (0, 1)
            # switches and touch sensors are written on every change: 1, 0, 1, ...
            assert v != last.get(ch, 0), f"{ch} repeats {v} at {t}"
            last[ch] = v
    if noise == "none":
        assert result.samples == result.clean


def test_force_channels_are_sampled_for_the_whole_trace():
    result = run("force-treads", seed=0, noise="typical")
    per_channel: dict[str, list[float]] = {}
    for t, ch, _ in result.samples:
        if ch.endswith(".force"):
            per_channel.setdefault(ch, []).append(t)
    assert set(per_channel) == {"tread.1.force", "tread.2.force", "tread.3.force", "tread.4.force",
                                "rail.left.force", "rail.right.force"}
    end = result.samples[-1][0]
    for times in per_channel.values():
        assert times[0] == 0.0 and times[-1] == end
        gaps = {round(b - a, 6) for a, b in zip(times, times[1:])}
        assert gaps == {0.02}  # 50 Hz


def test_truth_has_the_shape_of_the_shared_truth_files():
    result = run("mixed", seed=0)
    truth = result.truth
    assert list(truth) == TRUTH_KEYS
    assert set(truth["facing"]) == {"forward", "backward", "unknown"}
    assert set(truth["events"]) == {"grab", "stall", "fall_suspected"}
    assert set(truth["reliance"]) == {"contact_fraction", "light_fraction", "firm_fraction"}
    assert set(truth["rails"]) == {"left", "right"}
    for figures in truth["rails"].values():
        assert set(figures) == RAIL_KEYS
    # the right rail of the mixed rig has a touch sensor only
    assert truth["rails"]["right"]["contact_s"] > 0
    assert all(truth["rails"]["right"][k] is None for k in RAIL_KEYS - {"contact_s"})
    assert truth["rails"]["left"]["peak_force_n"] > 50


def test_write_sim_names_the_truth_after_the_trace(tmp_path):
    result = run("step-ups", seed=0, noise="none")
    for name in ("a.jsonl", "b.jsonl.gz"):
        write_sim(result, tmp_path / name)
    assert (tmp_path / "a.truth.json").exists() and (tmp_path / "b.truth.json").exists()
    assert json.loads((tmp_path / "b.truth.json").read_text())["name"] == "b"
    assert truth_path("x/y.gz").name == "y.truth.json"


def test_unknown_scenario_and_noise_are_refused():
    with pytest.raises(ValueError, match="unknown scenario"):
        simulate("moonwalk")
    with pytest.raises(ValueError, match="noise"):
        simulate("stall", noise="loud")
    with pytest.raises(ValueError, match="flight"):
        simulate("forward-flights", layout=DEFAULT_LAYOUTS["stepper"])
    with pytest.raises(ValueError, match="middle tread"):
        simulate("fall", layout=RigLayout(treads=2))


# -- reproducible ----------------------------------------------------------------------

def test_same_seed_same_output():
    a = run("mixed", seed=5, noise="harsh")
    b = run("mixed", seed=5, noise="harsh")
    assert a.samples == b.samples
    assert a.truth == b.truth
    assert a.steps == b.steps


def test_different_seed_different_noise_same_counts():
    a = run("forward-flights", seed=5)
    b = run("forward-flights", seed=6)
    assert a.samples != b.samples
    # the script is the same, so the counts are; only timings, flat feet and noise differ
    for key in ("steps", "steps_up", "steps_down", "ascents", "descents", "elevation_gain_m", "events"):
        assert a.truth[key] == b.truth[key]
    clean = a.clean
    layout = a.header.layout
    assert add_noise(clean, layout, random.Random(1)) != add_noise(clean, layout, random.Random(2))
    assert add_noise(clean, layout, random.Random(1)) == add_noise(clean, layout, random.Random(1))


def test_noise_level_does_not_change_the_truth():
    truths = [run("mixed", seed=3, noise=level).truth for level in NOISE_LEVELS]
    assert truths[0] == truths[1] == truths[2]


# -- the truth follows the script --------------------------------------------------------

FLIGHT_RIGS = [
    RigLayout(treads=5, riser_m=0.17, split=True, rails={"left": ("touch", "force"), "right": ("touch", "force")}),
    RigLayout(treads=3, riser_m=0.15, split=False, rails={"left": ("touch",)}),
    RigLayout(treads=4, riser_m=0.18, split=True, rails={"right": ("force",)}),
    RigLayout(treads=2, riser_m=0.20, split=True),
    RigLayout(treads=6, riser_m=0.16, tread_sensor="force", rails={"left": ("force",), "right": ("touch",)}),
]


@pytest.mark.parametrize("layout", FLIGHT_RIGS, ids=lambda lay: f"n{lay.treads}-{lay.tread_sensor}-split{lay.split}")
@pytest.mark.parametrize("flights", [1, 3])
@pytest.mark.parametrize("scenario,facing", [("forward-flights", "forward"), ("backward-flights", "backward")])
def test_step_over_step_flights(layout, flights, scenario, facing):
    result = simulate(scenario, layout=layout, flights=flights, seed=flights, noise="typical")
    truth = result.truth
    n = layout.treads
    # every foot lands on the next tread: N steps each way, one ascent and one descent per round trip
    assert truth["steps"] == 2 * flights * n
    assert truth["steps_up"] == truth["steps_down"] == flights * n
    assert truth["ascents"] == truth["descents"] == flights
    assert truth["elevation_gain_m"] == pytest.approx(flights * (n + 1) * layout.riser_m, abs=1e-6)
    assert truth["events"] == {"grab": 0, "stall": 0, "fall_suspected": 0}
    other = "backward" if facing == "forward" else "forward"
    assert truth["facing"][other] == 0
    if layout.split:
        assert truth["facing"][facing] == truth["steps"] - flat_steps(result)
        assert truth["facing"][facing] >= 0.75 * truth["steps"]
    else:
        assert truth["facing"]["unknown"] == truth["steps"]
    # one foot contact per step: each foot goes to the next tread
    assert len(result.foot_contacts) == truth["steps"]
    assert [s["t"] for s in result.steps] == sorted(s["t"] for s in result.steps)
    assert result.scripted["flights"] == {"up": flights, "down": flights}


def _flight_contacts(result) -> list[list]:
    """The script's foot contacts that made each flight's steps (step over step: one per tread), in order."""
    steps = [c for c in result.foot_contacts if c.direction in ("up", "down")]
    flights, run = [], []
    for c in steps:
        if run and c.direction != run[-1].direction:
            flights.append(run)
            run = []
        run.append(c)
    return flights + [run] if run else flights


@pytest.mark.parametrize("scenario", ["forward-flights", "backward-flights"])
@pytest.mark.parametrize("weight_kg", [55.0, 90.0])
def test_the_gait_truth_follows_the_script(scenario, weight_kg):
    """The truth's gait figures in closed form from the script's foot contacts (no detector)."""
    result = simulate(scenario, seed=7, noise="harsh", flights=2, weight_kg=weight_kg)
    gait, layout = result.truth["gait"], result.header.layout
    n = layout.treads
    runs = _flight_contacts(result)
    assert [f["dir"] for f in gait["flights"]] == [r[0].direction for r in runs] == ["up", "down"] * 2
    dwells, step_times = [], []
    for flight, run in zip(gait["flights"], runs):
        assert flight["steps"] == len(run) == n
        assert flight["t"] == pytest.approx(run[0].t_on_s, abs=1e-6)
        # the flight is counted when its last tread empties: its last foot's lift
        assert flight["t"] + flight["duration_s"] == pytest.approx(run[-1].t_off_s, abs=2e-6)
        if flight["dir"] == "up":
            assert flight["power_w"] == pytest.approx(weight_kg * G_M_S2 * (n + 1) * layout.riser_m
                                                      / flight["duration_s"], rel=1e-5)
        else:
            assert flight["power_w"] is None
        dwells += [c.t_off_s - c.t_on_s for c in run]
        step_times += [b.t_on_s - a.t_on_s for a, b in zip(run, run[1:])]
    assert gait["dwell_s"] == pytest.approx(statistics.median(dwells), abs=2e-6)
    assert gait["step_time_s"] == pytest.approx(statistics.median(step_times), abs=2e-6)
    assert gait["whole_foot_fraction"] == 1.0          # every foot loads both halves for most of its stance
    # feet alternate and their stances overlap by 0.2 of a step: some of the active time, never all of it
    assert 0.05 < gait["double_support_fraction"] < 0.5


def test_the_gait_truth_of_two_at_a_time_step_to_and_a_stepper():
    two = simulate("two-at-a-time", seed=2, flights=1, noise="none")
    layout = two.header.layout
    up = two.truth["gait"]["flights"][0]
    assert (up["dir"], up["steps"]) == ("up", layout.treads // 2)       # a step over two risers is one step
    assert up["power_w"] == pytest.approx(70.0 * G_M_S2 * (layout.treads + 1) * layout.riser_m / up["duration_s"],
                                          rel=1e-5)
    to = simulate("step-to", seed=2, flights=1, noise="none")
    assert [f["steps"] for f in to.truth["gait"]["flights"]] == [to.header.layout.treads] * 2  # joining is no step
    stepper = simulate("stepper", seed=2, presses=20, noise="none").truth["gait"]
    assert stepper["flights"] == [] and stepper["step_time_s"] is None and stepper["double_support_fraction"] is None


def test_step_to_doubles_foot_contacts_but_not_steps():
    over = simulate("forward-flights", flights=2, seed=4)
    to = simulate("step-to", flights=2, seed=4)
    n = to.header.layout.treads
    for result in (over, to):
        assert result.truth["steps"] == 4 * n
        assert result.truth["ascents"] == result.truth["descents"] == 2
    assert len(over.foot_contacts) == 4 * n
    assert len(to.foot_contacts) == 8 * n
    # the trailing foot joins the tread the lead foot is on
    for c in to.foot_contacts:
        mates = [d for d in to.foot_contacts if d is not c and d.tread == c.tread
                 and d.t_on_s < c.t_off_s and c.t_on_s < d.t_off_s]
        assert len(mates) == 1
    assert to.truth["facing"]["forward"] == to.truth["steps"] - flat_steps(to)


@pytest.mark.parametrize("treads", [5, 6])
def test_two_at_a_time(treads):
    layout = RigLayout(treads=treads, riser_m=0.17, split=True, rails={"left": ("touch", "force")})
    result = simulate("two-at-a-time", layout=layout, flights=2, seed=1)
    truth = result.truth
    per_way = (treads + 1) // 2  # up ends on the top tread, down on tread 1
    assert truth["steps_up"] == truth["steps_down"] == 2 * per_way
    assert truth["ascents"] == truth["descents"] == 2
    assert truth["elevation_gain_m"] == pytest.approx(2 * (treads + 1) * 0.17, abs=1e-6)
    ups = [s for s in result.steps if s["direction"] == "up"][:per_way]
    assert [s["tread"] for s in ups] == list(range(treads, 0, -2))[::-1]


def test_step_ups_on_one_tread():
    result = simulate("step-ups", reps=9, seed=2)
    truth = result.truth
    assert truth["steps"] == truth["steps_up"] == 9
    assert truth["steps_down"] == truth["ascents"] == truth["descents"] == 0
    assert truth["elevation_gain_m"] == pytest.approx(9 * 0.20)
    assert len(result.foot_contacts) == 18  # both feet on the tread each time
    assert truth["events"] == {"grab": 0, "stall": 0, "fall_suspected": 0}


def test_stepper_presses():
    result = simulate("stepper", presses=50, seed=3)
    truth = result.truth
    assert truth["steps"] == truth["steps_up"] == 50
    assert truth["ascents"] == truth["descents"] == truth["steps_down"] == 0
    assert truth["elevation_gain_m"] == pytest.approx(50 * 0.20)
    assert truth["facing"]["unknown"] == 50
    assert [s["tread"] for s in result.steps] == [1, 2] * 25  # pedals in turn
    # force-only rails held light: in contact, never firm
    for side in ("left", "right"):
        assert truth["rails"][side]["contact_s"] > 0.8 * truth["active_s"]
        assert truth["rails"][side]["firm_s"] == 0.0


def test_force_treads_carry_body_weight():
    result = simulate("force-treads", weight_kg=80.0, seed=1, noise="none")
    n = result.header.layout.treads
    assert result.truth["steps"] == 6 * n and result.truth["ascents"] == 3
    loads = [v for _, ch, v in result.clean if ch.startswith("tread.")]
    weight_n = 80.0 * G_M_S2
    assert max(loads) == pytest.approx(weight_n, rel=0.05)
    assert min(loads) == 0.0


def test_grip_progression_goes_from_firm_to_hover():
    result = simulate("grip-progression", flights=6, seed=1)
    truth = result.truth
    for side in ("left", "right"):
        rail = truth["rails"][side]
        assert rail["firm_s"] > 5 and rail["light_s"] > 5
        assert rail["contact_s"] < 0.8 * truth["active_s"]  # the last third hovers
    assert truth["reliance"]["firm_fraction"] == pytest.approx(1 / 3, abs=0.08)
    assert truth["reliance"]["contact_fraction"] == pytest.approx(2 / 3, abs=0.08)


def test_stall():
    result = simulate("stall", seed=1)
    truth = result.truth
    assert truth["events"] == {"grab": 0, "stall": 1, "fall_suspected": 0}
    assert truth["steps"] == 4 * 5 and truth["ascents"] == 2
    (stall,) = result.events
    before = [s for s in result.steps if s["t"] < stall["t"]][-1]
    assert stall["t"] == pytest.approx(before["t"] + 3.0)
    after = [s for s in result.steps if s["t"] > stall["t"]][0]
    assert after["t"] - before["t"] > 4.0


@pytest.mark.parametrize("weight_kg", [50.0, 70.0, 110.0])
def test_grab(weight_kg):
    result = simulate("grab", seed=2, weight_kg=weight_kg)
    truth = result.truth
    assert truth["events"] == {"grab": 1, "stall": 0, "fall_suspected": 0}
    rise = DetectionSettings().resolve(weight_kg).grab_rise_n
    (grab,) = result.events
    force = [(t, v) for t, ch, v in result.clean if ch == f"rail.{grab['rail']}.force"]
    peak = max(v for _, v in force)
    assert peak == pytest.approx(1.5 * rise, abs=1.0)
    assert truth["rails"][grab["rail"]]["peak_force_n"] == pytest.approx(peak, abs=0.01)
    # from below the floor to the rise within the window
    base = [v for t, v in force if grab["t"] - 0.25 <= t <= grab["t"]]
    assert min(base) < 8.0 and grab["t"] - min(t for t, v in force if v > 8.0) < 0.25


def test_fall_then_restart():
    result = simulate("fall", seed=3)
    truth = result.truth
    n = result.header.layout.treads
    k = (n + 1) // 2
    assert truth["events"] == {"grab": 0, "stall": 0, "fall_suspected": 1}
    assert truth["steps"] == 4 * n + k
    assert truth["ascents"] == truth["descents"] == 2
    unknown = [s for s in result.steps if s["direction"] is None]
    assert len(unknown) == 1 and unknown[0]["tread"] == 1  # the restart, after an unknown level
    assert truth["steps_up"] == 2 * n + k - 1
    (fall,) = result.events
    next_step = [s for s in result.steps if s["t"] > fall["t"]][0]
    assert next_step["t"] - fall["t"] > 2.0


def test_fall_without_restart_is_still_decided():
    result = simulate("fall", seed=3, restart=False)
    assert result.truth["events"]["fall_suspected"] == 1
    assert result.truth["steps"] == 2 * 5 + 3


def test_mixed_session_has_every_event_once():
    result = run("mixed", seed=0)
    truth = result.truth
    assert truth["events"] == {"grab": 1, "stall": 1, "fall_suspected": 1}
    assert truth["facing"]["forward"] > 10 and truth["facing"]["backward"] > 10
    assert truth["ascents"] >= 5


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_truth_events_are_the_scripted_events(name):
    result = run(name, seed=4)
    assert result.truth["events"] == result.scripted["events"]
    assert [e["t"] for e in result.events] == sorted(e["t"] for e in result.events)


def test_demo_runs_for_its_duration_with_events():
    result = simulate("demo", duration_s=400.0, seed=1)
    truth = result.truth
    assert truth["duration_s"] == pytest.approx(400.0, abs=0.05)
    assert truth["facing"]["backward"] > 0.8 * truth["steps"]
    assert truth["events"]["grab"] >= 1 and truth["events"]["stall"] >= 1
    assert truth["events"]["fall_suspected"] == 0
    assert truth["ascents"] == truth["descents"] >= 5


def test_truth_is_computed_from_the_clean_samples():
    result = run("mixed", seed=2)
    truth, steps, events = compute_truth(result.clean, result.header.layout, weight_kg=70.0, name="mixed")
    assert truth == result.truth and steps == result.steps and events == result.events


# -- biomechanics ----------------------------------------------------------------------

def test_double_support_and_forefoot_first():
    result = simulate("forward-flights", flights=2, seed=7, noise="none")
    contacts = sorted(result.foot_contacts, key=lambda c: c.t_on_s)
    for a, b in zip(contacts, contacts[1:]):
        if b.tread == a.tread + 1 or b.tread == a.tread - 1:
            # the trailing foot leaves after the lead foot lands
            assert a.t_off_s > b.t_on_s
            assert a.t_off_s - b.t_on_s < 0.3
    # stance : swing about 60 : 40 in the flights
    interval = 60.0 / 90.0
    stances = [c.t_off_s - c.t_on_s for c in contacts if c.tread not in (1, result.header.layout.treads)]
    assert sum(stances) / len(stances) == pytest.approx(1.2 * interval, rel=0.1)
    # the halves of a split tread: 40 to 120 ms apart, or flat within 5 ms
    for c in contacts:
        assert 0.040 <= c.on_lag_s <= 0.120 if c.first_zone else c.on_lag_s <= 0.005


@pytest.mark.parametrize("facing", ["forward", "backward"])
def test_first_half_follows_the_facing_table(facing):
    result = simulate(f"{facing}-flights", flights=1, seed=8, noise="none")
    table = {("up", "forward"): "back", ("up", "backward"): "front",
             ("down", "forward"): "front", ("down", "backward"): "back"}
    for c in result.foot_contacts:
        if c.first_zone:
            assert c.first_zone == table[(c.direction, facing)]


def test_light_grip_stays_light_and_firm_grip_firm():
    light = simulate("backward-flights", seed=1, noise="none")
    forces = [v for _, ch, v in light.clean if ch.endswith(".force")]
    assert max(forces) < 0.8
    assert light.truth["rails"]["left"]["firm_s"] == 0.0
    firm = simulate("forward-flights", grip="firm", seed=1, noise="none")
    assert firm.truth["rails"]["left"]["light_s"] < 0.05 * firm.truth["rails"]["left"]["contact_s"]
    assert 2.0 <= firm.truth["rails"]["left"]["peak_force_n"] <= 15.0


# -- noise -----------------------------------------------------------------------------

def _channels(samples) -> dict[str, list[tuple[float, int]]]:
    out: dict[str, list[tuple[float, int]]] = {}
    for t, ch, v in samples:
        if not ch.endswith(".force"):
            out.setdefault(ch, []).append((t, v))
    return out


def _value_at(edges: list[tuple[float, int]], t: float) -> int:
    v = 0
    for te, ve in edges:
        if te > t:
            break
        v = ve
    return v


def check_noise(clean, noisy, layout: RigLayout, *, bounce_s=0.010, dropout_s=0.045, tap_s=0.070,
                rail_dropout_s=0.040, tap_gap_s=0.250):
    """The limits the noise promises, checked on the data (not on the generator's word)."""
    end = clean[-1][0]
    assert noisy[0][0] >= clean[0][0] and noisy[-1][0] <= end
    cl, no = _channels(clean), _channels(noisy)
    groups = [list(layout.tread_channels(i)) for i in range(1, layout.treads + 1)] \
        if layout.tread_sensor == "switch" else []
    groups += [[f"rail.{s}.touch"] for s in layout.rails if layout.rail_has(s, "touch")]
    for group in groups:
        is_rail = group[0].startswith("rail.")
        for ch in group:
            c_edges, n_edges = cl.get(ch, []), no.get(ch, [])
            # every real edge is there at its own time; bounce ends within bounce_s
            for k, (t, v) in enumerate(c_edges):
                assert (t, v) in n_edges
                t_next = c_edges[k + 1][0] if k + 1 < len(c_edges) else end
                settle = t + bounce_s
                if settle < t_next:
                    assert _value_at(n_edges, settle) == v, f"{ch} still bouncing {bounce_s}s after {t}"
        c_raw = union(iv for ch in group for iv in edges_to_intervals(cl.get(ch, []), end))
        n_raw = union(iv for ch in group for iv in edges_to_intervals(no.get(ch, []), end))
        # dropouts: no gap inside a real contact as long as the bridging time
        gaps = subtract(c_raw, n_raw)
        for a, b in gaps:
            assert b - a <= (rail_dropout_s if is_rail else dropout_s) + 1e-6 < 0.060
        # taps and brushes: short, and far from real contacts
        extra = subtract(n_raw, c_raw)
        for a, b in bridge(extra, 0.060):
            near = [iv for iv in c_raw if iv[0] - bounce_s - 1e-6 <= a <= iv[1] + bounce_s + 1e-6]
            if near:  # bounce after a real release
                assert b - near[0][1] <= bounce_s + 1e-6
                continue
            assert b - a <= tap_s + 1e-6 < 0.100
            for c0, c1 in c_raw:
                assert c0 - b >= tap_gap_s - 1e-6 or a - c1 >= tap_gap_s - 1e-6
        # the counted contacts are the same: same first edge, last release within the bounce
        cs = [iv for iv in bridge(c_raw, 0.060) if iv[1] - iv[0] >= (0.05 if is_rail else 0.1)]
        ns = [iv for iv in bridge(n_raw, 0.060) if iv[1] - iv[0] >= (0.05 if is_rail else 0.1)]
        assert len(cs) == len(ns)
        for (c0, c1), (n0, n1) in zip(cs, ns):
            assert n0 == c0 and c1 <= n1 <= c1 + bounce_s + 1e-6


@pytest.mark.parametrize("name", ["forward-flights", "step-to", "mixed", "step-ups", "stepper", "grab"])
@pytest.mark.parametrize("seed", [0, 1])
def test_harsh_noise_stays_within_its_limits(name, seed):
    result = run(name, seed=seed, noise="harsh")
    check_noise(result.clean, result.samples, result.header.layout)
    noisy_truth, _, _ = compute_truth(result.samples, result.header.layout, weight_kg=70.0, name=name)
    assert counts(noisy_truth) == counts(result.truth)


def test_harsh_noise_has_every_kind():
    result = run("backward-flights", seed=0, noise="harsh")
    layout = result.header.layout
    cl, no = _channels(result.clean), _channels(result.samples)
    end = result.clean[-1][0]
    assert sum(len(v) for v in no.values()) > 1.5 * sum(len(v) for v in cl.values())  # bounce
    taps = dropouts = 0
    for i in range(1, layout.treads + 1):
        group = layout.tread_channels(i)
        c_raw = union(iv for ch in group for iv in edges_to_intervals(cl.get(ch, []), end))
        for ch in group:
            c = edges_to_intervals(cl.get(ch, []), end)
            n = edges_to_intervals(no.get(ch, []), end)
            dropouts += sum(1 for a, b in subtract(c, n) if b - a > 0.012)
            taps += sum(1 for a, b in bridge(subtract(n, c), 0.06) if all(
                a - y > 0.2 or x - b > 0.2 for x, y in c_raw))
    assert taps >= 2 and dropouts >= 2
    forces = [v for _, ch, v in result.samples if ch == "rail.left.force"]
    clean_forces = [v for _, ch, v in result.clean if ch == "rail.left.force"]
    residual = [a - b for a, b in zip(forces, clean_forces) if b > 0.3]
    sd = math.sqrt(sum(r * r for r in residual) / len(residual))
    assert 0.05 <= sd <= 0.10


def test_force_tread_taps_stay_short():
    result = simulate("force-treads", seed=2, noise="harsh")
    layout = result.header.layout
    th = DetectionSettings().resolve(70.0)
    end = result.samples[-1][0]
    for i in range(1, layout.treads + 1):
        ch = f"tread.{i}.force"
        clean = hysteresis([(t, v) for t, c, v in result.clean if c == ch], th.tread_force_on_n,
                           th.tread_force_off_n, end)
        noisy = hysteresis([(t, v) for t, c, v in result.samples if c == ch], th.tread_force_on_n,
                           th.tread_force_off_n, end)
        extra = [iv for iv in noisy if not any(iv[0] < b and a < iv[1] for a, b in clean)]
        assert all(b - a < 0.100 for a, b in extra)
        assert len([iv for iv in noisy if iv[1] - iv[0] >= 0.1]) == len(clean)


# random clean contacts on a small rig, then noise: the limits hold and the truth stays
SMALL = RigLayout(treads=3, riser_m=0.17, split=True, rails={"left": ("touch", "force"), "right": ("touch",)})


@st.composite
def clean_sessions(draw):
    rng = random.Random(draw(st.integers(0, 10_000)))
    samples = []
    for i in range(1, SMALL.treads + 1):
        t = rng.uniform(0.5, 2.0)
        for _ in range(draw(st.integers(0, 6))):
            on = t
            off = on + rng.uniform(0.15, 1.5)
            lag = rng.choice([rng.uniform(0.0, 0.005), rng.uniform(0.04, 0.12)])
            first, other = rng.sample(["front", "back"], 2)
            samples += [(round(on, 6), f"tread.{i}.{first}", 1), (round(off, 6), f"tread.{i}.{first}", 0)]
            if off - 0.02 > on + lag:
                samples += [(round(on + lag, 6), f"tread.{i}.{other}", 1),
                            (round(off - 0.02, 6), f"tread.{i}.{other}", 0)]
            t = off + rng.uniform(0.07, 3.0)
    for side in ("left", "right"):
        t = rng.uniform(0.2, 1.0)
        for _ in range(draw(st.integers(0, 4))):
            on, off = t, t + rng.uniform(0.06, 4.0)
            samples += [(round(on, 6), f"rail.{side}.touch", 1), (round(off, 6), f"rail.{side}.touch", 0)]
            t = off + rng.uniform(0.07, 2.0)
    end = max([t for t, _, _ in samples], default=1.0) + 2.0
    samples += [(round(k / 50, 6), "rail.left.force", 0.5 + 0.1 * math.sin(k / 7))
                for k in range(int(end * 50) + 1)]
    samples.sort(key=lambda s: s[0])
    return samples


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clean=clean_sessions(), seed=st.integers(0, 2**32 - 1), level=st.sampled_from(["typical", "harsh"]))
def test_noise_on_any_clean_session_keeps_the_truth(clean, seed, level):
    noisy = add_noise(clean, SMALL, random.Random(seed), **NOISE_LEVELS[level])
    check_noise(clean, noisy, SMALL)
    want, _, _ = compute_truth(clean, SMALL, weight_kg=70.0)
    got, _, _ = compute_truth(noisy, SMALL, weight_kg=70.0)
    assert counts(got) == counts(want)
