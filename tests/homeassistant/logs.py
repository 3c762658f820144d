"""Reading Home Assistant's log for problems about the rig (stdlib only)."""

from __future__ import annotations

import re

from tests.homeassistant.instance import log_records

RIG_ID = "stairrig"

RELEVANT_LOGGERS = ("homeassistant.components.mqtt", "homeassistant.components.automation",
                    "homeassistant.helpers.template", "homeassistant.helpers.script",
                    "homeassistant.helpers.event", "homeassistant.helpers.entity",
                    "homeassistant.components.persistent_notification", "homeassistant.components.sensor",
                    "homeassistant.components.binary_sensor", "homeassistant.components.event",
                    "homeassistant.components.button", "homeassistant.components.select",
                    "homeassistant.components.number", "homeassistant.util.package", "homeassistant.requirements")


# Removing an entity, Home Assistant (2024.11 and 2026.2 alike) clears its discovery topic with an
# empty retained message of its own: for a device-discovered entity that is the device's topic, so
# after a purge it receives its own empty device payload and warns that nothing is left to clean up.
AFTER_PURGE_ECHO = re.compile(rf"^No device components to cleanup for \w+_{RIG_ID}, node_id 'None'$")


def log_problems(text: str, allow=()) -> list[str]:
    """Warnings and errors about the rig's entities, the automations, their templates, or an
    install attempt (a deprecation warning about the rig's discovery payload is one of them)."""
    problems = []
    for r in log_records(text):
        if r["level"] not in ("WARNING", "ERROR", "CRITICAL"):
            continue
        if any(pattern.search(r["message"]) for pattern in allow):
            continue
        # file paths (a traceback's, the venvs' under ~/.cache/stairrig) do not make a message about the rig
        words = re.sub(r"(?:/[\w.@+-]+)+/?", " ", r["message"])
        about_rig = re.search(r"stair ?rig", words, re.I) is not None
        if about_rig or r["logger"].startswith(RELEVANT_LOGGERS):
            problems.append(f"{r['time']} {r['level']} [{r['logger']}] {r['message']}")
    return problems
