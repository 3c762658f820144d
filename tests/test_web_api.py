"""The panel's JSON API with Flask's test client, over a real service on a simulated rig.

Every endpoint, every class of malformed input (each must be a 4xx with a
JSON sentence, never a 500), and a command round trip from the API to the
live state.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os

import pytest

from rig.history.export import CSV_COLUMNS
from rig.progression import LEVELS, level
from tests.test_web_support import LAYOUT, login, record_session, send, token, wait_for

pytest_plugins = ("tests.test_web_support",)   # its fixtures: rig, service, app, client


def ok_json(response, status=200):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    return response.get_json()


def error_of(response, status):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]


# -- status and health ---------------------------------------------------------------------

def test_status_is_the_live_state_with_the_panel_facts(client, service):
    body = ok_json(client.get("/api/status"))
    assert set(body) == {"state", "healthy", "mqtt", "history", "traces", "version", "units", "rig",
                         "pin_required", "authorised"}
    assert body["history"] == {"available": True, "error": None, "waiting_sessions": 0}
    assert body["traces"] == {"ok": True, "problems": []}
    assert body["state"]["rig_id"] == service.config.rig_id
    assert body["state"]["athlete"]["name"] == "Test"
    assert body["healthy"] is True and body["mqtt"] is None
    assert body["version"] == "0.1.0" and body["units"] == "metric"
    assert body["rig"] == LAYOUT.to_header()
    assert body["pin_required"] is True and body["authorised"] is False


def test_healthz_says_ok_while_the_rig_runs(client, service):
    body = ok_json(client.get("/healthz"))
    assert body["ok"] is True and body["engine"] is True
    assert body["threads"] == service.config.web.threads and body["stream_limit"] == service.config.web.threads - 4
    assert body["streams"] == 0


def test_healthz_is_503_once_the_rig_stopped(client, rig):
    rig.service.stop()
    assert error_of(client.get("/api/nothing-here"), 404)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.get_json()["ok"] is False


# -- athletes ----------------------------------------------------------------------------------

def test_athletes_are_listed_with_the_selected_one(client):
    rows = ok_json(client.get("/api/athletes"))["athletes"]
    assert rows == [{"id": 1, "name": "Test", "weight_kg": 70.0, "level": LEVELS[0].key, "selected": True}]


def test_athletes_are_added_edited_and_deleted_with_the_pin(client, service):
    assert ok_json(login(client))["authorised"] is True
    added = ok_json(send(client, "POST", "/api/athletes", {"name": "  Kim   Lee ", "weight_kg": 64.5}), 201)["athlete"]
    assert added["name"] == "Kim Lee" and added["weight_kg"] == 64.5 and added["selected"] is False
    assert "same name" not in error_of(send(client, "POST", "/api/athletes", {"name": "kim lee", "weight_kg": 60}), 409)
    edited = ok_json(send(client, "PATCH", f"/api/athletes/{added['id']}", {"weight_kg": 63}))["athlete"]
    assert edited["weight_kg"] == 63.0 and edited["name"] == "Kim Lee"
    assert ok_json(send(client, "PATCH", f"/api/athletes/{added['id']}", {"name": "Kim"}))["athlete"]["name"] == "Kim"
    assert error_of(send(client, "PATCH", "/api/athletes/1", {"name": "KIM"}), 409)
    assert "body weight" in error_of(send(client, "PATCH", "/api/athletes/1", {"weight_kg": 5}), 400)
    assert error_of(send(client, "PATCH", "/api/athletes/99", {"weight_kg": 70}), 404)
    deleted = ok_json(send(client, "DELETE", f"/api/athletes/{added['id']}"))
    assert deleted["deleted"]["athletes"] == 1
    assert [a["name"] for a in ok_json(client.get("/api/athletes"))["athletes"]] == ["Test"]
    assert service.store.athlete(added["id"]) is None
    assert error_of(send(client, "DELETE", f"/api/athletes/{added['id']}"), 404)
    # the last athlete stays: the rig needs someone to count for
    assert "only athlete" in error_of(send(client, "DELETE", "/api/athletes/1"), 409)


def test_deleting_the_selected_athlete_hands_the_rig_to_another(client, service):
    login(client)
    kim = ok_json(send(client, "POST", "/api/athletes", {"name": "Kim", "weight_kg": 60}), 201)["athlete"]
    ok_json(send(client, "POST", "/api/commands/select_athlete", {"athlete": kim["id"]}))
    wait_for(lambda: service.live.snapshot()["athlete"]["name"] == "Kim", "Kim on the rig")
    ok_json(send(client, "DELETE", f"/api/athletes/{kim['id']}"))
    assert service.sessions.athlete.name == "Test"       # the engine has it as the command returns
    wait_for(lambda: service.live.snapshot()["athlete"]["name"] == "Test", "Test back on the rig")
    assert ok_json(client.get("/api/athletes"))["athletes"] == [
        {"id": 1, "name": "Test", "weight_kg": 70.0, "level": LEVELS[0].key, "selected": True}]


def test_the_athlete_training_now_cannot_be_deleted(client, rig):
    login(client)
    other = ok_json(send(client, "POST", "/api/athletes", {"name": "Sam", "weight_kg": 80}), 201)["athlete"]
    ok_json(send(client, "POST", "/api/commands/start_session", {}))
    assert "stop the session" in error_of(send(client, "DELETE", "/api/athletes/1"), 409)
    ok_json(send(client, "POST", "/api/commands/stop_session", {}))
    assert ok_json(send(client, "DELETE", f"/api/athletes/{other['id']}"))["ok"] is True


# -- sessions -------------------------------------------------------------------------------------

def test_sessions_are_listed_shown_exported_and_deleted(client, rig):
    first = record_session(rig, client)
    second = record_session(rig, client)
    rows = ok_json(client.get("/api/sessions"))["sessions"]
    assert [r["id"] for r in rows] == [second, first]
    assert all("trace_path" not in r and r["has_trace"] is True for r in rows)
    assert [r["id"] for r in ok_json(client.get("/api/sessions?limit=1"))["sessions"]] == [second]
    assert [r["id"] for r in ok_json(client.get(f"/api/sessions?before_id={second}"))["sessions"]] == [first]
    assert ok_json(client.get("/api/sessions?athlete_id=1&limit=10"))["sessions"][0]["athlete_id"] == 1
    assert ok_json(client.get("/api/sessions?athlete_id=77"))["sessions"] == []

    one = ok_json(client.get(f"/api/sessions/{first}"))
    stored = rig.service.store.session(first)
    assert one["steps"] == stored["steps"] >= 1 and one["status"] == "closed"
    assert one["flights"] == stored["flights"] and one["events"] == stored["events"]
    assert one["athlete"] == {"id": 1, "name": "Test"} and one["has_trace"] is True and "trace_path" not in one

    as_json = client.get(f"/api/sessions/{first}/export.json")
    assert as_json.status_code == 200 and "attachment" in as_json.headers["Content-Disposition"]
    doc = json.loads(as_json.get_data())
    assert doc["format"] == "stairrig.session" and doc["session"]["id"] == first
    as_csv = client.get(f"/api/sessions/{first}/export.csv")
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert f'filename="stairrig-session-{first}.csv"' in as_csv.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    assert tuple(table[0]) == CSV_COLUMNS and table[1][0] == str(first) and len(table) == 2
    trace = client.get(f"/api/sessions/{first}/export.jsonl.gz")
    assert trace.status_code == 200 and trace.mimetype == "application/gzip"
    assert "attachment" in trace.headers["Content-Disposition"]
    header = json.loads(gzip.decompress(trace.get_data()).splitlines()[0])
    assert header["rig"] == LAYOUT.to_header()
    trace.close()
    assert "formats" in error_of(client.get(f"/api/sessions/{first}/export.xml"), 404)
    assert error_of(client.get("/api/sessions/999/export.json"), 404)

    login(client)
    trace_path = stored["trace_path"]
    assert os.path.exists(trace_path)
    deleted = ok_json(send(client, "DELETE", f"/api/sessions/{first}"))["deleted"]
    assert deleted["sessions"] == 1 and deleted["traces"] == 1
    assert not os.path.exists(trace_path) and rig.service.store.session(first) is None
    assert error_of(client.get(f"/api/sessions/{first}"), 404)
    assert error_of(send(client, "DELETE", f"/api/sessions/{first}"), 404)
    assert [r["id"] for r in ok_json(client.get("/api/sessions"))["sessions"]] == [second]


def test_the_running_session_cannot_be_deleted(client, rig):
    login(client)
    ok_json(send(client, "POST", "/api/commands/start_session", {}))
    store = rig.service.store
    running = wait_for(lambda: [s["id"] for s in store.sessions() if s["status"] == "open"], "the open session")[0]
    assert "still running" in error_of(send(client, "DELETE", f"/api/sessions/{running}"), 409)
    assert ok_json(client.get(f"/api/sessions/{running}"))["status"] == "open"


def test_a_session_without_a_trace_has_no_trace_export(client, rig):
    sid = record_session(rig, client)
    path = rig.service.store.session(sid)["trace_path"]
    os.remove(path)                     # pruned by retention, say
    assert "no raw trace" in error_of(client.get(f"/api/sessions/{sid}/export.jsonl.gz"), 404)


# -- progress and the recommendation ------------------------------------------------------------

def test_progress_of_the_selected_athlete_and_of_another(client, rig):
    sid = record_session(rig, client)
    body = ok_json(client.get("/api/progress"))
    assert body["athlete"]["id"] == 1 and body["athlete"]["selected"] is True
    assert [s["id"] for s in body["sessions"]] == [sid]
    assert body["sessions"] == rig.service.store.progress(1)
    login(client)
    kim = ok_json(send(client, "POST", "/api/athletes", {"name": "Kim", "weight_kg": 60}), 201)["athlete"]
    assert ok_json(client.get(f"/api/progress?athlete_id={kim['id']}")) == {"athlete": kim, "sessions": []}
    assert error_of(client.get("/api/progress?athlete_id=4242"), 404)


def test_the_recommendation_changes_nothing(client, service):
    before = service.store.athlete(1)
    body = ok_json(client.get("/api/recommendation"))
    assert body["action"] in ("advance", "stay", "step_back", "rest")
    assert body["previous_level"] == before["level"]
    assert body["level_title"] == level(body["level"]).title
    assert body["drill"]["grip"] == level(body["level"]).grip and body["reason"]
    assert body["athlete"] == {"id": 1, "name": "Test"}
    assert service.store.athlete(1) == before
    assert ok_json(client.get("/api/recommendation")) == body


# -- commands --------------------------------------------------------------------------------------

def test_a_command_round_trip_starts_and_stops_a_session(client, service):
    assert ok_json(client.get("/api/status"))["state"]["session"]["active"] is False
    started = ok_json(send(client, "POST", "/api/commands/start_session", {}))
    assert started["ok"] is True and started["result"]["key"]
    state = wait_for(lambda: (s := ok_json(client.get("/api/status"))["state"])["session"]["active"] and s,
                     "the session in the live state")
    assert state["session"]["key"] == started["result"]["key"]
    stopped = ok_json(send(client, "POST", "/api/commands/stop_session"))    # no body: the same as {}
    assert stopped["result"]["key"] == started["result"]["key"]
    wait_for(lambda: not ok_json(client.get("/api/status"))["state"]["session"]["active"], "the session to end")
    assert ok_json(send(client, "POST", "/api/commands/stop_session", {}))["result"] is None


def test_select_athlete_by_name_or_id(client, service):
    login(client)
    kim = ok_json(send(client, "POST", "/api/athletes", {"name": "Kim", "weight_kg": 60}), 201)["athlete"]
    chosen = ok_json(send(client, "POST", "/api/commands/select_athlete", {"athlete": "  kim "}))["result"]
    assert chosen["id"] == kim["id"] and chosen["level"] == LEVELS[0].key
    wait_for(lambda: ok_json(client.get("/api/status"))["state"]["athlete"]["name"] == "Kim", "Kim in the live state")
    assert ok_json(client.get("/api/athletes"))["athletes"][1]["selected"] is True
    assert ok_json(send(client, "POST", "/api/commands/select_athlete", {"athlete": 1}))["result"]["name"] == "Test"
    # an id or name nobody has is not found; one that cannot be an id or name is a bad request
    assert "no athlete" in error_of(send(client, "POST", "/api/commands/select_athlete", {"athlete": 99}), 404)
    assert "no athlete" in error_of(send(client, "POST", "/api/commands/select_athlete", {"athlete": "Nobody"}), 404)
    assert "blank" in error_of(send(client, "POST", "/api/commands/select_athlete", {"athlete": "  "}), 400)
    assert "from 1" in error_of(send(client, "POST", "/api/commands/select_athlete", {"athlete": 0}), 400)


def test_set_drill(client, rig):
    rig.settle()
    drill = ok_json(send(client, "POST", "/api/commands/set_drill",
                         {"facing": "forward", "grip": "hover", "planned_flights": 6, "added_load_kg": 2.5}))
    assert drill["result"] == {"facing": "forward", "grip": "hover", "planned_flights": 6, "added_load_kg": 2.5}
    state = wait_for(lambda: (s := ok_json(client.get("/api/status"))["state"])["drill"]["grip"] == "hover" and s,
                     "the drill in the live state")
    assert state["drill"]["planned_flights"] == 6 and state["drill_chosen"] is True
    cleared = ok_json(send(client, "POST", "/api/commands/set_drill", {"planned_flights": None}))["result"]
    assert cleared["planned_flights"] is None and cleared["grip"] == "hover"
    assert "grip" in error_of(send(client, "POST", "/api/commands/set_drill", {"grip": "tight"}), 400)
    assert "planned flights" in error_of(send(client, "POST", "/api/commands/set_drill", {"planned_flights": 0}), 400)
    assert "added load" in error_of(send(client, "POST", "/api/commands/set_drill", {"added_load_kg": 80}), 400)
    assert "at least one" in error_of(send(client, "POST", "/api/commands/set_drill", {}), 400)
    assert service_drill(rig) == {"facing": "forward", "grip": "hover", "planned_flights": None, "added_load_kg": 2.5}


def service_drill(rig) -> dict:
    return rig.service.sessions.drill.as_dict()


def test_acknowledging_a_fall_that_is_not_there_is_a_conflict(client):
    assert "no suspected fall" in error_of(send(client, "POST", "/api/commands/acknowledge_fall", {}), 409)
    assert error_of(send(client, "POST", "/api/commands/acknowledge_fall", {"by": "panel"}), 409)


def test_a_suspected_fall_is_acknowledged_from_the_panel(client, rig):
    # up onto tread 2, then nobody on the stairs: a suspected fall after fall_wait_s
    rig.press("tread.1")
    wait_for(lambda: rig.service.live.snapshot()["occupied"], "the first step")
    rig.press("tread.2")
    wait_for(lambda: rig.service.live.snapshot()["occupied_treads"] >= 2, "the second step")
    rig.press("tread.1", False)
    rig.press("tread.2", False)
    alarm = wait_for(lambda: ok_json(client.get("/api/status"))["state"]["alarm"], "the fall alarm")
    assert alarm["type"] == "fall_suspected" and "at" not in alarm
    result = ok_json(send(client, "POST", "/api/commands/acknowledge_fall", {}))["result"]
    assert result["type"] == "fall_acknowledged" and result["by"] == "panel"
    wait_for(lambda: ok_json(client.get("/api/status"))["state"]["alarm"] is None, "the alarm to end")


# -- the rig check -------------------------------------------------------------------------------------

def tare(client):
    return send(client, "POST", "/api/calibration/rail.left.force/tare", {})


def test_the_rig_check_shows_channels_and_calibration(client, service):
    body = ok_json(client.get("/api/rigcheck"))
    assert set(body) == {"channels", "calibration", "walktest"} and body["walktest"] is None
    assert set(body["channels"]) == set(service.config.layout.channels())
    assert body["channels"]["rail.left.force"]["kind"] == "force"
    assert body["calibration"]["rail.left.force"]["scale_n"] == service.config.wiring["rail.left.force"].scale_n


def test_calibrating_over_the_api_needs_the_pin_and_measures(client, rig):
    assert error_of(tare(client), 401)
    login(client)
    # the tare takes the last second of unloaded readings: the sampler needs a moment after the start
    wait_for(lambda: tare(client).status_code == 200, "a tare with enough readings")
    zeroed = ok_json(client.get("/api/rigcheck"))["calibration"]["rail.left.force"]
    assert zeroed["source"] == "file" and zeroed["zero_offset"] == pytest.approx(0.02, abs=0.002)
    rig.sim.set_sample("rail.left.force", 10 * 9.80665)          # a 10 kg mass hangs from the rail
    scaled = wait_for(lambda: (r := send(client, "POST", "/api/calibration/rail.left.force/scale",
                                         {"known_kg": 10})).status_code == 200 and r.get_json(),
                      "a scale from a second of loaded readings")
    assert scaled["channel"] == "rail.left.force"
    assert scaled["scale_n"] == pytest.approx(rig.service.config.wiring["rail.left.force"].scale_n, rel=0.02)
    assert "not a force channel" in error_of(send(client, "POST", "/api/calibration/tread.1/tare", {}), 404)
    assert error_of(send(client, "POST", "/api/calibration/rail.left.force/scale", {"known_kg": 0}), 400)
    assert "known_kg" in error_of(send(client, "POST", "/api/calibration/rail.left.force/scale", {}), 400)
    assert "number" in error_of(send(client, "POST", "/api/calibration/rail.left.force/scale", {"known_kg": "5"}), 400)


def test_the_walk_test_needs_no_pin(client):
    assert "no walk test" in error_of(client.get("/api/walktest"), 404)
    assert ok_json(client.get("/api/rigcheck"))["walktest"] is None          # what the page reads: no 404
    started = ok_json(send(client, "POST", "/api/walktest/start", {}))
    assert ok_json(client.get("/api/rigcheck"))["walktest"]["steps"] == started["steps"]
    assert started["step"] == 0 and started["steps"] > 0 and started["prompt"]
    assert ok_json(client.get("/api/walktest"))["steps"] == started["steps"]
    assert "already running" in error_of(send(client, "POST", "/api/walktest/start", {}), 409)
    assert ok_json(send(client, "POST", "/api/walktest/skip", {}))["step"] == 1
    assert ok_json(send(client, "POST", "/api/walktest/cancel", {}))["cancelled"] is True
    assert error_of(send(client, "POST", "/api/walktest/cancel", {}), 409)
    assert ok_json(client.get("/api/walktest"))["cancelled"] is True


def test_without_a_rig_check_the_endpoints_say_so(client, service):
    service.rigcheck = None
    assert "rig check" in error_of(client.get("/api/rigcheck"), 503)
    assert "rig check" in error_of(send(client, "POST", "/api/walktest/start", {}), 503)


# -- malformed requests: always a 4xx with a sentence, never a 500 -----------------------------------------

BAD_BODIES = [
    pytest.param(b"{not json", "application/json", 400, id="bad-json"),
    pytest.param(b"\xff\xfe{}", "application/json", 400, id="not-utf8"),
    pytest.param(b"[1, 2]", "application/json", 400, id="array"),
    pytest.param(b'"start"', "application/json", 400, id="string"),
    pytest.param(b"null", "application/json", 400, id="null"),
    pytest.param(b'{"athlete": NaN}', "application/json", 400, id="nan"),
    pytest.param(b'{"athlete": 1}', "text/plain", 415, id="not-json-type"),
    pytest.param(b'{"athlete": 1, "extra": 2}', "application/json", 400, id="unknown-field"),
    pytest.param(b"{}", "application/json", 400, id="missing-field"),
    pytest.param(b'{"athlete": [1]}', "application/json", 400, id="wrong-type-list"),
    pytest.param(b'{"athlete": true}', "application/json", 400, id="wrong-type-bool"),
    pytest.param(b'{"athlete": null}', "application/json", 400, id="wrong-type-null"),
    pytest.param(b'{"athlete": "' + b"x" * 300 + b'"}', "application/json", 400, id="too-long"),
]


@pytest.mark.parametrize("body, content_type, status", BAD_BODIES)
def test_bad_bodies_are_refused(client, service, body, content_type, status):
    before = service.live.snapshot()["athlete"]
    response = client.post("/api/commands/select_athlete", data=body, content_type=content_type,
                           headers={"X-CSRF-Token": token(client)})
    error_of(response, status)
    assert service.live.snapshot()["athlete"] == before      # nothing changed


BAD_TYPES = [
    ("/api/commands/set_drill", {"facing": 3}),
    ("/api/commands/set_drill", {"grip": None}),
    ("/api/commands/set_drill", {"planned_flights": 2.5}),
    ("/api/commands/set_drill", {"planned_flights": "6"}),
    ("/api/commands/set_drill", {"added_load_kg": "heavy"}),
    ("/api/commands/set_drill", {"added_load_kg": True}),
    ("/api/commands/start_session", {"now": True}),
    ("/api/commands/acknowledge_fall", {"by": 7}),
    ("/api/login", {"pin": 4711}),
    ("/api/login", {}),
    ("/api/athletes", {"name": "Kim"}),
    ("/api/athletes", {"name": 5, "weight_kg": 60}),
    ("/api/athletes", {"name": "Kim", "weight_kg": "60"}),
    ("/api/athletes", {"name": "Kim", "weight_kg": 60, "level": "x"}),
]


@pytest.mark.parametrize("url, body", BAD_TYPES, ids=[f"{u.rsplit('/', 1)[1]}-{list(b)}" for u, b in BAD_TYPES])
def test_wrong_types_and_fields_are_400(client, url, body):
    login(client)
    error_of(send(client, "POST", url, body), 400)


@pytest.mark.parametrize("method, url, status", [
    ("POST", "/api/commands/jump", 404),
    ("POST", "/api/commands/", 404),
    ("GET", "/api/commands/start_session", 405),
    ("PUT", "/api/athletes/1", 405),
    ("DELETE", "/api/status", 405),
    ("GET", "/api/sessions/0", 404),
    ("GET", "/api/sessions/-1", 404),
    ("GET", "/api/sessions/abc", 404),
    ("GET", "/api/sessions/99999999999999999999999", 404),
    ("GET", "/api/sessions/123456789012345678", 404),
    ("PATCH", "/api/athletes/99999999999999999999999", 404),
    ("GET", "/api/sessions/5/export.json", 404),
    ("GET", "/api/sessions?limit=0", 400),
    ("GET", "/api/sessions?limit=100000", 400),
    ("GET", "/api/sessions?limit=ten", 400),
    ("GET", "/api/sessions?before_id=-3", 400),
    ("GET", "/api/sessions?athlete_id=1e3", 400),
    ("GET", "/api/progress?athlete_id=x", 400),
    ("GET", "/api/progress?athlete_id=99999999999999999999999", 400),
    ("GET", "/api/nowhere", 404),
    ("POST", "/api/nowhere", 404),
    ("GET", "/events?channels=maybe", 400),
])
def test_unknown_things_and_wrong_methods(client, method, url, status):
    login(client)
    response = send(client, method, url) if method != "GET" else client.get(url)
    error_of(response, status)
    if status == 405:
        assert response.headers["Allow"] and method in response.get_json()["error"]


@pytest.mark.parametrize("url", ["/api/commands/start_session", "/api/login", "/api/athletes", "/api/logout"])
def test_a_body_over_64_kb_is_413(client, service, url):
    body = json.dumps({"pad": "x" * (70 * 1024)})
    error_of(send(client, "POST", url, body), 413)
    assert service.live.snapshot()["session"]["active"] is False


def test_a_bug_is_a_logged_500_with_json(app, client, caplog):
    def broken():
        raise RuntimeError("a bug in a handler")
    app.add_url_rule("/api/broken-on-purpose", "broken", broken)
    with caplog.at_level(logging.ERROR):
        message = error_of(client.get("/api/broken-on-purpose"), 500)
    assert "log" in message and "a bug in a handler" not in message
    assert any("a bug in a handler" in (r.exc_text or "") + r.getMessage() for r in caplog.records)


def test_the_history_off_is_503_not_500(tmp_path):
    from tests.test_web_support import Rig, make_config
    import dataclasses
    from web import create_app
    config = make_config(str(tmp_path / "data"))
    r = Rig(dataclasses.replace(config, history=dataclasses.replace(config.history, enabled=False)))
    try:
        c = create_app(r.service.config, r.service).test_client()
        history = ok_json(c.get("/api/status"))["history"]
        assert history["available"] is False and "[history] enabled = false" in history["error"]
        assert ok_json(c.get("/api/athletes"))["athletes"][0]["name"] == "Test"
        assert "history" in error_of(c.get("/api/sessions"), 503)
        assert error_of(c.get("/api/progress"), 503)
        assert error_of(c.get("/api/recommendation"), 503)
        assert c.get("/history/1").status_code == 404
        start = send(c, "POST", "/api/commands/start_session", {})
        assert start.status_code in (200, 409)      # counting live goes on either way
    finally:
        r.close()


def test_status_shows_the_mqtt_link_and_never_its_password(tmp_path, mqtt_broker):
    import dataclasses
    from tests.test_web_support import MQTT_PASSWORD, Rig, make_config
    from web import create_app
    config = make_config(str(tmp_path / "data"))
    # its own rig id: the broker is shared by the whole test session
    config = dataclasses.replace(config, rig_id="web-api-status",
                                 mqtt=dataclasses.replace(config.mqtt, enabled=True, host="127.0.0.1",
                                                          port=mqtt_broker.port))
    r = Rig(config)
    try:
        c = create_app(r.service.config, r.service).test_client()
        mqtt = wait_for(lambda: (m := ok_json(c.get("/api/status"))["mqtt"])["connected"] and m, "the broker link")
        assert mqtt == {"connected": True, "queued": mqtt["queued"], "dropped": 0}
        assert isinstance(mqtt["queued"], int) and mqtt["queued"] >= 0
        assert MQTT_PASSWORD not in c.get("/api/status").get_data(as_text=True)
    finally:
        r.close()


# -- the documentation covers the API, and nothing more --------------------------------------------------

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")


def api_routes(app) -> set[tuple[str, str]]:
    """(method, path in OpenAPI's spelling) of every API route of the app."""
    import re
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api", "/events", "/healthz")):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), path))
    return routes


def openapi_routes() -> set[tuple[str, str]]:
    """(method, path) of docs/openapi.yaml's paths, read by indentation (no YAML library needed)."""
    import re
    routes, path, in_paths = set(), None, False
    with open(os.path.join(DOCS, "openapi.yaml"), encoding="utf-8") as f:
        for line in f:
            if re.match(r"^\S", line):
                in_paths = line.startswith("paths:")
            elif in_paths and (m := re.match(r"^  (/\S*):\s*$", line)):
                path = m.group(1)
            elif in_paths and path and (m := re.match(r"^    (get|post|put|patch|delete):\s*$", line)):
                routes.add((m.group(1), path))
    return routes


def test_openapi_describes_exactly_the_routes(app):
    from web.api import COMMANDS
    routes = api_routes(app)
    # the commands share one route; the spec gives each its own path, with its own body
    routes.remove(("post", "/api/commands/{name}"))
    routes |= {("post", f"/api/commands/{name}") for name in COMMANDS}
    assert openapi_routes() == routes


def test_api_md_documents_every_route(app):
    with open(os.path.join(DOCS, "api.md"), encoding="utf-8") as f:
        text = f.read()
    for method, path in sorted(api_routes(app)):
        spelled = path.replace("{athlete_id}", "<id>").replace("{session_id}", "<id>").replace(
            "{fmt}", "<fmt>").replace("{name}", "<name>").replace("{channel}", "<channel>")
        assert f"{method.upper()} {spelled}" in text, f"docs/api.md does not document {method.upper()} {spelled}"
