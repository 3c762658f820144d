"""docs/mqtt.md against the rig: every entity id it names exists, and its automation's templates work.

The entity ids in the examples are checked against what the rig suggests
(``default_entity_id``, the same on every supported Home Assistant version:
see test_mqtt_entity_ids.py). The automation's templates are rendered with
Jinja2 in a sandbox as Home Assistant's are, with strict undefined names
(stricter than Home Assistant, which only warns), for the state changes Home
Assistant really sends: a new event, a test alarm, an event without a tread,
the entity removed (``to_state`` none), unknown, back from unavailable.
"""

import datetime as dt
import re
from pathlib import Path

import jinja2
import jinja2.sandbox
import pytest

from tests.test_mqtt_discovery import device_config, make  # noqa: F401 (make is a fixture)
from tests.test_mqtt_entity_ids import DEFAULT_RIG_IDS

DOC = (Path(__file__).resolve().parent.parent / "docs" / "mqtt.md").read_text(encoding="utf-8")
ENTITY_ID = re.compile(r"\b(?:sensor|binary_sensor|event|button|select|number)\.stairrig(?:_[a-z0-9]+)*(?![\w<])")


def section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n#", start + len(title))
    return DOC[start:] if end < 0 else DOC[start:end]


def yaml_block(title: str) -> str:
    text = section(title)
    return text[text.index("```yaml\n") + len("```yaml\n"):text.index("\n```", text.index("```yaml\n"))]


def block_scalar(yaml_text: str, key: str) -> str:
    """The text of ``key: >-`` (its lines, less their indent; the templates here do not depend on
    folding, their whitespace is trimmed by Jinja2)."""
    lines = yaml_text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == f"{key}: >-":
            indent = len(line) - len(line.lstrip())
            body = []
            for next_line in lines[i + 1:]:
                if next_line.strip() and len(next_line) - len(next_line.lstrip()) <= indent:
                    break
                body.append(next_line.strip())
            return "\n".join(body)
    raise AssertionError(f"no {key}: >- in the block")


def test_every_entity_id_in_the_doc_is_one_the_rig_suggests(make):
    suggested = {c["default_entity_id"] for c in device_config(make())[1]["cmps"].values()}
    named = set(ENTITY_ID.findall(DOC))          # patterns such as sensor.stairrig_<rig id>_... are not ids
    assert named - suggested == set()
    for title in ("### A phone alert on a suspected fall", "### A dashboard card"):
        assert set(ENTITY_ID.findall(yaml_block(title))) <= suggested, title


def test_the_entity_table_has_every_entity_with_its_name_and_id():
    rows = {}
    for line in section("### Entities").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1], cells[2], cells[3].strip("`"))
    assert set(rows) == set(DEFAULT_RIG_IDS)
    for key, (platform, name, entity_id) in DEFAULT_RIG_IDS.items():
        assert rows[key][0] == platform and rows[key][2] == entity_id, key
        assert rows[key][1] == name if name else "device's name" in rows[key][1], key


class State:
    """What Home Assistant hands a template as ``trigger.to_state``: a state and its attributes."""

    def __init__(self, state: str, attributes: dict | None = None):
        self.state = state
        self.attributes = attributes or {}


def render(template: str, trigger: dict) -> str:
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    env.globals.update(as_datetime=dt.datetime.fromisoformat, as_local=lambda d: d.astimezone())
    return env.from_string(template).render(trigger=trigger)


AUTOMATION = yaml_block("### A phone alert on a suspected fall")
EVENT_TIME = "2026-11-21T09:41:17.250+00:00"
EARLIER = State("2026-11-20T08:00:00.000+00:00", {"event_type": "fall_suspected"})


def fall(**attributes) -> State:
    return State("2026-11-21T09:41:17.301+00:00", {"event_type": "fall_suspected", "time": EVENT_TIME, "seq": 7,
                                                 **attributes})


@pytest.mark.parametrize("from_state, to_state, passes", [
    (EARLIER, fall(details={"tread": 3}, test=False), True),          # a new event
    (State("unknown"), fall(details={"tread": 3}, test=False), True),  # the first one ever
    (EARLIER, None, False),                                            # removed (a purge)
    (EARLIER, State("unavailable"), False),                            # the rig went offline
    (State("unavailable"), EARLIER, False),                            # ... and came back: no new event
    (None, EARLIER, False),                                            # added again, its last event restored
    (None, State("unknown"), False),                                   # added, never an event
])
def test_the_condition_lets_only_a_new_event_through(from_state, to_state, passes):
    condition = block_scalar(AUTOMATION, "value_template")
    out = render(condition, {"from_state": from_state, "to_state": to_state})
    assert out.strip() == str(passes)


def notification(to_state: State) -> tuple[str, str]:
    trigger = {"from_state": EARLIER, "to_state": to_state}
    return render(block_scalar(AUTOMATION, "title"), trigger), render(block_scalar(AUTOMATION, "message"), trigger)


def test_a_real_fall_names_its_tread_and_time():
    title, message = notification(fall(details={"tread": 3}, test=False))
    at = dt.datetime.fromisoformat(EVENT_TIME).astimezone().strftime("%H:%M:%S")
    assert title == "Stairrig: suspected fall"
    assert message == f"Nobody has moved on tread 3 since {at}."


def test_a_test_alarm_says_test_and_has_no_tread():
    title, message = notification(fall(details={"by": "Home Assistant"}, test=True))
    assert title.startswith("TEST: ") and message.startswith("TEST: ")
    assert "Home Assistant" in message and "tread" not in message


def test_an_event_without_details_or_test_does_not_fail():
    title, message = notification(fall())             # an older rig's message: no "test", no "details"
    assert title == "Stairrig: suspected fall" and message.startswith("Nobody has moved on the stairs since ")


def test_im_ok_from_the_phone_presses_the_rigs_button():
    second = AUTOMATION[AUTOMATION.index("I'm OK from the phone"):]
    assert "action: button.press" in second and "entity_id: button.stairrig_i_m_ok" in second
    assert "action: STAIRRIG_IM_OK" in AUTOMATION and "action: STAIRRIG_IM_OK" in second
