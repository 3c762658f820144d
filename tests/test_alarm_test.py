"""A test of the fall alarm: the same path as a real fall (bus, live document, buzzer), refused while an
alarm is on or a walk test runs, ended by "I'm OK", and never counted as a fall anywhere.

The service tests run a real Service on the simulated rig (MockFactory pins, only the hardware mocked),
with its real engine, history store and SQLite file.
"""

from __future__ import annotations

import csv
import io
import logging
import queue
import threading
import time

import pytest

from rig.commands import CommandError
from rig.history.export import export_sessions_csv
from rig.layout import RigLayout
from rig.live import LiveState
from rig.outputs.history import outcomes
from rig.progression import recommend
from rig.service import Service
from rig.sim.mockrig import SimulatedRig
from tests.rigs import config_for

WAIT_S = 10.0
LAYOUT = RigLayout(treads=3, riser_m=0.17, rails={"left": ("touch", "force"), "right": ("touch",)})
BUZZER_PIN = 27


def start_service(tmp_path, **tables):
    config = config_for(LAYOUT, str(tmp_path), **tables)
    rig = SimulatedRig(config, speed=1.0)
    svc = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")
    svc.rig = rig
    svc.events = queue.Queue()
    svc.subscribe("test", svc.events.put)
    svc.start()
    return svc


def stop_service(svc) -> None:
    try:
        svc.stop()
    finally:
        svc.rig.close()


@pytest.fixture
def service(tmp_path):
    svc = start_service(tmp_path)
    try:
        yield svc
    finally:
        stop_service(svc)


def next_event(svc, etype):
    """The next bus event of ``etype`` (the ones before it are passed over)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            event = svc.events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if event["type"] == etype:
            return event
    raise AssertionError(f"no {etype} event within {WAIT_S:g} s")


def wait_until(predicate, what):
    for _ in range(int(WAIT_S / 0.01)):
        if predicate():
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# -- the command ----------------------------------------------------------------------------------

def test_a_test_alarm_is_a_fall_alarm_marked_as_a_test_until_im_ok(service):
    raised = service.commands.test_fall_alarm("Owner")
    assert raised["type"] == "fall_suspected" and raised["test"] is True and raised["by"] == "Owner"
    assert "tread" not in raised
    published = next_event(service, "fall_suspected")
    assert published == raised
    alarm = service.live.snapshot()["alarm"]
    assert alarm == raised and alarm["test"] is True          # the live document (panel, Home Assistant)
    ack = service.commands.acknowledge_fall("panel")
    assert ack["type"] == "fall_acknowledged" and ack["test"] is True and ack["fall_t"] == raised["t"]
    assert next_event(service, "fall_acknowledged")["test"] is True
    assert service.live.snapshot()["alarm"] is None
    assert service.engine.fall_alarm is None


def test_a_second_alarm_is_refused_while_one_is_on(service):
    service.commands.test_fall_alarm("Owner")
    with pytest.raises(CommandError, match="a fall alarm is already on"):
        service.commands.test_fall_alarm("Owner")
    service.commands.acknowledge_fall("panel")
    assert service.commands.test_fall_alarm("Owner")["test"] is True      # once it ended, again


def test_a_test_alarm_is_refused_during_a_walk_test(service):
    service.engine.command("set_checking", on=True).result(WAIT_S)
    with pytest.raises(CommandError, match="a walk test is running"):
        service.commands.test_fall_alarm("Owner")
    assert service.live.snapshot()["alarm"] is None and service.engine.fall_alarm is None
    service.engine.command("set_checking", on=False).result(WAIT_S)
    assert service.commands.test_fall_alarm("Owner")["test"] is True


@pytest.mark.parametrize("by", ["", "   ", None, 7])
def test_a_test_alarm_says_who_raised_it(service, by):
    with pytest.raises(CommandError, match="say who raises the test fall alarm"):
        service.commands.test_fall_alarm(by)
    assert service.engine.fall_alarm is None


def test_a_real_fall_during_a_test_alarm_takes_its_place(service):
    service.commands.test_fall_alarm("Owner")
    rig = service.rig
    for tread in (1, 2):                       # up to the middle tread, then off the stairs from there
        rig.set_sample(f"tread.{tread}", 1)
        next_event(service, "step")
        if tread == 2:
            rig.set_sample("tread.1", 0)
    rig.set_sample("tread.2", 0)
    fall = next_event(service, "fall_suspected")
    assert fall["tread"] == 2 and "test" not in fall
    assert service.live.snapshot()["alarm"]["tread"] == 2
    ack = service.commands.acknowledge_fall("panel")
    assert "test" not in ack and ack["fall_t"] == fall["t"]


# -- never a fall ---------------------------------------------------------------------------------

def test_in_a_session_it_is_noted_as_a_test_and_never_counted_as_a_fall(service):
    key = service.commands.start_session()["key"]
    next_event(service, "session_started")
    service.commands.test_fall_alarm("Owner")
    next_event(service, "fall_suspected")
    assert service.live.snapshot()["session"]["falls"] == 0
    service.commands.acknowledge_fall("Home Assistant")
    service.commands.stop_session()
    ended = next_event(service, "session_ended")
    assert ended["key"] == key
    assert [(n["type"], n.get("test")) for n in ended["notes"]] == [("fall_alarm_test", None),
                                                                     ("fall_acknowledged", True)]
    assert ended["notes"][0]["by"] == "Owner"
    assert [e for e in ended["summary"]["events"] if e["type"] == "fall_suspected"] == []
    assert service.live.snapshot()["last_session"]["falls"] == 0
    store = service.store
    store.flush()
    row = store.sessions(limit=1)[0]
    assert row["falls"] == 0
    detail = store.session(row["id"])
    kinds = [e["type"] for e in detail["events"]]
    assert "fall_alarm_test" in kinds and "fall_suspected" not in kinds
    assert store.progress(row["athlete_id"])[-1]["falls"] == 0
    assert outcomes(store, row["athlete_id"])[-1].falls == 0
    rec = recommend(outcomes(store, row["athlete_id"]), "grip-firm")
    assert rec.rule != "fall"
    out = io.StringIO()
    export_sessions_csv(store, out, session_id=row["id"])
    assert [r["falls"] for r in csv.DictReader(io.StringIO(out.getvalue()))] == ["0"]


def test_with_no_session_only_the_log_keeps_it(service, caplog):
    caplog.set_level(logging.INFO, logger="rig.engine")
    service.commands.test_fall_alarm("Owner")
    service.commands.acknowledge_fall("Kim")
    service.store.flush()
    assert service.store.sessions() == []
    messages = [r.getMessage() for r in caplog.records if r.name == "rig.engine" and r.levelno == logging.INFO]
    assert any("test fall alarm was raised by Owner" in m for m in messages), messages
    ended = [m for m in messages if "test fall alarm raised by Owner was ended" in m]
    assert len(ended) == 1 and "by Kim after" in ended[0] and " s" in ended[0]


def test_the_live_document_shows_the_test_and_counts_no_fall():
    state = LiveState(rig_id="hall", layout=LAYOUT, athlete={"id": 1, "name": "Ann", "weight_kg": 60.0},
                      drill={"facing": "backward", "grip": "light", "planned_flights": None, "added_load_kg": 0.0})
    state({"type": "fall_suspected", "t": 12.0, "test": True, "by": "panel"})
    doc = state.snapshot()
    assert doc["alarm"] == {"type": "fall_suspected", "t": 12.0, "test": True, "by": "panel"}
    assert doc["session"]["falls"] == 0
    state({"type": "fall_acknowledged", "t": 15.0, "by": "panel", "fall_t": 12.0, "after_s": 3.0, "test": True})
    doc = state.snapshot()
    assert doc["alarm"] is None and doc["alert"]["test"] is True


# -- the buzzer -----------------------------------------------------------------------------------

def test_the_buzzer_sounds_its_alarm_for_a_test_until_im_ok(tmp_path):
    svc = start_service(tmp_path, buzzer={"pin": BUZZER_PIN})
    try:
        pin = svc.rig.factory.pin(BUZZER_PIN)
        assert not svc.buzzer.alarm
        svc.commands.test_fall_alarm("Owner")
        wait_until(lambda: svc.buzzer.alarm, "the buzzer's alarm")
        wait_until(lambda: sum(1 for s in list(pin.states)[1:] if s.state) >= 2, "the alarm repeating")
        svc.commands.acknowledge_fall("panel")
        wait_until(lambda: not svc.buzzer.alarm, "the alarm to stop")
        assert svc.buzzer.wait_idle(WAIT_S) and pin.state is False
    finally:
        stop_service(svc)


def test_the_console_says_a_test_alarm_is_no_fall(capsys):
    from rig.cli import _print_live
    printer = _print_live()
    printer({"type": "fall_suspected", "t": 12.0, "test": True, "by": "panel"})
    printer({"type": "fall_acknowledged", "t": 21.5, "by": "Kim", "fall_t": 12.0, "after_s": 9.5, "test": True})
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["   12.00 s  !!! TEST of the fall alarm, raised by panel (not a fall)",
                     "   21.50 s  the test fall alarm ended: Kim said \"I'm OK\" after 10 s"]
