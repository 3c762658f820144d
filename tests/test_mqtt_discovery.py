"""Home Assistant discovery: what the rig announces, checked key by key.

The services here are built (on gpiozero's MockFactory) but not started: the
discovery content needs no broker. The value templates are rendered with
Jinja2 against the rig's real state document, so a template that names a
field the state does not have fails here, not in somebody's Home Assistant.
"""

import re
from dataclasses import replace

import jinja2
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from rig.layout import RigLayout
from rig.mqtt.device import configuration_url
from rig.mqtt.discovery import DEVICE_KEYS, ORIGIN_KEYS
from rig.mqtt.state import diagnostics_document, state_document
from rig.service import Service
from tests.rigs import config_for

ID = re.compile(r"[A-Za-z0-9_-]+")
# split treads and rails of both kinds: every entity the rig can offer
FORCE_RAILS = RigLayout(treads=3, split=True, rails={"left": ("touch", "force"), "right": ("touch",)})
REQUIRED = {
    "session_steps": "sensor", "steps_today": "sensor", "steps_total": "sensor", "flights_up": "sensor",
    "flights_down": "sensor", "elevation_gain": "sensor", "cadence": "sensor", "active_time": "sensor",
    "contact_share": "sensor", "light_share": "sensor", "firm_share": "sensor", "left_rail_grip": "sensor",
    "right_rail_grip": "sensor", "occupied": "binary_sensor", "session_active": "binary_sensor",
    "fall_alarm": "binary_sensor", "grab": "event", "stall": "event", "fall_suspected": "event",
    "fall_acknowledged": "event", "session_started": "event", "session_ended": "event", "start_session": "button",
    "stop_session": "button", "acknowledge_fall": "button", "test_alarm": "button", "athlete": "select",
    "drill_facing": "select", "target_grip": "select", "planned_flights": "number", "added_load": "number",
    "last_session": "sensor", "stuck_sensor": "binary_sensor", "uptime": "sensor", "queued_events": "sensor",
    "dropped_events": "sensor", "last_error": "sensor", "last_ascent_power": "sensor", "last_ascent_time": "sensor",
    "step_variability": "sensor", "leg_asymmetry": "sensor", "whole_foot": "sensor",
}


@pytest.fixture
def make(tmp_path):
    services = []
    saved = Device.pin_factory
    Device.pin_factory = factory = MockFactory()   # the MCP3008's software SPI takes the process's factory

    def make(layout=FORCE_RAILS, rig_id="stairrig", web=None, **mqtt):
        tables = {"web": web} if web else {}
        config = config_for(layout, str(tmp_path / rig_id), mqtt={"host": "127.0.0.1", "port": 1, **mqtt}, **tables)
        # one rig with a load cell per test (it takes the process's factory); the others get their own
        pins = factory if config.adc is not None else MockFactory()
        service = Service(replace(config, rig_id=rig_id), pin_factory=pins)
        services.append(service)
        return service
    try:
        yield make
    finally:
        for s in services:
            if s.panel is not None:
                s.panel.close()
            s.mqtt.close()
            s.sensors.close()
            if s.store is not None:
                s.store.close()
        factory.reset()
        Device.pin_factory = saved


def device_config(service):
    (topic, payload), = service.mqtt.discovery_messages()
    return topic, payload


def test_one_device_message_with_device_origin_and_components(make):
    service = make()
    topic, payload = device_config(service)
    node = service.mqtt.node_id
    assert topic == f"homeassistant/device/{node}/config"
    assert ID.fullmatch(node) and node.startswith("stairrig_") and node.endswith("_stairrig")
    assert set(payload) == {"dev", "o", "cmps", "availability_topic", "state_topic", "qos"}
    assert payload["availability_topic"] == "stairrig/stairrig/availability"
    assert payload["state_topic"] == "stairrig/stairrig/state" and payload["qos"] == 1
    dev = payload["dev"]
    assert set(dev) <= DEVICE_KEYS, set(dev) - DEVICE_KEYS
    assert dev["ids"] == [node] and dev["name"] and dev["mf"] and dev["mdl"] and dev["sw"] and dev["hw"]
    assert "cu" not in dev                         # no panel in this test
    assert set(payload["o"]) <= ORIGIN_KEYS and payload["o"]["name"] == "stairrig" and payload["o"]["sw"]


def test_every_entity_has_what_home_assistant_needs(make):
    service = make()
    cmps = device_config(service)[1]["cmps"]
    for key, platform in REQUIRED.items():
        assert key in cmps, key
        assert cmps[key]["p"] == platform, key
    node = service.mqtt.node_id
    unique_ids = [c["unique_id"] for c in cmps.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    for key, c in cmps.items():
        assert ID.fullmatch(key)
        assert c["unique_id"] == f"{node}_{key}" and ID.fullmatch(c["unique_id"])
        assert re.fullmatch(rf"{c['p']}\.[a-z0-9_]+", c["default_entity_id"]), c["default_entity_id"]
        assert "object_id" not in c
        assert "name" in c
        if "options" in c and c["p"] == "sensor":
            assert c["device_class"] == "enum"
        if c["p"] in ("button", "select", "number"):
            assert c["command_topic"].startswith("stairrig/stairrig/") and c["command_topic"].endswith("/set")
    assert cmps["session_steps"]["name"] is None     # the device's main figure
    assert len({c["default_entity_id"] for c in cmps.values()}) == len(cmps)


def test_entity_kinds_follow_home_assistants_conventions(make):
    cmps = device_config(make())[1]["cmps"]
    for key in ("session_steps", "steps_today", "steps_total"):
        assert (cmps[key]["state_class"], cmps[key]["unit_of_measurement"]) == ("total_increasing", "steps")
        assert "device_class" not in cmps[key]
    assert (cmps["elevation_gain"]["device_class"], cmps["elevation_gain"]["unit_of_measurement"]) == ("distance", "m")
    cadence = cmps["cadence"]
    assert (cadence["unit_of_measurement"], cadence["state_class"]) == ("steps/min", "measurement")
    assert cadence["expire_after"] > 0
    assert (cmps["active_time"]["device_class"], cmps["active_time"]["unit_of_measurement"]) == ("duration", "s")
    for key in ("contact_share", "light_share", "firm_share"):
        assert (cmps[key]["unit_of_measurement"], cmps[key]["state_class"]) == ("%", "measurement")
        assert "suggested_display_precision" in cmps[key]
    assert cmps["left_rail_grip"]["options"] == ["none", "light", "firm"]     # a load cell on the left
    assert cmps["right_rail_grip"]["options"] == ["none", "touch"]            # a touch pad only on the right
    assert cmps["occupied"]["device_class"] == "occupancy" and cmps["session_active"]["device_class"] == "running"
    for etype in ("grab", "stall", "fall_suspected", "fall_acknowledged", "session_started", "session_ended"):
        assert cmps[etype]["event_types"] == [etype]
        assert cmps[etype]["state_topic"] == "stairrig/stairrig/event"
    assert cmps["start_session"]["payload_press"] == "start" and cmps["stop_session"]["payload_press"] == "stop"
    assert cmps["acknowledge_fall"]["name"] == "I'm OK"
    assert (cmps["test_alarm"]["command_topic"], cmps["test_alarm"]["payload_press"]) == \
        ("stairrig/stairrig/test_alarm/set", "raise")
    assert cmps["athlete"]["options"] == ["Test"]
    assert cmps["drill_facing"]["options"] == ["forward", "backward"]
    assert cmps["target_grip"]["options"] == ["firm", "light", "hover", "none"]
    for key in ("stuck_sensor", "uptime", "queued_events", "dropped_events"):
        assert cmps[key]["entity_category"] == "diagnostic"
        assert cmps[key]["state_topic"] == "stairrig/stairrig/diagnostics"
    assert cmps["uptime"]["enabled_by_default"] is False
    last_error = cmps["last_error"]
    assert last_error["entity_category"] == "diagnostic" and "enabled_by_default" not in last_error
    assert last_error["state_topic"] == last_error["json_attributes_topic"] == "stairrig/stairrig/error"
    assert "json_attributes_topic" in cmps["last_session"] and cmps["last_session"]["device_class"] == "timestamp"


def test_shares_a_rig_cannot_measure_are_not_offered(make):
    cmps = device_config(make(RigLayout(treads=2, rails={"left": ("touch",)})))[1]["cmps"]
    assert "contact_share" in cmps and "light_share" not in cmps and "firm_share" not in cmps
    no_rails = device_config(make(RigLayout(treads=2), rig_id="bare"))[1]["cmps"]
    assert not {"contact_share", "left_rail_grip", "right_rail_grip"} & set(no_rails)


def render(template: str, payload: str, value_json):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return env.from_string(template).render(value=payload, value_json=value_json)


def test_every_value_template_reads_a_field_the_state_has(make):
    import json
    service = make()
    cmps = device_config(service)[1]["cmps"]
    snapshot = service.live.snapshot()
    state = state_document(snapshot)
    diag = diagnostics_document(snapshot, queued=0, dropped=0)
    error = {"command": "athlete", "payload": "Nobody", "error": "there is no athlete called 'Nobody'",
             "time": "2026-11-21T09:55:01.310+00:00"}
    docs = {"stairrig/stairrig/state": state, "stairrig/stairrig/diagnostics": diag, "stairrig/stairrig/error": error}
    for key, c in cmps.items():
        if c["p"] == "event":
            grab = {"event_type": "grab", "time": "t", "seq": 1, "details": {}}
            out = render(c["value_template"], json.dumps(grab), grab)
            assert (out != "") == (key == "grab")
            continue
        doc = docs[c.get("state_topic", "stairrig/stairrig/state")]
        for name in ("value_template", "json_attributes_template"):
            if name in c:
                render(c[name], json.dumps(doc), doc)      # StrictUndefined: a missing field raises
    assert render(cmps["session_steps"]["value_template"], "", state) == "0"
    assert render(cmps["occupied"]["value_template"], "", state) == "OFF"
    assert render(cmps["athlete"]["value_template"], "", state) == "Test"
    assert render(cmps["cadence"]["value_template"], "", state) == "None"      # unknown outside a session
    assert render(cmps["last_session"]["value_template"], "", state) == "None"
    assert render(cmps["fall_alarm"]["value_template"], "", state) == "OFF"
    assert json.loads(render(cmps["fall_alarm"]["json_attributes_template"], "", state)) == {"test": False}
    assert render(cmps["last_error"]["value_template"], "", error) == error["error"]
    assert json.loads(render(cmps["last_error"]["json_attributes_template"], "", error)) == \
        {"command": "athlete", "payload": "Nobody", "time": error["time"]}


def test_the_last_error_is_cut_to_what_a_home_assistant_state_may_hold(make):
    cmps = device_config(make())[1]["cmps"]
    long_error = {"command": "athlete", "payload": "x", "error": "e" * 300 + "!", "time": "t"}
    shown = render(cmps["last_error"]["value_template"], "", long_error)
    assert shown == "e" * 255          # Home Assistant refuses a state longer than 255 characters


def test_per_entity_discovery(make):
    service = make(discovery="entity")
    msgs = service.mqtt.discovery_messages()
    node = service.mqtt.node_id
    keys = [topic.split("/")[3] for topic, _ in msgs]
    assert set(REQUIRED) <= set(keys) and len(set(keys)) == len(keys)
    for topic, payload in msgs:
        m = re.fullmatch(rf"homeassistant/(sensor|binary_sensor|event|button|select|number)/{node}/([A-Za-z0-9_-]+)/config",
                         topic)
        assert m, topic
        assert "p" not in payload and set(payload["dev"]) <= DEVICE_KEYS and payload["o"]["name"] == "stairrig"
        assert payload["unique_id"] == f"{node}_{m.group(2)}"
        assert payload["availability_topic"] == "stairrig/stairrig/availability"


def test_no_discovery(make):
    assert make(discovery="none").mqtt.discovery_messages() == []


def test_configured_prefix_base_topic_and_device_id(make):
    service = make(discovery_prefix="ha", base_topic="gym/stairs", device_id="hall")
    topic, payload = device_config(service)
    assert topic == "ha/device/stairrig_hall_stairrig/config"
    assert payload["state_topic"] == "gym/stairs/state"
    assert payload["cmps"]["start_session"]["command_topic"] == "gym/stairs/session/set"


def test_two_rigs_never_share_an_id_or_a_topic(make):
    touch = RigLayout(treads=2, rails={"left": ("touch",)})
    a, b = make(touch, rig_id="rig-a"), make(touch, rig_id="rig-b")
    (ta, pa), (tb, pb) = device_config(a), device_config(b)
    assert ta != tb and pa["state_topic"] != pb["state_topic"]
    ids_a = {c["unique_id"] for c in pa["cmps"].values()}
    ids_b = {c["unique_id"] for c in pb["cmps"].values()}
    assert not ids_a & ids_b
    assert not {c["default_entity_id"] for c in pa["cmps"].values()} & {c["default_entity_id"] for c in pb["cmps"].values()}


def test_the_device_links_to_the_panel(make):
    import socket
    service = make(web={"enabled": True, "host": "0.0.0.0", "port": 0})
    dev = device_config(service)[1]["dev"]
    assert dev["cu"] == f"http://{socket.gethostname()}:{service.panel.port}/"


def test_the_panel_link_names_this_machine():
    import socket
    assert configuration_url("http://0.0.0.0:8080/") == f"http://{socket.gethostname()}:8080/"
    assert configuration_url("http://192.168.1.20:8080/") == "http://192.168.1.20:8080/"
    assert configuration_url(None) is None
