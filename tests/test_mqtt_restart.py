"""The broker goes away and comes back: nothing is lost, nothing is out of order, all is announced again.

Each test has its own Mosquitto (``restartable_broker``), really stopped and
started again on the same port; without persistence, the restarted broker
has forgotten every retained message, so what a new subscriber finds is
what the rig published again after reconnecting.

The rig reaches the broker through ``TcpGate`` (see tests/broker.py): the
test opens it once its own subscriber is back, so that the subscriber is
listening before the rig sends what it kept.
"""

import logging
import queue

import pytest

from rig.mqtt.events import EVENT_TYPES
from tests.broker import Collector, TcpGate

WAIT_S = 30.0


@pytest.fixture
def gate(restartable_broker):
    g = TcpGate(restartable_broker.port)
    yield g
    g.shutdown()


class BusEvents:
    """What the rig's bus said, in order: the truth the MQTT side is held to."""

    def __init__(self, service):
        self.q = queue.Queue()
        self.seen: list[dict] = []
        service.subscribe("test-truth", self.q.put, types=set(EVENT_TYPES))

    def drain(self) -> list[dict]:
        while True:
            try:
                self.seen.append(self.q.get_nowait())
            except queue.Empty:
                return self.seen


def events(collector, base):
    return [m.json() for m in collector.on(f"{base}/event")]


def eventually(condition, what: str, timeout=WAIT_S):
    import time
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def wait_connected(service, connected=True):
    eventually(lambda: service.mqtt.connected == connected, f"MQTT connected to become {connected}")


def outage(broker, gate, service):
    """The broker stops (really); the rig notices."""
    gate.close_gate()
    broker.stop()
    wait_connected(service, False)


def comeback(broker, gate, base) -> Collector:
    """The broker starts again (empty); our subscriber first, then the rig."""
    broker.start()
    collector = Collector(broker.port, topics=(f"{base}/#", "homeassistant/#"))
    gate.open()
    return collector


def test_a_broker_restart_mid_session_loses_no_event_and_keeps_their_order(restartable_broker, gate, mqtt_rig):
    broker = restartable_broker
    service = mqtt_rig.start(gate.port, rig_id="restart")
    base = "stairrig/restart"
    truth = BusEvents(service)
    before = Collector(broker.port, topics=(f"{base}/#",))
    try:
        before.wait_for(lambda m: m.topic == f"{base}/availability" and m.payload == b"online")
        service.commands.start_session()                       # the session runs across the restart
        before.wait_until(lambda ms: len(events(before, base)) >= 1, what="the first event")
        first = events(before, base)
    finally:
        before.close()
    outage(broker, gate, service)
    for _ in range(5):                                         # events while the broker is away
        service.commands.start_session()                       # ends the running session, starts a new one
    # ten more; the first may still wait for its acknowledgement, cut by the outage (then it goes again)
    eventually(lambda: service.mqtt.queued in (10, 11) and len(truth.drain()) == 11, "ten events queued")
    after = comeback(broker, gate, base)
    try:
        wait_connected(service)
        service.commands.stop_session()                        # and one after the comeback
        expected = 1 + 10 + 1
        after.wait_until(lambda ms: {e["seq"] for e in events(after, base)} >= set(range(2, expected + 1)),
                         what="every event after the comeback")
        got = first + events(after, base)
        told = truth.drain()
        seqs = [e["seq"] for e in got]
        # in order; a repeat only where an acknowledgement was cut (QoS 1 is at least once; seq tells):
        # the repeated ones come again as a batch, so order is judged on first appearances
        firsts = list(dict.fromkeys(seqs))
        assert firsts == sorted(firsts)
        unique = {e["seq"]: e for e in got}
        assert list(unique) == list(range(1, expected + 1))                     # none missing
        assert [e["event_type"] for e in unique.values()] == [e["type"] for e in told]   # what the bus said
        assert [e["event_type"] for e in list(unique.values())[1:11]] == ["session_ended", "session_started"] * 5
        eventually(lambda: service.mqtt.queued == 0, "the queue to empty")
        assert service.mqtt.dropped == 0
        # the restarted broker knew nothing: state, availability and discovery were published again
        for topic in (f"{base}/state", f"{base}/availability", f"homeassistant/device/{service.mqtt.node_id}/config"):
            after.wait_for(lambda m, t=topic: m.topic == t, what=topic)
    finally:
        after.close()


def test_retained_state_after_a_reconnect(restartable_broker, gate, mqtt_rig):
    broker = restartable_broker
    service = mqtt_rig.start(gate.port, rig_id="retain")
    base = "stairrig/retain"
    outage(broker, gate, service)
    service.commands.start_session()                           # the state changes while the broker is away
    back = comeback(broker, gate, base)
    try:
        back.wait_for(lambda m: m.topic == f"{base}/state" and m.json()["session"]["active"],
                      what="the state published again")
    finally:
        back.close()
    late = Collector(broker.port, topics=(f"{base}/state", f"{base}/availability",
                                          f"homeassistant/device/{service.mqtt.node_id}/config"))
    try:
        state = late.wait_for(lambda m: m.topic == f"{base}/state" and m.json()["session"]["active"],
                              what="the retained state of the running session")
        assert state.retain
        online = late.wait_for(lambda m: m.topic == f"{base}/availability")
        assert (online.payload, online.retain) == (b"online", True)
        assert late.wait_for(lambda m: m.topic.startswith("homeassistant/device/")).retain
    finally:
        late.close()


def test_a_long_outage_drops_the_oldest_events_counts_and_reports_them(restartable_broker, gate, mqtt_rig, caplog):
    broker = restartable_broker
    service = mqtt_rig.start(gate.port, rig_id="overflow", queue_limit=10)
    base = "stairrig/overflow"
    truth = BusEvents(service)
    first = Collector(broker.port, topics=(f"{base}/#",))
    first.wait_for(lambda m: m.topic == f"{base}/availability" and m.payload == b"online")
    first.close()
    with caplog.at_level(logging.WARNING, logger="rig.mqtt.client"):
        outage(broker, gate, service)
        for _ in range(8):
            service.commands.start_session()                   # 15 events: 1 + 2 * 7
        eventually(lambda: (service.mqtt.queued, service.mqtt.dropped) == (10, 5), "ten queued, five dropped")
    assert any("dropped the oldest" in r.getMessage() for r in caplog.records)
    after = comeback(broker, gate, base)
    try:
        wait_connected(service)
        after.wait_until(lambda ms: len(events(after, base)) >= 10, what="the ten kept events")
        got = events(after, base)
        told = truth.drain()
        assert [e["seq"] for e in got] == list(range(6, 16))        # the newest ten, in order
        assert [e["event_type"] for e in got] == [e["type"] for e in told[5:]]
        diag = after.wait_for(lambda m: m.topic == f"{base}/diagnostics" and m.json()["dropped_events"] == 5,
                              what="the drop reported in the diagnostics")
        assert diag.json()["queued_events"] <= 10
    finally:
        after.close()


def test_the_rig_starts_without_a_broker_and_connects_when_one_appears(restartable_broker, gate, mqtt_rig):
    broker = restartable_broker
    gate.close_gate()
    broker.stop()
    service = mqtt_rig.start(gate.port, rig_id="late-broker")    # no broker anywhere
    base = "stairrig/late-broker"
    service.commands.start_session()
    service.commands.stop_session()
    eventually(lambda: service.mqtt.queued == 2, "two events waiting")
    assert service.healthy() and not service.mqtt.connected
    after = comeback(broker, gate, base)                         # a broker appears
    try:
        got = after.wait_until(lambda ms: (lambda e: e if len(e) >= 2 else None)(events(after, base)),
                               what="the events kept while there was no broker")
        assert [e["event_type"] for e in got] == ["session_started", "session_ended"]
        after.wait_for(lambda m: m.topic == f"{base}/availability" and m.payload == b"online")
    finally:
        after.close()
