"""The rig in a real Home Assistant: the oldest supported version and a current one.

For each version in ``tests/homeassistant/versions.py`` one Home Assistant is
started for the module (from its own venv, which ``./dev.sh test`` prepares),
against the session's Mosquitto; it is onboarded through its REST API and
given the MQTT integration by its config flow, with the fall automation of
docs/mqtt.md (its notify action made a persistent notification). Each test
then runs ``stairrig demo --mqtt ...``, the command a user runs, and checks the
chain end to end: discovery and entity ids, states as the simulated athlete
walks, buttons and selects reaching the rig, the fall automation on a real
fall and on a test alarm, a rejected command, the last will, Home
Assistant's log, and a purge.

The venvs missing is a failure, not a skip: ``STAIRRIG_SKIP_HA=1`` is the
explicit way to run the suite without Home Assistant.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.broker import Collector
from tests.homeassistant.docs import (another_rigs_id, doc_text, documented_entity_ids, fall_automation_yaml, load_yaml,
                                      without_notify)
from tests.homeassistant.instance import HomeAssistant
from tests.homeassistant.logs import AFTER_PURGE_ECHO, log_problems
from tests.homeassistant.rig import DemoRig
from tests.homeassistant.versions import SKIP_ENV, VERSIONS, skipped

RIG_ID = "stairrig"
BASE = f"stairrig/{RIG_ID}"
DEVICE_NAME = "Stairrig"
SPEED = 5.0
# the rig's entities, the same on every Home Assistant version (issue 10)
ENTITY_IDS = {
    "sensor.stairrig", "sensor.stairrig_steps_today", "sensor.stairrig_total_steps", "sensor.stairrig_flights_up",
    "sensor.stairrig_flights_down", "sensor.stairrig_elevation_gain", "sensor.stairrig_cadence",
    "sensor.stairrig_active_time", "sensor.stairrig_handrail_contact", "sensor.stairrig_light_touch",
    "sensor.stairrig_firm_grip", "sensor.stairrig_left_rail_grip", "sensor.stairrig_right_rail_grip",
    "binary_sensor.stairrig_occupied", "binary_sensor.stairrig_session", "binary_sensor.stairrig_fall_alarm",
    "sensor.stairrig_last_session", "event.stairrig_grab", "event.stairrig_stall", "event.stairrig_suspected_fall",
    "event.stairrig_fall_acknowledged", "event.stairrig_session_started", "event.stairrig_session_ended",
    "button.stairrig_start_session", "button.stairrig_stop_session", "button.stairrig_i_m_ok",
    "button.stairrig_test_fall_alarm", "select.stairrig_athlete", "select.stairrig_drill_facing",
    "select.stairrig_target_grip", "number.stairrig_planned_flights", "number.stairrig_added_load",
    "binary_sensor.stairrig_stuck_sensor", "sensor.stairrig_uptime", "sensor.stairrig_queued_events",
    "sensor.stairrig_dropped_events", "sensor.stairrig_last_error", "sensor.stairrig_last_ascent_power",
    "sensor.stairrig_last_ascent_time", "sensor.stairrig_step_variability", "sensor.stairrig_leg_asymmetry",
    "sensor.stairrig_whole_foot_steps",
}
DISABLED_BY_DEFAULT = {"sensor.stairrig_uptime", "sensor.stairrig_queued_events"}
GONE = ("unavailable", "unknown")
FALL_TIMEOUT_S = 240.0     # real seconds for `demo --fall` to fall (at SPEED)


# -- fixtures ------------------------------------------------------------------
def _report(request, text: str) -> None:
    """A line on the terminal, past pytest's capture (the timings of each Home Assistant)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(text)


def clear_retained(port: int, topics=("homeassistant/#", f"{BASE}/#")) -> None:
    """Forget what earlier tests left retained on the session's broker (other rigs' discovery,
    this rig's state), so that Home Assistant sees only the rig of these tests."""
    collector = Collector(port, topics=topics)
    try:
        time.sleep(1.0)       # retained messages come right after the subscription
        for topic in sorted({m.topic for m in collector.messages if m.retain and m.payload}):
            collector.publish(topic, b"", retain=True)
    finally:
        collector.close()


def fall_automations(version) -> list[dict]:
    """docs/mqtt.md's automations for a suspected fall, verbatim but for the notify action."""
    text = fall_automation_yaml(doc_text())
    automations, replaced = without_notify(load_yaml(text, version.python_exe))
    assert replaced >= 1, f"docs/mqtt.md's fall automation has no notify action:\n{text}"
    return automations


@pytest.fixture(scope="module", params=VERSIONS, ids=[v.version for v in VERSIONS])
def ha(request, mqtt_broker, tmp_path_factory):
    version = request.param
    if skipped():
        pytest.skip(f"{SKIP_ENV} is set: the tests against a real Home Assistant do not run")
    if not version.ready():
        pytest.fail(f"{version} is not prepared in {version.venv}: run ./dev.sh test, which prepares it "
                    f"(or .venv/bin/python -m tests.homeassistant.provision); {SKIP_ENV}=1 runs the suite "
                    "without these tests", pytrace=False)
    clear_retained(mqtt_broker.port)
    instance = HomeAssistant(version, tmp_path_factory.mktemp(f"ha-{version.version}-"), fall_automations(version))
    try:
        instance.start()
        instance.onboard()
        instance.add_mqtt("127.0.0.1", mqtt_broker.port)
        _report(request, f"\n{version}: started in {instance.timings['start']:.1f} s, onboarded in "
                         f"{instance.timings['onboard']:.1f} s, MQTT added in {instance.timings['add_mqtt']:.1f} s "
                         f"(config and log: {instance.config_dir})")
        yield instance
    finally:
        instance.stop()
        clear_retained(mqtt_broker.port)


class Rigs:
    def __init__(self, broker_port: int, tmp_path):
        self.broker_port = broker_port
        self.tmp_path = tmp_path
        self.started: list[DemoRig] = []

    def start(self, **kwargs) -> DemoRig:
        rig = DemoRig(self.broker_port, self.tmp_path / f"rig-{len(self.started)}", speed=SPEED, **kwargs)
        self.started.append(rig)
        return rig.start()

    def close(self) -> None:
        for rig in self.started:
            rig.stop()


@pytest.fixture
def rigs(mqtt_broker, tmp_path, ha):
    starter = Rigs(mqtt_broker.port, tmp_path)
    yield starter
    starter.close()


@pytest.fixture
def collector(mqtt_broker):
    c = Collector(mqtt_broker.port, topics=("homeassistant/#", f"{BASE}/#"))
    yield c
    c.close()


# -- helpers ---------------------------------------------------------------------
def online(ha: HomeAssistant, entity_id: str = "binary_sensor.stairrig_occupied", timeout: float = 60.0) -> dict:
    """Wait until Home Assistant has the rig's entity, available (the rig announced itself, is online).
    An entity still missing while the rig's others are there is missing for good: said at once."""
    started = time.monotonic()
    while True:
        state = ha.state(entity_id)
        if state is not None and state["state"] != "unavailable":
            return state
        waited = time.monotonic() - started
        if state is None and waited > 10:
            others = rig_entities(ha)
            if others:
                raise AssertionError(f"{ha.version} has no {entity_id}; the rig's entities there: {sorted(others)}")
        if waited > timeout:
            raise AssertionError(f"{entity_id} not available in {ha.version} within {timeout:g} s: {state}")
        time.sleep(0.2)


def number(state: dict) -> float:
    return float(state["state"])


def discovery_of(collector: Collector) -> tuple[str, dict]:
    """The rig's device discovery message: (node id, payload)."""
    pattern = re.compile(rf"homeassistant/device/(\w+_{RIG_ID})/config$")
    msg = collector.wait_for(lambda m: pattern.match(m.topic) and m.payload, what="the rig's discovery")
    return pattern.match(msg.topic)[1], msg.json()


def slugify(text: str) -> str:
    """Home Assistant's slugify for ASCII names: "Stairrig I'm OK" -> "stairrig_i_m_ok"."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def expected_entity_ids(platform: str, component: dict, device_name: str) -> dict[str, str]:
    """Each way the discovery message suggests the entity's id, by what suggests it. Home Assistant
    2025.10 and later take ``default_entity_id``; older ones drop it and derive the id from the
    device's and the entity's names (or take ``object_id``)."""
    out = {}
    if component.get("default_entity_id"):
        out["default_entity_id"] = component["default_entity_id"]
    if component.get("object_id"):
        out["object_id"] = f"{platform}.{component['object_id']}"
    if "name" in component:
        name = component["name"]
        out["names"] = f"{platform}.{slugify(device_name + (' ' + name if name else ''))}"
    return out


def rig_entities(ha: HomeAssistant) -> dict[str, dict]:
    return {e["entity_id"]: e for e in ha.entity_registry() if e["platform"] == "mqtt"
            and e["entity_id"].split(".", 1)[1].startswith(RIG_ID)}


def fall_notifications(ha: HomeAssistant, seen: set[str] | None = None) -> list[dict]:
    """Persistent notifications made by an automation's action (the fall automation's notify, made
    persistent_notification.create with no id: a random hex id, where Home Assistant's own have
    names), not in ``seen``."""
    return [n for n in ha.notifications() if re.fullmatch(r"[0-9a-f]{32}", n["notification_id"])
            and (seen is None or n["notification_id"] not in seen)]


def wait_notification(ha: HomeAssistant, seen: set[str], timeout: float = 30.0, what: str = "a notification"):
    deadline = time.monotonic() + timeout
    while True:
        new = fall_notifications(ha, seen)
        if new:
            return new[-1]
        if time.monotonic() > deadline:
            runs = {s["entity_id"]: s["attributes"].get("last_triggered") for s in automation_states(ha)}
            raise AssertionError(f"{what}: none within {timeout:g} s (the automations last ran: {runs})")
        time.sleep(0.2)


def automation_states(ha: HomeAssistant) -> list[dict]:
    return [s for eid, s in ha.states().items() if eid.startswith("automation.")]


def assert_rendered(text: str, what: str) -> None:
    assert text and "{{" not in text and "{%" not in text and "None" not in text, f"{what} not rendered: {text!r}"


def press(ha: HomeAssistant, button: str) -> None:
    ha.wait_state(button, lambda s: s["state"] != "unavailable", 30, f"{button} available")
    ha.call_service("button", "press", entity_id=button)


# -- the checks ---------------------------------------------------------------------
def test_the_device_and_every_entity_exist_with_their_ids(ha, rigs, collector):
    rigs.start()
    node_id, discovery = discovery_of(collector)
    components = discovery["cmps"]
    device_name = discovery["dev"]["name"]
    assert device_name == DEVICE_NAME
    # Home Assistant has every entity the rig announces (disabled ones too)
    deadline = time.monotonic() + 60
    while True:
        registry = {e["unique_id"]: e for e in ha.entity_registry() if e["platform"] == "mqtt"}
        missing = [c["unique_id"] for c in components.values() if c["unique_id"] not in registry]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not missing, f"announced but not in Home Assistant's entity registry: {missing}\n{ha.log_tail()}"

    devices = [d for d in ha.device_registry() if ["mqtt", node_id] in d["identifiers"]]
    assert len(devices) == 1, f"devices with the rig's node id {node_id}: {devices}"
    device = devices[0]
    assert (device["name"], device["name_by_user"]) == (DEVICE_NAME, None)

    wrong = {}
    for key, component in components.items():
        entry = registry[component["unique_id"]]
        assert entry["device_id"] == device["id"], (key, entry)
        suggested = expected_entity_ids(component["p"], component, device_name)
        if len(set(suggested.values())) != 1 or entry["entity_id"] not in suggested.values():
            wrong[key] = {"in Home Assistant": entry["entity_id"], **suggested}
    assert not wrong, f"{ha.version}: entity ids not as the discovery message suggests them: {wrong}"

    ours = {registry[c["unique_id"]]["entity_id"] for c in components.values()}
    missing = sorted(ENTITY_IDS - ours)
    assert not missing, f"{ha.version}: entities the rig must have, missing: {missing} (it has {sorted(ours)})"
    documented = documented_entity_ids(doc_text())
    undocumented_here = sorted(e for e in documented - ours if not another_rigs_id(e, ours))
    assert not undocumented_here, f"docs/mqtt.md names entity ids that Home Assistant does not have: " \
                                  f"{undocumented_here} (it has {sorted(ours)})"
    disabled = {e["entity_id"] for e in registry.values() if e["disabled_by"] == "integration"} & ours
    assert disabled == DISABLED_BY_DEFAULT


def test_states_follow_the_simulated_athlete(ha, rigs):
    rig = rigs.start()
    online(ha)
    first = ha.wait_state("sensor.stairrig", lambda s: number(s) >= 1, 60, "the session's steps counted")
    ha.wait_state("sensor.stairrig", lambda s: number(s) > number(first), 30, "the session's steps rising")
    ha.wait_state("sensor.stairrig_flights_up", lambda s: number(s) >= 1, 90, "a flight up")
    ha.wait_state("sensor.stairrig_steps_today", lambda s: number(s) >= number(first), 30, "steps today")
    seen = set()
    deadline = time.monotonic() + 90
    while seen != {"on", "off"} and time.monotonic() < deadline:
        seen.add(ha.state("binary_sensor.stairrig_occupied")["state"])
        time.sleep(0.1)
    assert seen >= {"on", "off"}, f"binary_sensor.stairrig_occupied was only {seen}"
    ha.wait_state("binary_sensor.stairrig_session", lambda s: s["state"] == "on", 30, "a session running")
    # Home Assistant shows what the rig counts (the rig may have counted a step more meanwhile)
    steps = number(ha.state("sensor.stairrig"))
    assert steps <= rig.status()["state"]["session"]["steps"]


def test_buttons_and_selects_reach_the_rig(ha, rigs):
    rig = rigs.start()
    online(ha, "button.stairrig_start_session")
    before = rig.status()["state"]["session"]["key"]
    press(ha, "button.stairrig_start_session")
    started = rig.wait_status(lambda s: s["state"]["session"]["active"] and s["state"]["session"]["key"] != before,
                              30, "a session started from Home Assistant")["state"]["session"]["key"]
    press(ha, "button.stairrig_stop_session")
    rig.wait_status(lambda s: (s["state"]["last_session"] or {}).get("key") == started, 30,
                    "the session stopped from Home Assistant")
    grip = "hover" if rig.status()["state"]["drill"]["grip"] != "hover" else "none"
    ha.wait_state("select.stairrig_target_grip", lambda s: s["state"] != "unavailable", 30)
    ha.call_service("select", "select_option", entity_id="select.stairrig_target_grip", option=grip)
    rig.wait_status(lambda s: s["state"]["drill"]["grip"] == grip, 30, f"the target grip {grip} from Home Assistant")
    ha.wait_state("select.stairrig_target_grip", lambda s: s["state"] == grip, 30, "the select showing it")


def test_the_documented_fall_automation_fires_on_a_fall_and_im_ok_ends_the_alarm(ha, rigs):
    assert len(automation_states(ha)) == len(ha.automations), \
        f"docs/mqtt.md's automations did not all load: {automation_states(ha)}\n{ha.log_tail()}"
    seen = {n["notification_id"] for n in ha.notifications()}
    rig = rigs.start(fall=True)
    online(ha, "binary_sensor.stairrig_fall_alarm")
    alarm = rig.wait_status(lambda s: s["state"]["alarm"], FALL_TIMEOUT_S, "a suspected fall")["state"]["alarm"]
    assert not alarm.get("test"), alarm
    ha.wait_state("binary_sensor.stairrig_fall_alarm", lambda s: s["state"] == "on", 30, "the fall alarm on")
    event = ha.wait_state("event.stairrig_suspected_fall",
                          lambda s: s["attributes"].get("event_type") == "fall_suspected", 30, "the fall's event")
    assert not event["attributes"].get("test"), event
    note = wait_notification(ha, seen, 30, "the documented automation's notification of the fall")
    assert_rendered(note["title"], "the title")
    assert_rendered(note["message"], "the message")
    tread = (alarm.get("details") or alarm).get("tread")
    if tread is not None:
        assert str(tread) in note["message"], (alarm, note)
    assert "test" not in (note["title"] + note["message"]).lower(), note

    acknowledged_before = ha.state("event.stairrig_fall_acknowledged")["state"]
    press(ha, "button.stairrig_i_m_ok")
    rig.wait_status(lambda s: s["state"]["alarm"] is None, 30, "the alarm ended by I'm OK from Home Assistant")
    ha.wait_state("binary_sensor.stairrig_fall_alarm", lambda s: s["state"] == "off", 30, "the fall alarm off")
    ha.wait_state("event.stairrig_fall_acknowledged", lambda s: s["state"] != acknowledged_before, 30,
                  "the fall acknowledged event")


def test_the_test_alarm_fires_the_automation_as_a_test(ha, rigs):
    seen = {n["notification_id"] for n in ha.notifications()}
    rig = rigs.start()
    online(ha, "button.stairrig_test_fall_alarm")
    press(ha, "button.stairrig_test_fall_alarm")
    alarm = rig.wait_status(lambda s: s["state"]["alarm"], 30, "the test alarm")["state"]["alarm"]
    assert alarm.get("test") is True, alarm
    ha.wait_state("binary_sensor.stairrig_fall_alarm", lambda s: s["state"] == "on", 30, "the fall alarm on")
    event = ha.wait_state("event.stairrig_suspected_fall", lambda s: s["attributes"].get("test") is True, 30,
                          "the suspected fall event marked a test")
    assert event["attributes"]["event_type"] == "fall_suspected"
    note = wait_notification(ha, seen, 30, "the documented automation's notification of the test alarm")
    assert_rendered(note["title"], "the title")
    assert_rendered(note["message"], "the message")
    assert "test" in (note["title"] + " " + note["message"]).lower(), f"it does not say it is a test: {note}"
    # "I'm OK" from the phone: the doc's second automation presses the button
    phone = [a for a in ha.automations if any(t.get("event_type") == "mobile_app_notification_action"
                                                    for t in a.get("triggers", []))]
    if phone:
        action = phone[0]["triggers"][0].get("event_data", {})
        ha.fire_event("mobile_app_notification_action", **action)
    else:
        press(ha, "button.stairrig_i_m_ok")
    rig.wait_status(lambda s: s["state"]["alarm"] is None, 30, "the test alarm ended by I'm OK")
    ha.wait_state("binary_sensor.stairrig_fall_alarm", lambda s: s["state"] == "off", 30, "the fall alarm off")


def test_a_rejected_command_shows_as_the_last_error(ha, rigs, collector):
    rigs.start()
    online(ha, "sensor.stairrig_last_error")
    collector.publish(f"{BASE}/athlete/set", "Nobody")
    error = collector.wait_for(lambda m: m.topic == f"{BASE}/error", what="the rig's error")
    state = ha.wait_state("sensor.stairrig_last_error", lambda s: "Nobody" in s["state"], 30,
                          "the rejected command in Home Assistant")
    assert state["state"] == error.json()["error"][:255]


def test_killing_the_rig_makes_its_entities_unavailable(ha, rigs):
    rig = rigs.start()
    online(ha)
    enabled = [e for e, entry in rig_entities(ha).items() if entry["disabled_by"] is None]
    assert "sensor.stairrig" in enabled, enabled
    rig.kill()
    deadline = time.monotonic() + 30
    while True:
        states = ha.states()
        still = sorted(e for e in enabled if states.get(e, {}).get("state") != "unavailable")
        if not still:
            break
        assert time.monotonic() < deadline, f"still available 30 s after kill -9 of the rig: {still}"
        time.sleep(0.3)


def test_no_warnings_about_the_rig_and_a_purge_removes_it(ha, rigs, collector):
    rigs.start()
    online(ha)
    mark = ha.log_mark()
    problems = log_problems(ha.log())
    assert not problems, f"{ha.version}'s log:\n" + "\n".join(problems)
    # a deprecation in the discovery payload is also raised as a repair issue
    issues = [i for i in ha.ws({"type": "repairs/list_issues"})["issues"] if i["domain"] in ("mqtt", "automation")]
    assert not issues, f"{ha.version} raised repair issues: {issues}"

    seen = {n["notification_id"] for n in ha.notifications()}
    node_id, _ = discovery_of(collector)
    collector.publish(f"{BASE}/purge/set", "purge")
    deadline = time.monotonic() + 30
    while True:
        devices = [d for d in ha.device_registry() if ["mqtt", node_id] in d["identifiers"]]
        entities = rig_entities(ha)
        if not devices and not entities:
            break
        assert time.monotonic() < deadline, f"after a purge, still there: {devices} {sorted(entities)}"
        time.sleep(0.3)
    time.sleep(2.0)     # time for an automation to (wrongly) run on the entities' removal
    new = fall_notifications(ha, seen)
    assert not new, f"the fall automation ran on the purge: {new}"
    problems = log_problems(ha.log_since(mark), allow=(AFTER_PURGE_ECHO,))
    assert not problems, f"{ha.version}'s log after the purge:\n" + "\n".join(problems)
