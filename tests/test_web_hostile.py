"""The panel under hostile input and hostile clients (issue 11).

Bodies nested 30,000 deep, numbers beyond a float or with thousands of
digits, more idle connections than waitress's old limit, requests that
trickle in, and event-stream clients that never read: each is a 4xx with a
JSON sentence naming the field, or a connection closed, and the panel and
``/healthz`` go on answering. The real waitress serves a real service here
(only the rig's pins are mocked).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from web import events as web_events
from web import server as web_server
from web.server import PanelServer
from tests.test_web_support import WAIT_S, Rig, login, make_config, send, wait_for

pytest_plugins = ("tests.test_web_support",)   # its fixtures: rig, service, app, client


def error_of(response, status) -> str:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    message = response.get_json()["error"]
    assert "Traceback" not in message and "set_int_max_str_digits" not in message
    return message


# -- hostile bodies -------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [21, 1000, 30_000])
def test_a_body_nested_deep_is_a_400(client, service, depth):
    drill = service.live.snapshot()["drill"]
    body = '{"facing": ' + "[" * depth + "]" * depth + "}"
    message = error_of(send(client, "POST", "/api/commands/set_drill", body), 400)
    assert "deeper than 20" in message
    assert service.live.snapshot()["drill"] == drill
    assert client.get("/healthz").status_code == 200      # and the panel goes on


def test_nesting_inside_strings_is_only_text(client):
    body = json.dumps({"facing": "[" * 30_000})
    message = error_of(send(client, "POST", "/api/commands/set_drill", body), 400)
    assert "longer than 40 characters" in message and "facing" in message


@pytest.mark.parametrize("url, field, extra", [
    ("/api/commands/set_drill", "added_load_kg", {}),
    ("/api/commands/set_drill", "planned_flights", {}),
    ("/api/commands/select_athlete", "athlete", {}),
    ("/api/athletes", "weight_kg", {"name": "Big"}),
    ("/api/login", "pin", {}),
])
@pytest.mark.parametrize("number", ["1e999", "-1e999", "1" * 5001, "-" + "9" * 4000, "1" * 41])
def test_numbers_no_field_can_take_are_a_400_naming_the_field(client, url, field, extra, number):
    if url == "/api/athletes":
        login(client)
    body = json.dumps(extra)[:-1] + (", " if extra else "") + f'"{field}": {number}' + "}"
    message = error_of(send(client, "POST", url, body), 400)
    assert message.startswith(field + ":") and ("too large" in message or "too long" in message), message
    assert len(message) < 200 and (len(number) < 20 or number[:30] not in message)   # never echoed whole


def test_a_number_nested_in_a_list_is_named_by_its_place(client):
    message = error_of(send(client, "POST", "/api/commands/set_drill", '{"grip": [1, [2, 1e999]]}'), 400)
    assert message.startswith("grip[1][1]:")


@pytest.mark.parametrize("query", ["before_id=" + "1" * 5001, "before_id=1_0", "limit=%2B5", "athlete_id=%D9%A1",
                                   "before_id=9223372036854775808", "limit=501", "before_id=0"])
def test_query_numbers_are_plain_digits_in_range(client, query):
    message = error_of(client.get(f"/api/sessions?{query}"), 400)
    assert query.split("=")[0] in message and len(message) < 200


def test_the_largest_before_id_is_a_page(client):
    assert client.get("/api/sessions?before_id=9223372036854775807").status_code == 200


# -- hostile connections (the real waitress) -------------------------------------------------------

@pytest.fixture
def served(tmp_path):
    r = Rig(make_config(str(tmp_path / "data"), host="127.0.0.1", port=0))
    server = PanelServer(r.service, "127.0.0.1", 0)
    server.start()
    yield r, server
    server.close()
    r.close()


def get(server, path: str, timeout_s: float = WAIT_S) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_more_idle_connections_than_the_old_limit_do_not_lock_the_panel_out(served):
    rig, server = served
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) for _ in range(150)]
    try:
        status, body = get(server, "/healthz")
        assert status == 200 and json.loads(body)["ok"] is True
        status, page = get(server, "/")
        assert status == 200 and b"<html" in page.lower()
    finally:
        for s in idle:
            s.close()


def closed_by_server(sock: socket.socket) -> bool:
    """The server closed the connection (what it sent before is read and thrown away)."""
    sock.settimeout(0.05)
    try:
        while sock.recv(65536):
            pass
        return True
    except socket.timeout:
        return False
    except ConnectionError:
        return True


def test_idle_and_trickling_connections_are_closed(tmp_path, monkeypatch):
    monkeypatch.setattr(web_server, "CHANNEL_TIMEOUT_S", 1)
    monkeypatch.setattr(web_server, "REQUEST_TIMEOUT_S", 2)
    monkeypatch.setattr(web_server, "CLEANUP_INTERVAL_S", 0.5)
    r = Rig(make_config(str(tmp_path / "data"), host="127.0.0.1", port=0))
    server = PanelServer(r.service, "127.0.0.1", 0)
    server.start()
    try:
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S)
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S)
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        deadline = time.monotonic() + WAIT_S
        idle_closed = slow_closed = False
        while time.monotonic() < deadline and not (idle_closed and slow_closed):
            idle_closed = idle_closed or closed_by_server(idle)
            if not slow_closed:
                try:
                    slow.sendall(b"X-Slow: 1\r\n")    # a byte now and then: waitress's idle timeout never fires
                except OSError:
                    slow_closed = True
                else:
                    slow_closed = closed_by_server(slow)
        assert idle_closed, "an idle connection stayed open"
        assert slow_closed, "a request that never finished arriving kept its connection"
        assert get(server, "/healthz")[0] == 200
        idle.close()
        slow.close()
    finally:
        server.close()
        r.close()


def open_stream_without_reading(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return sock


def test_clients_that_never_read_cannot_keep_a_tablet_from_its_stream(served):
    rig, server = served
    limit = server.hub.stream_limit
    hogs = [open_stream_without_reading(server) for _ in range(limit)]
    try:
        wait_for(lambda: server.hub.open_streams == limit, "every place taken by a client that never reads")
        tablet = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT_S)
        tablet.request("GET", "/events")
        response = tablet.getresponse()
        assert response.status == 200
        first = response.read1(65536)
        while b"event: snapshot" not in first:
            first += response.read1(65536)
        assert server.hub.open_streams == limit and server.hub.stats()["evicted"] == 1
        status, body = get(server, "/healthz")
        assert status == 200 and json.loads(body)["evicted"] == 1
        # the evicted hog's connection is closed by the panel
        wait_for(lambda: sum(closed_by_server(h) for h in hogs) >= 1, "the evicted hog's connection to close")
        tablet.close()
    finally:
        for h in hogs:
            h.close()


def test_a_stream_whose_client_stops_reading_ends_and_frees_its_worker(served, monkeypatch):
    rig, server = served
    monkeypatch.setattr(web_events, "STALL_BYTES", 4096)       # a few seconds of ticks instead of many
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the kernel hides little
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        wait_for(lambda: server.hub.open_streams == 1, "the stream")
        for n in range(400):                       # a busy rig: many updates, never read
            rig.service.bus.publish({"type": "grip", "t": 0.0, "rail": "left", "grip": "touch",
                                     "force_n": float(n), "pad": "x" * 200})
        wait_for(lambda: server.hub.stats()["stalled"] == 1, "the stream to be dropped", timeout_s=30)
        assert server.hub.open_streams == 0
        assert get(server, "/healthz")[0] == 200
    finally:
        sock.close()


def test_healthz_answers_while_500_clients_hammer_events(served):
    rig, server = served
    stop = threading.Event()
    opened = [0]
    lock = threading.Lock()

    def hammer():
        while not stop.is_set():
            try:
                s = open_stream_without_reading(server)
                s.recv(256)
                with lock:
                    opened[0] += 1
                s.close()
            except OSError:
                pass
    hold = [open_stream_without_reading(server) for _ in range(500 - 20)]   # 480 that never read
    threads = [threading.Thread(target=hammer, name=f"test-hammer-{n}", daemon=True) for n in range(20)]
    for t in threads:
        t.start()
    try:
        answers = []
        for _ in range(5):
            status, body = get(server, "/healthz", timeout_s=20)
            answers.append((status, json.loads(body)["ok"]))
        assert answers == [(200, True)] * 5
        assert opened[0] > 0
    finally:
        stop.set()
        for t in threads:
            t.join(WAIT_S)
        for s in hold:
            s.close()


def test_a_worker_waiting_on_a_client_that_takes_nothing_is_freed(served, monkeypatch):
    """The backstop under the streams' own rule: a worker that waits inside waitress for a client
    that takes nothing (here, the 64 KB rule switched off) is freed by closing the connection."""
    rig, server = served
    monkeypatch.setattr(web_events, "STALL_BYTES", 10 ** 12)
    monkeypatch.setattr(web_events, "EVICT_BYTES", 10 ** 12)
    monkeypatch.setattr(web_events, "QUEUE_MESSAGES", 10 ** 6)
    monkeypatch.setattr(web_server, "WRITE_TIMEOUT_S", 1)
    for stalls in server._stalls:
        listener = stalls._maintenance.__self__
        listener.adj.cleanup_interval = 0.5
        listener.next_channel_cleanup = 0
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    try:
        wait_for(lambda: server.hub.open_streams == 1, "the stream")
        channel = next(iter(server.hub._streams)).connection
        # the kernel buffers little for this client (as on a slow link), so waitress holds the rest
        channel.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)

        def blocked():                # waitress holds more than its high watermark: the worker waits
            rig.service.bus.publish({"type": "grip", "t": 0.0, "rail": "left", "grip": "touch",
                                     "force_n": 1.0, "pad": "x" * 20_000})
            time.sleep(0.05)
            return channel.total_outbufs_len > web_server.OUTBUF_HIGH_BYTES
        wait_for(blocked, "the worker to wait on the client")
        wait_for(lambda: server.hub.open_streams == 0, "the connection closed and the worker freed")
        assert server.hub.stats()["stalled"] == 0          # the write timeout did it, not the streams' rules
        assert closed_by_server(sock)
        assert get(server, "/healthz")[0] == 200
    finally:
        sock.close()
