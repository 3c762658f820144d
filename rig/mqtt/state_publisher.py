"""Publishing ``<base>/state`` and ``<base>/diagnostics``: when each goes out (QoS 0, retained).

The state goes out on change, at most ``state_max_hz`` a second
(``state.StateThrottle`` decides when), from two threads: the bus thread
publishes at once when the throttle's window is open (one thread hop less
between a step and Home Assistant: a QoS 0 publish only queues a packet for
paho), and the publisher thread sends what the window held back, by a timer.

After a step, a flight or a session's start, the state waits (at most
``HOLD_S``) for the session's new count, which follows within the engine's
loop, so that a step goes out as one document with its count, not as
"someone is on the stairs" first and the count a window later.

The diagnostics go out every minute, and within a second when a stuck sensor,
a drop, or the history's or the traces' health changes (the bus thread looks
at that health, a few attribute reads, on each tick: ``health_changed``).
After a purge, neither goes out again.
"""

from __future__ import annotations

import math
import threading
import time

from rig.mqtt import paho_client
from rig.mqtt.outbox import EventQueue
from rig.mqtt.state import StateThrottle, diagnostics_document, encode, prompt_part, state_document, storage_part
from rig.mqtt.topics import Topics

# bus events that may change <base>/state
STATE_TRIGGERS = frozenset({"step", "ascent", "descent", "vacated", "grip", "fall_suspected", "fall_acknowledged",
                            "session_started", "session_update", "session_progress", "session_ended",
                            "athlete_changed", "tick", "stopped"})
# the session's update (its new count) follows these within the engine's loop: the state waits for it
HOLD_TYPES = frozenset({"step", "ascent", "descent", "session_started"})
HOLD_S = 0.06                  # the engine publishes the session's update in the loop that confirms the step
DIAGNOSTICS_EVERY_S = 60.0
DIAGNOSTICS_MIN_GAP_S = 1.0


class StatePublisher:
    """The state and the diagnostics of one rig; ``live`` is the service's ``LiveState``."""

    def __init__(self, client, topics: Topics, live, events: EventQueue, max_hz: float, storage=None):
        self._client = client
        self._storage = storage               # Service.storage_health, or None
        self._topics = topics
        self._live = live
        self._events = events
        self._throttle = StateThrottle(max_hz)
        self._flags_lock = threading.Lock()   # dirty and hold; never held across a paho call
        self._lock = threading.Lock()         # the throttle, the last state sent and the purge
        self._dirty = True
        self._tick_dirty = False              # only ticks since the last look (see _check_locked)
        self._hold_until: float | None = None
        self.purged = False                   # after a purge nothing goes out
        self._sent_state: dict | None = None
        self._snapshot: dict | None = None    # the last live snapshot (the diagnostics read it too)
        self._diag_key = None
        self._diag_sent = -math.inf

    # -- the bus thread ---------------------------------------------------------------------
    def note(self, event_type: str) -> None:
        """An event that may change the state (one of ``STATE_TRIGGERS``)."""
        with self._flags_lock:
            if event_type == "tick":
                self._tick_dirty = True
                return
            self._dirty = True
            if event_type in HOLD_TYPES:
                if self._hold_until is None:
                    self._hold_until = time.monotonic() + HOLD_S
            elif event_type == "session_update":
                self._hold_until = None

    # -- the state ----------------------------------------------------------------------------
    def current_state(self) -> dict:
        self._snapshot = self._live.snapshot()
        return state_document(self._snapshot)

    def _publish_state(self, doc: dict) -> None:
        """The caller holds ``_lock``."""
        if self.purged:
            self._throttle.clear()    # nothing goes out after a purge: nothing is pending either
            return
        paho_client.publish(self._client, self._topics.state, encode(doc), qos=0, retain=True)
        self._sent_state = doc
        self._throttle.sent(time.monotonic())

    def check(self, now: float) -> None:
        """Publish the state if it changed and the throttle lets it go now (the bus thread's prompt
        path, or the publisher's timer)."""
        with self._lock:
            self._check_locked(now)

    def _check_locked(self, now: float) -> None:
        with self._flags_lock:
            dirty, self._dirty = self._dirty, False
            ticked, self._tick_dirty = self._tick_dirty, False
            hold = self._hold_until
            if hold is not None and now >= hold:
                hold = self._hold_until = None
        pending = self._throttle.pending
        # Reading the live state costs (a copy of it, issue 12): it is read to learn whether a change
        # waits and whether it is a prompt one. A tick moves the figures that go out slowly, so once
        # a change waits, a tick teaches nothing; once a prompt change waits, nothing does. What goes
        # out is read afresh when it is due.
        if pending == "prompt" or (ticked and not dirty and pending is not None):
            dirty = False
        elif ticked:
            dirty = True
        doc = None
        if dirty:
            doc = self.current_state()
            sent = self._sent_state
            if doc != sent:
                self._throttle.changed(now, sent is None or prompt_part(doc) != prompt_part(sent))
        due = self._throttle.due()
        if due is None or now < due or (hold is not None and now < hold):
            return
        if doc is None:
            doc = self.current_state()
        if doc != self._sent_state:
            self._publish_state(doc)
        else:
            self._throttle.clear()

    def publish_now(self) -> None:
        """The state as it is, whatever the throttle says (announcing the rig)."""
        with self._lock:
            self._publish_state(self.current_state())

    def publish_if_changed(self) -> None:
        """The last state before stopping, unless it went out already."""
        with self._lock:
            doc = self.current_state()
            if doc != self._sent_state:
                self._publish_state(doc)

    def stop_for_purge(self) -> None:
        """Nothing goes out from now on (the purge publishes the empty retained messages)."""
        with self._lock:
            self.purged = True

    # -- the diagnostics ----------------------------------------------------------------------
    def _storage_key(self) -> tuple:
        if self._storage is None:
            return ()
        part = storage_part(self._storage())
        return (part["history_available"], part["history_error"], part["waiting_sessions"],
                tuple(part["trace_problems"]))

    def _diag_key_now(self) -> tuple:
        snapshot = self._snapshot
        return (tuple(snapshot.get("stuck_channels", ())) if snapshot else (), self._events.dropped,
                self._storage_key())

    def health_changed(self) -> bool:
        """The history's or the traces' health differs from what the diagnostics last said."""
        return self._storage is not None and self._diag_key is not None and \
            self._storage_key() != self._diag_key[2]

    def _diag_pending(self) -> bool:
        return self._diag_key_now() != self._diag_key

    def publish_diagnostics(self, now: float) -> None:
        if self.purged:              # as if sent: the publisher must not wake for it again and again
            self._diag_sent = now
            self._diag_key = self._diag_key_now()
            return
        if self._snapshot is None or now - self._diag_sent >= 1.0:
            self._snapshot = self._live.snapshot()
        storage = self._storage() if self._storage is not None else None
        doc = diagnostics_document(self._snapshot, queued=len(self._events), dropped=self._events.dropped,
                                   storage=storage)
        paho_client.publish(self._client, self._topics.diagnostics, encode(doc), qos=0, retain=True)
        self._diag_key = (tuple(doc["stuck_channels"]), doc["dropped_events"],
                          self._storage_key() if storage is not None else ())
        self._diag_sent = now

    def check_diagnostics(self, now: float) -> None:
        if now - self._diag_sent >= DIAGNOSTICS_EVERY_S or (
                self._diag_pending() and now - self._diag_sent >= DIAGNOSTICS_MIN_GAP_S):
            self.publish_diagnostics(now)

    def pending(self) -> bool:
        """Something the publisher's timer must send: a state the window holds back, or diagnostics."""
        return self._throttle.due() is not None or self._diag_pending()

    # -- the publisher's timer ------------------------------------------------------------
    def deadlines(self) -> list[float]:
        """When the publisher must look again (monotonic times)."""
        out = [self._diag_sent + DIAGNOSTICS_EVERY_S]
        due = self._throttle.due()
        if due is not None:
            with self._flags_lock:
                hold = self._hold_until
            out.append(due if hold is None else max(due, hold))
        if self._diag_pending():
            out.append(self._diag_sent + DIAGNOSTICS_MIN_GAP_S)
        return out
