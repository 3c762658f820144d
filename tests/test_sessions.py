"""Sessions end to end: the live service on the mock rig, the history in a real SQLite file."""

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from rig.config import HistoryConfig, WebConfig, example_config_path, load_config
from rig.history import HistoryStore
from rig.layout import RigLayout
from rig.outputs.session_traces import session_trace_path
from rig.replay import replay
from rig.service import Service
from rig.sessions import Athlete, Drill, SessionManager
from rig.sim import simulate
from rig.sim.mockrig import RigDriver, SimulatedRig


def run_sim(config, sim, *, tail_s=8.0):
    rig = SimulatedRig(config, speed=20.0)
    try:
        service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")
        ended = []
        service.subscribe("test", ended.append, types={"session_ended"})
        service.start()
        driver = RigDriver(rig, sim.samples, service.stop_event)
        driver.start()
        assert driver.done.wait(120)
        end = sim.samples[-1][0] + tail_s
        while rig.clock.now() < end:
            rig.virtual.set(min(end, rig.clock.now() + 0.05))
            time.sleep(0.0025)
        final = service.stop()
    finally:
        rig.close()
    return service, ended, final


@pytest.fixture
def config(tmp_path):
    return replace(load_config(example_config_path()), data_dir=str(tmp_path),
                   history=HistoryConfig(idle_end_s=30.0), web=WebConfig(enabled=False))


def test_a_session_is_kept_and_its_trace_replays_to_its_stored_summary(config, tmp_path):
    sim = simulate("grab", seed=3, layout=config.layout, weight_kg=config.athlete.weight_kg)
    service, ended, _ = run_sim(config, sim)
    assert len(ended) == 1
    event = ended[0]
    assert event["summary"]["steps"] == sim.truth["steps"]
    with HistoryStore.open(str(tmp_path)) as store:
        rows = store.sessions()
        assert len(rows) == 1 and rows[0]["status"] == "closed"
        stored = store.session(rows[0]["id"])
    assert stored["summary"] == event["summary"]
    assert stored["steps"] == sim.truth["steps"]
    assert stored["ascents"] + stored["descents"] == len(stored["flights"]) > 0
    # the stored flights are the spec's (the summary's gait.flights), with an ascent's power
    spec = stored["summary"]["gait"]["flights"]
    assert [(f["direction"], f["steps"], f["t_start_s"], f["power_w"] is None) for f in stored["flights"]] == \
        [(f["dir"], f["steps"], round(f["t"], 3), f["power_w"] is None) for f in spec]
    assert all(f["power_w"] == round(g["power_w"], 1) for f, g in zip(stored["flights"], spec) if g["power_w"])
    # the detector's grab, then the session's end with its key and why it ended
    assert [e["type"] for e in stored["events"]] == ["grab", "session_ended"]
    assert stored["events"][-1]["detail"] == {"key": event["key"], "reason": event["reason"]}
    assert stored["energy_kcal"] > 0
    # replaying the session's own trace reproduces the stored summary exactly
    assert stored["trace_path"] == session_trace_path(str(tmp_path), event["key"])
    assert replay(stored["trace_path"]) == stored["summary"]


def test_an_idle_time_ends_a_session_and_the_next_step_starts_another(config, tmp_path):
    config = replace(config, history=HistoryConfig(idle_end_s=5.0))
    sim = simulate("backward-flights", seed=1, layout=config.layout, flights=2)   # rests > 5 s between
    _, ended, final = run_sim(config, sim)
    assert len(ended) >= 2
    assert sum(e["summary"]["steps"] for e in ended) == final["steps"] == sim.truth["steps"]
    assert all(e["reason"].startswith("no one on the stairs for 5") for e in ended)
    with HistoryStore.open(str(tmp_path)) as store:
        for e, row in zip(ended, reversed(store.sessions())):
            assert replay(row["trace_path"]) == store.session(row["id"])["summary"] == e["summary"]


def test_sessions_start_and_stop_by_command(config, tmp_path):
    rig = SimulatedRig(config, speed=20.0)
    try:
        service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")
        seen = []
        service.subscribe("test", seen.append, types={"session_started", "session_ended"})
        service.start()
        rig.virtual.set(1.0)
        assert service.engine.command("start_session").result(10)["key"]
        rig.virtual.set(3.0)
        ended = service.engine.command("end_session").result(10)
        with pytest.raises(ValueError, match="unknown command"):
            service.engine.command("dance").result(10)
        assert service.engine.is_alive()                  # a bad command does not stop the engine
    finally:
        service.stop()
        rig.close()
    assert ended["summary"]["steps"] == 0 and ended["reason"] == "command"
    assert [e["type"] for e in seen] == ["session_started", "session_ended"]


def test_wall_clock_comes_from_the_start_and_durations_from_the_monotonic_clock():
    """A Pi without a real-time clock finds NTP mid-session: its clock jumps a year.
    The session keeps the wall-clock start it read, and ends at start + duration."""
    walls = iter([dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc)])
    events = []
    layout = RigLayout(treads=2)
    manager = SessionManager(layout, __import__("rig.settings").settings.DetectionSettings(), events.append,
                             athlete=Athlete(1, "A", 70.0), drill=Drill(), idle_end_s=5.0, pre_roll_s=0.5,
                             wall_clock=lambda: next(walls))
    manager.start(10.0)
    for t, ch, v in [(10.2, "tread.1", 1), (10.9, "tread.2", 1), (11.2, "tread.1", 0), (11.8, "tread.2", 0)]:
        manager.sample(t, ch, v)
        manager.tick(t)
    manager.tick(12.0)
    ended = manager.end(20.0)
    assert ended["started_at"].startswith("2024-12-31T23:59:59.5")          # 0.5 s pre-roll before the start
    start = dt.datetime.fromisoformat(ended["started_at"])
    assert dt.datetime.fromisoformat(ended["ended_at"]) - start == dt.timedelta(seconds=ended["duration_s"])
    assert ended["summary"]["steps"] == 2 and ended["duration_s"] == pytest.approx(10.5)


def test_kill_9_mid_session_loses_at_most_2_s_and_the_next_start_recovers_it(tmp_path):
    """A real process: the demo in real time, killed with SIGKILL mid-session."""
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "rig", "demo", "--duration", "600", "--data-dir", str(data), "--seed", "5", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = data / "history.sqlite3"
    try:
        last = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:                 # wait for a session well under way
            if db.exists():
                try:
                    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as c:
                        row = c.execute("SELECT id, duration_s, steps FROM sessions WHERE status='open'").fetchone()
                except sqlite3.Error:
                    row = None
                if row and (row[1] or 0) > 8 and (row[2] or 0) >= 3:
                    last = row
                    break
            time.sleep(0.2)
        assert last is not None, "no session got under way"
        os.kill(proc.pid, signal.SIGKILL)
        killed_wall = time.time()
        proc.wait(10)
    finally:
        proc.kill()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        started_at, stored = c.execute("SELECT started_at, duration_s FROM sessions WHERE id=?", (last[0],)).fetchone()
    age_at_kill = killed_wall - dt.datetime.fromisoformat(started_at).timestamp()
    # the next start closes it from its trace
    done = subprocess.run([sys.executable, "-m", "rig", "demo", "--duration", "1", "--speed", "10",
                           "--data-dir", str(data), "--port", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"session {last[0]} was left open" in done.stderr
    shown = subprocess.run([sys.executable, "-m", "rig", "sessions", "show", str(last[0]), "--json",
                            "--data-dir", str(data)], capture_output=True, text=True, timeout=60)
    session = json.loads(shown.stdout)
    assert session["status"] == "recovered"
    assert session["summary"]["steps"] >= last[2]
    assert session["duration_s"] >= stored                 # nothing committed is lost
    assert age_at_kill - session["duration_s"] <= 2.0      # at most the last 2 seconds are


def test_a_corrupt_history_leaves_the_rig_counting(config, tmp_path):
    junk = b"not a database at all, but somebody's file" * 10
    (tmp_path / "history.sqlite3").write_bytes(junk)
    sim = simulate("backward-flights", seed=2, layout=config.layout, flights=1)
    service, ended, final = run_sim(config, sim)
    assert service.store is None
    assert final["steps"] == sim.truth["steps"]            # counting went on
    assert ended and ended[0]["summary"]["steps"] == sim.truth["steps"]
    assert (tmp_path / "history.sqlite3").read_bytes() == junk    # never overwritten


def _manager(events, layout=None, idle_end_s=5.0):
    from rig.settings import DetectionSettings
    return SessionManager(layout or RigLayout(treads=3, rails={"left": ("touch", "force")}), DetectionSettings(),
                          events.append, athlete=Athlete(1, "A", 70.0), drill=Drill(), idle_end_s=idle_end_s,
                          pre_roll_s=0.5)


def _play(manager, samples, until):
    for t, ch, v in samples:
        manager.sample(t, ch, v)
        manager.tick(t)
    t = samples[-1][0] if samples else 0.0
    while t < until:
        t = round(t + 0.1, 6)
        manager.tick(t)


def test_a_foot_already_on_a_tread_is_not_a_step_of_a_session_started_by_command():
    events = []
    manager = _manager(events)
    _play(manager, [(1.0, "tread.3", 1), (1.0, "rail.left.touch", 1), (1.0, "rail.left.force", 2.0)], 3.0)
    manager.start(3.0)                                 # the athlete stands on tread 3 and holds the rail
    _play(manager, [(4.0, "tread.3", 0)], 5.0)
    ended = manager.end(5.0)
    assert ended["summary"]["steps"] == 0 and ended["summary"]["elevation_gain_m"] == 0
    started = next(e for e in events if e["type"] == "session_started")
    assert ("rail.left.touch" in {ch for _, ch, _ in started["samples"]})   # the rails' state carries in
    assert not any(ch.startswith("tread.") for _, ch, _ in started["samples"])


def test_a_session_started_by_command_ends_when_nobody_comes():
    events = []
    manager = _manager(events, idle_end_s=5.0)
    manager.start(1.0)
    _play(manager, [], 7.0)
    assert manager.current is None
    assert [e["type"] for e in events if e["type"].startswith("session_") and e["type"] != "session_progress"] == \
        ["session_started", "session_ended"]


def test_flights_split_where_the_athlete_turns_round_and_carry_rail_figures():
    events = []
    manager = _manager(events, idle_end_s=30.0)
    seq = [(0.0, "rail.left.touch", 1), (0.0, "rail.left.force", 0.5)]
    t = 1.0
    for tread in (1, 2, 1):                            # up two treads, turn round, back down to tread 1
        seq += [(t, f"tread.{tread}", 1), (t + 0.6, f"tread.{tread}", 0)]
        t += 0.5
    seq.sort()
    manager.start(0.9)
    _play(manager, seq, 6.0)
    ended = manager.end(6.0)
    assert ended["summary"]["descents"] == 1
    flights = ended["flights"]
    assert [(f["direction"], f["steps"]) for f in flights] == [("down", 1)]   # the down flight starts at the turn
    assert flights[0]["contact_s"] > 0 and flights[0]["light_s"] == flights[0]["contact_s"]
    assert flights[0]["firm_s"] == 0


def test_flight_rail_figures_are_stored(config, tmp_path):
    sim = simulate("backward-flights", seed=4, layout=config.layout, flights=1, grip="firm")
    run_sim(config, sim)
    with HistoryStore.open(str(tmp_path)) as store:
        flights = store.session(store.sessions()[0]["id"])["flights"]
    assert flights and all(f["contact_s"] > 0 and f["firm_s"] > 0 for f in flights)


def test_sessions_start_and_stop_from_the_command_line(config, tmp_path):
    """`stairrig sessions start|stop` beside the running service: the request goes
    through the history, and the service starts and ends the session."""
    rig = SimulatedRig(config, speed=1.0)
    seen = []
    try:
        service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")
        service.subscribe("test", seen.append, types={"session_started", "session_ended"})
        service.start()
        for action, etype in (("start", "session_started"), ("stop", "session_ended")):
            done = subprocess.run([sys.executable, "-m", "rig", "sessions", action, "--data-dir", str(tmp_path)],
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            deadline = time.monotonic() + 30
            while etype not in [e["type"] for e in seen] and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        service.stop()
        rig.close()
    assert [e["type"] for e in seen] == ["session_started", "session_ended"]
    assert seen[0]["reason"] == "command" and seen[1]["reason"] == "command"


def test_older_sessions_get_their_gait_figures_from_their_kept_traces_at_start(config, tmp_path):
    """Sessions stored before the gait figures (no 'gait' in the summary, no flight power) get
    them at the next start from their raw traces; one whose trace is gone is left without."""
    sim = simulate("backward-flights", seed=5, layout=config.layout, weight_kg=config.athlete.weight_kg, flights=2)
    run_sim(config, sim)
    run_sim(config, simulate("backward-flights", seed=6, layout=config.layout, weight_kg=config.athlete.weight_kg,
                             flights=1))
    db = os.path.join(str(tmp_path), "history.sqlite3")
    with HistoryStore.open(str(tmp_path)) as store:
        first, second = sorted(r["id"] for r in store.sessions())
        kept = store.session(first)
        gone_trace = store.session(second)["trace_path"]
    conn = sqlite3.connect(db)
    with conn:      # as a stairrig before the gait figures stored them
        conn.execute("UPDATE sessions SET summary_json = json_remove(summary_json, '$.gait')")
        conn.execute("UPDATE flights SET power_w = NULL")
    conn.close()
    os.remove(gone_trace)
    service = Service(config, pin_factory=SimulatedRig(config, speed=1.0).factory, source="sim")
    service.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            service.store.flush()
            if "gait" in (service.store.session(first)["summary"] or {}):
                break
            time.sleep(0.2)
        again = service.store.session(first)
        other = service.store.session(second)
    finally:
        service.stop()
    assert again["summary"] == kept["summary"] == replay(kept["trace_path"])   # the same figures as at the time
    assert [f["power_w"] for f in again["flights"]] == [f["power_w"] for f in kept["flights"]]
    assert any(f["power_w"] for f in again["flights"])
    assert "gait" not in other["summary"] and all(f["power_w"] is None for f in other["flights"])
