"""The panel served by waitress inside the service's process.

``PanelServer(service, host, port)`` binds at once (so a taken port fails
when the service starts, with a message that says so), ``start()`` runs
waitress's loop in the thread ``stairrig-panel`` with its worker threads
``stairrig-panel-<n>``, and ``close()`` ends every open event stream (they
watch the shutdown Event), closes every connection from inside waitress's
loop and stops the threads. Never Flask's development server.
"""

from __future__ import annotations

import logging
import resource
import threading
import weakref

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, MultiSocketServer
from waitress.task import ThreadedTaskDispatcher
from waitress.trigger import trigger as Trigger

from rig.threads import named_thread
from web import create_app

log = logging.getLogger(__name__)

# waitress's settings, each chosen for a panel on a home network that must never lock its tablets out
# (docs/api.md, "Connections and limits", gives the reasons; the defaults are waitress's):
CONNECTION_LIMIT = 500                  # open connections (default 100: 101 idle sockets locked the panel out)
CHANNEL_TIMEOUT_S = 30                  # an idle keep-alive connection is closed after it (default 120)
REQUEST_TIMEOUT_S = 30                  # a request whose headers or body do not arrive within it is dropped
WRITE_TIMEOUT_S = 20                    # a client that takes nothing of its answer for this long is dropped
CLEANUP_INTERVAL_S = 5                  # how often both are checked (default 30)
BACKLOG = 1024                          # connections waiting to be accepted, beyond the limit (the kernel caps it)
USE_POLL = True                         # poll(), not select(): select fails on descriptors above 1024
MAX_REQUEST_HEADER_BYTES = 32 * 1024    # a tablet sends about 1 KB (default 256 KB)
MAX_REQUEST_BODY_BYTES = 128 * 1024     # waitress refuses beyond it; Flask answers 413 JSON above 64 KB
OUTBUF_HIGH_BYTES = 256 * 1024          # a client that stops reading holds at most this much (default 16 MB)
FILE_HEADROOM = 200                     # descriptors kept for the rest of the service (traces, SQLite, MQTT)
_STREAMS_END_S = 2.0
_REQUESTS_END_S = 2.0
_JOIN_S = 5.0


class _Workers(ThreadedTaskDispatcher):
    """waitress's worker pool with the service's thread names, started only once the port is bound."""

    def start_new_thread(self, target, thread_no):
        named_thread(target, f"stairrig-panel-{thread_no}", args=(thread_no,)).start()


def _fit_file_limit(wanted: int) -> int:
    """Raise the soft limit on open files to ``wanted`` when the hard limit allows; the
    connection limit that fits what we have (systemd's default soft limit is 1024)."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
    except (OSError, ValueError) as exc:
        log.debug("cannot raise the open-files limit: %s", exc)
        return CONNECTION_LIMIT
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return CONNECTION_LIMIT
    fit = max(20, soft - FILE_HEADROOM)
    log.warning("the open-files limit is %d: the panel takes at most %d connections (not %d)",
                soft, fit, CONNECTION_LIMIT)
    return fit


class _Stalls:
    """Closes the connections that would hold the panel for ever, at waitress's maintenance
    (in its loop, every CLEANUP_INTERVAL_S), after waitress's own idle check:

    - a request that has been arriving for longer than REQUEST_TIMEOUT_S: waitress's
      channel_timeout counts from the last byte, so one byte every few seconds (slowloris)
      would hold a connection for ever;
    - an answer under way that the client has taken nothing of for WRITE_TIMEOUT_S: the
      worker writing it waits once waitress holds OUTBUF_HIGH_BYTES for the client, so a few
      clients that ask for big answers (or pipeline hundreds of requests) and never read would
      hold every worker, /healthz's too. Closing the connection wakes that worker.
    """

    def __init__(self, server):
        self._seen: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._maintenance = server.maintenance
        server.maintenance = self

    def __call__(self, now: float) -> None:
        self._maintenance(now)
        server = self._maintenance.__self__
        for channel in list(server.active_channels.values()):
            if channel.will_close:
                continue
            if channel.requests:                 # answering: is the client taking the answer?
                self._seen.pop(channel, None)
                if channel.total_outbufs_len and now - channel.last_activity > WRITE_TIMEOUT_S:
                    self._close(channel, f"it took nothing of its answer for {WRITE_TIMEOUT_S} s")
                continue
            partial = channel.request            # a request still arriving
            if partial is None:
                self._seen.pop(channel, None)
                continue
            first = self._seen.get(channel)
            if first is None or first[0] is not partial:
                self._seen[channel] = (partial, now)
            elif now - first[1] > REQUEST_TIMEOUT_S:
                self._close(channel, f"its request took more than {REQUEST_TIMEOUT_S} s to arrive")

    def _close(self, channel, why: str) -> None:
        """Close it from the loop's next round of events: ``will_close`` alone waits for the
        socket to be writable, which a client that reads nothing never makes it, and closing it
        here, while waitress builds its poll set, could hand its stale events to a new
        connection that reuses the descriptor."""
        log.info("closing the connection from %s: %s", channel.addr[0] if channel.addr else "?", why)
        channel.will_close = True

        def close():
            if channel.connected:
                try:
                    channel.handle_close()   # also wakes a worker waiting to write to it
                except Exception as exc:     # closing is best effort
                    log.debug("closing %r: %s", channel, exc)
        self._maintenance.__self__.trigger.pull_trigger(close)


class PanelServer:
    """The panel on ``host:port`` (port 0: a free port) for a ``rig.service.Service``."""

    def __init__(self, service, host: str, port: int):
        self.service = service
        config = service.config
        self.app = create_app(config, service)
        self._panel = self.app.extensions["stairrig"]
        self._workers = _Workers()
        self.threads = config.web.threads
        connection_limit = _fit_file_limit(CONNECTION_LIMIT + FILE_HEADROOM)
        try:
            self._server = waitress.create_server(
                self.app, host=host, port=port, threads=self.threads, _dispatcher=self._workers,
                ident="stairrig", connection_limit=connection_limit, channel_timeout=CHANNEL_TIMEOUT_S,
                cleanup_interval=CLEANUP_INTERVAL_S, backlog=BACKLOG, asyncore_use_poll=USE_POLL,
                max_request_header_size=MAX_REQUEST_HEADER_BYTES, max_request_body_size=MAX_REQUEST_BODY_BYTES,
                outbuf_high_watermark=OUTBUF_HIGH_BYTES, expose_tracebacks=False,
                clear_untrusted_proxy_headers=True)
        except OSError as exc:
            self._panel.hub.close()
            raise OSError(exc.errno, f"the panel cannot listen on {host}:{port}: {exc.strerror or exc} "
                                     f"(is another stairrig or another program using the port? choose another "
                                     f"[web] port, or 0 for any free one)") from exc
        self._workers.set_thread_count(self.threads)
        if isinstance(self._server, MultiSocketServer):
            self._map = self._server.map
            host_bound, port_bound = self._server.effective_listen[0][:2]
            listeners = [obj for obj in self._map.values() if isinstance(obj, BaseWSGIServer)]
        else:
            self._map = self._server._map
            host_bound, port_bound = self._server.effective_host, self._server.effective_port
            listeners = [self._server]
        self._stalls = [_Stalls(listener) for listener in listeners]
        self.host, self.port = str(host_bound), int(port_bound)     # waitress gives the port as text
        self._thread = named_thread(self._run, "stairrig-panel")
        self._closed = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"http://{host}:{self.port}/"

    @property
    def hub(self):
        return self._panel.hub

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._server.run()
        except Exception:
            if not self._closed:
                log.exception("the panel's server stopped")

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """End the event streams, stop taking connections, let the requests under way finish,
        then close every connection and stop the threads. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._panel.hub.close()
        if not self._panel.hub.wait_closed(_STREAMS_END_S):
            log.warning("%d event stream(s) did not end within %.0f s; closing their connections",
                        self._panel.hub.open_streams, _STREAMS_END_S)
        running = self._thread.is_alive()
        if running:
            self._in_loop(self._close_listeners)
        # a worker that finishes pulls waitress's trigger: they stop before it is closed
        # (requests queued but not begun are dropped with their connections below, without a warning)
        self._workers.shutdown(cancel_pending=False, timeout=_REQUESTS_END_S)
        if running:
            self._in_loop(self._close_all)
            self._thread.join(_JOIN_S)
            if self._thread.is_alive():
                log.error("the panel's server thread did not stop within %.0f s", _JOIN_S)
        else:
            self._close_all()

    def _in_loop(self, fn) -> None:
        """Run ``fn`` in waitress's loop thread (which owns the sockets) and wait for it."""
        trigger = next((obj for obj in list(self._map.values()) if isinstance(obj, Trigger)), None)
        if trigger is None:
            fn()
            return
        done = threading.Event()

        def thunk():
            try:
                fn()
            finally:
                done.set()
        try:
            trigger.pull_trigger(thunk)
        except OSError as exc:
            # the trigger was closed under us (its loop is ending, or ended): nothing can wake the
            # loop now, and closing is best effort, so do it from here (CI saw EBADF once)
            log.debug("waitress's trigger is closed (%s); running %s here", exc, fn.__name__)
            with trigger.lock:
                trigger.thunks = [t for t in trigger.thunks if t is not thunk]
            fn()
            return
        if not done.wait(_JOIN_S):
            log.warning("waitress's loop did not run %s within %.0f s", fn.__name__, _JOIN_S)

    def _close_listeners(self) -> None:
        """No new connections (the listening sockets only: the server's own close() also closes the trigger)."""
        for obj in list(self._map.values()):
            if isinstance(obj, BaseWSGIServer):
                try:
                    wasyncore.dispatcher.close(obj)
                except OSError as exc:
                    log.debug("closing the listening socket: %s", exc)

    def _close_all(self) -> None:
        """Close the listening sockets, every connection and the trigger; waitress's loop then ends."""
        for obj in list(self._map.values()):
            try:
                if isinstance(obj, HTTPChannel):
                    obj.handle_close()       # marks it disconnected: a worker still writing stops
                else:
                    obj.close()
            except Exception as exc:   # closing is best effort: the rest must still close
                log.debug("closing %r: %s", obj, exc)
        self._map.clear()
