"""A simulated fall, seen from Home Assistant: the event, the alarm in the state, "I'm OK" over MQTT.

The simulated athlete (scenario "fall") drives gpiozero's mock pins and the
mock MCP3008 twenty times faster than real time; everything after the pins
is the real service, and the broker is the session's Mosquitto.
"""

import json
import threading
from dataclasses import replace

from rig.config import MqttConfig, WebConfig, example_config_path, load_config
from rig.service import Service
from rig.sim import simulate
from rig.sim.mockrig import RigDriver, SimulatedRig
from tests.broker import Collector

BASE = "stairrig/fall-rig"


def test_a_fall_is_an_event_and_an_alarm_until_acknowledged_over_mqtt(mqtt_broker, tmp_path):
    config = replace(load_config(example_config_path()), data_dir=str(tmp_path), rig_id="fall-rig",
                     web=WebConfig(enabled=False), mqtt=MqttConfig(host="127.0.0.1", port=mqtt_broker.port))
    sim = simulate("fall", seed=3, layout=config.layout, weight_kg=config.athlete.weight_kg)
    collector = Collector(mqtt_broker.port, topics=(f"{BASE}/#",))
    rig = SimulatedRig(config, speed=20.0)
    stop_clock = threading.Event()
    try:
        service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")
        service.start()
        driver = RigDriver(rig, sim.samples, service.stop_event)
        driver.start()

        def time_goes_on():         # after the script's last sample, the virtual clock keeps going
            driver.done.wait(120)
            while not stop_clock.wait(0.0025):
                rig.virtual.set(rig.clock.now() + 0.05)
        threading.Thread(target=time_goes_on, name="test-clock", daemon=True).start()
        try:
            fall = collector.wait_for(lambda m: m.topic == f"{BASE}/event" and
                                      m.json()["event_type"] == "fall_suspected", timeout=120, what="the fall")
            assert fall.json()["details"]["tread"] >= 1 and not fall.retain
            assert fall.json()["test"] is False
            alarm = collector.wait_for(lambda m: m.topic == f"{BASE}/state" and m.json()["fall_alarm"],
                                       what="the alarm")
            assert alarm.json()["fall_alarm_test"] is False
            collector.publish(f"{BASE}/fall/set", json.dumps({"by": "Coach Kim"}))
            ack = collector.wait_for(lambda m: m.topic == f"{BASE}/event" and
                                     m.json()["event_type"] == "fall_acknowledged", what="the acknowledgement")
            assert ack.json()["details"]["by"] == "Coach Kim" and ack.json()["details"]["after_s"] >= 0
            assert ack.json()["test"] is False
            collector.wait_for(lambda m: m.topic == f"{BASE}/state" and not m.json()["fall_alarm"] and
                               m.json()["session"]["falls"] >= 1, what="the alarm over")
            assert service.engine.fall_alarm is None
            assert not collector.on(f"{BASE}/error")
        finally:
            stop_clock.set()
            service.stop()
    finally:
        rig.close()
        collector.close()


def test_a_test_alarm_from_home_assistant_is_marked_as_a_test_from_start_to_end(mqtt_broker, mqtt_rig):
    base = "stairrig/testalarm"
    collector = Collector(mqtt_broker.port, topics=(f"{base}/#",))
    try:
        service = mqtt_rig.start(mqtt_broker.port, rig_id="testalarm")
        collector.wait_for(lambda m: m.topic == f"{base}/state" and m.payload, what="the first state")

        def event(etype):
            return collector.wait_for(lambda m: m.topic == f"{base}/event" and m.json()["event_type"] == etype,
                                      what=etype).json()
        collector.publish(f"{base}/test_alarm/set", "raise")                # the "Test fall alarm" button
        raised = event("fall_suspected")
        assert raised["test"] is True and raised["details"] == {"by": "Home Assistant"}
        state = collector.wait_for(lambda m: m.topic == f"{base}/state" and m.json()["fall_alarm"],
                                   what="the alarm in the state").json()
        assert state["fall_alarm_test"] is True
        assert service.engine.fall_alarm is not None

        collector.publish(f"{base}/test_alarm/set", json.dumps({"by": "Coach Kim"}))   # one is on already
        error = collector.wait_for(lambda m: m.topic == f"{base}/error", what="the refusal").json()
        assert error["command"] == "test_alarm" and "already on" in error["error"]

        collector.publish(f"{base}/fall/set", "acknowledge")                # "I'm OK"
        ended = event("fall_acknowledged")
        assert ended["test"] is True and ended["details"]["by"] == "Home Assistant"
        state = collector.wait_for(lambda m: m.topic == f"{base}/state" and not m.json()["fall_alarm"],
                                   what="the alarm over").json()
        assert state["fall_alarm_test"] is False

        collector.publish(f"{base}/test_alarm/set", json.dumps({"by": "Coach Kim"}))
        again = collector.wait_for(lambda m: m.topic == f"{base}/event" and m.json()["seq"] > ended["seq"],
                                   what="the second test alarm").json()
        assert (again["event_type"], again["test"], again["details"]) == \
            ("fall_suspected", True, {"by": "Coach Kim"})
        assert len(collector.on(f"{base}/error")) == 1
    finally:
        collector.close()
