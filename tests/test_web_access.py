"""Who may do what on the panel: PIN rules, CSRF, cookies, the secret key, the pages, no secret shown."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from flask import template_rendered
from jinja2 import ChoiceLoader, DictLoader

from web import auth, create_app
from web.auth import LOCKOUT_S, MAX_WRONG_PINS, SECRET_FILE, load_secret_key
from tests.test_web_support import MQTT_PASSWORD, PIN, Rig, login, make_config, record_session, send, token

pytest_plugins = ("tests.test_web_support",)   # its fixtures: rig, service, app, client

PAGES = {"/": ("live.html", "live"), "/session": ("session.html", "session"),
         "/history": ("history.html", "history"), "/progress": ("progress.html", "progress"),
         "/rigcheck": ("rigcheck.html", "rigcheck"), "/settings": ("settings.html", "settings")}
PIN_ENDPOINTS = [
    ("POST", "/api/athletes", {"name": "Kim", "weight_kg": 60}),
    ("PATCH", "/api/athletes/1", {"weight_kg": 71}),
    ("DELETE", "/api/athletes/1", None),
    ("DELETE", "/api/sessions/1", None),
    ("POST", "/api/calibration/rail.left.force/tare", {}),
    ("POST", "/api/calibration/rail.left.force/scale", {"known_kg": 5}),
]
OPEN_COMMANDS = [
    ("/api/commands/start_session", {}),
    ("/api/commands/stop_session", {}),
    ("/api/commands/set_drill", {"grip": "firm"}),
    ("/api/commands/select_athlete", {"athlete": 1}),
]


# -- what needs nothing, what needs the PIN ------------------------------------------------------

@pytest.mark.parametrize("url, body", OPEN_COMMANDS)
def test_the_tablet_drives_a_session_without_the_pin(client, url, body):
    response = send(client, "POST", url, body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["ok"] is True


@pytest.mark.parametrize("url", ["/api/status", "/api/athletes", "/api/sessions", "/api/progress",
                                 "/api/recommendation", "/healthz", "/api/csrf"])
def test_viewing_needs_nothing(client, url):
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("method, url, body", PIN_ENDPOINTS)
def test_settings_calibration_and_deleting_need_the_pin(client, service, method, url, body):
    response = send(client, method, url, body)
    assert response.status_code == 401
    assert "PIN" in response.get_json()["error"] and response.get_json()["pin_required"] is True
    assert service.store.athlete(1)["weight_kg"] == 70.0 and len(service.store.athletes()) == 1


def test_login_and_logout(client, service):
    assert client.get("/api/status").get_json()["authorised"] is False
    wrong = login(client, "00000000")
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "wrong PIN"
    assert client.get("/api/status").get_json()["authorised"] is False
    answer = login(client)
    assert answer.status_code == 200 and answer.get_json()["authorised"] is True
    fresh = answer.get_json()["csrf_token"]
    assert client.get("/api/status").get_json()["authorised"] is True
    assert client.get("/api/csrf").get_json()["token"] == fresh        # the login's new token is the session's
    response = send(client, "PATCH", "/api/athletes/1", {"weight_kg": 71}, csrf=fresh)
    assert response.status_code == 200 and service.store.athlete(1)["weight_kg"] == 71.0
    assert send(client, "POST", "/api/logout", {}).get_json()["authorised"] is False
    assert client.get("/api/status").get_json()["authorised"] is False
    assert send(client, "PATCH", "/api/athletes/1", {"weight_kg": 72}).status_code == 401


def test_a_login_expires_and_ends_with_a_new_pin(app, client, monkeypatch):
    login(client)
    assert client.get("/api/status").get_json()["authorised"] is True
    monkeypatch.setattr(auth, "wall_clock", lambda real=auth.wall_clock: real() + auth.AUTH_TTL_S + 1)
    assert client.get("/api/status").get_json()["authorised"] is False
    monkeypatch.undo()
    assert client.get("/api/status").get_json()["authorised"] is True
    panel = app.extensions["stairrig"]
    import dataclasses
    panel.config = dataclasses.replace(panel.config, web=dataclasses.replace(panel.config.web, pin="1234567"))
    assert client.get("/api/status").get_json()["authorised"] is False


def test_wrong_pins_are_throttled(app, client):
    throttle = app.extensions["stairrig"].throttle
    now = [1000.0]
    throttle.clock = lambda: now[0]
    for _ in range(MAX_WRONG_PINS):
        assert login(client, "11111111").status_code == 401
    locked = login(client)                              # even the right PIN waits
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "try again" in locked.get_json()["error"]
    assert client.get("/api/status").get_json()["authorised"] is False
    now[0] += LOCKOUT_S + 0.1
    assert login(client, "11111111").status_code == 401     # past the limit, one more wrong locks again
    assert login(client).status_code == 429
    now[0] += LOCKOUT_S + 0.1
    assert login(client).status_code == 200
    for _ in range(MAX_WRONG_PINS - 1):                 # a right PIN starts the count again
        assert login(client, "11111111").status_code == 401
    assert login(client).status_code == 200


def test_without_a_pin_the_locked_things_say_how_to_set_one(tmp_path):
    r = Rig(make_config(str(tmp_path / "data"), pin=None))
    try:
        c = create_app(r.service.config, r.service).test_client()
        status = c.get("/api/status").get_json()
        assert status["pin_required"] is False and status["authorised"] is False
        for method, url, body in PIN_ENDPOINTS:
            response = send(c, method, url, body)
            assert response.status_code == 403 and "[web] pin" in response.get_json()["error"]
        refused = login(c, "1234")
        assert refused.status_code == 403 and "[web] pin" in refused.get_json()["error"]
        assert send(c, "POST", "/api/commands/start_session", {}).status_code == 200
    finally:
        r.close()


# -- CSRF ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, body", OPEN_COMMANDS + [("/api/login", {"pin": PIN}), ("/api/logout", {}),
                                                        ("/api/walktest/start", {})])
def test_changes_need_the_csrf_token(client, service, url, body):
    token(client)                                    # the session has a token; the request does not carry it
    assert send(client, "POST", url, body, csrf=None).status_code == 403
    response = send(client, "POST", url, body, csrf="x" * 43)
    assert response.status_code == 403 and "CSRF" in response.get_json()["error"]
    assert service.live.snapshot()["session"]["active"] is False
    assert client.get("/api/status").get_json()["authorised"] is False


def test_a_session_without_a_token_is_refused(app):
    fresh = app.test_client()
    response = fresh.post("/api/commands/start_session", json={}, headers={"X-CSRF-Token": ""})
    assert response.status_code == 403 and "/api/csrf" in response.get_json()["error"]


def test_another_origin_is_refused_even_with_the_token(client, service):
    other = send(client, "POST", "/api/commands/start_session", {}, headers={"Origin": "http://evil.example"})
    assert other.status_code == 403 and "origin" in other.get_json()["error"]
    null = send(client, "POST", "/api/commands/start_session", {}, headers={"Origin": "null"})
    assert null.status_code == 403
    site = send(client, "POST", "/api/commands/start_session", {}, headers={"Sec-Fetch-Site": "cross-site"})
    assert site.status_code == 403
    assert service.live.snapshot()["session"]["active"] is False
    same = send(client, "POST", "/api/commands/start_session", {},
                headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200


def test_a_pin_request_checks_csrf_before_the_pin(client):
    login(client)
    assert send(client, "PATCH", "/api/athletes/1", {"weight_kg": 71}, csrf="nope").status_code == 403


# -- cookies and the secret key --------------------------------------------------------------------

def test_the_session_cookie_is_httponly_and_strict(client):
    response = client.get("/api/csrf")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("stairrig_session=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_a_login_survives_a_restart_of_the_panel(service, client):
    path = os.path.join(service.config.data_dir, SECRET_FILE)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    login(client)
    cookie = client.get_cookie("stairrig_session")
    again = create_app(service.config, service).test_client()     # the service restarted: a new app
    again.set_cookie("stairrig_session", cookie.value)
    assert again.get("/api/status").get_json()["authorised"] is True
    with open(path, "wb") as f:                                     # another key: the cookie is worth nothing
        f.write(b"k" * 64)
    third = create_app(service.config, service).test_client()
    third.set_cookie("stairrig_session", cookie.value)
    assert third.get("/api/status").get_json()["authorised"] is False


def test_the_secret_key_falls_back_to_memory(tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    first = load_secret_key(str(blocker))
    second = load_secret_key(str(blocker))
    assert len(first) >= 32 and first != second
    assert "logins will end" in caplog.text
    short = tmp_path / "data"
    short.mkdir()
    (short / SECRET_FILE).write_bytes(b"short")
    key = load_secret_key(str(short))
    assert len(key) >= 32 and (short / SECRET_FILE).read_bytes().strip() == key


# -- pages ---------------------------------------------------------------------------------------------

@pytest.fixture
def rendered(app):
    """(template name, context) of every template rendered; the front end's markup is stubbed out."""
    stubs = {name: "{{ page }}" for name, _ in PAGES.values()}
    stubs["session_detail.html"] = "{{ page }} {{ session_id }}"
    app.jinja_loader = ChoiceLoader([DictLoader(stubs), app.jinja_loader])
    seen = []

    def record(sender, template, context, **extra):
        seen.append((template.name, context))
    template_rendered.connect(record, app)
    yield seen
    template_rendered.disconnect(record, app)


CONTEXT_KEYS = {"rig_id", "units", "csrf_token", "authorised", "pin_required", "page", "version"}


@pytest.mark.parametrize("url", list(PAGES))
def test_each_page_renders_its_template_with_the_context(client, rendered, service, url):
    template, page = PAGES[url]
    response = client.get(url)
    assert response.status_code == 200
    assert [name for name, _ in rendered] == [template]
    context = rendered[0][1]
    assert CONTEXT_KEYS <= set(context)
    assert context["page"] == page and context["rig_id"] == service.config.rig_id
    assert context["units"] == "metric" and context["version"] == "0.1.0"
    assert context["pin_required"] is True and context["authorised"] is False
    assert context["csrf_token"] == client.get("/api/csrf").get_json()["token"]


def test_the_session_page_knows_its_session(client, rendered, rig):
    sid = record_session(rig, client)
    assert client.get(f"/history/{sid}").status_code == 200
    name, context = rendered[-1]
    assert name == "session_detail.html" and context["session_id"] == sid and context["page"] == "session_detail"
    missing = client.get("/history/424242")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert client.get("/history/abc").status_code == 404


def test_a_page_shows_the_login_state(client, rendered):
    login(client)
    client.get("/settings")
    assert rendered[-1][1]["authorised"] is True


# -- no secret in any answer ---------------------------------------------------------------------------

def test_no_secret_in_any_page_or_answer(app, client, rig):
    service = rig.service
    sid = record_session(rig, client)
    with open(os.path.join(service.config.data_dir, SECRET_FILE), "rb") as f:
        key = f.read().strip().decode()
    secrets = [PIN, MQTT_PASSWORD, key]
    login(client)
    urls = [*PAGES, f"/history/{sid}", "/history/999999",
            "/api/status", "/api/athletes", "/api/sessions", f"/api/sessions/{sid}", "/api/progress",
            "/api/recommendation", "/api/rigcheck", "/healthz", "/api/csrf", f"/api/sessions/{sid}/export.json",
            f"/api/sessions/{sid}/export.csv", "/api/nowhere"]
    answers = {url: client.get(url) for url in urls}
    stream = client.get("/events?channels=1")
    chunks = iter(stream.response)
    answers["/events"] = b"".join(next(chunks) for _ in range(3))
    stream.close()
    for url, answer in answers.items():
        if isinstance(answer, bytes):
            text = answer.decode()
        else:
            assert answer.status_code in (200, 404), url
            text = answer.get_data(as_text=True) + str(answer.headers)
        assert text.strip(), url
        for secret in secrets:
            assert secret not in text, f"{url} shows a secret"
    assert all(answers[url].status_code == 200 for url in [*PAGES, f"/history/{sid}"])


def test_parallel_wrong_pins_cannot_outrun_the_lockout(app):
    """Guesses sent at once from many tablets: the check and its count are one step."""
    import threading as _threading
    throttle = app.extensions["stairrig"].throttle
    codes, barrier = [], _threading.Barrier(16)

    def guess():
        c = app.test_client()
        barrier.wait()
        codes.append(login(c, "11111111").status_code)
    threads = [_threading.Thread(target=guess) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes.count(401) == MAX_WRONG_PINS and codes.count(429) == 16 - MAX_WRONG_PINS
    assert throttle.locked_until > 0


@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1:8080", True), ("[::1]:8080", True), ("localhost", True), ("192.168.1.20", True),
    ("evil.example:8080", False), ("stairrig.attacker.net", False),
])
def test_the_panel_answers_only_to_its_own_names(client, host, ok):
    """DNS rebinding: a page on another site that re-points its own name at the rig is refused."""
    response = client.get("/api/status", headers={"Host": host})
    assert (response.status_code == 200) is ok
    if not ok:
        assert response.status_code == 400 and "allowed_hosts" in response.get_json()["error"]


def test_a_name_in_allowed_hosts_is_answered(tmp_path):
    r = Rig(make_config(str(tmp_path / "data"), allowed_hosts=["stairs.home.lan"]))
    try:
        c = create_app(r.service.config, r.service).test_client()
        assert c.get("/api/status", headers={"Host": "stairs.home.lan:8080"}).status_code == 200
        assert c.get("/api/status", headers={"Host": "other.home.lan"}).status_code == 400
    finally:
        r.close()


@pytest.mark.parametrize("body", [{"pin": "\ud800"}, {"pin": "47\udfff11"}])
def test_a_pin_that_is_no_text_is_a_400(client, body):
    response = send(client, "POST", "/api/login", body)
    assert response.status_code == 400 and "not valid text" in response.get_json()["error"]


def test_logout_ends_every_copy_of_the_cookie_even_after_a_restart(app, client, service):
    login(client)
    copied = client.get_cookie("stairrig_session").value          # someone copies the cookie
    other = app.test_client()
    other.set_cookie("stairrig_session", copied)
    assert other.get("/api/status").get_json()["authorised"] is True
    assert send(client, "POST", "/api/logout", {}).status_code == 200
    assert other.get("/api/status").get_json()["authorised"] is False
    assert send(other, "PATCH", "/api/athletes/1", {"weight_kg": 73}).status_code == 401
    restarted = create_app(service.config, service).test_client()  # the service restarts: still refused
    restarted.set_cookie("stairrig_session", copied)
    assert restarted.get("/api/status").get_json()["authorised"] is False
    # the server keeps digests of the open logins, never a usable id
    login(client)
    logins = json.loads((Path(service.config.data_dir) / "panel-logins.json").read_text())
    assert len(logins) == 1 and all(len(k) == 64 for k in logins)
    assert stat.S_IMODE(os.stat(Path(service.config.data_dir) / "panel-logins.json").st_mode) == 0o600
    cookie = client.get_cookie("stairrig_session").value
    assert not any(k in cookie for k in logins)


@pytest.mark.parametrize("damage", [b"", b"{not json", b"[1, 2]", b'{"' + b"a" * 64 + b'": 1e999}',
                                    b'{"' + b"b" * 64 + b'": ' + b"9" * 400 + b"}", b"[" * 100_000])
def test_a_damaged_logins_file_ends_every_login_and_nothing_else(service, client, caplog, damage):
    login(client)
    cookie = client.get_cookie("stairrig_session").value
    (Path(service.config.data_dir) / "panel-logins.json").write_bytes(damage)
    again = create_app(service.config, service).test_client()     # the service restarts
    again.set_cookie("stairrig_session", cookie)
    assert again.get("/api/status").get_json()["authorised"] is False
    assert login(again).status_code == 200                           # a new login works, and is kept
    assert again.get("/api/status").get_json()["authorised"] is True
    assert "Traceback" not in caplog.text
