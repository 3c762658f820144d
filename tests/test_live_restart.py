"""What the live screen shows survives a restart: "last session", today's and all-time steps come from
the history when the service starts, the same as the run before it showed them.

Real services on the simulated rig (MockFactory pins), one after the other on the same data directory.
"""

from __future__ import annotations

import queue
import threading
import time

import pytest

from rig.history import HistoryStore
from rig.layout import RigLayout
from rig.live import LiveState
from rig.service import Service
from rig.sim.mockrig import SimulatedRig
from tests.rigs import config_for

WAIT_S = 10.0
LAYOUT = RigLayout(treads=3, riser_m=0.17, rails={"left": ("touch", "force"), "right": ("touch",)})
KEPT = ("last_session", "steps_today", "steps_total")


class Run:
    """One run of the service on ``data_dir``, its bus events in a queue."""

    def __init__(self, data_dir: str):
        self.config = config_for(LAYOUT, data_dir)
        self.rig = SimulatedRig(self.config, speed=1.0)
        self.service = Service(self.config, pin_factory=self.rig.factory, clock=self.rig.clock, source="sim")
        self.events: queue.Queue = queue.Queue()
        self.service.subscribe("test", self.events.put)
        self.service.start()
        self.stopped = False
        self.next("athlete_changed")       # the history's athlete and drill, settled

    def next(self, etype: str) -> dict:
        """The next bus event of ``etype`` (the ones before it are passed over)."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if event["type"] == etype:
                return event
        raise AssertionError(f"no {etype} event within {WAIT_S:g} s")

    def climb(self) -> None:
        """Up the three treads, step over step, and off the top."""
        for tread in (1, 2, 3):
            self.rig.set_sample(f"tread.{tread}", 1)
            self.next("step")
            threading.Event().wait(0.1)
            if tread > 1:
                self.rig.set_sample(f"tread.{tread - 1}", 0)
        self.rig.set_sample("tread.3", 0)

    def kept(self) -> dict:
        doc = self.service.live.snapshot()
        return {k: doc[k] for k in KEPT}

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            try:
                self.service.stop()
            finally:
                self.rig.close()


@pytest.fixture
def runs(tmp_path):
    started = []

    def start() -> Run:
        run = Run(str(tmp_path))
        started.append(run)
        return run
    yield start
    for run in started:
        run.stop()


def test_a_session_ended_by_command_is_the_last_session_after_a_restart(runs):
    first = runs()
    assert first.kept() == {"last_session": None, "steps_today": 0, "steps_total": 0}
    first.service.commands.start_session()
    first.climb()
    first.service.commands.stop_session()
    ended = first.next("session_ended")
    before = first.kept()
    assert before["last_session"]["key"] == ended["key"] and before["last_session"]["steps"] >= 3
    assert before["steps_total"] == before["steps_today"] == before["last_session"]["steps"]
    first.stop()
    second = runs()
    assert second.kept() == before


def test_a_session_the_stop_ended_is_the_last_session_after_a_restart(runs):
    first = runs()
    first.climb()                               # the first step starts a session; the stop ends it
    assert first.service.live.snapshot()["session"]["active"]
    first.stop()
    before = first.kept()
    assert before["last_session"]["reason"] == "the service stopped"
    second = runs()
    assert second.kept() == before
    second.service.commands.start_session()     # and it counts on from there
    second.climb()
    second.service.commands.stop_session()
    second.next("session_ended")
    after = second.kept()
    assert after["steps_total"] == before["steps_total"] + after["last_session"]["steps"]
    assert after["last_session"]["key"] != before["last_session"]["key"]


def test_a_session_recorded_without_its_end_event_still_shows(tmp_path):
    """Sessions recorded before the history kept why they ended (or closed after a crash): the
    key from the trace's name, the reason from the status."""
    summary = {"steps": 12, "steps_up": 6, "steps_down": 6, "ascents": 1, "descents": 1, "elevation_gain_m": 0.51,
               "active_s": 20.0, "duration_s": 30.0, "cadence_spm": 36.0, "facing": {}, "rails": {},
               "reliance": {"contact_fraction": 0.5, "firm_fraction": 0.1, "light_fraction": 0.4}, "events": []}
    with HistoryStore.open(str(tmp_path)) as store:
        aid = store.add_athlete("Ann", 60.0)
        sid = store.begin_session(athlete_id=aid, started_at="2026-11-20T17:02:40.520+00:00",
                                  drill={"facing": "backward", "grip": "light", "planned_flights": 2,
                                         "added_load_kg": 0.0}, level="grip-light",
                                  trace_path=str(tmp_path / "sessions" / "2026-11-20T17-02-40.520123Z.jsonl.gz"))
        store.end_session(sid, ended_at="2026-11-20T17:03:10.520+00:00", duration_s=30.04, summary=summary,
                          flights=[], events=[], energy_kcal=2.5, status="recovered")
        store.flush()
        state = LiveState(rig_id="hall", layout=LAYOUT, athlete={"id": aid, "name": "Ann", "weight_kg": 60.0},
                          drill={"facing": "backward", "grip": "light", "planned_flights": 2, "added_load_kg": 0.0},
                          store=store)
    last = state.snapshot()["last_session"]
    assert last["key"] == "2026-11-20T17-02-40.520123Z"
    assert (last["started_at"], last["ended_at"]) == ("2026-11-20T17:02:40.520+00:00", "2026-11-20T17:03:10.520+00:00")
    assert (last["duration_s"], last["steps"], last["athlete"], last["energy_kcal"]) == (30.0, 12, "Ann", 2.5)
    assert last["reason"].startswith("the service stopped unexpectedly")
    assert (last["contact_pct"], last["firm_pct"], last["within_target_pct"]) == (50.0, 10.0, 90.0)
