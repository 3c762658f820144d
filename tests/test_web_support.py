"""Shared fixtures for the panel's tests (test_web_api, test_web_access, test_web_events).

A real Service on a simulated rig (gpiozero MockFactory pins, a mock
MCP3008: only the hardware is mocked), a real SQLite history in a temporary
directory, and the panel's Flask app over that service, driven with Flask's
test client. The service's own panel is off (``web.enabled = False``); the
tests make the app with ``create_app(service.config, service)``.

This module holds no tests; it is named ``test_web_*`` so that it belongs
with the panel's tests.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import pytest

from rig.layout import RigLayout
from rig.service import Service
from rig.sim.mockrig import SimulatedRig
from tests.rigs import config_for
from web import create_app

PIN = "90417263"
MQTT_PASSWORD = "mqtt-pw-Zq81xK"
WAIT_S = 10.0
LAYOUT = RigLayout(treads=3, riser_m=0.17, rails={"left": ("touch", "force"), "right": ("touch",)})


def make_config(data_dir: str, *, pin: str | None = PIN, threads: int = 16, **web):
    config = config_for(LAYOUT, data_dir, adc={},
                        web={"enabled": False, "threads": threads, **({"pin": pin} if pin else {}), **web})
    # a password as STAIRRIG_MQTT_URL (never --mqtt, never the file) gives it; the client stays off
    mqtt = dataclasses.replace(config.mqtt, enabled=False, username="coach", password=MQTT_PASSWORD)
    return dataclasses.replace(config, mqtt=mqtt)


class Rig:
    """A running service on a simulated rig, and the hands that step on it."""

    def __init__(self, config):
        self.sim = SimulatedRig(config, speed=1.0)
        self.service = Service(config, pin_factory=self.sim.factory, clock=self.sim.clock, source="sim")
        self._announced = threading.Event()
        self.service.subscribe("test-announced", lambda event: self._announced.set(), types={"athlete_changed"})
        self.service.start()

    def settle(self) -> None:
        """Wait for the rig's first announcement of its athlete and their level's drill (at its
        first tick, with a history), which would overwrite a drill a test had set before it."""
        assert self._announced.wait(WAIT_S), "the rig did not announce its athlete"

    def press(self, channel: str, on: bool = True) -> None:
        self.sim.set_sample(channel, 1.0 if on else 0.0)

    def close(self) -> None:
        try:
            self.service.stop()
        finally:
            self.sim.close()


def wait_for(predicate, what: str, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def rig(tmp_path):
    r = Rig(make_config(str(tmp_path / "data")))
    yield r
    r.close()


@pytest.fixture
def service(rig):
    return rig.service


@pytest.fixture
def app(service):
    return create_app(service.config, service)


@pytest.fixture
def client(app):
    return app.test_client()


def token(client) -> str:
    response = client.get("/api/csrf")
    assert response.status_code == 200
    return response.get_json()["token"]


def send(client, method: str, url: str, body=None, *, csrf: str | None = "auto", headers=None):
    """A state-changing request as the panel's scripts make it (JSON, with the CSRF token)."""
    hdrs = dict(headers or {})
    if csrf == "auto":
        csrf = token(client)
    if csrf is not None:
        hdrs["X-CSRF-Token"] = csrf
    kwargs = {"headers": hdrs}
    if body is not None:
        kwargs["data"] = body if isinstance(body, (bytes, str)) else json.dumps(body)
        kwargs["content_type"] = "application/json"
    return client.open(url, method=method, **kwargs)


def login(client, pin: str = PIN):
    return send(client, "POST", "/api/login", {"pin": pin})


def record_session(rig: Rig, client) -> int:
    """A real session, started and stopped from the API with a step between; its history id."""
    store = rig.service.store
    before = {s["id"] for s in store.sessions()}
    assert send(client, "POST", "/api/commands/start_session", {}).status_code == 200
    rig.press("tread.1")
    wait_for(lambda: rig.service.live.snapshot()["session"]["steps"] >= 1, "a step")
    rig.press("tread.1", False)
    assert send(client, "POST", "/api/commands/stop_session", {}).status_code == 200

    def closed():
        store.flush()
        new = [s for s in store.sessions() if s["id"] not in before and s["status"] == "closed"]
        return new[0]["id"] if new else None
    return wait_for(closed, "the session in the history")


class SSE:
    """Reads Server-Sent Events from a streamed response body (an iterator of byte chunks)."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._buffer = b""

    def next_block(self, timeout_s: float = WAIT_S) -> str:
        deadline = time.monotonic() + timeout_s
        while b"\n\n" not in self._buffer:
            if time.monotonic() > deadline:
                raise AssertionError("no complete event in time")
            chunk = next(self._chunks)          # ticks come 5 times a second: this never waits long
            if not chunk:
                raise EOFError("the stream ended")
            self._buffer += chunk
        block, self._buffer = self._buffer.split(b"\n\n", 1)
        return block.decode()

    def next_event(self, timeout_s: float = WAIT_S) -> tuple[str, dict | None]:
        """The next (event name, data) -- comments and retry blocks come back as ("", None)."""
        block = self.next_block(timeout_s)
        name, data = "", None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: "):])
        return name, data

    def until(self, predicate, timeout_s: float = WAIT_S) -> tuple[str, dict]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            name, data = self.next_event(deadline - time.monotonic())
            if predicate(name, data):
                return name, data
        raise AssertionError("the expected event did not come")
