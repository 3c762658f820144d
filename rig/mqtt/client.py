"""The Home Assistant output: the rig's state, events and commands over MQTT (paho-mqtt 2.x).

``MqttOutput(service)`` subscribes itself to the service's bus and does no
network I/O until ``start()``, which connects in the background
(``connect_async`` + ``loop_start``): the rig counts with or without a
broker, and connects whenever one appears. The engine is never waited on
or for; the bus thread only queues events, and publishes the state when the
throttle lets it go at once. Three threads of its own:

- paho's network thread (``stairrig-mqtt-network``): callbacks only note
  what happened and wake the publisher; commands go to the worker;
- ``stairrig-mqtt-publisher`` (``Publisher``, publisher.py): every other
  publish (availability, discovery, the state the throttle held back,
  diagnostics, the queued events, error reports);
- ``stairrig-mqtt-commands`` (``CommandWorker``, commands.py): commands,
  which wait up to 3 s for the engine.

No event is lost to an outage: events wait in ``EventQueue`` (outbox.py,
bounded by ``queue_limit``, oldest dropped and counted) until the broker
acknowledges them (QoS 1, ``on_publish``). See docs/mqtt.md.

The other parts: paho_client.py sets up paho (password, TLS, last will,
callbacks); state_publisher.py publishes the state and the diagnostics;
device.py builds the device block and the discovery context; discovery.py
the discovery messages; entity_ids.py the entity ids.
"""

from __future__ import annotations

import json
import logging
import time

from rig.mqtt.commands import CommandWorker, shown_payload
from rig.mqtt.device import athlete_names, configuration_url, discovery_context, slug_id
from rig.mqtt.device_id import HardwarePaths, device_identity
from rig.mqtt.discovery import DiscoveryContext, messages
from rig.mqtt.events import EVENT_TYPES, event_message, wall_time
from rig.mqtt.outbox import EventQueue, Pending
from rig.mqtt.paho_client import KEEPALIVE_S, make_paho_client
from rig.mqtt.publisher import CLOSE_FLUSH_S, Publisher
from rig.mqtt.state_publisher import STATE_TRIGGERS, StatePublisher
from rig.mqtt.topics import Topics

__all__ = ["MqttOutput", "configuration_url", "slug_id"]

log = logging.getLogger(__name__)

TYPES = STATE_TRIGGERS | set(EVENT_TYPES)
EVENT_WINDOW = 10              # events handed to paho at a time
CLOSE_WAIT_S = 3.0
DROP_LOG_EVERY = 100
COMMAND_NAME_CHARS = 60        # of a command's name in an error report


class MqttOutput:
    def __init__(self, service, *, hardware: HardwarePaths = HardwarePaths()):
        self.service = service
        config = service.config
        self.config = config.mqtt
        self.rig_id = config.rig_id
        self.topics = Topics.for_config(config)
        self.base_topic = self.topics.base
        self.identity = device_identity(config, hardware)
        self.device_id = self.identity.device_id
        self.node_id = slug_id(f"{self.device_id}_{self.rig_id}")
        # unique per Pi and rig: two rigs left on the default rig id must not take turns on the broker
        self.client_id = self.config.client_id or f"stairrig-{self.node_id}"
        self._events = EventQueue(self.config.queue_limit, EVENT_WINDOW)
        self._seq = 0
        self._live_changes = -1              # the live state's change count at the last tick looked at
        self._drop_logged = 0
        self._fail_reason: str | None = None
        self._started = False
        self._closed = False
        self._client, self.broken = make_paho_client(self.config, client_id=self.client_id,
                                                     will_topic=self.topics.availability, callbacks=self)
        self._state = StatePublisher(self._client, self.topics, service.live, self._events,
                                     self.config.state_max_hz, storage=getattr(service, "storage_health", None))
        self._publisher = Publisher(self._client, self.topics, self.config.discovery, self._events, self._state,
                                    context_for=self._context, athlete_names=lambda: athlete_names(service))
        self._worker = CommandWorker(service.commands, self._report_error, self.purge)
        service.bus.subscribe("mqtt", self._on_bus, types=TYPES)

    # -- what the service and the tests read -------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._publisher.connected

    @property
    def queued(self) -> int:
        """Events waiting for the broker's acknowledgement."""
        return len(self._events)

    @property
    def dropped(self) -> int:
        """Events dropped because the queue was full."""
        return self._events.dropped

    def discovery_messages(self) -> list[tuple[str, dict]]:
        """The discovery messages the rig publishes now (per ``[mqtt] discovery``)."""
        athletes = athlete_names(self.service) or self._publisher.ctx.athletes
        return messages(self._context(athletes), self.config.discovery)

    def _context(self, athletes: tuple[str, ...]) -> DiscoveryContext:
        return discovery_context(self.service, self.topics, self.node_id, self.identity, athletes)

    # -- starting --------------------------------------------------------------------------------
    def start(self) -> None:
        if self._started or self.broken:
            return
        self._started = True
        self._worker.start()
        self._publisher.start()
        cfg = self.config
        self._client.connect_async(cfg.host, cfg.effective_port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        thread = getattr(self._client, "_thread", None)   # paho names it after the client id
        if thread is not None:
            thread.name = "stairrig-mqtt-network"
        log.info("MQTT: connecting to %s:%d in the background as %s; topics under %s/", cfg.host,
                 cfg.effective_port, self.client_id, self.base_topic)

    # -- the bus (its thread): never waits ------------------------------------------------------
    def _on_bus(self, event: dict) -> None:
        if self.broken:
            return
        etype = event["type"]
        if etype == "tick":
            if self._publisher.ready and self._state.health_changed():
                self._publisher.wake()      # the history or a trace failed or came back: diagnostics now
            changes = self.service.live.changes
            if changes == self._live_changes:
                return          # an idle rig's tick: nothing in the state moved
            self._live_changes = changes
        # the publisher wakes for what only it sends (events, discovery, what the state's window
        # holds back), not for every tick: an idle rig ticks four times a second
        wake = etype in EVENT_TYPES or not self._publisher.ready
        if etype in EVENT_TYPES:
            self._queue_event(event)
        if etype in STATE_TRIGGERS:
            self._state.note(etype)
            if etype == "athlete_changed":
                self._publisher.athletes_changed()
                wake = True
            if self._publisher.ready:
                # the state's prompt path: published from here when the window is open (one thread hop
                # less for a step); the publisher's timer sends what the window holds back
                try:
                    self._state.check(time.monotonic())
                except Exception:
                    log.exception("MQTT: publishing the state failed")
                wake = wake or self._state.pending()
        if wake:
            self._publisher.wake()

    def _queue_event(self, event: dict) -> None:
        self._seq += 1
        message = event_message(event, self._seq)
        item = Pending(self._seq, event["type"], json.dumps(message, separators=(",", ":"), default=str).encode())
        lost = self._events.put(item)
        if lost is not None:
            n = self._events.dropped
            if self._drop_logged == 0 or n - self._drop_logged >= DROP_LOG_EVERY:
                self._drop_logged = n
                log.warning("MQTT: %d events wait for the broker (queue_limit); dropped the oldest (%s #%d); "
                            "%d dropped so far", self.config.queue_limit, lost.event_type, lost.seq, n)

    # -- paho's callbacks (its network thread) ---------------------------------------------
    def on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._connect_failed(f"the broker refused the connection: {reason_code}")
            return
        try:
            client.subscribe([(self.topics.command_filter, 1), (self.topics.ha_status, 1)])
        except Exception:
            log.exception("MQTT: subscribing failed")
        self._fail_reason = None
        self._drop_logged = 0
        cfg = self.config
        log.info("MQTT: connected to %s:%d; %d events queued", cfg.host, cfg.effective_port, len(self._events))
        self._publisher.connection_up()

    def on_connect_fail(self, client, userdata) -> None:
        self._connect_failed("cannot reach the broker")

    def _connect_failed(self, reason: str) -> None:
        if reason != self._fail_reason:      # once per reason, not every retry
            self._fail_reason = reason
            cfg = self.config
            log.warning("MQTT: %s at %s:%d; retrying in the background (the rig counts meanwhile)",
                        reason, cfg.host, cfg.effective_port)

    def on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._publisher.connection_down() and not self._closed:
            log.warning("MQTT: the connection was lost (%s); reconnecting, events wait in the queue", reason_code)

    def on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._publisher.acknowledged(mid)     # paho holds its message lock here: only hand the mid over

    def on_message(self, client, userdata, message) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            return
        if topic == self.topics.ha_status:
            if message.payload.strip() == b"online" and not message.retain:
                self._publisher.home_assistant_online()
            return
        name = self.topics.command_name(topic)
        if name is not None:
            self._worker.submit(name, bytes(message.payload), bool(message.retain))

    # -- called by the command worker ----------------------------------------------------------
    def _report_error(self, name: str, payload: bytes, error: str) -> None:
        doc = {"command": name[:COMMAND_NAME_CHARS], "payload": shown_payload(payload), "error": error,
               "time": wall_time()}
        self._publisher.send(self.topics.error, json.dumps(doc, separators=(",", ":")).encode())

    def purge(self) -> None:
        """Remove the rig from Home Assistant: empty retained discovery, state and availability."""
        self._publisher.request_purge()

    # -- stopping ----------------------------------------------------------------------------
    def close(self) -> None:
        """Deliver what waits (briefly), publish "offline", disconnect. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._publisher.stop(CLOSE_FLUSH_S + CLOSE_WAIT_S)
        self._worker.close()
        if not self._started:
            return
        client = self._client
        if self.connected and not self._state.purged:
            try:
                info = client.publish(self.topics.availability, "offline", qos=1, retain=True)
                info.wait_for_publish(CLOSE_WAIT_S)
            except (RuntimeError, ValueError, OSError) as exc:
                log.warning("MQTT: could not say offline before stopping: %s", exc)
        try:
            client.disconnect()
        except Exception:
            log.exception("MQTT: disconnecting failed")
        client.loop_stop()
        log.info("MQTT: stopped")
