"""The harness's reading of docs/mqtt.md: the rig's entity ids and the fall automation (no Home
Assistant needed)."""

from __future__ import annotations

from tests.homeassistant.docs import another_rigs_id, documented_entity_ids, fall_automation_yaml, without_notify

def test_the_doc_reader_finds_the_rigs_ids_and_the_fall_automation():
    text = """Ids: `<platform>.stairrig_<key>`, `sensor.stairrig_<rig id>_<key>`, sensor.stairrig and
`sensor.stairrig_steps_today`; another rig: `sensor.stairrig_garage_steps_today`; not the rig's:
notify.mobile_app_annas_phone, /etc/stairrig/rig.toml, stairrig.service.

### A phone alert on a suspected fall

```sh
not this one
```

```yaml
- alias: first
```

```yaml
- alias: second
```
"""
    ids = documented_entity_ids(text)
    assert ids == {"sensor.stairrig", "sensor.stairrig_steps_today", "sensor.stairrig_garage_steps_today"}
    assert another_rigs_id("sensor.stairrig_garage_steps_today", {"sensor.stairrig_steps_today"})
    assert not another_rigs_id("sensor.stairrig_steps_today", {"sensor.stairrig_total_steps"})
    assert fall_automation_yaml(text) == "- alias: first\n"


def test_only_the_notify_action_is_replaced_and_its_templates_kept():
    automations = [{"alias": "fall", "triggers": [{"trigger": "state", "entity_id": "event.x"}],
                    "actions": [{"action": "notify.mobile_app_phone",
                                 "data": {"title": "{{ 1 }}", "message": "{{ 2 }}", "data": {"tag": "t"}}},
                                {"action": "button.press", "target": {"entity_id": "button.y"}}]},
                   {"alias": "ok", "triggers": [{"trigger": "event", "event_data": {"action": "STAIRRIG_IM_OK"}}],
                    "actions": [{"action": "button.press"}]}]
    replaced, count = without_notify(automations)
    assert count == 1
    assert replaced[0]["actions"][0] == {"action": "persistent_notification.create",
                                         "data": {"title": "{{ 1 }}", "message": "{{ 2 }}"}}
    assert replaced[0]["actions"][1:] == automations[0]["actions"][1:] and replaced[1] == automations[1]
