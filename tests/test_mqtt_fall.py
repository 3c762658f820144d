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
            collector.wait_for(lambda m: m.topic == f"{BASE}/state" and m.json()["fall_alarm"], what="the alarm")
            collector.publish(f"{BASE}/fall/set", json.dumps({"by": "Coach Kim"}))
            ack = collector.wait_for(lambda m: m.topic == f"{BASE}/event" and
                                     m.json()["event_type"] == "fall_acknowledged", what="the acknowledgement")
            assert ack.json()["details"]["by"] == "Coach Kim" and ack.json()["details"]["after_s"] >= 0
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
