"""``/events``: the live view pushed to each tablet as Server-Sent Events.

One ``EventHub`` is subscribed to the service's bus. For every event a
tablet cares about it takes the live snapshot once (LiveState runs before it
on the bus, so the snapshot already holds the event), serialises it once,
and puts the message on each open stream's own bounded queue: a slow tablet
loses its oldest messages, the bus never waits for it.

Each stream runs in one of waitress's worker threads and sends::

    retry: 2000                      (reconnect after 2 s)
    event: snapshot                  data: {"state", "units", "rig"}
    event: update                    data: {"reason", "event", "state"}   on every bus event
    event: tick                      data: {"state"}                      5 times a second
    : ping                                                                every 15 s

and, with ``?channels=1`` (the rig check), every message also carries
``"channels"`` (each sensor channel's raw value). A stream ends when the
client goes, when the panel closes (``close()`` sets the shutdown Event and
wakes every stream), or when the service stops. Streams are limited to the
worker threads less four, so pages, the API and ``/healthz`` always have
threads left.

A client that stops reading (a tablet asleep with its socket open, or a
hostile one) is dropped, and its place is free at once: its stream ends
when what it has not taken reaches ``STALL_BYTES`` (what waitress holds
for it plus what the kernel has not had acknowledged; checked before every
write, so a worker never blocks on it) or when its queue overflows
(``QUEUE_MESSAGES``); its connection is then closed. A client's own
receive buffer hides that it stopped reading for a while (about a minute
on a quiet rig: 180 KB over loopback), so a new stream never waits for that: when every place
is taken it takes the place of the stream furthest behind (``EVICT_BYTES``
or more not taken), else of the oldest stream of the address that holds
the most. A tablet that wakes up always gets a stream.
"""

from __future__ import annotations

import fcntl
import json
import logging
import struct
import termios
import threading
import time
from collections import deque
from typing import Iterator

from flask import Blueprint, Response, current_app, request

from web.errors import error

log = logging.getLogger(__name__)

# ``placement``: a split tread's whole-foot verdict per contact (the live screen's "whole foot" cue)
TYPES = frozenset({"step", "vacated", "placement", "ascent", "descent", "grip", "grab", "stall", "fall_suspected",
                   "fall_acknowledged", "session_started", "session_update", "session_ended",
                   "athlete_changed", "stopped"})
RETRY_MS = 2000
TICK_S = 0.2            # 5 Hz
IDLE_TICK_S = 1.0       # a tablet's ticks while the rig is idle (a rig check's stream keeps TICK_S)
PING_S = 15.0
QUEUE_MESSAGES = 64     # per stream; a stream whose queue overflows is ended (its client does not read)
SPARE_THREADS = 4       # waitress threads kept free of streams for pages, the API and /healthz
STALL_BYTES = 64 * 1024  # not taken by the client (about 10 s of ticks): the stream is ended
EVICT_BYTES = 8 * 1024   # not taken by the client: its place goes to a new tablet when all are taken

bp = Blueprint("events", __name__)


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class _Message:
    """One message, serialised once; the variant with the raw channels is made once too."""
    __slots__ = ("name", "text", "with_channels")

    def __init__(self, name: str, text: str, with_channels: str | None):
        self.name = name
        self.text = text
        self.with_channels = with_channels

    def encode(self, channels: bool) -> bytes:
        text = self.with_channels if channels and self.with_channels is not None else self.text
        return f"event: {self.name}\ndata: {text}\n\n".encode()


def _add_channels(text: str, channels_text: str) -> str:
    """``{"a":1}`` + channels -> ``{"a":1,"channels":{...}}`` without serialising the state again."""
    return text[:-1] + ',"channels":' + channels_text + "}"


def _unsent_in_kernel(sock) -> int:
    """Bytes the kernel holds for the peer and has not had acknowledged (Linux's SIOCOUTQ)."""
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    except (OSError, ValueError, AttributeError):
        return 0


class _Stream:
    """One open ``/events`` response: its queue, how it wants its messages and its connection."""

    def __init__(self, channels: bool, remote: str | None, connection=None):
        self.channels = channels
        self.remote = remote
        self.connection = connection      # waitress's channel (None under Flask's test client)
        self.queue: deque[_Message] = deque(maxlen=QUEUE_MESSAGES)
        self.dropped = 0
        self.ended: str | None = None     # why the hub ended it (the client stopped reading, evicted)
        self.opened = time.monotonic()
        self.cond = threading.Condition()

    def push(self, message: _Message) -> bool:
        """Queue a message; False when the queue was full (the client does not read: end it)."""
        with self.cond:
            full = len(self.queue) == self.queue.maxlen
            if full:
                self.dropped += 1
            self.queue.append(message)
            self.cond.notify()
        return not full

    def backlog(self) -> int:
        """Bytes sent to this client that it has not taken yet (0 without a real connection)."""
        conn = self.connection
        if conn is None:
            return 0
        return int(getattr(conn, "total_outbufs_len", 0) or 0) + _unsent_in_kernel(getattr(conn, "socket", None))

    def gone(self) -> bool:
        """The client closed the connection (waitress's loop saw it; False under Flask's test client)."""
        conn = self.connection
        return conn is not None and not getattr(conn, "connected", True)

    def end(self, why: str) -> None:
        with self.cond:
            if self.ended is None:
                self.ended = why
            self.cond.notify()

    def close_connection(self) -> None:
        """Close the connection in waitress's loop (which owns the sockets), at once: its client
        reads nothing, so its socket never becomes writable for waitress to close it itself; a
        worker waiting to write to it wakes up."""
        conn = self.connection
        if conn is None:
            return
        self.connection = None

        def close():
            if conn.connected:
                try:
                    conn.handle_close()
                except Exception as exc:      # closed already, or the server is going away
                    log.debug("closing a stream's connection: %s", exc)
        try:
            conn.server.trigger.pull_trigger(close)
        except Exception as exc:              # the server is going away: it closes everything anyway
            log.debug("waking waitress's loop: %s", exc)

    def wake(self) -> None:
        with self.cond:
            self.cond.notify()

    def take(self, timeout_s: float) -> list[_Message]:
        with self.cond:
            if not self.queue and timeout_s > 0 and self.ended is None:
                self.cond.wait(timeout_s)
            items = list(self.queue)
            self.queue.clear()
        return items


class EventHub:
    """The bus subscriber that feeds every open stream (see the module docstring)."""

    def __init__(self, service, *, units: str, rig: dict, stream_limit: int, shutdown: threading.Event):
        self.service = service
        self.live = service.live
        self.units = units
        self.rig = rig
        self.stream_limit = stream_limit
        self.shutdown = shutdown
        self._streams: set[_Stream] = set()
        self._lock = threading.Lock()
        self.dropped = 0               # messages dropped by streams that have ended
        self.refused = 0               # streams refused (the panel was closing)
        self.stalled = 0               # streams ended because their client stopped reading
        self.evicted = 0               # streams that gave their place to a new one
        self._tick: tuple[float, _Message] | None = None
        self._tick_lock = threading.Lock()
        service.bus.subscribe("panel-events", self.on_event, types=TYPES)

    # -- the bus side ------------------------------------------------------------------
    def on_event(self, event: dict) -> None:
        """In the bus thread: one snapshot and one serialisation for every stream."""
        with self._lock:
            streams = list(self._streams)
        if not streams:
            return
        clean = {k: v for k, v in event.items() if k != "at"}
        text = _dumps({"reason": event.get("type"), "event": clean, "state": self.live.snapshot()})
        message = _Message("update", text, self._channel_variant(text, streams))
        for stream in streams:
            if not stream.push(message):
                self._drop(stream, "its queue overflowed")

    def _drop(self, stream: _Stream, why: str) -> None:
        """End a stream whose client does not read, and free its place now."""
        with self._lock:
            if stream not in self._streams:
                return
            self._streams.discard(stream)
            self.dropped += stream.dropped
            self.stalled += 1
        stream.dropped = 0
        stream.end(why)
        # its worker may be waiting inside waitress for the client to take what it holds:
        # closing the connection wakes it
        stream.close_connection()
        log.info("an event stream to %s ended: %s (the client does not read)", stream.remote, why)

    def _channel_variant(self, text: str, streams) -> str | None:
        if not any(s.channels for s in streams):
            return None
        # someone watches the raw channels (the rig check): the ADC reads at its full rate
        sampler = getattr(getattr(self.service, "sensors", None), "sampler", None)
        if sampler is not None:
            sampler.wake_up()
        return _add_channels(text, _dumps(self.live.channels()))

    # -- the stream side ---------------------------------------------------------------
    def open(self, channels: bool, remote: str | None, connection=None) -> _Stream:
        """A new stream; when every place is taken, it takes the place of another (``_victim``)."""
        with self._lock:
            evicted = None
            if len(self._streams) >= self.stream_limit:
                evicted, why = self._victim()
                self._streams.discard(evicted)
                self.dropped += evicted.dropped
                evicted.dropped = 0
                self.evicted += 1
            stream = _Stream(channels, remote, connection)
            self._streams.add(stream)
        if evicted is not None:
            evicted.end(f"its place went to a new live view from {remote} ({why})")
            evicted.close_connection()
            log.info("an event stream to %s gave its place to a new one from %s: %s", evicted.remote, remote, why)
        return stream

    def _victim(self) -> tuple[_Stream, str]:
        """The stream whose place a new one takes: the one furthest behind when it has not taken
        EVICT_BYTES, else the oldest of the address that holds the most streams (a tablet that
        wakes up always gets a stream, and one host cannot keep every place)."""
        streams = sorted(self._streams, key=lambda s: s.opened)
        behind = max(streams, key=lambda s: s.backlog())
        lag = behind.backlog()
        if lag >= EVICT_BYTES:
            return behind, f"it had not taken {lag} bytes"
        per_address: dict[str | None, int] = {}
        for s in streams:
            per_address[s.remote] = per_address.get(s.remote, 0) + 1
        most = max(per_address.values())
        oldest = next(s for s in streams if per_address[s.remote] == most)
        return oldest, f"the oldest of {most} from {oldest.remote}"

    def close_stream(self, stream: _Stream) -> None:
        with self._lock:
            if stream in self._streams:
                self._streams.discard(stream)
                self.dropped += stream.dropped
                stream.dropped = 0

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(self._streams)

    def stats(self) -> dict:
        with self._lock:
            streams = list(self._streams)
            dropped = self.dropped
        return {"streams": len(streams), "stream_limit": self.stream_limit, "refused": self.refused,
                "dropped": dropped + sum(s.dropped for s in streams), "stalled": self.stalled,
                "evicted": self.evicted}

    def closing(self) -> bool:
        return self.shutdown.is_set() or self.service.stop_event.is_set()

    def close(self) -> None:
        """End every stream now: set the shutdown Event and wake them all."""
        self.shutdown.set()
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.wake()

    def _behind(self, stream: _Stream) -> bool:
        """The client has not taken STALL_BYTES: end its stream (checked before every write,
        so a worker never blocks on a client that does not read)."""
        if stream.ended is None and stream.backlog() >= STALL_BYTES:
            self._drop(stream, f"it had not taken {STALL_BYTES // 1024} KB")
        return stream.ended is not None

    def wait_closed(self, timeout_s: float) -> bool:
        """Wait until every stream has ended (True) or ``timeout_s`` has passed."""
        deadline = time.monotonic() + timeout_s
        while self.open_streams and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.open_streams == 0

    def snapshot_message(self) -> _Message:
        text = _dumps({"state": self.live.snapshot(), "units": self.units, "rig": self.rig})
        return _Message("snapshot", text, _add_channels(text, _dumps(self.live.channels())))

    def tick_message(self, channels: bool = False) -> _Message:
        """The current tick, shared by the streams that tick within the same 50 ms."""
        now = time.monotonic()
        with self._tick_lock:
            cached = self._tick
            if cached is not None and now - cached[0] < 0.05 and (not channels or cached[1].with_channels):
                return cached[1]
            text = _dumps({"state": self.live.snapshot()})
            with self._lock:
                streams = list(self._streams)
            message = _Message("tick", text, self._channel_variant(text, streams))
            self._tick = (now, message)
            return message

    def stream(self, stream: _Stream) -> Iterator[bytes]:
        """The body of one ``/events`` response (runs in a waitress worker thread)."""
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            yield self.snapshot_message().encode(stream.channels)
            now = time.monotonic()
            next_tick, next_ping = now + TICK_S, now + PING_S
            while not self.closing():
                # at least every TICK_S, even while ticks are slow: a client gone is seen then
                # (waitress only tells a worker when it writes), so its worker is free for others
                messages = stream.take(min(min(next_tick, next_ping) - time.monotonic(), TICK_S))
                if self.closing() or self._behind(stream) or stream.gone():
                    break
                if messages:
                    yield b"".join(m.encode(stream.channels) for m in messages)
                now = time.monotonic()
                if now >= next_tick:
                    if self._behind(stream):
                        break
                    yield self.tick_message(stream.channels).encode(stream.channels)
                    # an idle rig's tablet ticks once a second: nothing on it moves, and each wake
                    # of a stream's thread costs more than the tick it sends (issue 12); an event
                    # (a step, a grip) still goes out at once, and the rig's use brings back 5 Hz
                    slow = not stream.channels and self.service.engine.idle
                    next_tick = max(next_tick + (IDLE_TICK_S if slow else TICK_S), now)
                if now >= next_ping:
                    yield b": ping\n\n"
                    next_ping = now + PING_S
        finally:
            self.close_stream(stream)
            if stream.ended is not None:
                stream.close_connection()


def hub() -> EventHub:
    return current_app.extensions["stairrig"].hub


@bp.get("/events")
def events():
    panel = hub()
    if request.method == "HEAD":
        # waitress runs a HEAD's body without sending it, so it would never see the client go:
        # the headers only, and no stream
        return _stream_headers(Response(b"", mimetype="text/event-stream"))
    if panel.closing():
        panel.refused += 1
        return error("the panel is shutting down", 503)
    flag = request.args.get("channels", "0")
    if flag not in ("0", "1", "true", "false", ""):
        return error(f"channels must be 1 or 0, not {flag[:20]!r}", 400)
    stream = panel.open(flag in ("1", "true"), request.remote_addr, _connection())
    response = Response(panel.stream(stream), mimetype="text/event-stream")
    # a body never started (the client left at once) still gives its place back
    response.call_on_close(lambda: panel.close_stream(stream))
    return _stream_headers(response)


def _connection():
    """waitress's channel for this request (it says how much the client has not taken yet)."""
    probe = request.environ.get("waitress.client_disconnected")
    return getattr(probe, "__self__", None)


def _stream_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"       # no proxy may hold the events back
    return response
