"""The pieces of the MQTT output that need no broker: the state throttle, the event queue, payloads.

The throttle is given its times (it reads no clock), so these tests say what
it decides, not how fast anything runs.
"""

import json

import pytest

from rig.layout import RigLayout
from rig.live import LiveState
from rig.mqtt.events import event_message
from rig.mqtt.outbox import EventQueue, Pending
from rig.mqtt.state import StateThrottle, diagnostics_document, prompt_part, state_document


# -- the throttle -----------------------------------------------------------------
def test_the_first_change_after_a_quiet_window_goes_at_once():
    th = StateThrottle(max_hz=4.0)
    th.changed(10.0, prompt=True)
    assert th.due() <= 10.0
    th.sent(10.0)
    assert th.due() is None
    th.changed(10.3, prompt=True)            # 0.3 s later: the window (0.25 s) is over
    assert th.due() <= 10.3


def test_changes_within_the_window_are_coalesced_to_its_end():
    th = StateThrottle(max_hz=4.0)
    th.changed(0.0, prompt=True)
    th.sent(0.0)
    th.changed(0.05, prompt=True)
    th.changed(0.10, prompt=True)
    th.changed(0.20, prompt=True)
    assert th.due() == pytest.approx(0.25)     # one send, at the window's end
    th.sent(0.25)
    assert th.due() is None


def test_never_more_than_max_hz():
    th = StateThrottle(max_hz=2.0)
    sends = []
    t = 0.0
    while t < 10.0:                          # a change every 10 ms for 10 s
        th.changed(t, prompt=True)
        due = th.due()
        if due is not None and due <= t:
            th.sent(t)
            sends.append(t)
        t = round(t + 0.01, 6)
    gaps = [b - a for a, b in zip(sends, sends[1:])]
    assert len(sends) == pytest.approx(20, abs=1)
    assert min(gaps) >= 0.5 - 1e-9


def test_slow_figures_ride_along_and_go_alone_only_after_a_pause():
    th = StateThrottle(max_hz=4.0, slow_after_s=1.0)
    th.changed(0.0, prompt=True)
    th.sent(0.0)
    th.changed(0.5, prompt=False)            # the shares moved: not worth a message of their own yet
    assert th.due() == pytest.approx(1.0)
    th.changed(0.7, prompt=True)             # a step: at once, with the fresh shares
    assert th.due() <= 0.7
    th.sent(0.7)
    th.changed(0.8, prompt=False)
    assert th.due() == pytest.approx(1.7)    # a second after the last step went out


def test_a_step_is_not_held_back_by_a_slow_change_just_before():
    th = StateThrottle(max_hz=4.0, slow_after_s=1.0)
    th.changed(0.0, prompt=True)
    th.sent(0.0)
    th.changed(0.4, prompt=False)            # slow change pending, not sent
    th.changed(0.45, prompt=True)            # the step: the window since the last send is over
    assert th.due() <= 0.45


# -- the documents --------------------------------------------------------------------
@pytest.fixture
def live():
    layout = RigLayout(treads=3, rails={"left": ("touch", "force"), "right": ("touch",)})
    return LiveState(rig_id="r1", layout=layout, athlete={"id": 1, "name": "Ann", "weight_kg": 60, "level": "L1"},
                     drill={"facing": "backward", "grip": "light", "planned_flights": None, "added_load_kg": 0.0})


def test_the_state_document_is_a_compact_subset_of_the_live_state(live):
    live({"type": "grip", "t": 1.0, "rail": "left", "grip": "light", "force_n": 0.7})
    live({"type": "fall_suspected", "t": 2.0, "tread": 2, "at": 2.5})
    doc = state_document(live.snapshot())
    assert doc["rails"] == {"left": "light", "right": "none"}
    assert doc["fall_alarm"] is True and doc["athlete"] == {"id": 1, "name": "Ann", "level": "L1"}
    assert doc["fall_alarm_test"] is False
    assert set(doc["session"]) >= {"active", "steps", "flights_up", "flights_down", "cadence_spm", "contact_pct"}
    # nothing that moves with the clock or at the sample rate
    def keys(d):
        return set(d) | {k for v in d.values() if isinstance(v, dict) for k in keys(v)}
    assert not keys(doc) & {"t_s", "uptime_s", "elapsed_s", "force_n"}
    assert len(json.dumps(doc)) < 1500


def test_the_state_tells_a_test_alarm_from_a_real_one(live):
    assert (state_document(live.snapshot())["fall_alarm"], state_document(live.snapshot())["fall_alarm_test"]) == \
        (False, False)
    live({"type": "fall_suspected", "t": 2.0, "test": True, "by": "Home Assistant", "at": 2.5})
    doc = state_document(live.snapshot())
    assert (doc["fall_alarm"], doc["fall_alarm_test"]) == (True, True)
    assert prompt_part(doc) != prompt_part({**doc, "fall_alarm_test": False})   # goes out at once
    live({"type": "fall_acknowledged", "t": 3.0, "test": True, "by": "Anna", "fall_t": 2.0, "after_s": 1.0})
    doc = state_document(live.snapshot())
    assert (doc["fall_alarm"], doc["fall_alarm_test"]) == (False, False)


def test_the_prompt_part_leaves_out_only_the_slow_figures(live):
    doc = state_document(live.snapshot())
    changed = {**doc, "session": {**doc["session"], "contact_pct": 55.0, "cadence_spm": 70.0},
               "rails": {"left": "firm", "right": "touch"}}
    assert prompt_part(changed) == prompt_part(doc)        # a grip rides along: it must not hold a step back
    stepped = {**doc, "session": {**doc["session"], "steps": 1}}
    assert prompt_part(stepped) != prompt_part(doc)


def test_the_diagnostics_document(live):
    doc = diagnostics_document({"uptime_s": 12.7, "stuck_channels": ["tread.2"]}, queued=3, dropped=1)
    assert doc == {"uptime_s": 12, "stuck_channels": ["tread.2"], "queued_events": 3, "dropped_events": 1}


# -- event payloads --------------------------------------------------------------------
def test_event_messages_carry_type_time_and_small_details():
    msg = event_message({"type": "stall", "t": 12.5, "at": 13.0, "tread": 3, "stall_s": 4.2}, seq=7)
    assert msg["event_type"] == "stall" and msg["seq"] == 7
    assert msg["details"] == {"tread": 3, "stall_s": 4.2}
    assert "T" in msg["time"] and msg["time"].endswith("+00:00")
    started = event_message({"type": "session_started", "t": 1.0, "key": "k", "started_at": "2026-01-01T10:00:00",
                             "reason": "first step", "athlete": {"id": 1, "name": "Ann"}, "drill": {"grip": "light"},
                             "layout": {"treads": 5}, "samples": [(0.0, "tread.1", 1)] * 500}, seq=1)
    assert started["details"]["athlete"] == "Ann"
    assert "samples" not in started["details"] and "layout" not in started["details"]
    assert len(json.dumps(started)) < 400


def test_fall_events_say_at_the_top_whether_they_are_a_test():
    real = event_message({"type": "fall_suspected", "t": 5.0, "tread": 3}, seq=1)
    assert real["test"] is False and real["details"] == {"tread": 3}
    test = event_message({"type": "fall_suspected", "t": 5.0, "test": True, "by": "Home Assistant"}, seq=2)
    assert test["test"] is True and test["details"] == {"by": "Home Assistant"}     # no tread: nobody fell
    ended = event_message({"type": "fall_acknowledged", "t": 9.0, "test": True, "by": "Anna", "fall_t": 5.0,
                           "after_s": 4.0}, seq=3)
    assert ended["test"] is True and ended["details"] == {"by": "Anna", "after_s": 4.0}
    assert event_message({"type": "fall_acknowledged", "t": 9.0, "by": "Anna", "after_s": 1.0}, seq=4)["test"] is False
    assert "test" not in event_message({"type": "grab", "t": 1.0, "rail": "left"}, seq=5)


# -- the event queue ------------------------------------------------------------------------
def item(seq):
    return Pending(seq, "grab", b"{}")


def test_events_leave_only_when_acknowledged_and_in_order():
    q = EventQueue(limit=100, window=3)
    for s in range(1, 6):
        q.put(item(s))
    first = q.to_hand()
    assert [i.seq for i in first] == [1, 2, 3]          # the window
    for mid, i in enumerate(first, start=100):
        q.handed(i, mid)
    assert q.to_hand() == []                           # the window is full
    assert q.ack(101) and len(q) == 5                  # acked out of order: kept until #1 is acked
    assert q.ack(100) and len(q) == 3
    assert [i.seq for i in q.to_hand()] == [4, 5]
    assert not q.ack(999)


def test_overflow_drops_the_oldest_waiting_event_and_counts_it():
    q = EventQueue(limit=10, window=2)
    for s in range(1, 11):
        q.put(item(s))
    for mid, i in enumerate(q.to_hand()):
        q.handed(i, mid)                               # 1 and 2 are with paho: never dropped
    lost = [q.put(item(s)) for s in (11, 12, 13)]
    assert [x.seq for x in lost] == [3, 4, 5]
    assert q.dropped == 3 and len(q) == 10


def test_events_handed_but_lost_by_paho_go_again():
    q = EventQueue(limit=10, window=2)
    q.put(item(1))
    q.put(item(2))
    for mid, i in enumerate(q.to_hand()):
        q.handed(i, mid)
    assert q.unhand() == 2
    assert [i.seq for i in q.to_hand()] == [1, 2]
