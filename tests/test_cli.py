"""The command line, run as a user would: ``python -m rig ...`` in a subprocess."""

import json
import re
import subprocess
import sys

from rig.config import example_config_path
from tests.truth import differences


def run(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "rig", *args], capture_output=True, text=True, timeout=timeout)


def test_version_and_help():
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("stairrig ")
    done = run("--help")
    for command in ("replay", "simulate", "demo", "run", "check-config"):
        assert command in done.stdout


def test_check_config_ok_and_bad(tmp_path):
    ok = run("check-config", example_config_path())
    assert ok.returncode == 0 and "OK" in ok.stdout
    bad = tmp_path / "rig.toml"
    bad.write_text(open(example_config_path()).read().replace("treads = 5", "treads = 5\nstairs = 3"))
    done = run("check-config", str(bad))
    assert done.returncode == 1
    assert f"{bad}: rig.stairs: unknown key" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_refuses_a_bad_config_with_a_message(tmp_path):
    bad = tmp_path / "rig.toml"
    bad.write_text("[rig]\nkind = 'flight'\ntreads = 'five'\n")
    done = run("run", "--config", str(bad))
    assert done.returncode != 0
    assert "rig.treads" in done.stderr and "Traceback" not in done.stderr


def test_simulate_writes_a_trace_whose_replay_matches_its_truth(tmp_path):
    out = tmp_path / "sim.jsonl.gz"
    done = run("simulate", "--out", str(out), "--scenario", "backward-flights", "--seed", "4", "--noise", "harsh")
    assert done.returncode == 0, done.stderr
    truth = json.loads((tmp_path / "sim.truth.json").read_text())
    summary = json.loads(run("replay", str(out), "--json").stdout)
    assert differences(summary, truth) == []
    assert truth["facing"]["backward"] > 0.9 * truth["steps"]


def test_simulate_unknown_scenario(tmp_path):
    done = run("simulate", "--out", str(tmp_path / "x.jsonl"), "--scenario", "moonwalk")
    assert done.returncode == 1 and "unknown scenario 'moonwalk'" in done.stderr


def test_demo_runs_the_whole_live_path(tmp_path):
    done = run("demo", "--duration", "25", "--speed", "10", "--data-dir", str(tmp_path), "--port", "0")
    assert done.returncode == 0, done.stderr
    assert re.search(r"the panel: http://127\.0\.0\.1:[1-9][0-9]*/", done.stdout), done.stdout
    assert "step    1  up     tread 1  facing backward" in done.stdout
    assert "demo summary" in done.stdout
    traces = list((tmp_path / "traces").glob("*.jsonl.gz"))
    assert len(traces) == 1
    replayed = json.loads(run("replay", str(traces[0]), "--json").stdout)
    assert f"steps            {replayed['steps']}  " in done.stdout
    assert replayed["steps"] >= 5
    # a folder given: named at the start and the end, nothing said about removing it
    assert f"  its data (history, raw traces, status): {tmp_path}\n" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1] == f"its data stays in {tmp_path}"
    assert f"its raw trace:   {traces[0]}" in done.stdout


def test_ctrl_c_stops_the_demo_with_its_summary(tmp_path):
    """The demo's first lines say Ctrl+C stops it sooner and that the summary is still printed."""
    import signal
    proc = subprocess.Popen([sys.executable, "-m", "rig", "demo", "--data-dir", str(tmp_path), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        seen = []
        for line in proc.stdout:          # the default demo: ten simulated minutes at x1
            seen.append(line)
            if "step    2  up" in line:
                break
        assert "Ctrl+C stops it sooner (its summary is still printed)." in "".join(seen)
        assert "A shorter one: --duration 120 (simulated seconds); a faster one: --speed 10" in "".join(seen)
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0
    steps = re.search(r"^steps +(\d+)", rest, re.M)
    assert "demo summary" in rest and steps and int(steps.group(1)) >= 2, rest
    assert f"its data stays in {tmp_path}" in rest


def example_on_a_free_port(tmp_path):
    """The example configuration with its data in tmp_path and the panel on 127.0.0.1, any free port."""
    text = open(example_config_path()).read().replace('"/var/lib/stairrig"', f'"{tmp_path}"')
    text = text.replace('host = "0.0.0.0"', 'host = "127.0.0.1"').replace("port = 8080", "port = 0")
    config = tmp_path / "rig.toml"
    config.write_text(text)
    return config


def test_run_with_the_mock_pin_factory_stops_cleanly_on_sigint(tmp_path):
    import os
    import signal
    config = example_on_a_free_port(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "rig", "run", "--config", str(config)],
                            env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import queue
    import threading
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    try:
        seen = []
        while "stairrig is running" not in (line := lines.get(timeout=60)):   # the log says when it is up
            seen.append(line)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    err = "".join(seen) + "".join(lines.queue)
    assert proc.returncode == 0, err
    assert re.search(r"the panel: http://127\.0\.0\.1:[1-9][0-9]*/", err), err
    traces = list((tmp_path / "traces").glob("*.jsonl.gz"))
    assert len(traces) == 1
    done = run("replay", str(traces[0]), "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["steps"] == 0


def test_run_names_an_unknown_pin_factory(tmp_path):
    import os
    config = example_on_a_free_port(tmp_path)
    done = subprocess.run([sys.executable, "-m", "rig", "run", "--config", str(config)],
                          env={**os.environ, "GPIOZERO_PIN_FACTORY": "nonesuch"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "unknown pin factory 'nonesuch'" in done.stderr and "Traceback" not in done.stderr


import pytest  # noqa: E402


@pytest.mark.parametrize("args, words", [
    (("demo", "--duration", "nan"), "a duration in seconds must be between"),
    (("demo", "--duration", "-5"), "a duration in seconds must be between"),
    (("demo", "--speed", "0"), "a speed must be between"),
    (("demo", "--speed", "fast"), "'fast' is not a number"),
    (("simulate", "--out", "x.jsonl", "--duration", "1e9"), "a duration in seconds must be between"),
    (("replay", "x.jsonl", "--weight-kg", "-5"), "a body weight in kg must be between"),
    (("demo", "--port", "http"), "a port is a whole number from 0 to 65535"),
    (("demo", "--port", "70000"), "a port is a whole number from 0 to 65535"),
])
def test_bad_numbers_on_the_command_line(args, words):
    done = run(*args)
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("url, words", [
    ("http://broker:1883", "mqtt:// or mqtts://"),
    ("mqtt://", "host"),
    ("mqtt://broker:99999", "port"),
])
def test_a_bad_mqtt_url_is_refused_before_anything_starts(tmp_path, url, words):
    import os
    done = run("demo", "--duration", "5", "--port", "0", "--data-dir", str(tmp_path), "--mqtt", url)
    assert done.returncode == 2 and "--mqtt" in done.stderr and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    env_done = subprocess.run([sys.executable, "-m", "rig", "run", "--config", str(example_on_a_free_port(tmp_path))],
                              env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "STAIRRIG_MQTT_URL": url},
                              capture_output=True, text=True, timeout=60)
    assert env_done.returncode == 2 and "STAIRRIG_MQTT_URL" in env_done.stderr, env_done.stderr


def test_mqtt_password_on_the_command_line_is_refused(tmp_path):
    """``/proc/PID/cmdline`` is readable by every local user: ``--mqtt`` takes no password (run and demo)."""
    import os
    for command in (("demo", "--duration", "5", "--port", "0", "--data-dir", str(tmp_path / "demo")),
                    ("run", "--config", str(example_on_a_free_port(tmp_path)))):
        done = subprocess.run([sys.executable, "-m", "rig", *command, "--mqtt", "mqtt://coach:hunter2@127.0.0.1"],
                              env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 2, done.stderr
        assert f"stairrig {command[0]}: --mqtt: 'mqtt://coach:***@127.0.0.1': a password on the command line" \
            in done.stderr
        assert "STAIRRIG_MQTT_URL" in done.stderr and "password_file" in done.stderr
        assert "hunter2" not in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "demo").exists()   # refused before anything starts
        helped = " ".join(run(command[0], "--help").stdout.split())
        assert "No password here" in helped and "STAIRRIG_MQTT_URL='mqtt://user:password@host'" in helped
