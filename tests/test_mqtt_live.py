"""The rig on a real Mosquitto: announcing itself, its retained state, commands and their errors.

Each test starts services (gpiozero's MockFactory pins: only the hardware is
mocked) pointed at the session's broker, with a rig id of its own so that
tests never see each other's topics, and a paho subscriber that collects
what arrives. Waits are on conditions with generous timeouts; nothing here
asserts how fast anything is.
"""

import json
import os
import random
import threading

import pytest

from rig.mqtt.topics import COMMANDS
from tests.broker import Collector

def base(rig_id):
    return f"stairrig/{rig_id}"


def state_of(collector, rig_id, predicate, what="a state"):
    msg = collector.wait_for(lambda m: m.topic == f"{base(rig_id)}/state" and m.payload and predicate(m.json()),
                             what=what)
    return msg.json()


def settled_state(collector, rig_id):
    """The state once the history has handed the athlete's level drill to the engine (on its first
    tick): commands sent before that could be overtaken by it."""
    from rig.progression import drill, first_level
    expected = drill(first_level())
    return state_of(collector, rig_id, lambda s: (s["drill"]["grip"], s["drill"]["planned_flights"]) ==
                    (expected.grip, expected.planned_flights), "the athlete's drill")


def errors_of(collector, rig_id):
    return [m.json() for m in collector.on(f"{base(rig_id)}/error")]


@pytest.fixture
def collector(mqtt_broker):
    c = Collector(mqtt_broker.port, topics=("stairrig/#", "homeassistant/#"))
    yield c
    c.close()


def test_the_rig_announces_itself_and_a_late_subscriber_gets_the_retained_state(mqtt_broker, mqtt_rig, collector):
    service = mqtt_rig.start(mqtt_broker.port, rig_id="announce")
    b = base("announce")
    collector.wait_for(lambda m: m.topic == f"{b}/availability" and m.payload == b"online", what="online")
    state = state_of(collector, "announce", lambda s: s["rig_id"] == "announce")
    assert state["session"]["active"] is False and state["athlete"]["name"] == "Test"
    device = collector.wait_for(lambda m: m.topic == f"homeassistant/device/{service.mqtt.node_id}/config")
    assert device.json()["cmps"]["session_steps"]["unique_id"].endswith("announce_session_steps")
    collector.wait_for(lambda m: m.topic == f"{b}/diagnostics")

    late = Collector(mqtt_broker.port, topics=(f"{b}/#", f"homeassistant/device/{service.mqtt.node_id}/config"))
    try:
        retained = {m.topic: m for m in (late.wait_for(lambda m, t=t: m.topic == t, what=t) for t in
                                         (f"{b}/availability", f"{b}/state", f"{b}/diagnostics",
                                          f"homeassistant/device/{service.mqtt.node_id}/config"))}
        assert all(m.retain for m in retained.values()), [(m.topic, m.retain) for m in late.messages]
        assert retained[f"{b}/availability"].payload == b"online"
        assert retained[f"{b}/state"].json()["rig_id"] == "announce"
        assert retained[f"{b}/diagnostics"].json()["dropped_events"] == 0
    finally:
        late.close()


def test_offline_is_published_on_a_clean_stop(mqtt_broker, mqtt_rig, collector):
    service = mqtt_rig.start(mqtt_broker.port, rig_id="cleanstop")
    b = base("cleanstop")
    collector.wait_for(lambda m: m.topic == f"{b}/availability" and m.payload == b"online")
    mqtt_rig.stop(service)
    collector.wait_for(lambda m: m.topic == f"{b}/availability" and m.payload == b"offline", what="offline")
    late = Collector(mqtt_broker.port, topics=(f"{b}/availability",))
    try:
        m = late.wait_for(lambda m: True)
        assert (m.payload, m.retain) == (b"offline", True)
    finally:
        late.close()
    service.mqtt.close()        # idempotent
    assert not service.mqtt._publisher.is_alive()


def test_home_assistant_coming_online_gets_discovery_then_availability_and_state(mqtt_broker, mqtt_rig, collector):
    service = mqtt_rig.start(mqtt_broker.port, rig_id="birth")
    b = base("birth")
    config_topic = f"homeassistant/device/{service.mqtt.node_id}/config"
    collector.wait_for(lambda m: m.topic == f"{b}/state")
    mark = len(collector.messages)
    collector.publish("homeassistant/status", "online")

    def in_order(ms):
        """discovery, then availability, then state, after Home Assistant's "online"."""
        topics = [m.topic for m in ms[mark:]]
        try:
            i = topics.index(config_topic)
            j = topics.index(f"{b}/availability", i)
            return topics.index(f"{b}/state", j) > j
        except ValueError:
            return False
    collector.wait_until(in_order, what="discovery, then availability and state again")


def test_session_commands_round_trip(mqtt_broker, mqtt_rig, collector):
    mqtt_rig.start(mqtt_broker.port, rig_id="cmds")
    b = base("cmds")
    state_of(collector, "cmds", lambda s: True)
    collector.publish(f"{b}/session/set", "start")
    collector.wait_for(lambda m: m.topic == f"{b}/event" and m.json()["event_type"] == "session_started")
    started = state_of(collector, "cmds", lambda s: s["session"]["active"], "an active session")
    collector.publish(f"{b}/session/set", "stop")
    ended = collector.wait_for(lambda m: m.topic == f"{b}/event" and m.json()["event_type"] == "session_ended")
    assert ended.json()["details"]["key"] == started["session"]["key"]
    assert ended.retain is False and ended.qos == 1
    last = state_of(collector, "cmds", lambda s: not s["session"]["active"] and s["last_session"])
    assert last["last_session"]["key"] == started["session"]["key"]
    assert errors_of(collector, "cmds") == []


def test_drill_and_athlete_commands_round_trip(mqtt_broker, mqtt_rig, collector):
    service = mqtt_rig.start(mqtt_broker.port, rig_id="drill")
    b = base("drill")
    node = service.mqtt.node_id
    settled_state(collector, "drill")
    collector.publish(f"{b}/facing/set", "forward")
    collector.publish(f"{b}/grip/set", "hover")
    collector.publish(f"{b}/planned_flights/set", "12")
    collector.publish(f"{b}/added_load_kg/set", "2.5")
    state_of(collector, "drill", lambda s: s["drill"] == {"facing": "forward", "grip": "hover",
                                                          "planned_flights": 12, "added_load_kg": 2.5},
             "the drill set from MQTT")
    collector.publish(f"{b}/planned_flights/set", "0")
    state_of(collector, "drill", lambda s: s["drill"]["planned_flights"] is None, "no planned flights")

    mark = len(collector.messages)
    service.store.add_athlete("Bo Lind", 82.0)
    collector.publish(f"{b}/athlete/set", "bo lind")      # case and spaces do not matter
    state_of(collector, "drill", lambda s: s["athlete"]["name"] == "Bo Lind", "the new athlete")
    # the athlete select's options follow the athletes: discovery is published again
    collector.wait_until(lambda ms: any(m.topic == f"homeassistant/device/{node}/config" and
                                        m.json()["cmps"]["athlete"]["options"] == ["Test", "Bo Lind"]
                                        for m in ms[mark:]), what="discovery with both athletes")
    collector.publish(f"{b}/athlete/set", "Nobody")
    error = collector.wait_for(lambda m: m.topic == f"{b}/error", what="an error")
    assert error.json()["command"] == "athlete" and "no athlete called 'Nobody'" in error.json()["error"]
    assert error.retain is False
    assert service.sessions.athlete.name == "Bo Lind"


def test_acknowledging_without_a_fall_is_an_error_not_a_crash(mqtt_broker, mqtt_rig, collector):
    service = mqtt_rig.start(mqtt_broker.port, rig_id="nofall")
    b = base("nofall")
    state_of(collector, "nofall", lambda s: True)
    collector.publish(f"{b}/fall/set", "acknowledge")
    error = collector.wait_for(lambda m: m.topic == f"{b}/error").json()
    assert error["command"] == "fall" and "no suspected fall" in error["error"]
    assert service.healthy()


def bad_payloads(rng: random.Random) -> list[bytes]:
    return [
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))),    # random bytes
        b"\xff\xfe\xfd not utf-8 \xc3\x28",                                # invalid UTF-8
        b"x" * 1_000_000,                                                  # huge
        b"start" * 2000,                                                   # long, but text
        b"{\"by\": 42}", b"[1, 2, 3]", b"{\"facing\": [\"forward\"]}", b"null", b"true", b"1e999", b"-5",
        b"NaN", b"", b"   ", b"\x00start", b"sta\nrt", json.dumps({"a": {"b": [None] * 50}}).encode(),
    ]


def test_bad_payloads_on_every_command_are_reported_and_change_nothing(mqtt_broker, mqtt_rig, collector,
                                                                      monkeypatch):
    # each rejection reported one by one here (a flood's throttle: tests/test_mqtt_flood.py)
    monkeypatch.setattr("rig.mqtt.commands.REPORTS_PER_WINDOW", 10_000)
    service = mqtt_rig.start(mqtt_broker.port, rig_id="fuzz")
    b = base("fuzz")
    before = settled_state(collector, "fuzz")
    rng = random.Random(3)
    sent = 0
    for command in COMMANDS:
        for payload in bad_payloads(rng):
            if command == "athlete" and payload in (b"-5", b"true", b"null"):
                continue     # could be a name one day; tested for errors below anyway
            collector.publish(f"{b}/{command}/set", payload)
            if payload:          # an empty message only clears a retained command: no command, no error
                sent += 1
    collector.publish(f"{b}/self_destruct/set", "now")     # no such command
    sent += 1
    errors = collector.wait_until(lambda ms: (lambda e: e if len(e) >= sent else None)(
        [m for m in ms if m.topic == f"{b}/error"]), timeout=60, what=f"{sent} error reports")
    assert len(errors) == sent
    for m in errors:
        doc = m.json()
        assert set(doc) >= {"command", "payload", "error"} and doc["error"]
        assert len(doc["payload"]) <= 101 and not m.retain
    assert any("unknown command 'self_destruct'" in m.json()["error"] for m in errors)
    assert any("too long" in m.json()["error"] for m in errors)
    assert any("not UTF-8" in m.json()["error"] for m in errors)
    # nothing changed, every thread lives, and a good command still works
    assert service.healthy() and service.mqtt._worker.is_alive() and service.mqtt._publisher.is_alive()
    now = json.loads(collector.on(f"{b}/state")[-1].payload)
    assert (now["drill"], now["athlete"], now["session"]["active"]) == \
        (before["drill"], before["athlete"], before["session"]["active"])
    assert not any(m.topic == f"{b}/event" for m in collector.messages)
    collector.publish(f"{b}/grip/set", "none")
    state_of(collector, "fuzz", lambda s: s["drill"]["grip"] == "none", "a good command after the bad ones")


def test_a_retained_command_is_ignored_with_a_warning(mqtt_broker, mqtt_rig, collector, caplog):
    b = base("retained")
    collector.publish(f"{b}/session/set", "start", retain=True)     # left on the broker before the rig starts
    try:
        service = mqtt_rig.start(mqtt_broker.port, rig_id="retained")
        error = collector.wait_for(lambda m: m.topic == f"{b}/error", what="the retained command's error").json()
        assert error["command"] == "session" and "retained" in error["error"]
        state = state_of(collector, "retained", lambda s: True)
        assert state["session"]["active"] is False and service.sessions.current is None
        assert any("retained command" in r.getMessage() for r in caplog.records)
        # clearing it, as the error advises, is no command and no error
        errors_before = len(errors_of(collector, "retained"))
        collector.publish(f"{b}/session/set", b"", retain=True)
        collector.publish(f"{b}/session/set", "nonsense")            # a marker: its error comes after
        collector.wait_for(lambda m: m.topic == f"{b}/error" and b"nonsense" in m.payload)
        assert len(errors_of(collector, "retained")) == errors_before + 1
    finally:
        collector.publish(f"{b}/session/set", b"", retain=True)       # clear it


def test_two_rigs_on_one_broker_never_collide(mqtt_broker, mqtt_rig, collector):
    a = mqtt_rig.start(mqtt_broker.port, rig_id="rig-a")
    b = mqtt_rig.start(mqtt_broker.port, rig_id="rig-b")
    configs = {}
    for service in (a, b):
        topic = f"homeassistant/device/{service.mqtt.node_id}/config"
        configs[service.config.rig_id] = collector.wait_for(lambda m, t=topic: m.topic == t).json()
    for rig_id in ("rig-a", "rig-b"):
        state_of(collector, rig_id, lambda s, r=rig_id: s["rig_id"] == r)
    collector.publish(f"{base('rig-a')}/session/set", "start")
    collector.wait_for(lambda m: m.topic == f"{base('rig-a')}/event")
    state_of(collector, "rig-a", lambda s: s["session"]["active"])
    # topics: each rig publishes under its own base and discovery topic only
    by_rig = {r: {m.topic for m in collector.messages if m.topic.startswith(base(r) + "/")} for r in configs}
    assert by_rig["rig-a"] and by_rig["rig-b"] and not by_rig["rig-a"] & by_rig["rig-b"]
    assert a.mqtt.node_id != b.mqtt.node_id and a.mqtt.client_id != b.mqtt.client_id
    ids = [c["unique_id"] for cfg in configs.values() for c in cfg["cmps"].values()]
    assert len(ids) == len(set(ids))
    for rig_id, cfg in configs.items():
        for c in cfg["cmps"].values():
            for key in ("state_topic", "command_topic"):
                if key in c:
                    assert c[key].startswith(base(rig_id) + "/")
    assert a.sessions.current is not None and b.sessions.current is None      # the command reached rig-a only
    assert not collector.on(f"{base('rig-b')}/event")


def test_purge_removes_the_rig_from_home_assistant(mqtt_broker, mqtt_rig, collector):
    service = mqtt_rig.start(mqtt_broker.port, rig_id="purge")
    b = base("purge")
    config_topic = f"homeassistant/device/{service.mqtt.node_id}/config"
    collector.wait_for(lambda m: m.topic == config_topic and m.payload)
    collector.publish(f"{b}/purge/set", "purge")
    for topic in (config_topic, f"{b}/state", f"{b}/availability"):
        collector.wait_for(lambda m, t=topic: m.topic == t and m.payload == b"", what=f"{topic} emptied")
    late = Collector(mqtt_broker.port, topics=(f"{b}/#", f"homeassistant/+/{service.mqtt.node_id}/#",
                                               f"homeassistant/device/{service.mqtt.node_id}/config"))
    try:
        threading.Event().wait(0.5)          # retained messages arrive right after subscribing
        assert [m for m in late.messages if m.retain] == []
    finally:
        late.close()
    # the rig goes on counting, and commands still work (they are not retained)
    collector.publish(f"{b}/session/set", "start")
    collector.wait_for(lambda m: m.topic == f"{b}/event" and m.json()["event_type"] == "session_started")
    assert service.healthy()
    # and the publisher sleeps: with nothing it may send, it must not build the state over and over
    state = service.mqtt._state
    built = []
    real = state.current_state
    state.current_state = lambda: built.append(1) or real()
    threading.Event().wait(1.5)
    assert len(built) < 20, f"the state was built {len(built)} times in 1.5 s after a purge"


def test_a_missing_password_file_is_logged_and_the_rig_counts_on(mqtt_broker, mqtt_rig, tmp_path, caplog):
    service = mqtt_rig.start(mqtt_broker.port, rig_id="nopass", username="rig",
                             password_file=str(tmp_path / "does-not-exist"))
    assert any("cannot read the password file" in r.getMessage() and r.levelname == "ERROR"
               for r in caplog.records)
    assert service.healthy()
    assert os.path.basename(service.config.mqtt.password_file) == "does-not-exist"


def test_a_missing_password_variable_is_logged_and_the_rig_counts_on(mqtt_broker, mqtt_rig, caplog, monkeypatch):
    monkeypatch.delenv("STAIRRIG_TEST_NO_SUCH_VAR", raising=False)
    service = mqtt_rig.start(mqtt_broker.port, rig_id="noenv", username="rig",
                             password_env="STAIRRIG_TEST_NO_SUCH_VAR")
    assert any("STAIRRIG_TEST_NO_SUCH_VAR" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert service.healthy()


def test_a_ca_file_that_cannot_be_used_turns_mqtt_off_not_the_rig(mqtt_rig, tmp_path, caplog):
    service = mqtt_rig.start(1, rig_id="badca", tls=True, ca_file=str(tmp_path / "missing-ca.pem"))
    assert service.mqtt.broken and "missing-ca.pem" in service.mqtt.broken
    assert any("MQTT is off" in r.getMessage() for r in caplog.records)
    service.commands.start_session()          # the rig works on
    assert service.healthy() and service.sessions.current is not None


def test_the_mqtt_threads_are_named_and_stop_with_the_service(mqtt_broker, mqtt_rig, collector):
    service = mqtt_rig.start(mqtt_broker.port, rig_id="threads")
    collector.wait_for(lambda m: m.topic == f"{base('threads')}/availability" and m.payload == b"online")
    mine = [service.mqtt._publisher.thread, service.mqtt._worker._thread, service.mqtt._client._thread]
    assert [t.name for t in mine] == ["stairrig-mqtt-publisher", "stairrig-mqtt-commands", "stairrig-mqtt-network"]
    assert all(t.is_alive() for t in mine)
    mqtt_rig.stop(service)
    assert not any(t.is_alive() for t in mine)
