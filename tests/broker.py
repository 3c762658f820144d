"""A real Mosquitto for the tests (and the MQTT benchmark), on a free port of 127.0.0.1.

``Broker`` writes a config file (one listener on 127.0.0.1, anonymous
clients allowed, no persistence, so a restart forgets every retained message
and session), starts ``mosquitto -c`` and waits until the port answers. It can
be stopped and started again on the same port, as a broker restart is.

``TcpGate`` is a plain TCP forwarder in front of the broker that the test can
close and open. A broker restart test needs it for order: after the restart,
the test's own subscriber must be subscribed before the rig reconnects,
otherwise it could miss the events the rig sends first; with the gate
closed the rig's reconnect attempts fail (as they would against a broker
still starting), and opening it lets the rig in.

``Collector`` is a paho subscriber that keeps every message it receives and
waits on conditions with a timeout.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

WAIT_S = 20.0


def mosquitto_path() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Broker:
    """One Mosquitto process; ``start()``, ``stop()``, ``restart()``; ``port`` stays the same."""

    host = "127.0.0.1"

    def __init__(self, port: int | None = None, directory: str | None = None):
        exe = mosquitto_path()
        if exe is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto; ./dev.sh test installs it)")
        self.exe = exe
        self.port = port or free_port()
        self._own_dir = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="stairrig-mosquitto-")
        self.config_path = os.path.join(self.directory, "mosquitto.conf")
        self.log_path = os.path.join(self.directory, "mosquitto.log")
        with open(self.config_path, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\n"
                    "allow_anonymous true\n"
                    "persistence false\n"
                    f"log_dest file {self.log_path}\n"
                    "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
                    "connection_messages true\n")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> "Broker":
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.proc = subprocess.Popen([self.exe, "-c", self.config_path], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + WAIT_S
        while not _port_open(self.port):
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err.strip()} "
                                   f"(log: {self.log()[-2000:]})")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not open port {self.port} within {WAIT_S:g} s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stderr:
            proc.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)


class TcpGate:
    """Forwards 127.0.0.1:``port`` to the broker while open; while closed, drops every connection."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self._open = threading.Event()
        self._open.set()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.1)
        self._links: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="test-tcp-gate", daemon=True)
        self._thread.start()

    def open(self) -> None:
        self._open.set()

    def close_gate(self) -> None:
        """Refuse new connections and cut the ones through the gate."""
        self._open.clear()
        with self._lock:
            links, self._links = self._links, []
        for s in links:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if not self._open.is_set():
                conn.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                conn.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._links += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(a, b), name="test-tcp-gate-pump", daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def shutdown(self) -> None:
        self._stop.set()
        self.close_gate()
        self._server.close()
        self._thread.join(2)


@dataclass
class Message:
    topic: str
    payload: bytes
    retain: bool
    qos: int

    def json(self):
        import json
        return json.loads(self.payload)


class Collector:
    """A subscriber that keeps what it receives. ``wait_for(pred)`` waits for a message matching it."""

    def __init__(self, broker_port: int, topics=("#",), client_id: str | None = None, host: str = "127.0.0.1"):
        self.messages: list[Message] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{os.getpid()}-{id(self)}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.topics = list(topics)
        self.client.on_connect = self._on_connect
        self.client.connect(host, broker_port, keepalive=30)
        self.client.loop_start()
        if not self._subscribed.wait(WAIT_S):
            raise RuntimeError("the test subscriber did not get its subscription")

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, client, userdata, message):
        with self._cond:
            self.messages.append(Message(message.topic, bytes(message.payload), bool(message.retain), message.qos))
            self._cond.notify_all()

    def on(self, topic: str) -> list[Message]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, predicate, timeout: float = WAIT_S, what: str = "a message") -> Message:
        """The first message (old or new) for which ``predicate(message)`` is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = 0
            while True:
                for m in self.messages[seen:]:
                    try:
                        if predicate(m):
                            return m
                    except (ValueError, KeyError, TypeError):
                        pass
                seen = len(self.messages)
                left = deadline - time.monotonic()
                if left <= 0:
                    topics = sorted({m.topic for m in self.messages})
                    raise AssertionError(f"timed out waiting for {what}; {len(self.messages)} messages on {topics}")
                self._cond.wait(left)

    def wait_until(self, condition, timeout: float = WAIT_S, what: str = "a condition"):
        """Wait until ``condition(messages)`` returns something true; returns it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                try:
                    result = condition(list(self.messages))
                except (ValueError, KeyError, TypeError):
                    result = None
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self._cond.wait(min(left, 0.2))

    def publish(self, topic: str, payload, *, retain: bool = False, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
