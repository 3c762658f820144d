"""Entity ids that are the same on every Home Assistant version.

Home Assistant before 2025.10 ignores ``default_entity_id`` and makes the id
from the names: ``<platform>.`` + slugify(device name + " " + entity name),
or slugify(device name) for an entity named null. 2025.10 and later use
``default_entity_id``. These tests hold every entity's ``default_entity_id``
to what the names give, with ``reference_slugify``: this file's own copy of
Home Assistant's ``homeassistant.util.slugify`` (python-slugify's legacy
pipeline with the separator "_"), written step by step from their sources
so that it does not share a line with the rig's ``ha_slugify``. Home
Assistant itself is not installed here; the tests against a real one live
elsewhere.
"""

import re
import unicodedata
from html.entities import name2codepoint

import pytest

from rig.mqtt.entity_ids import default_entity_id, device_name, ha_slugify
from tests.test_mqtt_discovery import device_config, make  # noqa: F401 (make is a fixture)

# homeassistant.core.VALID_ENTITY_ID
VALID_ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")

# key -> (platform, name, entity id) for the rig id "stairrig": what docs/mqtt.md promises
DEFAULT_RIG_IDS = {
    "session_steps": ("sensor", None, "sensor.stairrig"),
    "steps_today": ("sensor", "Steps today", "sensor.stairrig_steps_today"),
    "steps_total": ("sensor", "Total steps", "sensor.stairrig_total_steps"),
    "flights_up": ("sensor", "Flights up", "sensor.stairrig_flights_up"),
    "flights_down": ("sensor", "Flights down", "sensor.stairrig_flights_down"),
    "elevation_gain": ("sensor", "Elevation gain", "sensor.stairrig_elevation_gain"),
    "cadence": ("sensor", "Cadence", "sensor.stairrig_cadence"),
    "active_time": ("sensor", "Active time", "sensor.stairrig_active_time"),
    "contact_share": ("sensor", "Handrail contact", "sensor.stairrig_handrail_contact"),
    "light_share": ("sensor", "Light touch", "sensor.stairrig_light_touch"),
    "firm_share": ("sensor", "Firm grip", "sensor.stairrig_firm_grip"),
    "left_rail_grip": ("sensor", "Left rail grip", "sensor.stairrig_left_rail_grip"),
    "right_rail_grip": ("sensor", "Right rail grip", "sensor.stairrig_right_rail_grip"),
    "occupied": ("binary_sensor", "Occupied", "binary_sensor.stairrig_occupied"),
    "session_active": ("binary_sensor", "Session", "binary_sensor.stairrig_session"),
    "fall_alarm": ("binary_sensor", "Fall alarm", "binary_sensor.stairrig_fall_alarm"),
    "last_session": ("sensor", "Last session", "sensor.stairrig_last_session"),
    "grab": ("event", "Grab", "event.stairrig_grab"),
    "stall": ("event", "Stall", "event.stairrig_stall"),
    "fall_suspected": ("event", "Suspected fall", "event.stairrig_suspected_fall"),
    "fall_acknowledged": ("event", "Fall acknowledged", "event.stairrig_fall_acknowledged"),
    "session_started": ("event", "Session started", "event.stairrig_session_started"),
    "session_ended": ("event", "Session ended", "event.stairrig_session_ended"),
    "start_session": ("button", "Start session", "button.stairrig_start_session"),
    "stop_session": ("button", "Stop session", "button.stairrig_stop_session"),
    "acknowledge_fall": ("button", "I'm OK", "button.stairrig_i_m_ok"),
    "test_alarm": ("button", "Test fall alarm", "button.stairrig_test_fall_alarm"),
    "athlete": ("select", "Athlete", "select.stairrig_athlete"),
    "drill_facing": ("select", "Drill facing", "select.stairrig_drill_facing"),
    "target_grip": ("select", "Target grip", "select.stairrig_target_grip"),
    "planned_flights": ("number", "Planned flights", "number.stairrig_planned_flights"),
    "added_load": ("number", "Added load", "number.stairrig_added_load"),
    "stuck_sensor": ("binary_sensor", "Stuck sensor", "binary_sensor.stairrig_stuck_sensor"),
    "uptime": ("sensor", "Uptime", "sensor.stairrig_uptime"),
    "queued_events": ("sensor", "Queued events", "sensor.stairrig_queued_events"),
    "dropped_events": ("sensor", "Dropped events", "sensor.stairrig_dropped_events"),
    "last_error": ("sensor", "Last error", "sensor.stairrig_last_error"),
    "last_ascent_power": ("sensor", "Last ascent power", "sensor.stairrig_last_ascent_power"),
    "last_ascent_time": ("sensor", "Last ascent time", "sensor.stairrig_last_ascent_time"),
    "step_variability": ("sensor", "Step variability", "sensor.stairrig_step_variability"),
    "leg_asymmetry": ("sensor", "Leg asymmetry", "sensor.stairrig_leg_asymmetry"),
    "whole_foot": ("sensor", "Whole-foot steps", "sensor.stairrig_whole_foot_steps"),
}


def reference_slugify(text):
    """Home Assistant's ``slugify(text)`` (separator "_") for ASCII text, step by step as
    python-slugify's ``slugify(text, separator="_")`` does it."""
    if text == "" or text is None:                                  # homeassistant.util.slugify
        return ""
    assert text.isascii(), "the transliteration step is the identity only for ASCII"
    text = re.sub(r"[']+", "-", text)                               # quotes -> dashes (pre-process)
    text = unicodedata.normalize("NFKD", text)                      # + unidecode: nothing to do on ASCII
    text = re.sub(r"&(%s);" % "|".join(name2codepoint), lambda m: chr(name2codepoint[m.group(1)]), text)
    try:
        text = re.sub(r"&#(\d+);", lambda m: chr(int(m.group(1))), text)
    except ValueError:
        pass
    try:
        text = re.sub(r"&#x([\da-fA-F]+);", lambda m: chr(int(m.group(1), 16)), text)
    except ValueError:
        pass
    text = unicodedata.normalize("NFKD", text).lower()
    text = re.sub(r"[']+", "", text)                                # generated quotes (post-process)
    text = re.sub(r"(?<=\d),(?=\d)", "", text)                      # numbers: 1,000 -> 1000
    text = re.sub(r"[^-a-zA-Z0-9]+", "-", text)                     # disallowed characters
    text = re.sub(r"-{2,}", "-", text).strip("-")
    slug = text.replace("-", "_")                                   # the separator
    return "unknown" if slug == "" else slug


def old_home_assistant_entity_id(platform, device, entity_name):
    """The id a Home Assistant before 2025.10 gives an entity with ``has_entity_name``."""
    return f"{platform}.{reference_slugify(f'{device} {entity_name}' if entity_name else device)}"


def test_the_reference_slugify_does_what_home_assistant_does_to_these_names():
    assert reference_slugify("Stairrig I'm OK") == "stairrig_i_m_ok"
    assert reference_slugify("I'm OK") == "i_m_ok"
    assert reference_slugify("Stairrig Rig-2 Suspected fall") == "stairrig_rig_2_suspected_fall"
    assert reference_slugify("Stairrig garage") == "stairrig_garage"
    assert reference_slugify("Stairrig my__rig-") == "stairrig_my_rig"
    assert reference_slugify("1,000 steps") == "1000_steps"
    assert reference_slugify("Tom &amp; Jerry") == "tom_jerry"
    assert reference_slugify("--") == "unknown" and reference_slugify("") == ""


@pytest.mark.parametrize("text", [
    "Stairrig", "Stairrig Steps today", "Stairrig I'm OK", "I''m  OK ", "Stairrig Rig-2 Test fall alarm",
    "Stairrig my__rig-", "  leading and trailing  ", "1,000 steps, 2,5 m", "a,b", "Tom &amp; Jerry",
    "caf&eacute; &#65;&#x42;", "&#39;quoted&#39;", "--", "!!!", "_", "", "UPPER lower 123",
])
def test_the_rigs_slugify_is_home_assistants(text):
    assert ha_slugify(text) == reference_slugify(text)


def test_the_rigs_slugify_refuses_what_it_cannot_mirror():
    with pytest.raises(ValueError):
        ha_slugify("Trappe à l'étage")


def test_the_device_is_called_stairrig_with_the_rig_id_unless_it_is_the_default():
    assert device_name("stairrig") == "Stairrig"
    assert device_name("garage") == "Stairrig garage"
    assert device_name("Rig-2") == "Stairrig Rig-2"
    assert default_entity_id("sensor", "Stairrig", None) == "sensor.stairrig"
    assert default_entity_id("button", "Stairrig Rig-2", "I'm OK") == "button.stairrig_rig_2_i_m_ok"


@pytest.mark.parametrize("rig_id, device, prefix", [
    ("stairrig", "Stairrig", "stairrig"),
    ("garage", "Stairrig garage", "stairrig_garage"),
    ("Rig-2", "Stairrig Rig-2", "stairrig_rig_2"),
])
def test_every_suggested_entity_id_is_the_one_the_names_give(make, rig_id, device, prefix):
    service = make(rig_id=rig_id)
    payload = device_config(service)[1]
    assert payload["dev"]["name"] == device
    cmps = payload["cmps"]
    assert set(cmps) == set(DEFAULT_RIG_IDS)       # this layout has every entity the rig can offer
    node = service.mqtt.node_id
    for key, c in cmps.items():
        assert c["default_entity_id"] == old_home_assistant_entity_id(c["p"], device, c["name"]), key
        assert VALID_ENTITY_ID.fullmatch(c["default_entity_id"]), c["default_entity_id"]
        assert c["unique_id"] == f"{node}_{key}"   # unchanged: existing registries are keyed on it
        platform, name, default_id = DEFAULT_RIG_IDS[key]
        assert (c["p"], c["name"]) == (platform, name), key
        assert c["default_entity_id"] == default_id.replace(".stairrig", "." + prefix, 1), key
    assert len({c["default_entity_id"] for c in cmps.values()}) == len(cmps)


def test_per_entity_discovery_suggests_the_same_ids(make):
    service = make(discovery="entity")
    for topic, payload in service.mqtt.discovery_messages():
        key = topic.split("/")[3]
        assert payload["default_entity_id"] == DEFAULT_RIG_IDS[key][2], key
        assert payload["dev"]["name"] == "Stairrig"
