"""Stair tests over the API, on a real service with a simulated rig (3 treads, rails): started behind the
PIN, run in the engine from the treads, kept in the history as a test and never as a session, and read
back as a trend with the MDC and the words for a real change."""

from __future__ import annotations

import time

from tests.test_web_support import LAYOUT, login, send, wait_for

pytest_plugins = ("tests.test_web_support",)   # its fixtures: rig, service, app, client


def athlete_id(service) -> int:
    return service.store.athletes()[0]["id"]


def start(client, service, kind="stair_climb_power", **extra):
    return send(client, "POST", "/api/commands/start_stair_test",
                {"kind": kind, "athlete_id": athlete_id(service), **extra})


def live_test(service):
    return service.live.snapshot()["stair_test"]


def climb(rig, treads=LAYOUT.treads, dwell_s=0.35):
    """Up the flight one tread at a time, each foot down for ``dwell_s`` before the next."""
    for i in range(1, treads + 1):
        rig.press(f"tread.{i}")
        time.sleep(dwell_s)
        if i > 1:
            rig.press(f"tread.{i - 1}", False)
    time.sleep(0.3)
    rig.press(f"tread.{treads}", False)


def kept(service, n):
    def ready():
        service.store.flush()
        tests = service.store.stair_tests(athlete_id(service))
        return tests if len(tests) >= n else None
    return wait_for(ready, f"{n} stair tests in the history")


def test_starting_a_test_needs_the_pin_and_good_fields(client, service, rig):
    rig.settle()
    assert start(client, service).status_code == 401
    login(client)
    for body, field in (({"kind": "six_minute_walk", "athlete_id": 1}, "kind"),
                        ({"kind": "stair_climb_power", "athlete_id": "one"}, "athlete_id"),
                        ({"kind": "stair_climb_power", "athlete_id": 1, "added_load_kg": -2}, "load"),
                        ({"kind": "stair_climb_power", "athlete_id": 1, "rails_allowed": "no"}, "rails_allowed"),
                        ({"kind": "stair_climb_power"}, "athlete_id")):
        response = send(client, "POST", "/api/commands/start_stair_test", body)
        assert response.status_code == 400 and field in response.get_json()["error"], (body, response.get_json())
    response = send(client, "POST", "/api/commands/start_stair_test", {"kind": "stair_climb_power", "athlete_id": 999})
    assert response.status_code == 404
    assert live_test(service) is None


def test_a_power_test_runs_from_the_treads_and_is_kept_as_a_test_not_a_session(client, service, rig):
    rig.settle()
    login(client)
    response = start(client, service, added_load_kg=5)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["result"]["state"] == "countdown"
    # no second test, and no session, while it runs
    assert start(client, service).status_code == 409
    assert send(client, "POST", "/api/commands/start_session", {}).status_code == 409
    wait_for(lambda: live_test(service)["state"] == "running", "go")
    climb(rig)
    state = wait_for(lambda: live_test(service)["state"] in ("done", "aborted", "invalid") and live_test(service),
                     "the test's end")
    assert state["state"] == "done", state
    assert state["steps"] == LAYOUT.treads and state["rise_m"] == round((LAYOUT.treads - 1) * LAYOUT.riser_m, 4)
    weight = service.store.athletes()[0]["weight_kg"]
    expected = (weight + 5) * 9.80665 * state["rise_m"] / state["duration_s"]
    assert abs(state["power_w"] - expected) < 0.2
    (row,) = kept(service, 1)
    assert row["status"] == "done" and row["kind"] == "stair_climb_power" and row["added_load_kg"] == 5.0
    assert row["power_w"] == state["power_w"] and row["rails_used"] is False
    time.sleep(0.5)
    service.store.flush()
    assert service.store.sessions() == []        # the climb started no training session

    body = client.get(f"/api/athletes/{athlete_id(service)}/stair-tests").get_json()
    assert [t["id"] for t in body["tests"]] == [row["id"]]
    assert body["tests"][0]["comparison"]["change"] is None
    assert body["references"]["stair_climb_power"]["mdc"] == 44.0
    assert "no published norm" in body["references"]["stair_climb_power"]["norm_text"]
    assert body["flag"] is None


def test_a_cancelled_test_is_kept_as_aborted(client, service, rig):
    rig.settle()
    login(client)
    assert start(client, service, kind="timed_stair_climb").status_code == 200
    response = send(client, "POST", "/api/commands/cancel_stair_test", {})
    assert response.status_code == 200 and response.get_json()["result"]["state"] == "aborted"
    (row,) = kept(service, 1)
    assert row["status"] == "aborted" and row["note"] == "cancelled" and row["duration_s"] is None
    # nothing to cancel now
    response = send(client, "POST", "/api/commands/cancel_stair_test", {})
    assert response.status_code == 200 and response.get_json()["result"] is None


def test_no_test_during_a_session(client, service, rig):
    rig.settle()
    login(client)
    assert send(client, "POST", "/api/commands/start_session", {}).status_code == 200
    response = start(client, service)
    assert response.status_code == 409 and "session" in response.get_json()["error"]
    send(client, "POST", "/api/commands/stop_session", {})


def test_the_trend_compares_each_test_with_the_mdc_and_flags_a_drop(client, service):
    store = service.store
    aid = athlete_id(service)
    for day, power in ((1, 300.0), (2, 320.0), (3, 260.0)):
        store.add_stair_test(athlete_id=aid, kind="stair_climb_power", started_at=f"2026-03-0{day}T10:00:00",
                             status="done", duration_s=1.5, steps=3, rise_m=0.34, power_w=power,
                             power_w_per_kg=power / 60, body_mass_kg=60.0)
    store.flush()
    body = client.get(f"/api/athletes/{aid}/stair-tests?kind=stair_climb_power").get_json()
    texts = [t["comparison"]["text"] for t in body["tests"]]
    assert "nothing to compare" in texts[0]
    assert texts[1].startswith("within the MDC") and "no real change" in texts[1]      # +20 W < 44 W
    assert texts[2].startswith("less power than the last test by more than the MDC")   # -60 W
    assert body["flag"] and "60 W" in body["flag"]
    dated = client.get(f"/api/athletes/{aid}/stair-tests?since=2026-03-02&until=2026-03-02").get_json()
    assert [t["power_w"] for t in dated["tests"]] == [320.0]


def test_bad_queries_are_400_naming_the_field_and_an_unknown_athlete_404(client, service):
    aid = athlete_id(service)
    for query, field in (("kind=walk", "kind"), ("since=yesterday", "since"), ("until=2026-13-01", "until")):
        response = client.get(f"/api/athletes/{aid}/stair-tests?{query}")
        assert response.status_code == 400 and field in response.get_json()["error"]
    assert client.get("/api/athletes/999/stair-tests").status_code == 404


def test_a_stair_test_and_the_walk_test_wait_for_each_other(client, service, rig):
    import pytest
    rig.settle()
    login(client)
    assert start(client, service).status_code == 200
    with pytest.raises(ValueError, match="stair test"):
        service.engine.command("set_checking", on=True).result(5)
    send(client, "POST", "/api/commands/cancel_stair_test", {})
    service.engine.command("set_checking", on=True).result(5)
    response = start(client, service)
    assert response.status_code == 409 and "walk test" in response.get_json()["error"]
    service.engine.command("set_checking", on=False).result(5)


def test_a_power_drop_beyond_the_mdc_is_among_the_recommendations_flags(client, service):
    store = service.store
    aid = store.selected_athlete()["id"]
    assert not any("stair climb power" in f for f in client.get("/api/recommendation").get_json()["flags"])
    for day, power in ((1, 300.0), (2, 240.0)):
        store.add_stair_test(athlete_id=aid, kind="stair_climb_power", started_at=f"2026-03-0{day}T10:00:00",
                             status="done", duration_s=1.5, steps=3, rise_m=0.34, power_w=power,
                             power_w_per_kg=power / 60, body_mass_kg=60.0)
    store.flush()
    flags = client.get("/api/recommendation").get_json()["flags"]
    assert any(f.startswith("stair climb power fell by 60 W") for f in flags), flags
