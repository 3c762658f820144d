"""A real full disk: the data directory (or /run's status) on a 2 MB tmpfs in a private mount
namespace (``unshare -m``; skipped where the machine does not allow it). At start the history is
called full, never damaged; while running the writes wait and go in when there is room again;
status.json leaves no temporary file and is logged once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# -- a real full disk: a 2 MB tmpfs in a private mount namespace -----------------------------------

FULL_DISK_SCRIPT = textwrap.dedent('''
    import json, logging, os, sys, time
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from rig.history import HistoryStore, HistoryUnavailable
    d, mode = sys.argv[1], sys.argv[2]
    out = {}

    def fill():
        fd = os.open(os.path.join(d, "filler"), os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\\0" * 4096)
        except OSError:
            pass
        os.close(fd)

    store = HistoryStore.open(d)
    athlete = store.ensure_default_athlete("Ann", 60.0)
    sid = store.begin_session(athlete_id=athlete, started_at="2026-03-01T10:00:00", drill={}, level=None,
                              trace_path=None)
    if mode == "start":
        store.close()
        fill()
        try:
            HistoryStore.open(d).close()
            out["opened"] = True
        except HistoryUnavailable as exc:
            out["error"] = str(exc)
        os.remove(os.path.join(d, "filler"))
    else:
        fill()
        big = {"steps": 5, "duration_s": 5.0, "blob": "x" * 200_000}
        for n in range(20):
            store.update_session(sid, duration_s=float(n), summary=big)
        store.end_session(sid, ended_at="2026-03-01T10:00:30", duration_s=30.0, summary={"steps": 30},
                          flights=[], events=[], energy_kcal=1.0)
        deadline = time.monotonic() + 10
        while store.available and time.monotonic() < deadline:
            time.sleep(0.05)
        out["health"] = store.health()
        try:
            store.add_athlete("Bob", 70.0)
        except HistoryUnavailable as exc:
            out["call"] = str(exc)
        os.remove(os.path.join(d, "filler"))     # room again
        store._writer.retry_now()
        deadline = time.monotonic() + 10
        while not store.available and time.monotonic() < deadline:
            time.sleep(0.05)
        out["after"] = store.health()
        out["session"] = {k: store.session(sid)[k] for k in ("status", "steps")}
        store.close()
        if os.path.exists(os.path.join(d, "filler")):
            os.remove(os.path.join(d, "filler"))
    import sqlite3
    out["quick_check"] = sqlite3.connect(os.path.join(d, "history.sqlite3")).execute("PRAGMA quick_check").fetchone()[0]
    print(json.dumps(out))
''')


def run_on_small_disk(tmp_path, mode: str, *, script: str = FULL_DISK_SCRIPT) -> tuple[dict, str]:
    """Run ``script`` with a fresh 2 MB tmpfs (its first argument) in a private mount namespace."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("a private tmpfs needs root and unshare")
    mnt = tmp_path / "small"
    mnt.mkdir()
    path = tmp_path / "on_small_disk.py"
    path.write_text(script)
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
           f'mount -t tmpfs -o size=2m tmpfs "{mnt}" && exec "{sys.executable}" "{path}" "{mnt}" {mode}']
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0 and "mount" in done.stderr and "permission" in done.stderr.lower():
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_a_full_disk_at_start_is_called_full_never_damaged(tmp_path):
    out, log_text = run_on_small_disk(tmp_path, "start")
    error = out["error"]
    assert "full" in error and "not damaged" in error
    assert "is damaged" not in error and "restore a backup" not in error and "move the file away" not in error
    assert out["quick_check"] == "ok"                # and indeed it is not


def test_a_disk_that_fills_while_running_keeps_the_writes_and_comes_back(tmp_path):
    out, log_text = run_on_small_disk(tmp_path, "running")
    health = out["health"]
    assert health["available"] is False and health["failure"] == "disk"
    assert "is full" in health["error"] and "damaged" not in health["error"]
    assert health["waiting_writes"] >= 1
    assert "is full" in out["call"]
    after = out["after"]
    assert after["available"] is True and after["waiting_writes"] == 0 and after["recoveries"] >= 1
    assert out["session"] == {"status": "closed", "steps": 30}
    assert out["quick_check"] == "ok"
    assert log_text.count("is full") == 1, log_text       # logged once, not on every try


# -- status.json on a full disk ----------------------------------------------------------------------

STATUS_SCRIPT = textwrap.dedent('''
    import json, logging, os, sys, tempfile
    records = []
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().addHandler(type("H", (logging.Handler,), {"emit": lambda self, r: records.append(r.getMessage())})())
    run_dir = sys.argv[1]
    os.environ["RUNTIME_DIRECTORY"] = run_dir
    from rig.layout import RigLayout
    from rig.service import Service
    from rig.sim.mockrig import SimulatedRig
    from tests.rigs import config_for
    config = config_for(RigLayout(treads=2), tempfile.mkdtemp())
    rig = SimulatedRig(config, speed=1.0)
    service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")
    fd = os.open(os.path.join(run_dir, "filler"), os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\\0" * 4096)
    except OSError:
        pass
    os.close(fd)
    for n in range(5):
        service.status.write(float(n))
    out = {"full": sorted(os.listdir(run_dir)), "log": [m for m in records if "status.json" in m]}
    os.remove(os.path.join(run_dir, "filler"))
    service.status.write(6.0)
    out["after"] = sorted(os.listdir(run_dir))
    out["log_after"] = [m for m in records if "status.json" in m]
    with open(os.path.join(run_dir, "status.json")) as fh:
        out["uptime_s"] = json.load(fh)["uptime_s"]
    service.stop()
    rig.close()
    print(json.dumps(out))
''')


def test_status_json_on_a_full_disk_leaves_no_temporary_file_and_is_logged_once(tmp_path):
    out, _ = run_on_small_disk(tmp_path, "", script=STATUS_SCRIPT)
    assert out["full"] == ["filler"]                 # no status.json.tmp left behind
    assert len(out["log"]) == 1 and "cannot write" in out["log"][0]
    assert out["after"] == ["status.json"] and out["uptime_s"] == 6.0
    assert len(out["log_after"]) == 2 and "written again" in out["log_after"][1]
