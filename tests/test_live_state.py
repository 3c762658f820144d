"""The live document (rig/live.py) and the commands the panel and MQTT share (rig/commands.py).

LiveState is fed the bus events a real engine publishes; the command tests
run a real Service on the simulated rig (MockFactory pins), with its real
engine, history store and SQLite file.
"""

from __future__ import annotations

import datetime as dt
import queue

import pytest

from rig.commands import CommandError
from rig.history import HistoryStore
from rig.layout import RigLayout
from rig.live import LiveState, session_figures, within_target_pct
from rig.service import Service
from rig.sim.mockrig import SimulatedRig
from tests.rigs import config_for

WAIT_S = 10.0
LAYOUT = RigLayout(treads=3, riser_m=0.17, rails={"left": ("touch", "force"), "right": ("touch",)})


def summary(steps=0, ascents=0, descents=0, active_s=0.0, contact=None, firm=None, light=None, events=()):
    return {"steps": steps, "steps_up": steps, "steps_down": 0, "ascents": ascents, "descents": descents,
            "elevation_gain_m": ascents * 0.51, "active_s": active_s, "duration_s": active_s,
            "cadence_spm": steps / active_s * 60 if active_s else None, "facing": {},
            "rails": {}, "reliance": {"contact_fraction": contact, "firm_fraction": firm, "light_fraction": light},
            "events": list(events)}


def live(store=None, wall=None):
    return LiveState(rig_id="hall", layout=LAYOUT, athlete={"id": 1, "name": "Ann", "weight_kg": 60.0},
                     drill={"facing": "backward", "grip": "light", "planned_flights": 2, "added_load_kg": 0.0},
                     store=store, stuck_after_s=60.0, wall_clock=wall)


def start(state, key="k1", t=10.0):
    state({"type": "session_started", "key": key, "t": t, "started_at": "2026-11-21T10:00:00.000+00:00",
           "athlete": {"id": 1, "name": "Ann", "weight_kg": 60.0, "level": "grip-light"},
           "drill": {"facing": "backward", "grip": "light", "planned_flights": 2, "added_load_kg": 0.0},
           "reason": "first step"})


def test_a_session_counts_and_never_dips():
    state = live()
    start(state)
    state({"type": "session_update", "key": "k1", "t": 11.0, "summary": summary(steps=5)})
    # a progress report computed a moment earlier cannot take a step back
    state({"type": "session_progress", "key": "k1", "t": 1.5, "summary": summary(steps=4, active_s=3.0)})
    doc = state.snapshot()
    assert doc["session"]["active"] and doc["session"]["steps"] == 5
    assert (doc["steps_today"], doc["steps_total"]) == (5, 5)
    state({"type": "session_update", "key": "other", "t": 12.0, "summary": summary(steps=50)})
    assert state.snapshot()["session"]["steps"] == 5      # another session's figures are ignored


def test_an_ended_session_moves_into_the_totals_and_last_session():
    state = live()
    start(state)
    state({"type": "session_update", "key": "k1", "t": 11.0, "summary": summary(steps=6)})
    state({"type": "session_ended", "key": "k1", "t": 20.0, "reason": "command",
           "started_at": "2026-11-21T10:00:00.000+00:00", "ended_at": "2026-11-21T10:00:10.000+00:00",
           "duration_s": 10.0, "summary": summary(steps=6, ascents=1, active_s=8.0, contact=0.5, firm=0.25),
           "flights": [{"idx": 1}], "athlete": {"name": "Ann"}, "drill": {"grip": "light"},
           "energy_kcal": 1.5, "notes": []})
    doc = state.snapshot()
    assert not doc["session"]["active"] and doc["session"]["steps"] == 0
    assert (doc["steps_today"], doc["steps_total"]) == (6, 6)
    last = doc["last_session"]
    assert (last["steps"], last["flights_up"], last["contact_pct"], last["firm_pct"]) == (6, 1, 50.0, 25.0)
    assert last["within_target_pct"] == 75.0            # light grip: the time not firm
    start(state, "k2", 30.0)
    state({"type": "session_update", "key": "k2", "t": 31.0, "summary": summary(steps=2)})
    assert state.snapshot()["steps_total"] == 8


def test_grip_force_alarm_and_stuck_channels():
    state = live()
    state({"type": "grip", "t": 1.0, "rail": "left", "grip": "firm", "force_n": 12.5})
    state({"type": "samples", "samples": [(1.1, "rail.left.force", 14.04), (1.1, "tread.2", 1)]})
    doc = state.snapshot()
    assert doc["rails"]["left"] == {"grip": "firm", "force_n": 14.0, "has_force": True}
    assert doc["rails"]["right"]["has_force"] is False
    state({"type": "tick", "t": 30.0})
    assert state.snapshot()["stuck_channels"] == []
    state({"type": "tick", "t": 61.1})
    assert state.snapshot()["stuck_channels"] == ["tread.2"]
    state({"type": "samples", "samples": [(62.0, "tread.2", 0)]})
    state({"type": "tick", "t": 62.5})
    assert state.snapshot()["stuck_channels"] == []
    state({"type": "fall_suspected", "t": 70.0, "at": 71.0, "tread": 2})
    doc = state.snapshot()
    assert doc["alarm"] == {"type": "fall_suspected", "t": 70.0, "tread": 2}   # without the detector's "at"
    state({"type": "tick", "t": 200.0})
    assert state.snapshot()["alarm"] is not None        # an alarm stays until acknowledged
    state({"type": "fall_acknowledged", "t": 201.0, "by": "panel", "fall_t": 70.0, "after_s": 131.0})
    assert state.snapshot()["alarm"] is None and state.snapshot()["alert"]["type"] == "fall_acknowledged"


def test_a_grab_banner_clears_after_a_while():
    state = live()
    state({"type": "grab", "t": 5.0, "rail": "left", "force_n": 80.0})
    assert state.snapshot()["alert"]["type"] == "grab"
    state({"type": "tick", "t": 9.0})
    assert state.snapshot()["alert"] is not None
    state({"type": "tick", "t": 15.5})
    assert state.snapshot()["alert"] is None


def test_today_starts_again_at_midnight(tmp_path):
    now = [dt.datetime(2026, 11, 21, 23, 59, 0)]
    state = live(wall=lambda: now[0])
    start(state)
    state({"type": "session_update", "key": "k1", "t": 11.0, "summary": summary(steps=4)})
    now[0] = dt.datetime(2026, 11, 22, 0, 0, 30)
    state({"type": "tick", "t": 12.0})
    assert state.snapshot()["steps_today"] == 0 and state.snapshot()["steps_total"] == 4
    state({"type": "session_update", "key": "k1", "t": 13.0, "summary": summary(steps=7)})
    assert state.snapshot()["steps_today"] == 3 and state.snapshot()["steps_total"] == 7


def test_totals_come_from_the_history(tmp_path):
    with HistoryStore.open(str(tmp_path)) as store:
        aid = store.add_athlete("Ann", 60.0)
        for started, steps in (("2020-01-01T10:00:00+00:00", 100),
                               (dt.datetime.now(dt.timezone.utc).isoformat(), 30)):
            sid = store.begin_session(athlete_id=aid, started_at=started, drill=None, level=None, trace_path=None)
            store.end_session(sid, ended_at=started, duration_s=60.0, summary=summary(steps=steps, active_s=60.0),
                              flights=[], events=[], energy_kcal=1.0)
        store.flush()
        state = live(store=store)
    doc = state.snapshot()
    assert (doc["steps_total"], doc["steps_today"]) == (130, 30)


def test_figures_and_the_share_within_the_target():
    figures = session_figures(summary(steps=10, active_s=20.0, contact=0.4, firm=0.1, light=0.3,
                                      events=[{"type": "grab"}, {"type": "grab"}, {"type": "stall"}]))
    assert (figures["contact_pct"], figures["firm_pct"], figures["grabs"], figures["stalls"]) == (40.0, 10.0, 2, 1)
    assert within_target_pct(figures, "firm") == 100.0
    assert within_target_pct(figures, "light") == 90.0
    assert within_target_pct(figures, "hover") == 60.0
    assert within_target_pct({**figures, "firm_pct": None}, "light") is None   # no force sensor: cannot tell


# -- commands through a real service -------------------------------------------------

@pytest.fixture
def service(tmp_path):
    config = config_for(LAYOUT, str(tmp_path))
    rig = SimulatedRig(config, speed=1.0)
    svc = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")
    svc.rig = rig
    svc.events = queue.Queue()
    svc.subscribe("test", svc.events.put)
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()
        rig.close()


def next_event(svc, etype):
    while True:
        event = svc.events.get(timeout=WAIT_S)
        if event["type"] == etype:
            return event


def test_start_and_stop_a_session_by_command(service):
    key = service.commands.start_session()["key"]
    assert next_event(service, "session_started")["key"] == key
    assert service.live.snapshot()["session"]["key"] == key
    ended = service.commands.stop_session()
    assert ended["key"] == key and next_event(service, "session_ended")["reason"] == "stopped by command"
    assert service.commands.stop_session() is None       # nothing to stop: not an error


def test_select_an_athlete_by_name_or_id(service):
    store = service.store
    bea = store.add_athlete("Bea Smith", 55.0)
    chosen = service.commands.select_athlete("  bea   SMITH ")
    assert chosen["id"] == bea and chosen["level"] == "grip-firm"
    changed = next_event(service, "athlete_changed")
    assert changed["athlete"]["name"] == "Bea Smith"
    assert store.selected_athlete()["id"] == bea
    assert service.commands.select_athlete(bea)["name"] == "Bea Smith"
    assert service.live.snapshot()["athlete"]["name"] == "Bea Smith"


@pytest.mark.parametrize("ref, words", [
    ("Nobody", "there is no athlete called 'Nobody'"),
    (999, "there is no athlete with id 999"),
    ("", "name an athlete"),
    (None, "name an athlete"),
    (True, "name an athlete"),
    (["Test"], "name an athlete"),
    (99999999999999999999, "there is no athlete with id"),      # beyond SQLite's integers
    ("99999999999999999999", "there is no athlete called"),
    ("²", "there is no athlete called"),                         # a digit to isdigit(), not to int()
    (-1, "there is no athlete with id"),
])
def test_unknown_athletes_are_refused(service, ref, words):
    with pytest.raises(CommandError, match=words):
        service.commands.select_athlete(ref)


def test_a_chosen_drill_is_kept_for_the_next_session(service):
    drill = service.commands.set_drill(facing="forward", grip="hover", planned_flights=6, added_load_kg=2)
    assert drill == {"facing": "forward", "grip": "hover", "planned_flights": 6, "added_load_kg": 2.0}
    changed = next_event(service, "athlete_changed")
    assert changed["drill_chosen"] and changed["drill"]["grip"] == "hover"
    service.commands.start_session()
    started = next_event(service, "session_started")
    assert started["drill"]["grip"] == "hover" and started["drill_chosen"]
    service.commands.stop_session()
    next_event(service, "session_ended")
    service.store.flush()
    row = service.store.sessions(limit=1)[0]
    assert (row["drill_facing"], row["drill_grip"]) == ("forward", "hover")   # not the progression's firm grip


@pytest.mark.parametrize("kwargs, words", [
    ({"facing": "sideways"}, "facing must be one of"),
    ({"grip": "tight"}, "target grip must be one of"),
    ({"planned_flights": 0}, "planned flights"),
    ({"planned_flights": 2.5}, "planned flights"),
    ({"planned_flights": True}, "planned flights"),
    ({"added_load_kg": -1}, "added load"),
    ({"added_load_kg": float("nan")}, "added load"),
    ({"added_load_kg": "2"}, "added load"),
])
def test_bad_drills_are_refused_and_change_nothing(service, kwargs, words):
    before = service.sessions.drill.as_dict()
    with pytest.raises(CommandError, match=words):
        service.commands.set_drill(**kwargs)
    assert service.sessions.drill.as_dict() == before


def test_a_fall_alarm_stays_until_acknowledged(service):
    with pytest.raises(CommandError, match="no suspected fall"):
        service.commands.acknowledge_fall("panel")
    rig = service.rig
    # up to the middle tread, then off the stairs from there: a suspected fall
    for tread in (1, 2):
        rig.set_sample(f"tread.{tread}", 1)
        next_event(service, "step")
        if tread == 2:
            rig.set_sample("tread.1", 0)
    rig.set_sample("tread.2", 0)
    fall = next_event(service, "fall_suspected")
    assert service.live.snapshot()["alarm"]["t"] == fall["t"]
    ack = service.commands.acknowledge_fall("panel")
    assert ack["type"] == "fall_acknowledged" and ack["by"] == "panel" and ack["fall_t"] == fall["t"]
    assert next_event(service, "fall_acknowledged")["by"] == "panel"
    assert service.live.snapshot()["alarm"] is None
    with pytest.raises(CommandError, match="no suspected fall"):
        service.commands.acknowledge_fall("panel")
    service.commands.stop_session()
    ended = next_event(service, "session_ended")
    assert [n["type"] for n in ended["notes"]] == ["fall_acknowledged"]
    service.store.flush()
    detail = service.store.session(service.store.sessions(limit=1)[0]["id"])
    assert "fall_acknowledged" in [e["type"] for e in detail["events"]]


def test_a_new_weight_or_level_keeps_the_coachs_drill_but_another_athlete_does_not(service):
    from rig.progression import drill as progression_drill
    from rig.progression import level as level_of
    me = service.store.selected_athlete()
    service.commands.set_drill(grip="hover", planned_flights=3)
    next_event(service, "athlete_changed")
    # what the history's poll does when the selected athlete's weight changes (stairrig athletes ...)
    service._athlete_changed({**me, "weight_kg": 71.0, "level": "grip-firm"}, progression_drill(level_of("grip-firm")))
    service.engine.command("start_session").result(5)       # in order after the two commands above
    assert service.sessions.athlete.weight_kg == 71.0
    assert (service.sessions.drill.grip, service.sessions.drill.planned_flights) == ("hover", 3)
    other = service.store.add_athlete("Cy", 80.0)
    service._athlete_changed({**service.store.athlete(other), "level": "grip-firm"},
                             progression_drill(level_of("grip-firm")))
    service.engine.command("end_session").result(5)
    assert service.sessions.athlete.name == "Cy" and service.sessions.drill.grip == "firm"


def test_the_session_clock_counts_on_one_time_base():
    """Ticks and progress reports give the same elapsed time: the session's own, from its t0."""
    state = live()
    state({"type": "session_started", "key": "k1", "t": 10.0, "t0": 8.5, "started_at": "2026-11-21T10:00:00+00:00",
           "athlete": {"id": 1, "name": "Ann", "weight_kg": 60.0}, "drill": {"grip": "light"}, "reason": "first step"})
    seen = [state.snapshot()["session"]["elapsed_s"]]
    for t in (10.25, 10.5, 11.0, 11.5, 12.0):
        state({"type": "tick", "t": t})
        seen.append(state.snapshot()["session"]["elapsed_s"])
        if t in (11.0, 12.0):
            state({"type": "session_progress", "key": "k1", "t": t - 8.5, "summary": summary(steps=2, active_s=1.0)})
            seen.append(state.snapshot()["session"]["elapsed_s"])
    assert seen == sorted(seen) and seen[0] == 1.5 and seen[-1] == 3.5, seen
