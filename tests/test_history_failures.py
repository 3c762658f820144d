"""Failing parts under the history: a file truncated or removed while the service runs, a full
disk at start and while running, a read-only database. Health tells the truth within seconds,
the API answers 503 with a reason, a disk error is never called damage, writes and sessions wait
and go in when the disk works again.

Real SQLite files, real services on mock pins, the real panel over HTTP, a real Mosquitto; the
full disk on a real tmpfs is in test_history_full_disk.py.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rig.history import HistoryStore, HistoryUnavailable
from rig.layout import RigLayout
from rig.service import Service
from rig.sim.mockrig import SimulatedRig
from tests.rigs import config_for

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = RigLayout(treads=3, riser_m=0.17, rails={"left": ("touch", "force"), "right": ("touch",)})
WAIT_S = 15.0


def wait_for(predicate, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:g} s: {what}")


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class Rig:
    """A real service on mock pins (optionally with its panel), on ``data_dir``."""

    def __init__(self, data_dir: str, *, web: bool = False):
        tables = {"web": {"enabled": True, "host": "127.0.0.1", "port": 0}} if web else {}
        self.config = config_for(LAYOUT, data_dir, **tables)
        self.rig = SimulatedRig(self.config, speed=1.0)
        self.service = Service(self.config, pin_factory=self.rig.factory, clock=self.rig.clock, source="sim")
        self.steps = 0
        self.service.subscribe("test", self._count, types={"step"})
        self.service.start()
        self.stopped = False

    def _count(self, event: dict) -> None:
        self.steps += 1

    def climb(self) -> None:
        for tread in (1, 2, 3):
            before = self.steps
            self.rig.set_sample(f"tread.{tread}", 1)
            wait_for(lambda: self.steps > before, f"a step on tread {tread}")
            threading.Event().wait(0.1)
            if tread > 1:
                self.rig.set_sample(f"tread.{tread - 1}", 0)
        self.rig.set_sample("tread.3", 0)

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            try:
                self.service.stop()
            finally:
                self.rig.close()


@pytest.fixture
def rigs(tmp_path):
    started = []

    def start(**kw) -> Rig:
        r = Rig(str(tmp_path / "data"), **kw)
        started.append(r)
        return r
    yield start
    for r in started:
        r.stop()


# -- the file truncated or removed under a running service ------------------------------------------

def test_a_history_truncated_while_the_service_runs_is_reported_and_the_api_answers_503(rigs, tmp_path):
    r = rigs(web=True)
    url = r.service.panel.url.rstrip("/")
    assert get_json(url + "/healthz")[1]["history"]["available"] is True
    assert get_json(url + "/api/sessions")[0] == 200
    os.truncate(r.service.store.path, 0)           # what the hostile test did
    wait_for(lambda: get_json(url + "/healthz")[1]["history"]["available"] is False,
             "/healthz says the history is unavailable")
    for path in ("/api/status", "/healthz"):       # each says why, in the words the log uses
        history = get_json(url + path)[1]["history"]
        assert history["available"] is False and "truncated" in history["error"], (path, history)
    assert get_json(url + "/healthz")[0] == 200    # the rig counts on: healthy, the history a problem
    status, body = get_json(url + "/api/sessions")
    assert status == 503 and "truncated" in body["error"] and r.service.store.path in body["error"]
    assert "history unavailable: history unavailable" not in body["error"]
    # status.json, and stairrig status (still counting: healthy, with the history as a problem)
    r.service.status.write(r.service.clock.now())
    out = subprocess.run([sys.executable, "-m", "rig", "status", "--json", "--data-dir", r.config.data_dir],
                         capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={**os.environ, "RUNTIME_DIRECTORY": ""})
    doc = json.loads(out.stdout)
    assert out.returncode == 0 and doc["state"] == "healthy", out.stderr
    assert doc["history"]["available"] is False and doc["history"]["failure"] == "lost"
    assert any("truncated" in p for p in doc["problems"])
    assert not any(p.startswith("history unavailable: history unavailable") for p in doc["problems"])
    r.climb()                                       # the rig goes on counting
    assert r.service.live.snapshot()["session"]["steps"] >= 3


def test_a_history_removed_while_it_is_open_is_copied_aside_whole(tmp_path, caplog):
    store = HistoryStore.open(str(tmp_path))
    try:
        athlete = store.ensure_default_athlete("Ann", 60.0)
        for day in (1, 2, 3):
            store.begin_session(athlete_id=athlete, started_at=f"2026-03-0{day}T10:00:00", drill={}, level=None,
                                trace_path=None)
        store.flush()
        for name in os.listdir(tmp_path):
            os.remove(tmp_path / name)              # rm history.sqlite3*
        wait_for(lambda: not store.available, "the store notices the removal")
        health = store.health()
        assert health["failure"] == "lost" and "removed" in health["error"]
        with pytest.raises(HistoryUnavailable):
            store.add_athlete("Bob", 70.0)
    finally:
        store.close()
    rescued = [n for n in os.listdir(tmp_path) if n.startswith("history.sqlite3.rescued-")]
    assert len(rescued) == 1 and rescued[0] in health["error"]
    copy = sqlite3.connect(tmp_path / rescued[0])
    assert copy.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT count(*) FROM sessions").fetchone()[0] == 3
    copy.close()
    os.rename(tmp_path / rescued[0], tmp_path / "history.sqlite3")   # what the message says to do
    with HistoryStore.open(str(tmp_path)) as again:
        assert len(again.sessions()) == 3


# -- a read-only database while running: writes and sessions wait, then go in ---------------------

def test_sessions_wait_while_the_history_is_read_only_and_go_in_when_it_works(rigs, caplog):
    r = rigs()
    store = r.service.store
    writer = store._writer
    caplog.set_level(logging.WARNING)
    writer.conn.execute("PRAGMA query_only = 1")       # every write now fails as on a read-only file
    r.service.commands.start_session()
    r.climb()
    wait_for(lambda: not store.available, "the history is unavailable")
    health = r.service.storage_health()["history"]
    assert health["failure"] == "disk" and "read-only" in health["error"] and "damaged" not in health["error"]
    assert health["waiting_sessions"] == 1
    r.service.commands.stop_session()
    wait_for(lambda: r.service.history.waiting_sessions == 1 and
             next(iter(r.service.history._waiting.values()))["end"] is not None, "the ended session waits")
    with pytest.raises(HistoryUnavailable):
        store.add_athlete("Bob", 70.0)
    assert store.sessions() == []                   # reads still work: nothing was saved yet
    writer.conn.execute("PRAGMA query_only = 0")      # the disk works again
    writer.retry_now()
    wait_for(lambda: store.available, "the history comes back without a restart")
    rows = wait_for(lambda: [s for s in store.sessions() if s["status"] == "closed"], "the waiting session is saved")
    assert len(rows) == 1 and rows[0]["steps"] >= 3
    assert r.service.storage_health()["history"]["waiting_sessions"] == 0
    failures = [rec for rec in caplog.records if "stairrig tries again" in rec.getMessage()]
    assert len(failures) == 1                       # logged once, not on every try
    assert any("history available again" in rec.getMessage() for rec in caplog.records)


def test_sessions_still_waiting_at_stop_are_named_with_their_traces(rigs, caplog):
    r = rigs()
    r.service.store._writer.conn.execute("PRAGMA query_only = 1")     # and it stays so to the end
    r.service.commands.start_session()
    r.climb()
    r.service.commands.stop_session()
    wait_for(lambda: r.service.history.waiting_sessions == 1 and
             next(iter(r.service.history._waiting.values()))["end"] is not None, "the ended session waits")
    key = next(iter(r.service.history._waiting))
    caplog.set_level(logging.ERROR)
    r.stop()
    lost = [rec.getMessage() for rec in caplog.records if "waited for the history and are not saved" in rec.getMessage()]
    assert len(lost) == 1 and key in lost[0]
    trace = os.path.join(r.config.data_dir, "sessions", f"{key}.jsonl.gz")
    assert trace in lost[0] and os.path.getsize(trace) > 0          # the steps are in the raw trace


def test_writes_queued_when_the_disk_fails_are_kept_and_saved_when_it_works(tmp_path):
    with HistoryStore.open(str(tmp_path)) as store:
        athlete = store.ensure_default_athlete("Ann", 60.0)
        sid = store.begin_session(athlete_id=athlete, started_at="2026-03-01T10:00:00", drill={}, level=None,
                                  trace_path=None)
        store._writer.conn.execute("PRAGMA query_only = 1")
        for n in range(1, 21):
            store.update_session(sid, duration_s=float(n), summary={"steps": n, "duration_s": float(n)})
        store.end_session(sid, ended_at="2026-03-01T10:00:21", duration_s=21.0, summary={"steps": 21, "events": [{"type": "grab", "t": 3.0}]},
                          flights=[], events=None, energy_kcal=1.0)
        wait_for(lambda: not store.available, "the failure is seen")
        store.flush()
        assert store.health()["waiting_writes"] == 21
        store._writer.conn.execute("PRAGMA query_only = 0")
        store._writer.retry_now()
        wait_for(lambda: store.available, "the history comes back")
        session = store.session(sid)
        assert session["status"] == "closed" and session["steps"] == 21 and session["grabs"] == 1
        assert store.health()["waiting_writes"] == 0 and store.health()["recoveries"] == 1


# -- what a damaged file is called ---------------------------------------------------------------

def test_damage_is_named_when_the_integrity_check_finds_it(tmp_path):
    with HistoryStore.open(str(tmp_path)) as store:
        athlete = store.ensure_default_athlete("Ann", 60.0)
        for day in range(1, 30):
            store.begin_session(athlete_id=athlete, started_at=f"2026-03-{day:02d}T10:00:00", drill={"x": "y" * 900},
                                level=None, trace_path=None)
    path = tmp_path / "history.sqlite3"
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data), page):      # every page past the first two: garbage
        data[offset + 8: offset + 200] = b"\xa5" * 192
    path.write_bytes(bytes(data))
    with pytest.raises(HistoryUnavailable) as caught:
        HistoryStore.open(str(tmp_path))
    message = str(caught.value)
    assert "is damaged" in message and "integrity check" in message and "restore a backup" in message
    assert message.count("history unavailable") == 1


def test_the_service_says_history_unavailable_once(tmp_path, caplog):
    data = tmp_path / "data"
    data.mkdir()
    (data / "history.sqlite3").write_text("not a database at all\n")      # someone else's file
    caplog.set_level(logging.ERROR)
    config = config_for(LAYOUT, str(data))
    rig = SimulatedRig(config, speed=1.0)
    service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")
    try:
        health = service.storage_health()["history"]
        assert health["available"] is False and "not a SQLite database" in health["error"]
        logged = [rec.getMessage() for rec in caplog.records if "history unavailable" in rec.getMessage()]
        assert logged and all(m.count("history unavailable") == 1 for m in logged), logged
    finally:
        service.sensors.close()
        service.stop()
        rig.close()


# -- MQTT's diagnostics say so too ------------------------------------------------------------------

def test_mqtt_diagnostics_say_when_the_history_and_the_trace_fail(mqtt_broker, mqtt_rig):
    from tests.broker import Collector
    collector = Collector(mqtt_broker.port, topics=("stairrig/diagfail/#",))
    try:
        service = mqtt_rig.start(mqtt_broker.port, rig_id="diagfail")
        topic = "stairrig/diagfail/diagnostics"
        first = collector.wait_for(lambda m: m.topic == topic and m.payload, what="diagnostics").json()
        assert first["history_available"] is True and first["history_error"] is None
        assert first["trace_problems"] == []
        os.truncate(service.store.path, 0)
        doc = collector.wait_for(lambda m: m.topic == topic and m.payload and not m.json()["history_available"],
                                 what="diagnostics saying the history is unavailable").json()
        assert "truncated" in doc["history_error"]
        trace = service.recorder.path
        os.remove(trace)
        os.rmdir(os.path.dirname(trace))            # the black box's folder gone: it cannot be put back
        doc = collector.wait_for(lambda m: m.topic == topic and m.payload and m.json()["trace_problems"],
                                 what="diagnostics naming the lost trace").json()
        assert trace in doc["trace_problems"][0]
    finally:
        collector.close()


def test_the_writes_that_wait_are_bounded_and_the_running_figures_go_first(tmp_path, monkeypatch):
    from rig.history import recovery
    monkeypatch.setattr(recovery, "BACKLOG_MAX", 10)
    with HistoryStore.open(str(tmp_path)) as store:
        athlete = store.ensure_default_athlete("Ann", 60.0)
        sid = store.begin_session(athlete_id=athlete, started_at="2026-03-01T10:00:00", drill={}, level=None,
                                  trace_path=None)
        store._writer.conn.execute("PRAGMA query_only = 1")
        store.end_session(sid, ended_at="2026-03-01T10:00:30", duration_s=30.0, summary={"steps": 30},
                          flights=[], events=[], energy_kcal=1.0)          # significant: it must stay
        for n in range(1, 41):
            store.update_session(sid, duration_s=float(n), summary={"steps": n})
        store.flush()
        health = store.health()
        assert health["available"] is False
        assert health["waiting_writes"] == 10 and health["dropped_writes"] == 31
        store._writer.conn.execute("PRAGMA query_only = 0")
        store._writer.retry_now()
        wait_for(lambda: store.available, "the history comes back")
        session = store.session(sid)
        assert session["status"] == "closed" and session["steps"] == 30      # the end survived the bound
