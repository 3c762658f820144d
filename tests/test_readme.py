"""What the README and docs/operations.md tell a new owner to run works as pasted, and says what the code does.

One short demo (its data folder made by the demo itself, in a temporary directory of the test's) is run
through the installed ``stairrig`` command; its start and end lines, the commands it prints and the
README's commands for after the demo are then run as a user would paste them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from rig.cli import build_parser
from rig.cli_demo import start_lines

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
STAIRRIG = Path(sys.executable).parent / "stairrig"     # .venv/bin/stairrig under ./dev.sh test


def sh_blocks(text: str) -> list[str]:
    """The lines of the ```sh blocks of a Markdown text."""
    return [line for block in re.findall(r"```sh\n(.*?)```", text, re.S) for line in block.splitlines()]


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A finished 80-simulated-second demo at x20 without --data-dir: (its output, its data folder)."""
    if not STAIRRIG.exists():
        pytest.skip(f"no {STAIRRIG}: the stairrig command is installed by pip install -e . (./dev.sh does)")
    tmp = tmp_path_factory.mktemp("demo-tmp")
    done = run([str(STAIRRIG), "demo", "--duration", "80", "--speed", "20", "--port", "0"],
               env={**os.environ, "TMPDIR": str(tmp)}, cwd=tmp)
    assert done.returncode == 0, done.stderr
    made = [p for p in tmp.iterdir() if p.name.startswith("stairrig-demo-")]
    assert len(made) == 1, made
    return done.stdout, made[0]


def test_the_demo_says_how_long_how_to_stop_and_where_its_data_is(demo):
    out, folder = demo
    start = out.split("  each line:")[0]
    assert "80 simulated seconds at speed x20: about 4 s. Ctrl+C stops it sooner (its summary is still printed)." \
        in start
    assert (f"  its data (history, raw traces, status): {folder}, a new folder, kept after the demo "
            "(--data-dir DIR picks the folder)") in start
    assert f"its data stays in {folder} (remove it with: rm -r {folder})" in out.splitlines()[-1]
    assert (folder / "history.sqlite3").exists() and list((folder / "traces").glob("*.jsonl.gz"))


def test_the_commands_the_demo_prints_work_as_pasted(demo):
    out, folder = demo
    printed = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out.splitlines()
               if line.startswith(("its raw trace:", "replay it:", "its sessions:", "its last status:"))}
    assert Path(printed["its raw trace"]).exists() and printed["its raw trace"].startswith(str(folder))
    assert "demo summary" in out and "(t: seconds from the demo's start (its trace's start))" in out
    replay = run(shlex.split(printed["replay it"]))
    assert replay.returncode == 0, replay.stderr
    assert "(t: seconds from the trace start)" in replay.stdout
    sessions = run(shlex.split(printed["its sessions"]))
    assert sessions.returncode == 0 and re.search(r"^\s+1\s+\d{4}-", sessions.stdout, re.M), sessions.stdout
    show = run([str(STAIRRIG), "sessions", "show", "1", "--data-dir", str(folder)])
    assert show.returncode == 0 and "(t: seconds from the session start)" in show.stdout, show.stdout
    status = run(shlex.split(printed["its last status"]))
    assert status.returncode == 3 and status.stdout.startswith("stairrig: stopped at "), status.stdout


def test_the_readme_commands_after_the_demo_work(demo):
    """The README's lines for after the demo, with the folder the demo printed."""
    _, folder = demo
    lines = [line for line in sh_blocks(README) if "/tmp/stairrig-demo-..." in line]
    assert len(lines) == 2
    for line in lines:
        argv = shlex.split(line.replace("/tmp/stairrig-demo-...", str(folder)), comments=True)
        assert argv[0] == ".venv/bin/stairrig"
        done = run([str(STAIRRIG), *argv[1:]], cwd=ROOT)
        if argv[1] == "status":
            assert done.returncode == 3 and re.match(r"stairrig: stopped at .*, after running ", done.stdout)
        else:
            assert done.returncode == 0 and "closed" in done.stdout, done.stdout


def test_the_readme_names_where_stairrig_is_and_dev_sh_says_it():
    assert "`.venv/bin/stairrig`" in README and "`. .venv/bin/activate`" in README
    dev = (ROOT / "dev.sh").read_text()
    assert 'the stairrig command is $PWD/$VENV/bin/stairrig' in dev and 'VENV=.venv' in dev
    assert STAIRRIG.name == "stairrig"


def demo_args(command: str) -> list[str]:
    line = next(line for line in sh_blocks(README) + README.splitlines() if command in line)
    return shlex.split(line[line.index(command):].split("`")[0], comments=True)[2:]


def test_the_readme_demos_take_what_they_say():
    """The first demo runs two minutes; --speed 10 --duration 300 thirty seconds (the demo's own estimate)."""
    first = build_parser().parse_args(["demo", *demo_args("./dev.sh demo --duration")])
    assert (first.duration, first.speed) == (120.0, 1.0) and "two minutes" in README
    assert "about 2 min." in start_lines(first.duration, first.speed, "/x", True)[0]
    fast = build_parser().parse_args(["demo", *demo_args("./dev.sh demo --speed 10")])
    assert "about 30 s." in start_lines(fast.duration, fast.speed, "/x", True)[0]
    assert "five simulated minutes in\nthirty seconds" in README and fast.duration == 300
    default = build_parser().parse_args(["demo"])
    assert default.duration == 600 and "it runs ten simulated minutes" in README


def test_operations_md_shows_the_json_of_a_service_not_running(tmp_path):
    text = (ROOT / "docs" / "operations.md").read_text()
    shown = json.loads(re.search(r'`(\{"state": "not_running".*?\})`', text.replace("\n", " ")).group(1)
                       .replace("[...]", "[]"))
    done = run([sys.executable, "-m", "rig", "status", "--json", "--data-dir", str(tmp_path / "none")])
    doc = json.loads(done.stdout)
    assert done.returncode == 3 and set(doc) == set(shown) and doc["state"] == shown["state"]
    assert doc["running"] is shown["running"] is False
