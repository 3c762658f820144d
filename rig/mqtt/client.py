"""The Home Assistant output: the rig's state, events and commands over MQTT (paho-mqtt 2.x).

``MqttOutput(service)`` subscribes itself to the service's bus and does no
network I/O until ``start()``, which connects in the background
(``connect_async`` + ``loop_start``): the rig counts with or without a
broker, and connects whenever one appears. The engine is never waited on
or for; the bus thread only queues events, and publishes the state when the
throttle lets it go at once (a QoS 0 publish only queues a packet for paho:
one thread hop less between a step and Home Assistant). Three threads of
its own:

- paho's network thread (``stairrig-mqtt-network``): callbacks only note
  what happened and wake the publisher; commands go to the worker;
- ``stairrig-mqtt-publisher``: every other publish (availability,
  discovery, the state the throttle held back, diagnostics, the queued
  events, error reports);
- ``stairrig-mqtt-commands`` (``CommandWorker``): commands, which wait up to
  3 s for the engine.

No event is lost to an outage: events wait in ``EventQueue`` (bounded by
``queue_limit``, oldest dropped and counted) until the broker acknowledges
them (QoS 1, ``on_publish``). After a reconnect, paho first resends what it
had in flight; nothing new is published until the broker has acknowledged
those, so events arrive in order, and a fresh state or discovery is never
overtaken by a stale one. See docs/mqtt.md.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import socket
import threading
import time
from importlib import metadata
from urllib.parse import urlsplit, urlunsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from rig import __version__
from rig.config import DEFAULT_RIG_ID
from rig.mqtt.commands import CommandWorker, shown_payload
from rig.mqtt.device_id import HardwarePaths, device_identity
from rig.mqtt.discovery import DiscoveryContext, messages, purge_topics, slug
from rig.mqtt.events import EVENT_TYPES, event_message, wall_time
from rig.mqtt.outbox import EventQueue, Pending
from rig.mqtt.state import StateThrottle, diagnostics_document, encode, prompt_part, state_document
from rig.mqtt.topics import Topics

log = logging.getLogger(__name__)
paho_log = logging.getLogger("rig.mqtt.paho")

# bus events that may change <base>/state
STATE_TRIGGERS = frozenset({"step", "ascent", "descent", "vacated", "grip", "fall_suspected", "fall_acknowledged",
                            "session_started", "session_update", "session_progress", "session_ended",
                            "athlete_changed", "tick", "stopped"})
# the session's update (its new count) follows these within the engine's loop: the state waits for it
# (at most HOLD_S), so that a step goes out as one document with its count, not as an occupancy
# change first and the count a throttle window later
HOLD_TYPES = frozenset({"step", "ascent", "descent", "session_started"})
HOLD_S = 0.06                  # the engine wakes at least every 50 ms
TYPES = STATE_TRIGGERS | set(EVENT_TYPES)

KEEPALIVE_S = 30
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
EVENT_WINDOW = 10              # events handed to paho at a time
DIAGNOSTICS_EVERY_S = 60.0
DIAGNOSTICS_MIN_GAP_S = 1.0
ATHLETES_EVERY_S = 60.0
DRAIN_TIMEOUT_S = 10.0         # after a reconnect, wait this long for paho's resends to be acknowledged
HA_ONLINE_DELAY_S = (0.5, 2.5)  # Home Assistant came online: announce after a random delay in this range
CLOSE_FLUSH_S = 2.0
CLOSE_WAIT_S = 3.0
DROP_LOG_EVERY = 100


def _origin() -> dict:
    origin = {"name": "stairrig", "sw": __version__}
    try:
        for entry in metadata.metadata("stairrig").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() == "homepage" and url.strip():
                origin["url"] = url.strip()
    except metadata.PackageNotFoundError:
        pass
    return origin


def configuration_url(url: str | None) -> str | None:
    """The panel's address for Home Assistant's "visit device" link (0.0.0.0 -> this machine's name)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.hostname in (None, "", "0.0.0.0", "::"):
        host = socket.gethostname() or "localhost"
        netloc = host + (f":{parts.port}" if parts.port else "")
        url = urlunsplit(parts._replace(netloc=netloc))
    return url


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
        self.connected = False
        self.broken: str | None = None        # why MQTT is off (a TLS file that cannot be used...)
        self._events = EventQueue(self.config.queue_limit, EVENT_WINDOW)
        self._seq = 0
        self._throttle = StateThrottle(self.config.state_max_hz)
        self._wake = threading.Event()
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._outbox: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._lock = threading.Lock()        # the flags below; never held across a paho call
        self._state_lock = threading.Lock()  # the state throttle and the last state sent (QoS 0 publishes only)
        self._ready = False                  # connected and announced: the state may go out from the bus thread
        self._hold_until: float | None = None  # the state waits for the session's update until then (HOLD_S)
        self._gen = 0                        # connections so far
        self._state_dirty = True
        self._athletes_dirty = True
        self._announce_at: float | None = None
        self._purge_requested = False
        self._purged = False
        self._closing = False
        self._closed = False
        self._started = False
        self._drop_logged = 0
        self._fail_reason = None
        # the publisher's own (only it touches these)
        self._unacked: dict[int, str] = {}   # QoS 1 mid -> "event" or "other"
        # under _state_lock (the publisher and the bus thread)
        self._sent_state: dict | None = None
        self._snapshot: dict | None = None   # the last live snapshot (diagnostics read it too)
        self._diag_key = None
        self._diag_sent = -float("inf")
        self._athletes_checked = -float("inf")
        self._ctx = self._context(())
        self._worker = CommandWorker(service.commands, self._report_error, self.purge)
        self._publisher = threading.Thread(target=self._run, name="stairrig-mqtt-publisher", daemon=True)
        self._client = self._make_client()
        service.bus.subscribe("mqtt", self._on_bus, types=TYPES)

    # -- what the service and the tests read -------------------------------------------------
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
        return messages(self._context(self._athlete_names() or self._ctx.athletes), self.config.discovery)

    # -- setting up ---------------------------------------------------------------------------
    def _context(self, athletes: tuple[str, ...]) -> DiscoveryContext:
        identity = self.identity
        layout = self.service.config.layout
        device = {"ids": [self.node_id],
                  "name": "Stair rig" if self.rig_id == DEFAULT_RIG_ID else f"Stair rig {self.rig_id}",
                  "mf": "stairrig", "mdl": "Stair stepper rig" if layout.kind == "stepper" else "Stair-training rig",
                  "sw": __version__, "hw": identity.model}
        if identity.serial:
            device["sn"] = identity.serial
        panel = self.service.panel
        url = configuration_url(getattr(panel, "url", None) if panel is not None else None)
        if url:
            device["cu"] = url
        entity_slug = "stairrig" if self.rig_id == DEFAULT_RIG_ID else "stairrig_" + slug(self.rig_id)
        return DiscoveryContext(topics=self.topics, node_id=self.node_id, entity_slug=entity_slug, device=device,
                                origin=_origin(), rails={side: "force" in sensors for side, sensors in
                                                         layout.rails.items()},
                                athletes=athletes)

    def _password(self) -> str | None:
        cfg = self.config
        if cfg.password is not None:
            return cfg.password
        if cfg.password_file:
            try:
                with open(cfg.password_file, encoding="utf-8") as f:
                    return f.read().rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                log.error("MQTT: cannot read the password file %s (%s); connecting without a password",
                          cfg.password_file, getattr(exc, "strerror", None) or exc)
                return None
        if cfg.password_env:
            value = os.environ.get(cfg.password_env)
            if value is None:
                log.error("MQTT: the environment variable %s (password_env) is not set; connecting without a "
                          "password", cfg.password_env)
            return value
        return None

    def _make_client(self):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv311,
                             clean_session=True)
        client.suppress_exceptions = True      # a failing callback must not end paho's network thread
        client.on_log = self._on_log
        client.max_inflight_messages_set(0)      # unlimited: our own queue bounds what is in flight
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        password = self._password()
        if self.config.username is not None:
            client.username_pw_set(self.config.username, password)
        elif password is not None:
            log.warning("MQTT: a password is given without a user name; it is not used")
        if self.config.tls:
            try:
                client.tls_set(ca_certs=self.config.ca_file or None)
            except (OSError, ValueError) as exc:     # ssl.SSLError is an OSError
                self.broken = f"TLS cannot be set up with ca_file {self.config.ca_file}: {exc}"
                log.error("MQTT is off: %s; the rig counts without it", self.broken)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

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
        if etype in EVENT_TYPES:
            self._queue_event(event)
        if etype in STATE_TRIGGERS:
            with self._lock:
                self._state_dirty = True
                if etype == "athlete_changed":
                    self._athletes_dirty = True
                if etype in HOLD_TYPES:
                    if self._hold_until is None:
                        self._hold_until = time.monotonic() + HOLD_S
                elif etype == "session_update":
                    self._hold_until = None
            if self._ready:
                # the state's prompt path: published from here when the window is open (one thread hop
                # less for a step); the publisher's timer sends what the window holds back
                try:
                    self._check_state(time.monotonic())
                except Exception:
                    log.exception("MQTT: publishing the state failed")
        self._wake.set()

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
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._connect_failed(f"the broker refused the connection: {reason_code}")
            return
        try:
            client.subscribe([(self.topics.command_filter, 1), (self.topics.ha_status, 1)])
        except Exception:
            log.exception("MQTT: subscribing failed")
        with self._lock:
            self.connected = True
            self._gen += 1
            self._fail_reason = None
        self._drop_logged = 0
        cfg = self.config
        log.info("MQTT: connected to %s:%d; %d events queued", cfg.host, cfg.effective_port, len(self._events))
        self._wake.set()

    def _on_log(self, client, userdata, level, buf) -> None:
        # a lost connection is reported once by _on_disconnect: paho's own socket errors are detail
        if buf.startswith("Caught exception"):
            log.error("MQTT: %s", buf)
        else:
            paho_log.debug("%s", buf)

    def _on_connect_fail(self, client, userdata) -> None:
        self._connect_failed("cannot reach the broker")

    def _connect_failed(self, reason: str) -> None:
        if reason != self._fail_reason:      # once per reason, not every retry
            self._fail_reason = reason
            cfg = self.config
            log.warning("MQTT: %s at %s:%d; retrying in the background (the rig counts meanwhile)",
                        reason, cfg.host, cfg.effective_port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected
        with self._lock:
            self.connected = False
            self._ready = False
        if was and not self._closing:
            log.warning("MQTT: the connection was lost (%s); reconnecting, events wait in the queue", reason_code)
        self._wake.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        # paho holds its message lock here: only hand the mid over
        self._acks.put(mid)
        self._wake.set()

    def _on_message(self, client, userdata, message) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            return
        if topic == self.topics.ha_status:
            if message.payload.strip() == b"online" and not message.retain:
                with self._lock:
                    self._announce_at = time.monotonic() + random.uniform(*HA_ONLINE_DELAY_S)
                self._wake.set()
            return
        name = self.topics.command_name(topic)
        if name is not None:
            self._worker.submit(name, bytes(message.payload), bool(message.retain))

    # -- called by the command worker ----------------------------------------------------------
    def _report_error(self, name: str, payload: bytes, error: str) -> None:
        doc = {"command": name[:60], "payload": shown_payload(payload), "error": error, "time": wall_time()}
        self._outbox.put((self.topics.error, json.dumps(doc, separators=(",", ":")).encode()))
        self._wake.set()

    def purge(self) -> None:
        """Remove the rig from Home Assistant: empty retained discovery, state and availability."""
        with self._lock:
            self._purge_requested = True
        self._wake.set()

    # -- the publisher thread ----------------------------------------------------------------
    def _publish(self, topic: str, payload: bytes | str, *, qos: int = 0, retain: bool = False,
                 kind: str = "other") -> int | None:
        try:
            info = self._client.publish(topic, payload, qos=qos, retain=retain)
        except (ValueError, OSError) as exc:
            log.error("MQTT: cannot publish on %s: %s", topic, exc)
            return None
        if qos > 0:
            # NO_CONN: paho keeps a QoS 1 message and sends it after reconnecting
            self._unacked[info.mid] = kind
        elif info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("MQTT: publishing on %s failed: %s", topic, mqtt.error_string(info.rc))
        return info.mid

    def _drain_acks(self) -> None:
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                return
            kind = self._unacked.pop(mid, None)
            if kind == "event":
                self._events.ack(mid)

    def _run(self) -> None:
        handled_gen = 0
        drain_since: float | None = None
        timeout: float | None = None
        while True:
            self._wake.wait(timeout)
            self._wake.clear()
            try:
                self._drain_acks()
                if self._closing:
                    self._flush()
                    return
                timeout = None
                if not self.connected:
                    continue
                now = time.monotonic()
                if self._gen != handled_gen:
                    # paho resends what it had in flight first: nothing new before the broker has it
                    if self._unacked:
                        drain_since = drain_since or now
                        if now - drain_since < DRAIN_TIMEOUT_S:
                            timeout = 0.05
                            continue
                        log.warning("MQTT: %d messages were not acknowledged after reconnecting; "
                                    "sending their events again", len(self._unacked))
                        self._unacked.clear()
                        self._events.unhand()
                    drain_since = None
                    handled_gen = self._gen
                    self._announce()
                    with self._lock:
                        self._ready = self.connected and handled_gen == self._gen and not self._purged
                with self._lock:
                    announce = self._announce_at is not None and now >= self._announce_at
                    if announce:
                        self._announce_at = None
                    purge, self._purge_requested = self._purge_requested, False
                if purge:
                    self._purge()
                if announce:
                    self._announce()
                if now - self._athletes_checked >= ATHLETES_EVERY_S:
                    self._athletes_dirty = True
                self._check_athletes(now)
                self._send_events()
                self._check_state(time.monotonic())
                self._check_diagnostics(time.monotonic())
                self._send_outbox()
                timeout = self._next_wake(time.monotonic())
            except Exception:          # a bug here must not silence the rig's MQTT for good
                log.exception("MQTT: the publisher failed; it goes on")
                timeout = 1.0

    def _next_wake(self, now: float) -> float | None:
        deadlines = [self._diag_sent + DIAGNOSTICS_EVERY_S, self._athletes_checked + ATHLETES_EVERY_S]
        due = self._throttle.due()
        if due is not None:
            with self._lock:
                hold = self._hold_until
            deadlines.append(due if hold is None else max(due, hold))
        if self._diag_pending():
            deadlines.append(self._diag_sent + DIAGNOSTICS_MIN_GAP_S)
        with self._lock:
            if self._announce_at is not None:
                deadlines.append(self._announce_at)
        return max(0.0, min(deadlines) - now)

    def _announce(self) -> None:
        """After connecting, or when Home Assistant comes online: discovery, availability, state."""
        if self._purged:
            return
        self._check_athletes(time.monotonic(), force=True)
        self._publish_discovery()
        self._publish(self.topics.availability, "online", qos=1, retain=True)
        with self._state_lock:
            self._publish_state(self._current_state())
        self._publish_diagnostics(time.monotonic())

    def _publish_discovery(self) -> None:
        for topic, payload in messages(self._ctx, self.config.discovery):
            self._publish(topic, json.dumps(payload, separators=(",", ":")), qos=1, retain=True)

    def _check_athletes(self, now: float, force: bool = False) -> None:
        """Re-publish discovery when the athletes (the select's options) changed."""
        if not (self._athletes_dirty or force):
            return
        self._athletes_dirty = False
        self._athletes_checked = now
        athletes = self._athlete_names()
        if athletes is None:
            return
        if athletes != self._ctx.athletes:
            first = not self._ctx.athletes
            self._ctx = self._context(athletes)
            if not first and not force and not self._purged:
                log.info("MQTT: the athletes changed; discovery published again")
                self._publish_discovery()

    def _athlete_names(self) -> tuple[str, ...] | None:
        """The athlete select's options: every athlete, and the one training now."""
        try:
            names = [a["name"] for a in self.service.commands.athletes()]
        except Exception as exc:    # the history is a nicety here
            log.warning("MQTT: cannot list the athletes: %s", exc)
            return None
        current = self.service.sessions.athlete.name
        if current not in names:
            names.append(current)
        return tuple(names)

    def _send_events(self) -> None:
        for item in self._events.to_hand():
            mid = self._publish(self.topics.event, item.payload, qos=1, kind="event")
            if mid is None:
                return
            self._events.handed(item, mid)

    def _current_state(self) -> dict:
        self._snapshot = self.service.live.snapshot()
        return state_document(self._snapshot)

    def _publish_state(self, doc: dict) -> None:
        """Publish the state (QoS 0, retained); the caller holds ``_state_lock``."""
        if self._purged:
            self._throttle.clear()    # nothing goes out after a purge: nothing is pending either
            return
        self._publish(self.topics.state, encode(doc), qos=0, retain=True)
        self._sent_state = doc
        self._throttle.sent(time.monotonic())

    def _check_state(self, now: float) -> None:
        """From the bus thread (the prompt path) or the publisher (the window's timer)."""
        with self._state_lock:
            self._check_state_locked(now)

    def _check_state_locked(self, now: float) -> None:
        with self._lock:
            dirty, self._state_dirty = self._state_dirty, False
            hold = self._hold_until
            if hold is not None and now >= hold:
                hold = self._hold_until = None
        doc = None
        if dirty:
            doc = self._current_state()
            sent = self._sent_state
            if doc != sent:
                self._throttle.changed(now, sent is None or prompt_part(doc) != prompt_part(sent))
        due = self._throttle.due()
        if due is None or now < due or (hold is not None and now < hold):
            return
        if doc is None:
            doc = self._current_state()
        if doc != self._sent_state:
            self._publish_state(doc)
        else:
            self._throttle.clear()

    def _diag_doc(self) -> dict:
        snapshot = self._snapshot or self.service.live.snapshot()
        return diagnostics_document(snapshot, queued=len(self._events), dropped=self._events.dropped)

    def _diag_pending(self) -> bool:
        snapshot = self._snapshot
        key = (tuple(snapshot.get("stuck_channels", ())) if snapshot else (), self._events.dropped)
        return key != self._diag_key

    def _publish_diagnostics(self, now: float) -> None:
        if self._purged:              # as if sent: the publisher must not wake for it again and again
            self._diag_sent = now
            snapshot = self._snapshot
            self._diag_key = (tuple(snapshot.get("stuck_channels", ())) if snapshot else (), self._events.dropped)
            return
        if self._snapshot is None or now - self._diag_sent >= 1.0:
            self._snapshot = self.service.live.snapshot()
        doc = self._diag_doc()
        self._publish(self.topics.diagnostics, encode(doc), qos=0, retain=True)
        self._diag_key = (tuple(doc["stuck_channels"]), doc["dropped_events"])
        self._diag_sent = now

    def _check_diagnostics(self, now: float) -> None:
        if now - self._diag_sent >= DIAGNOSTICS_EVERY_S or (
                self._diag_pending() and now - self._diag_sent >= DIAGNOSTICS_MIN_GAP_S):
            self._publish_diagnostics(now)

    def _send_outbox(self) -> None:
        while True:
            try:
                topic, payload = self._outbox.get_nowait()
            except queue.Empty:
                return
            self._publish(topic, payload, qos=1)

    def _purge(self) -> None:
        log.warning("MQTT: purge: removing the rig from Home Assistant (empty retained discovery, state and "
                    "availability); it is announced again at the next start")
        for topic in purge_topics(self._ctx):
            self._publish(topic, b"", qos=1, retain=True)
        with self._lock:
            self._ready = False
        with self._state_lock:          # no state after the empty one
            self._purged = True
        for topic in (self.topics.state, self.topics.diagnostics, self.topics.availability):
            self._publish(topic, b"", qos=1, retain=True)

    def _flush(self) -> None:
        """Closing: hand over what waits (for a moment), then the last state."""
        deadline = time.monotonic() + CLOSE_FLUSH_S
        while self.connected and len(self._events) and time.monotonic() < deadline:
            self._drain_acks()
            self._send_events()
            self._wake.wait(0.05)
            self._wake.clear()
        if self.connected:
            with self._lock:
                purge, self._purge_requested = self._purge_requested, False
            if purge:
                self._purge()
            self._send_outbox()
            with self._state_lock:
                doc = self._current_state()
                if doc != self._sent_state:
                    self._publish_state(doc)
        if len(self._events):
            log.warning("MQTT: %d events were not delivered before stopping", len(self._events))

    # -- stopping ----------------------------------------------------------------------------
    def close(self) -> None:
        """Deliver what waits (briefly), publish "offline", disconnect. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._closing = True
            self._ready = False
        self._wake.set()
        if self._publisher.is_alive():
            self._publisher.join(CLOSE_FLUSH_S + CLOSE_WAIT_S)
        self._worker.close()
        if not self._started:
            return
        client = self._client
        if self.connected and not self._purged:
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


def slug_id(text: str) -> str:
    """An id of ``[A-Za-z0-9_-]`` only (discovery topics and unique ids)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in text)
