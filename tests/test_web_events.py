"""``/events`` (Server-Sent Events) with the test client, and the real PanelServer over a socket."""

from __future__ import annotations

import errno
import http.client
import json
import logging
import socket
import threading

import pytest

from web import events as web_events
from web.server import PanelServer
from tests.test_web_support import LAYOUT, SSE, WAIT_S, Rig, make_config, send, wait_for

pytest_plugins = ("tests.test_web_support",)   # its fixtures: rig, service, app, client


@pytest.fixture
def stream(client):
    opened = []

    def open_stream(url="/events"):
        response = client.get(url)
        assert response.status_code == 200, response.get_data()
        opened.append(response)
        return response, SSE(response.response)
    yield open_stream
    for response in opened:
        response.close()


def test_a_stream_starts_with_retry_and_the_snapshot(stream, service):
    response, sse = stream()
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache" and response.headers["X-Accel-Buffering"] == "no"
    assert sse.next_block() == "retry: 2000"
    name, data = sse.next_event()
    assert name == "snapshot"
    assert set(data) == {"state", "units", "rig"}
    assert data["units"] == "metric" and data["rig"] == LAYOUT.to_header()
    assert data["state"]["rig_id"] == service.config.rig_id and data["state"]["occupied"] is False


def test_a_step_is_an_update_with_the_state_that_holds_it(stream, rig):
    _, sse = stream()
    sse.next_block()
    assert sse.next_event()[0] == "snapshot"
    rig.press("tread.1")
    name, data = sse.until(lambda n, d: n == "update" and d["reason"] == "step")
    assert set(data) == {"reason", "event", "state"}
    assert data["event"]["type"] == "step" and data["event"]["tread"] == 1
    assert "at" not in data["event"] and "channels" not in data
    assert data["state"]["occupied"] is True and data["state"]["session"]["steps"] >= 0
    # the first step starts a session: its update follows, with the state that holds it
    _, started = sse.until(lambda n, d: n == "update" and d["reason"] == "session_started")
    assert started["state"]["session"]["active"] is True
    assert started["state"]["session"]["key"] == started["event"]["key"]


def test_ticks_carry_the_state_five_times_a_second(stream):
    _, sse = stream()
    name, data = sse.until(lambda n, d: n == "tick")
    assert set(data) == {"state"} and data["state"]["running"] is True


def test_the_rig_check_stream_carries_the_raw_channels(stream, rig):
    _, sse = stream("/events?channels=1")
    sse.next_block()
    name, snapshot = sse.next_event()
    assert name == "snapshot" and set(snapshot["channels"]) == set(LAYOUT.channels())
    _, tick = sse.until(lambda n, d: n == "tick")
    assert set(tick["channels"]) == set(LAYOUT.channels())
    rig.press("rail.right.touch")
    _, update = sse.until(lambda n, d: n == "update" and d["reason"] == "grip")
    assert update["event"]["rail"] == "right" and update["channels"]["rail.right.touch"]["value"] == 1
    assert set(update["channels"]["tread.1"]) == {"value", "t_s"}
    assert update == json.loads(json.dumps(update))


def test_a_command_from_the_api_shows_on_the_stream(stream, client):
    _, sse = stream()
    send(client, "POST", "/api/commands/set_drill", {"grip": "firm", "planned_flights": 4})
    # (the rig announces its athlete at the start too: this waits for the coach's drill)
    _, data = sse.until(lambda n, d: n == "update" and d["reason"] == "athlete_changed"
                        and d["event"]["drill"]["planned_flights"] == 4)
    assert data["event"]["drill"]["grip"] == "firm" and data["state"]["drill"]["planned_flights"] == 4
    assert data["state"]["drill_chosen"] is True


def test_a_ping_comment_keeps_a_quiet_stream_open(stream, monkeypatch):
    monkeypatch.setattr(web_events, "PING_S", 0.3)
    _, sse = stream()
    for _ in range(50):
        if sse.next_block() == ": ping":
            break
    else:
        raise AssertionError("no ping")


def test_a_client_that_does_not_read_is_dropped_when_its_queue_overflows(app, service):
    hub = app.extensions["stairrig"].hub
    slow = hub.open(channels=False, remote="test")
    delivered = []
    service.subscribe("test-after-panel", delivered.append, types={"grip"})
    n = web_events.QUEUE_MESSAGES + 40
    for i in range(n):                        # nobody reads the stream: its queue fills, then overflows
        service.bus.publish({"type": "grip", "t": 0.0, "rail": "left", "grip": "touch", "force_n": float(i)})
    wait_for(lambda: len(delivered) == n, "every event through the bus")   # the bus never waited
    assert slow.ended and "overflowed" in slow.ended
    assert hub.open_streams == 0                   # its place is free at once
    stats = hub.stats()
    assert stats["stalled"] == 1 and stats["dropped"] >= 1
    # its body ends instead of waiting for a client that does not read
    chunks = list(hub.stream(slow))
    assert chunks[0].startswith(b"retry:") and len(chunks) == 2


def test_a_new_stream_takes_the_place_of_the_oldest_when_all_are_taken(tmp_path):
    r = Rig(make_config(str(tmp_path / "data"), threads=6))      # 6 threads: two streams, four spare
    try:
        from web import create_app
        app = create_app(r.service.config, r.service)
        hub = app.extensions["stairrig"].hub
        c = app.test_client()
        first = c.get("/events")
        second = c.get("/events")
        assert first.status_code == 200 and second.status_code == 200 and hub.open_streams == 2
        third = c.get("/events")                   # a tablet that wakes up: it gets a stream
        assert third.status_code == 200 and hub.open_streams == 2
        assert c.get("/healthz").get_json()["evicted"] == 1
        # the first (the oldest) gave its place: its body ends after the retry and snapshot
        rest = list(first.response)
        assert rest[0].startswith(b"retry:") and len(rest) == 2
        for response in (first, second, third):
            response.close()
        assert hub.open_streams == 0
    finally:
        r.close()


def test_closing_the_panel_ends_the_streams(app, stream):
    _, sse = stream()
    sse.next_block()
    sse.next_event()
    app.extensions["stairrig"].hub.close()
    with pytest.raises((EOFError, StopIteration)):
        for _ in range(100):
            sse.next_block()
    assert app.extensions["stairrig"].hub.open_streams == 0
    test = app.test_client()
    assert test.get("/events").status_code == 503
    assert test.get("/healthz").status_code == 503


# -- the real server ------------------------------------------------------------------------------

def sse_of(response) -> SSE:
    """The events of an http.client response, read as they come (read1 undoes the chunking)."""
    return SSE(iter(lambda: response.read1(65536), b""))


@pytest.fixture
def served(tmp_path):
    r = Rig(make_config(str(tmp_path / "data"), host="127.0.0.1", port=0))
    server = PanelServer(r.service, "127.0.0.1", 0)
    server.start()
    yield r, server
    server.close()
    r.close()


def test_the_real_server_serves_health_and_events_and_close_ends_them(served):
    rig, server = served
    assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}/"
    names = {t.name for t in threading.enumerate()}
    assert "stairrig-panel" in names and f"stairrig-panel-{rig.service.config.web.threads - 1}" in names
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT_S)
    conn.request("GET", "/healthz")
    health = conn.getresponse()
    assert health.status == 200 and json.loads(health.read())["ok"] is True

    events = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT_S)
    events.request("GET", "/events")
    response = events.getresponse()
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
    sse = sse_of(response)
    assert sse.next_block() == "retry: 2000"
    name, snapshot = sse.next_event()
    assert name == "snapshot" and snapshot["rig"] == LAYOUT.to_header()
    rig.press("tread.1")
    _, data = sse.until(lambda n, d: n == "update" and d["reason"] == "step")
    assert data["state"]["occupied"] is True and "at" not in data["event"]

    server.close()
    with pytest.raises((EOFError, StopIteration, ConnectionError, socket.timeout)):
        for _ in range(500):
            sse.next_block()
    assert not server.is_alive()
    assert not [t.name for t in threading.enumerate() if t.name.startswith("stairrig-panel")]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    server.close()                         # twice is fine


def test_a_taken_port_is_a_clear_error(served):
    rig, server = served
    with pytest.raises(OSError) as caught:
        PanelServer(rig.service, "127.0.0.1", server.port)
    assert caught.value.errno == errno.EADDRINUSE
    assert f"127.0.0.1:{server.port}" in str(caught.value) and "[web] port" in str(caught.value)
    assert len([t for t in threading.enumerate() if t.name.startswith("stairrig-panel-")]) == \
        rig.service.config.web.threads      # the failed one started no worker


def test_a_head_request_holds_no_stream(served):
    rig, server = served
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT_S)
    for _ in range(server.hub.stream_limit + 2):     # more than the streams allowed: none is held
        conn.request("HEAD", "/events")
        response = conn.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
    assert server.hub.open_streams == 0 and server.hub.stats()["refused"] == 0
    conn.close()


def test_a_tablet_that_goes_away_frees_its_place(served):
    rig, server = served
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT_S)
    conn.request("GET", "/events")
    response = conn.getresponse()
    sse_of(response).next_block()
    assert server.hub.open_streams == 1
    conn.close()
    response.close()
    wait_for(lambda: server.hub.open_streams == 0, "the stream to notice the tablet left")


def test_the_service_runs_its_panel_and_stops_it(tmp_path):
    from dataclasses import replace
    config = make_config(str(tmp_path / "data"))
    config = replace(config, web=replace(config.web, enabled=True, host="127.0.0.1", port=0))
    r = Rig(config)
    try:
        panel = r.service.panel
        assert panel is not None and panel.is_alive()
        conn = http.client.HTTPConnection("127.0.0.1", panel.port, timeout=WAIT_S)
        conn.request("GET", "/api/status")
        status = json.loads(conn.getresponse().read())
        assert status["state"]["running"] is True and status["pin_required"] is True
        events = http.client.HTTPConnection("127.0.0.1", panel.port, timeout=WAIT_S)
        events.request("GET", "/events")
        sse = sse_of(events.getresponse())
        assert sse.next_block() == "retry: 2000"
    finally:
        r.close()
    assert not panel.is_alive()
    with pytest.raises((EOFError, StopIteration, ConnectionError, socket.timeout)):
        for _ in range(500):
            sse.next_block()
    assert not [t.name for t in threading.enumerate() if t.name.startswith("stairrig-panel")]


def test_closing_under_load_is_clean(served, caplog):
    """Requests under way when the panel closes finish or fail cleanly; waitress logs no error."""
    rig, server = served
    outcomes = []
    go = threading.Event()

    def tablet():
        go.wait()
        for _ in range(5000):                 # until the panel is gone
            try:
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT_S)
                conn.request("GET", "/api/status")
                response = conn.getresponse()
                body = response.read()
                outcomes.append(response.status == 200 and json.loads(body)["state"]["rig_id"] == "stairrig")
                conn.close()
            except (OSError, http.client.HTTPException):
                outcomes.append("refused")
                return
    threads = [threading.Thread(target=tablet, name=f"test-tablet-{n}") for n in range(4)]
    for t in threads:
        t.start()
    with caplog.at_level("WARNING"):
        go.set()
        wait_for(lambda: len(outcomes) >= 8, "some answers")
        server.close()
        for t in threads:
            t.join(WAIT_S)
    assert all(o is True or o == "refused" for o in outcomes), outcomes
    assert True in outcomes and "refused" in outcomes
    # a request that comes in as the workers stop is dropped with its connection (at most a queue
    # warning); a worker must never fail on a closed socket or trigger ("Exception when servicing")
    errors = [r for r in caplog.records if r.name.startswith("waitress") and r.levelno >= logging.ERROR]
    assert not errors, caplog.text


def test_closing_when_waitress_trigger_is_already_closed(served, monkeypatch):
    """The trigger that wakes waitress's loop can be closed under the panel as it closes (CI saw
    EBADF once): closing still ends every connection and the loop, and raises nothing."""
    from waitress.trigger import trigger as Trigger
    rig, server = served
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT_S)
    conn.request("GET", "/healthz")
    assert conn.getresponse().status == 200      # a kept-alive connection the close must end

    def closed(self):
        raise OSError(errno.EBADF, "Bad file descriptor")
    monkeypatch.setattr(Trigger, "_physical_pull", closed)
    server.close()
    server._thread.join(WAIT_S)
    assert not server.is_alive()
    with pytest.raises((OSError, http.client.HTTPException)):
        conn.request("GET", "/healthz")
        conn.getresponse()
