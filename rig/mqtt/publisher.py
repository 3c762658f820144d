"""The publisher thread (``stairrig-mqtt-publisher``): every publish but the state's prompt path.

It wakes when something happened (paho's callbacks, the bus, a command's
error) or when a timer is due, and then, while connected:

- after a (re)connect, waits until the broker has acknowledged what paho
  resends first (what it had in flight when the connection broke), so that
  nothing new overtakes something old; then announces the rig: discovery,
  ``online``, the state, the diagnostics;
- announces it again when Home Assistant says ``online`` (after a random
  delay, so that many devices do not answer at once);
- purges it when asked (empty retained discovery, state, diagnostics and
  availability);
- publishes discovery again when the athletes (the select's options) change;
- hands the queued events to paho (QoS 1, a window at a time); they leave
  the queue when the broker acknowledges them (``on_publish``);
- sends the state the throttle held back, the diagnostics, and the error
  reports of rejected commands.

Closing, it hands over what waits (for up to ``CLOSE_FLUSH_S``), then the
last state.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from typing import Callable

from rig.mqtt import paho_client
from rig.mqtt.discovery import DiscoveryContext, messages, purge_topics
from rig.mqtt.outbox import EventQueue
from rig.mqtt.state_publisher import StatePublisher
from rig.mqtt.topics import Topics
from rig.threads import named_thread

log = logging.getLogger(__name__)

ATHLETES_EVERY_S = 60.0
DRAIN_TIMEOUT_S = 10.0         # after a reconnect, wait this long for paho's resends to be acknowledged
HA_ONLINE_DELAY_S = (0.5, 2.5)  # Home Assistant came online: announce after a random delay in this range
CLOSE_FLUSH_S = 2.0
RETRY_AFTER_BUG_S = 1.0


class Publisher:
    """``context_for(athletes)`` builds the discovery context; ``athlete_names()`` lists the athletes
    (None when it cannot tell)."""

    def __init__(self, client, topics: Topics, discovery_mode: str, events: EventQueue, state: StatePublisher,
                 context_for: Callable[[tuple[str, ...]], DiscoveryContext],
                 athlete_names: Callable[[], tuple[str, ...] | None]):
        self._client = client
        self._topics = topics
        self._discovery_mode = discovery_mode
        self._events = events
        self._state = state
        self._context_for = context_for
        self._athlete_names = athlete_names
        self.ctx = context_for(())
        self._wake = threading.Event()
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._outbox: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._lock = threading.Lock()        # the flags below; never held across a paho call
        self._connected = False
        self._connections = 0                # connections so far
        self._ready = False                  # connected and announced: the state may go out from the bus
        self._announce_at: float | None = None
        self._purge_requested = False
        self._closing = False
        self._athletes_dirty = True
        # the publisher thread's own
        self._unacked: dict[int, str] = {}   # QoS 1 mid -> "event" or "other"
        self._athletes_checked = -float("inf")
        self.thread = named_thread(self._run, "stairrig-mqtt-publisher")

    # -- read from any thread -------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def ready(self) -> bool:
        """Connected and announced: the bus thread may publish the state itself."""
        return self._ready

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    # -- told by other threads (paho's, the bus, the command worker) ----------------------
    def wake(self) -> None:
        self._wake.set()

    def connection_up(self) -> None:
        with self._lock:
            self._connected = True
            self._connections += 1
        self._wake.set()

    def connection_down(self) -> bool:
        """The connection is gone; returns whether it was up."""
        with self._lock:
            was, self._connected, self._ready = self._connected, False, False
        self._wake.set()
        return was

    def acknowledged(self, mid: int) -> None:
        """The broker has message ``mid`` (from ``on_publish``, under paho's lock: only hand it over)."""
        self._acks.put(mid)
        self._wake.set()

    def home_assistant_online(self) -> None:
        with self._lock:
            self._announce_at = time.monotonic() + random.uniform(*HA_ONLINE_DELAY_S)
        self._wake.set()

    def athletes_changed(self) -> None:
        self._athletes_dirty = True

    def request_purge(self) -> None:
        with self._lock:
            self._purge_requested = True
        self._wake.set()

    def send(self, topic: str, payload: bytes) -> None:
        """A message (QoS 1, not retained) to publish in order with the rest: an error report."""
        self._outbox.put((topic, payload))
        self._wake.set()

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float) -> None:
        """Hand over what waits (briefly), the last state, and end the thread."""
        with self._lock:
            self._closing = True
            self._ready = False
        self._wake.set()
        if self.thread.is_alive():
            self.thread.join(timeout)

    # -- the thread -------------------------------------------------------------------------
    def _publish(self, topic: str, payload: bytes | str, *, qos: int = 0, retain: bool = False,
                 kind: str = "other") -> int | None:
        info = paho_client.publish(self._client, topic, payload, qos=qos, retain=retain)
        if info is None:
            return None
        if qos > 0:
            # NO_CONN: paho keeps a QoS 1 message and sends it after reconnecting
            self._unacked[info.mid] = kind
        return info.mid

    def _drain_acks(self) -> None:
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                return
            if self._unacked.pop(mid, None) == "event":
                self._events.ack(mid)

    def _run(self) -> None:
        handled = 0                  # the connection announced
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
                if not self._connected:
                    continue
                now = time.monotonic()
                if self._connections != handled:
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
                    handled = self._connections
                    self._announce()
                    with self._lock:
                        self._ready = self._connected and handled == self._connections and not self._state.purged
                self._pass(now)
                timeout = self._next_wake(time.monotonic())
            except Exception:          # a bug here must not silence the rig's MQTT for good
                log.exception("MQTT: the publisher failed; it goes on")
                timeout = RETRY_AFTER_BUG_S

    def _pass(self, now: float) -> None:
        """One round while connected and announced."""
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
        self._state.check(time.monotonic())
        self._state.check_diagnostics(time.monotonic())
        self._send_outbox()

    def _next_wake(self, now: float) -> float:
        deadlines = [self._athletes_checked + ATHLETES_EVERY_S, *self._state.deadlines()]
        with self._lock:
            if self._announce_at is not None:
                deadlines.append(self._announce_at)
        return max(0.0, min(deadlines) - now)

    def _announce(self) -> None:
        """After connecting, or when Home Assistant comes online: discovery, availability, state."""
        if self._state.purged:
            return
        self._check_athletes(time.monotonic(), force=True)
        self._publish_discovery()
        self._publish(self._topics.availability, "online", qos=1, retain=True)
        self._state.publish_now()
        self._state.publish_diagnostics(time.monotonic())

    def _publish_discovery(self) -> None:
        for topic, payload in messages(self.ctx, self._discovery_mode):
            self._publish(topic, json.dumps(payload, separators=(",", ":")), qos=1, retain=True)

    def _check_athletes(self, now: float, force: bool = False) -> None:
        """Publish discovery again when the athletes (the select's options) changed."""
        if not (self._athletes_dirty or force):
            return
        self._athletes_dirty = False
        self._athletes_checked = now
        athletes = self._athlete_names()
        if athletes is None or athletes == self.ctx.athletes:
            return
        first = not self.ctx.athletes
        self.ctx = self._context_for(athletes)
        if not first and not force and not self._state.purged:
            log.info("MQTT: the athletes changed; discovery published again")
            self._publish_discovery()

    def _send_events(self) -> None:
        for item in self._events.to_hand():
            mid = self._publish(self._topics.event, item.payload, qos=1, kind="event")
            if mid is None:
                return
            self._events.handed(item, mid)

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
        for topic in purge_topics(self.ctx):
            self._publish(topic, b"", qos=1, retain=True)
        with self._lock:
            self._ready = False
        self._state.stop_for_purge()      # no state after the empty one
        for topic in (self._topics.state, self._topics.diagnostics, self._topics.availability):
            self._publish(topic, b"", qos=1, retain=True)

    def _flush(self) -> None:
        """Closing: hand over what waits (for a moment), then the last state."""
        deadline = time.monotonic() + CLOSE_FLUSH_S
        while self._connected and len(self._events) and time.monotonic() < deadline:
            self._drain_acks()
            self._send_events()
            self._wake.wait(0.05)
            self._wake.clear()
        if self._connected:
            with self._lock:
                purge, self._purge_requested = self._purge_requested, False
            if purge:
                self._purge()
            self._send_outbox()
            self._state.publish_if_changed()
        if len(self._events):
            log.warning("MQTT: %d events were not delivered before stopping", len(self._events))
