"""What the Home Assistant tests take from docs/mqtt.md, read at test time so that the doc cannot drift.

- ``documented_entity_ids``: every entity id of the rig the doc names (``sensor.stairrig_steps_today``;
  not ``notify.mobile_app_annas_phone``, nor patterns such as ``<platform>.stairrig_<key>``);
- ``fall_automation_yaml``: the first ```yaml block under the heading "A phone alert on a suspected
  fall", verbatim;
- ``without_notify``: those automations with each ``notify.*`` action replaced by
  ``persistent_notification.create`` carrying the same title and message templates (the
  phone-specific ``data`` goes), so that a test sees the message Home Assistant rendered.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

from tests.homeassistant.versions import ROOT

MQTT_DOC = ROOT / "docs" / "mqtt.md"
FALL_HEADING = "A phone alert on a suspected fall"
# the entity domains an MQTT device can have; the rig's ids start with its slug, "stairrig"
ENTITY_DOMAINS = ("alarm_control_panel", "binary_sensor", "button", "camera", "climate", "cover", "device_tracker",
                  "event", "fan", "humidifier", "image", "lawn_mower", "light", "lock", "notify", "number",
                  "scene", "select", "sensor", "siren", "switch", "tag", "text", "update", "vacuum", "valve",
                  "water_heater")
ENTITY_ID = re.compile(r"(?<![\w.<>/-])(" + "|".join(ENTITY_DOMAINS) + r")\.(stairrig(?:_[a-z0-9]+)*)(?![\w<>-])")


def doc_text(path: Path = MQTT_DOC) -> str:
    return path.read_text(encoding="utf-8")


def documented_entity_ids(text: str) -> set[str]:
    return {f"{m[1]}.{m[2]}" for m in ENTITY_ID.finditer(text)}


def fall_automation_yaml(text: str) -> str:
    heading = re.search(r"^#+\s+" + re.escape(FALL_HEADING) + r"\s*$", text, re.M)
    if heading is None:
        raise AssertionError(f"docs/mqtt.md has no heading {FALL_HEADING!r}")
    block = re.compile(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S).search(text, heading.end())
    if block is None:
        raise AssertionError(f"docs/mqtt.md has no ```yaml block under {FALL_HEADING!r}")
    return block[1]


def load_yaml(text: str, python_exe: Path):
    """Parse YAML with PyYAML from a Home Assistant venv (the test venv has no YAML parser)."""
    out = subprocess.run([str(python_exe), "-c", "import json, sys, yaml; "
                          "print(json.dumps(yaml.safe_load(sys.stdin.read())))"],
                         input=text, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"the YAML does not parse: {out.stderr.strip()}\n{text}")
    return json.loads(out.stdout)


def without_notify(automations) -> tuple[list[dict], int]:
    """The automations with every ``notify.*`` action made a persistent notification; and how many."""
    automations = copy.deepcopy(automations if isinstance(automations, list) else [automations])
    replaced = 0

    def walk(node):
        nonlocal replaced
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        for key in ("action", "service"):
            target = node.get(key)
            if isinstance(target, str) and target.startswith("notify."):
                data = node.get("data") or {}
                replaced += 1
                kept = {k: v for k, v in node.items() if k not in (key, "data", "target")}
                return {**kept, "action": "persistent_notification.create",
                        "data": {k: data[k] for k in ("title", "message") if k in data}}
        return {k: walk(v) for k, v in node.items()}

    return walk(automations), replaced


RIG_ID = "stairrig"


def another_rigs_id(entity_id: str, ours: set[str]) -> bool:
    """``sensor.stairrig_garage_steps_today``: this rig's ``sensor.stairrig_steps_today`` for another
    rig id (the doc's example of a second rig), not an id this rig should have."""
    platform, object_id = entity_id.split(".", 1)
    rest = object_id[len(RIG_ID) + 1:].split("_")
    return any(f"{platform}.{RIG_ID}_{'_'.join(rest[i:])}" in ours for i in range(1, len(rest)))
