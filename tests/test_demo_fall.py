"""``stairrig demo --fall``: the simulated athlete falls once (a real suspected fall from the detector),
comes back and goes on; without ``--fall`` nobody falls."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from rig.config import example_config_path, load_config
from rig.core import Detector
from rig.layout import RigLayout
from rig.sim import simulate
from rig.sim.scenarios import demo_fall_after_s

DURATION_S = "75"
SPEED = "40"


def run(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "rig", *args], capture_output=True, text=True, timeout=timeout)


def demo(tmp_path, *extra):
    done = run("demo", "--duration", DURATION_S, "--speed", SPEED, "--port", "0", "--data-dir", str(tmp_path),
               *extra)
    assert done.returncode == 0, done.stderr
    history = run("sessions", "list", "--json", "--data-dir", str(tmp_path))
    assert history.returncode == 0, history.stderr
    return done.stdout, json.loads(history.stdout)


def test_with_fall_the_demo_has_exactly_one_suspected_fall(tmp_path):
    out, sessions = demo(tmp_path, "--fall")
    assert len(re.findall(r"!!! SUSPECTED FALL \(last step on tread 3\)", out)) == 1
    assert re.search(r"the athlete falls once, at \d+ s", out)
    assert re.search(r"events .*1 fall suspected", out)         # the run's summary
    assert sum(s["falls"] for s in sessions) == 1                # the history
    assert "TEST" not in out                                      # a real fall, not a test of the alarm


def test_without_fall_nobody_falls(tmp_path):
    out, sessions = demo(tmp_path)
    assert "SUSPECTED FALL" not in out and "falls once" not in out
    assert sessions and sum(s["falls"] for s in sessions) == 0


def test_a_fall_needs_a_demo_long_enough_to_come_back(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))       # where the demo would make its data folder
    done = run("demo", "--duration", "30", "--fall", "--port", "0")
    assert done.returncode == 2
    assert "--fall needs a demo of at least 60 simulated seconds" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []             # refused before anything was made


def test_the_demo_ends_on_time_on_a_rig_without_load_cells(tmp_path):
    """Touch-only rails: the script's last sample comes before the demo's end, and the clock must
    run on to it (it stopped at the last sample, and the demo never ended)."""
    text = open(example_config_path()).read()
    text = "\n".join(line for line in text.splitlines() if "rail.left.force" not in line
                     and "rail.right.force" not in line)
    config = tmp_path / "touch-only.toml"
    config.write_text(text)
    done = run("demo", "--config", str(config), "--duration", "20", "--speed", "10", "--port", "0",
               "--data-dir", str(tmp_path / "data"), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "demo summary" in done.stdout


def falls_and_steps_after(sim, layout):
    det = Detector(layout, None, 70.0)
    for t, channel, value in sim.samples:
        det.feed(t, channel, value)
    det.finish(sim.samples[-1][0] + 0.1)
    falls = [e for e in det.summary()["events"] if e["type"] == "fall_suspected"]
    after = [s for s in sim.steps if falls and s["t"] > falls[0]["t"]]
    return falls, after


@pytest.mark.parametrize("duration_s, seed", [(60.0, 0), (60.0, 7), (200.0, 1), (600.0, 2)])
def test_the_scenario_falls_once_on_a_middle_tread_and_the_athlete_comes_back(duration_s, seed):
    layout = load_config(example_config_path()).layout
    sim = simulate("demo", seed=seed, layout=layout, duration_s=duration_s, fall_after_s=demo_fall_after_s(duration_s))
    falls, after = falls_and_steps_after(sim, layout)
    assert sim.truth["events"]["fall_suspected"] == 1
    assert len(falls) == 1 and falls[0]["tread"] == 3
    assert len(after) >= 5                     # back on the stairs, going on
    if duration_s >= 180.0:
        assert falls[0]["t"] > 60.0            # on a climb after the first simulated minute


@pytest.mark.parametrize("layout", [RigLayout(kind="stepper", treads=2, rails={"left": ("force",)}),
                                    RigLayout(treads=2, rails={"left": ("touch",)})])
def test_a_rig_without_a_middle_tread_cannot_fall(layout):
    with pytest.raises(ValueError, match="a fall needs a flight of at least 3 treads"):
        simulate("demo", layout=layout, duration_s=120.0, fall_after_s=40.0)
