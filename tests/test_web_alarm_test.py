"""The panel's test of the fall alarm: ``POST /api/commands/test_fall_alarm`` behind the PIN and CSRF."""

from __future__ import annotations

from tests.test_web_support import Rig, login, make_config, send, token, wait_for

pytest_plugins = ("tests.test_web_support",)   # its fixtures: rig, service, app, client

URL = "/api/commands/test_fall_alarm"


def test_it_needs_a_pin_login(client, service):
    refused = send(client, "POST", URL, {})
    assert refused.status_code == 401
    body = refused.get_json()
    assert "PIN" in body["error"] and body["pin_required"] is True and body["authorised"] is False
    assert service.live.snapshot()["alarm"] is None and service.engine.fall_alarm is None


def test_logged_in_it_raises_the_alarm_as_a_test_and_im_ok_ends_it(client, service):
    login(client)
    answer = send(client, "POST", URL, {})
    assert answer.status_code == 200, answer.get_json()
    result = answer.get_json()["result"]
    assert (result["type"], result["test"], result["by"]) == ("fall_suspected", True, "panel")
    # the live document takes the event from the bus a moment after the command returns
    alarm = wait_for(lambda: client.get("/api/status").get_json()["state"]["alarm"], "the alarm in the status")
    assert alarm["test"] is True and alarm["by"] == "panel"
    again = send(client, "POST", URL, {})
    assert again.status_code == 409 and "already on" in again.get_json()["error"]
    ok = send(client, "POST", "/api/commands/acknowledge_fall", {})
    assert ok.status_code == 200 and ok.get_json()["result"]["test"] is True
    wait_for(lambda: client.get("/api/status").get_json()["state"]["alarm"] is None, "the alarm to end")


def test_it_takes_no_body_fields(client, service):
    login(client)
    refused = send(client, "POST", URL, {"by": "someone else"})
    assert refused.status_code == 400 and "unknown field 'by'" in refused.get_json()["error"]
    assert service.engine.fall_alarm is None


def test_it_needs_the_csrf_token_even_logged_in(client, service):
    login(client)
    token(client)
    refused = send(client, "POST", URL, {}, csrf="x" * 43)
    assert refused.status_code == 403 and "CSRF" in refused.get_json()["error"]
    assert service.engine.fall_alarm is None


def test_without_a_configured_pin_it_says_how_to_set_one(tmp_path):
    from web import create_app
    r = Rig(make_config(str(tmp_path / "data"), pin=None))
    try:
        c = create_app(r.service.config, r.service).test_client()
        refused = send(c, "POST", URL, {})
        assert refused.status_code == 403 and "[web] pin" in refused.get_json()["error"]
        assert r.service.engine.fall_alarm is None
    finally:
        r.close()


def test_the_rigcheck_page_has_the_button(client):
    page = client.get("/rigcheck").get_data(as_text=True)
    assert 'id="alarm-test-start"' in page and "Fall alarm test" in page
