"""Home Assistant MQTT discovery: the rig as one device with its entities.

Device-based discovery (Home Assistant 2024.11+) is one retained message on
``<prefix>/device/<node_id>/config`` holding the device block (``dev``), the
origin (``o``), the options every entity shares (availability, state topic,
QoS) and each entity under ``cmps``. Per-entity discovery (for older
installations) publishes the same entities one by one on
``<prefix>/<platform>/<node_id>/<key>/config``.

Ids: ``node_id`` is the hardware device id and the rig id
(``stairrig_<serial>_<rig id>``), so two rigs never collide, even on one Pi;
each ``unique_id`` is ``<node_id>_<key>``, never derived from a name a user
can change. Entity names follow Home Assistant's ``has_entity_name`` rule: the
entity part only ("Steps today"), ``None`` for the device's main feature
(the session's step count). ``default_entity_id`` is the id those names give
on a Home Assistant that ignores it (see entity_ids.py), so the entity ids
are the same on every version.

Everything here is pure: the context is built by the client from the service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rig.commands import MAX_ADDED_LOAD_KG, MAX_PLANNED_FLIGHTS
from rig.mqtt.entity_ids import default_entity_id
from rig.mqtt.events import EVENT_TYPES
from rig.mqtt.topics import Topics
from rig.trace.header import FACINGS, GRIPS

# the keys Home Assistant accepts in a device block: any other key rejects every entity carrying it
DEVICE_KEYS = frozenset({"cns", "cu", "ids", "name", "mf", "mdl", "mdl_id", "hw", "sw", "sa", "sn", "via_device"})
ORIGIN_KEYS = frozenset({"name", "sw", "url"})
ID = re.compile(r"[A-Za-z0-9_-]+")
EVENT_NAMES = {"grab": "Grab", "stall": "Stall", "fall_suspected": "Suspected fall",
               "fall_acknowledged": "Fall acknowledged", "session_started": "Session started",
               "session_ended": "Session ended"}
EVENT_ICONS = {"grab": "mdi:hand-back-right-outline", "stall": "mdi:timer-sand", "fall_suspected": "mdi:alert",
               "fall_acknowledged": "mdi:account-check", "session_started": "mdi:play-circle",
               "session_ended": "mdi:stop-circle"}
CADENCE_EXPIRE_S = 60
MAX_STATE_CHARS = 255          # Home Assistant refuses a longer state


@dataclass(frozen=True)
class DiscoveryContext:
    topics: Topics
    node_id: str
    device: dict                     # its "name" makes the entity ids (entity_ids.py)
    origin: dict
    rails: dict[str, bool] = field(default_factory=dict)   # side -> has a force sensor
    athletes: tuple[str, ...] = ()
    split_treads: bool = False     # whole-foot placement needs treads split in halves


def _v(path: str) -> str:
    return "{{ value_json." + path + " }}"


def components(ctx: DiscoveryContext) -> dict[str, dict]:
    """Every entity, keyed by its component id (its ``unique_id`` suffix)."""
    t = ctx.topics
    out: dict[str, dict] = {}

    def add(key: str, platform: str, name: str | None, **options) -> None:
        out[key] = {"p": platform, "name": name, "unique_id": f"{ctx.node_id}_{key}",
                    "default_entity_id": default_entity_id(platform, ctx.device["name"], name), **options}

    def counter(key, name, path, unit, icon):
        add(key, "sensor", name, value_template=_v(path), state_class="total_increasing",
            unit_of_measurement=unit, icon=icon)

    counter("session_steps", None, "session.steps", "steps", "mdi:stairs")      # the device's main figure
    counter("steps_today", "Steps today", "steps_today", "steps", "mdi:stairs")
    counter("steps_total", "Total steps", "steps_total", "steps", "mdi:counter")
    counter("flights_up", "Flights up", "session.flights_up", "flights", "mdi:stairs-up")
    counter("flights_down", "Flights down", "session.flights_down", "flights", "mdi:stairs-down")
    add("elevation_gain", "sensor", "Elevation gain", value_template=_v("session.elevation_gain_m"),
        device_class="distance", unit_of_measurement="m", state_class="total_increasing",
        suggested_display_precision=2)
    add("cadence", "sensor", "Cadence", value_template=_v("session.cadence_spm"), unit_of_measurement="steps/min",
        state_class="measurement", expire_after=CADENCE_EXPIRE_S, suggested_display_precision=0,
        icon="mdi:metronome")
    add("active_time", "sensor", "Active time", value_template=_v("session.active_s"), device_class="duration",
        unit_of_measurement="s", state_class="total_increasing", suggested_display_precision=0)
    add("last_ascent_power", "sensor", "Last ascent power", value_template=_v("session.last_ascent_power_w"),
        device_class="power", unit_of_measurement="W", state_class="measurement", suggested_display_precision=0)
    add("last_ascent_time", "sensor", "Last ascent time", value_template=_v("session.last_ascent_s"),
        device_class="duration", unit_of_measurement="s", state_class="measurement",
        suggested_display_precision=1)
    add("step_variability", "sensor", "Step variability", value_template=_v("session.step_variability_pct"),
        unit_of_measurement="%", state_class="measurement", suggested_display_precision=1,
        icon="mdi:chart-bell-curve")
    add("leg_asymmetry", "sensor", "Leg asymmetry", value_template=_v("session.leg_asymmetry_pct"),
        unit_of_measurement="%", state_class="measurement", suggested_display_precision=1, icon="mdi:scale-unbalanced")
    if ctx.split_treads:
        add("whole_foot", "sensor", "Whole-foot steps", value_template=_v("session.whole_foot_pct"),
            unit_of_measurement="%", state_class="measurement", suggested_display_precision=0, icon="mdi:shoe-print")
    if ctx.rails:
        shares = [("contact_share", "Handrail contact", "contact_pct")]
        if any(ctx.rails.values()):
            shares += [("light_share", "Light touch", "light_pct"), ("firm_share", "Firm grip", "firm_pct")]
        for key, name, field_ in shares:
            add(key, "sensor", name, value_template=_v(f"session.{field_}"), unit_of_measurement="%",
                state_class="measurement", suggested_display_precision=0, icon="mdi:hand-back-right")
    for side, has_force in sorted(ctx.rails.items()):
        options = ["none", "light", "firm"] if has_force else ["none", "touch"]
        add(f"{side}_rail_grip", "sensor", f"{side.capitalize()} rail grip", device_class="enum", options=options,
            value_template=_v(f"rails.{side}"), icon="mdi:hand-back-right")
    add("occupied", "binary_sensor", "Occupied", device_class="occupancy",
        value_template="{{ 'ON' if value_json.occupied else 'OFF' }}")
    add("session_active", "binary_sensor", "Session", device_class="running",
        value_template="{{ 'ON' if value_json.session.active else 'OFF' }}")
    add("fall_alarm", "binary_sensor", "Fall alarm", device_class="safety",
        value_template="{{ 'ON' if value_json.fall_alarm else 'OFF' }}", json_attributes_topic=t.state,
        json_attributes_template="{{ {'test': value_json.fall_alarm_test} | tojson }}")
    add("last_session", "sensor", "Last session", device_class="timestamp",
        value_template="{{ value_json.last_session.ended_at if value_json.last_session else None }}",
        json_attributes_topic=t.state,
        json_attributes_template="{{ (value_json.last_session or {}) | tojson }}", icon="mdi:history")
    for etype in EVENT_TYPES:
        add(etype, "event", EVENT_NAMES[etype], state_topic=t.event, event_types=[etype],
            value_template="{{ value if value_json.event_type == '" + etype + "' else '' }}",
            icon=EVENT_ICONS[etype])
    add("start_session", "button", "Start session", command_topic=t.command("session"), payload_press="start",
        icon="mdi:play")
    add("stop_session", "button", "Stop session", command_topic=t.command("session"), payload_press="stop",
        icon="mdi:stop")
    add("acknowledge_fall", "button", "I'm OK", command_topic=t.command("fall"), payload_press="acknowledge",
        icon="mdi:account-check")
    add("test_alarm", "button", "Test fall alarm", command_topic=t.command("test_alarm"), payload_press="raise",
        icon="mdi:alarm-light-outline")
    add("athlete", "select", "Athlete", command_topic=t.command("athlete"), options=list(ctx.athletes),
        value_template=_v("athlete.name"), entity_category="config", icon="mdi:account")
    add("drill_facing", "select", "Drill facing", command_topic=t.command("facing"), options=list(FACINGS),
        value_template=_v("drill.facing"), entity_category="config", icon="mdi:swap-vertical")
    add("target_grip", "select", "Target grip", command_topic=t.command("grip"), options=list(GRIPS),
        value_template=_v("drill.grip"), entity_category="config", icon="mdi:hand-back-right")
    add("planned_flights", "number", "Planned flights", command_topic=t.command("planned_flights"),
        value_template="{{ value_json.drill.planned_flights or 0 }}", min=0, max=MAX_PLANNED_FLIGHTS, step=1,
        mode="box", entity_category="config", icon="mdi:flag-checkered")
    add("added_load", "number", "Added load", command_topic=t.command("added_load_kg"),
        value_template=_v("drill.added_load_kg"), min=0, max=MAX_ADDED_LOAD_KG, step=0.5, mode="box",
        unit_of_measurement="kg", device_class="weight", entity_category="config", icon="mdi:weight-kilogram")
    diag = {"state_topic": t.diagnostics, "entity_category": "diagnostic"}
    add("stuck_sensor", "binary_sensor", "Stuck sensor", device_class="problem",
        value_template="{{ 'ON' if value_json.stuck_channels else 'OFF' }}", json_attributes_topic=t.diagnostics,
        json_attributes_template="{{ {'channels': value_json.stuck_channels} | tojson }}", **diag)
    add("uptime", "sensor", "Uptime", value_template=_v("uptime_s"), device_class="duration",
        unit_of_measurement="s", enabled_by_default=False, **diag)
    add("queued_events", "sensor", "Queued events", value_template=_v("queued_events"),
        unit_of_measurement="events", state_class="measurement", enabled_by_default=False, **diag)
    add("dropped_events", "sensor", "Dropped events", value_template=_v("dropped_events"),
        unit_of_measurement="events", state_class="total_increasing", **diag)
    # <base>/error is not retained: the sensor shows the last rejected command since Home Assistant started
    add("last_error", "sensor", "Last error", state_topic=t.error, entity_category="diagnostic",
        value_template="{{ value_json.error[:" + str(MAX_STATE_CHARS) + "] }}", json_attributes_topic=t.error,
        json_attributes_template="{{ {'command': value_json.command, 'payload': value_json.payload, "
                                 "'time': value_json.time} | tojson }}", icon="mdi:alert-circle-outline")
    return out


def shared_options(ctx: DiscoveryContext) -> dict:
    """What every entity inherits unless it says otherwise."""
    return {"availability_topic": ctx.topics.availability, "state_topic": ctx.topics.state, "qos": 1}


def device_topic(ctx: DiscoveryContext) -> str:
    return f"{ctx.topics.prefix}/device/{ctx.node_id}/config"


def entity_topic(ctx: DiscoveryContext, key: str, platform: str) -> str:
    return f"{ctx.topics.prefix}/{platform}/{ctx.node_id}/{key}/config"


def device_message(ctx: DiscoveryContext) -> tuple[str, dict]:
    """The one device-based discovery message."""
    return device_topic(ctx), {"dev": ctx.device, "o": ctx.origin, **shared_options(ctx), "cmps": components(ctx)}


def entity_messages(ctx: DiscoveryContext) -> list[tuple[str, dict]]:
    """One discovery message per entity (the older scheme)."""
    out = []
    for key, comp in components(ctx).items():
        config = {k: v for k, v in comp.items() if k != "p"}
        out.append((entity_topic(ctx, key, comp["p"]),
                    {**shared_options(ctx), **config, "dev": ctx.device, "o": ctx.origin}))
    return out


def messages(ctx: DiscoveryContext, mode: str) -> list[tuple[str, dict]]:
    if mode == "device":
        return [device_message(ctx)]
    if mode == "entity":
        return entity_messages(ctx)
    return []


def purge_topics(ctx: DiscoveryContext) -> list[str]:
    """Every discovery topic the rig may have used, in either scheme (an empty retained message removes it)."""
    return [device_topic(ctx)] + [entity_topic(ctx, key, comp["p"]) for key, comp in components(ctx).items()]
