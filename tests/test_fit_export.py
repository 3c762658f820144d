"""FIT exports (rig/fit), decoded with Garmin's own FIT SDK for Python (``garmin-fit-sdk``).

The main session is a real one: a simulated athlete through the whole
service (``stairrig demo``) into a real SQLite history, exported by the
command line as a user would; the panel's route is tried on a real service
too. Every message of the file is checked against the session the history
holds: nothing here is a hard-coded figure.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import subprocess
import sys

import pytest
from garmin_fit_sdk import Decoder, Stream
from garmin_fit_sdk.crc_calculator import CrcCalculator

from rig.fit import session_fit
from rig.fit.encoder import FitWriter, crc16
from tests.test_web_browser import CHROMIUM, PanelRig, Tab, assert_clean, browser  # noqa: F401 (a fixture)
from tests.test_web_support import record_session, send, wait_for

pytest_plugins = ("tests.test_web_support",)   # its fixtures: rig, service, app, client

LOCAL_TZ = "STR-2"                  # POSIX: two hours ahead of UTC (no tz database needed)
LOCAL_OFFSET_S = 2 * 3600
FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.timezone.utc)
MESSAGES = {"file_id_mesgs", "device_info_mesgs", "event_mesgs", "record_mesgs", "lap_mesgs", "session_mesgs",
            "activity_mesgs"}


def run(*args, cwd=None, env=None, timeout=180):
    return subprocess.run([sys.executable, "-m", "rig", *args], capture_output=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, "TZ": LOCAL_TZ, **(env or {})})


def decode(body: bytes) -> dict:
    """The file's messages by the SDK, after its own checks: a FIT file, both CRCs right, no error."""
    assert Decoder(Stream.from_byte_array(bytearray(body))).is_fit()
    assert Decoder(Stream.from_byte_array(bytearray(body))).check_integrity()
    messages, errors = Decoder(Stream.from_byte_array(bytearray(body))).read()
    assert errors == []
    return messages


def whole_s(t: dt.datetime) -> dt.datetime:
    """A time as FIT keeps it: whole seconds."""
    return FIT_EPOCH + dt.timedelta(seconds=math.floor((t - FIT_EPOCH).total_seconds()))


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A history with one real session: a demo athlete, backward up and down, with flights, a stall and a grab."""
    d = tmp_path_factory.mktemp("data")
    done = run("demo", "--duration", "90", "--speed", "20", "--data-dir", str(d), "--seed", "3", "--port", "0")
    assert done.returncode == 0, done.stderr.decode()
    from rig.history import HistoryStore
    with HistoryStore.open(str(d), exclusive=False) as store:
        session = store.sessions()[0]
        session = store.session(session["id"])
    assert session["status"] == "closed" and session["flights"] and session["steps"] > 0
    return d, session


@pytest.fixture(scope="module")
def exported(history, tmp_path_factory):
    """The session exported by ``stairrig sessions export ID --format fit`` into the current directory."""
    data, session = history
    where = tmp_path_factory.mktemp("out")
    done = run("sessions", "export", str(session["id"]), "--format", "fit", "--data-dir", str(data), cwd=where)
    assert done.returncode == 0, done.stderr.decode()
    start = dt.datetime.fromisoformat(session["started_at"])
    name = f"stairrig-{start + dt.timedelta(seconds=LOCAL_OFFSET_S):%Y-%m-%d}-{session['id']}.fit"
    assert [p.name for p in where.iterdir()] == [name]
    assert name in done.stdout.decode() and "Garmin Connect" in done.stdout.decode()
    return (where / name).read_bytes()


def test_every_message_of_the_exported_file_says_what_the_session_did(history, exported):
    _, s = history
    m = decode(exported)
    assert set(m) == MESSAGES
    start = dt.datetime.fromisoformat(s["started_at"])
    end = start + dt.timedelta(seconds=s["duration_s"])
    per_step_m = s["elevation_gain_m"] / s["steps_up"]

    (file_id,) = m["file_id_mesgs"]
    assert file_id["type"] == "activity" and file_id["manufacturer"] == "development"
    assert file_id["product"] == 1 and file_id["serial_number"] > 0 and file_id["product_name"] == "stairrig"
    assert file_id["time_created"] == whole_s(start)
    (device,) = m["device_info_mesgs"]
    assert device["device_index"] == "creator" and device["manufacturer"] == "development"
    assert device["serial_number"] == file_id["serial_number"] and device["product_name"] == "stairrig"

    timer = [(e["event"], e["event_type"], e["timestamp"]) for e in m["event_mesgs"]]
    assert timer == [("timer", "start", whole_s(start)), ("timer", "stop_all", whole_s(end))]

    (session,) = m["session_mesgs"]
    assert (session["sport"], session["sub_sport"]) == ("fitness_equipment", "stair_climbing")
    assert session["start_time"] == whole_s(start) and session["timestamp"] == whole_s(end)
    assert session["total_elapsed_time"] == pytest.approx(s["duration_s"], abs=0.001)
    assert session["total_timer_time"] == pytest.approx(s["duration_s"], abs=0.001)
    assert session["total_moving_time"] == pytest.approx(s["active_s"], abs=0.001)
    assert session["total_cycles"] == s["steps"]                            # the steps
    assert session["total_ascent"] + session["total_fractional_ascent"] == pytest.approx(s["elevation_gain_m"],
                                                                                          abs=0.005)
    assert session["total_descent"] + session["total_fractional_descent"] == pytest.approx(
        per_step_m * s["steps_down"], abs=0.005)
    assert session["total_calories"] == round(s["energy_kcal"]) and s["energy_kcal"] > 0
    assert session["avg_cadence"] + session["avg_fractional_cadence"] == pytest.approx(s["cadence_spm"], abs=1 / 128)
    assert session["max_cadence"] == math.floor(max(f["cadence_spm"] for f in s["flights"]))
    assert session["total_distance"] == 0
    assert session["num_laps"] == len(s["flights"]) == s["ascents"] + s["descents"]
    assert session["first_lap_index"] == 0

    laps = m["lap_mesgs"]
    assert [lap["message_index"] for lap in laps] == list(range(len(s["flights"])))
    for lap, flight in zip(laps, s["flights"]):
        assert lap["start_time"] == whole_s(start + dt.timedelta(seconds=flight["t_start_s"]))
        assert lap["timestamp"] == whole_s(start + dt.timedelta(seconds=flight["t_end_s"]))
        assert lap["total_elapsed_time"] == pytest.approx(flight["duration_s"], abs=0.001)
        assert lap["total_timer_time"] == pytest.approx(flight["duration_s"], abs=0.001)
        assert lap["total_cycles"] == flight["steps"]
        assert lap["avg_cadence"] + lap["avg_fractional_cadence"] == pytest.approx(flight["cadence_spm"], abs=1 / 128)
        height = flight["steps"] * per_step_m
        up = lap["total_ascent"] + lap["total_fractional_ascent"]
        down = lap["total_descent"] + lap["total_fractional_descent"]
        assert (up, down) == pytest.approx((height, 0) if flight["direction"] == "up" else (0, height), abs=0.005)
        assert (lap["sport"], lap["sub_sport"], lap["event"]) == ("fitness_equipment", "stair_climbing", "lap")
    climbed = sum(lap["total_ascent"] + lap["total_fractional_ascent"] for lap in laps)
    assert climbed == pytest.approx(per_step_m * sum(f["steps"] for f in s["flights"] if f["direction"] == "up"),
                                    abs=0.01)

    records = m["record_mesgs"]
    times = [r["timestamp"] for r in records]
    assert times == sorted(times) and times[0] == whole_s(start) and times[-1] == whole_s(end)
    assert len(records) == 2 + 2 * len(s["flights"])      # the start, each flight's start and end, the end
    steps = [r["total_cycles"] for r in records]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == s["steps"]
    assert all(r["distance"] == 0 for r in records)
    assert max(r["altitude"] for r in records) == pytest.approx(
        max(f["steps"] for f in s["flights"]) * per_step_m, abs=0.2)      # altitude is kept to 0.2 m
    assert {r["cadence"] for r in records if "cadence" in r} == {math.floor(f["cadence_spm"]) for f in s["flights"]}

    (activity,) = m["activity_mesgs"]
    assert activity["num_sessions"] == 1 and activity["type"] == "manual" and activity["timestamp"] == whole_s(end)
    assert activity["total_timer_time"] == pytest.approx(s["duration_s"], abs=0.001)
    assert activity["local_timestamp"] == (whole_s(end) - FIT_EPOCH).total_seconds() + LOCAL_OFFSET_S


def test_a_damaged_file_fails_the_sdks_integrity_check(exported):
    """The CRCs are real: one byte changed anywhere is found."""
    for where in (5, len(exported) // 2, len(exported) - 3):
        damaged = bytearray(exported)
        damaged[where] ^= 0x10
        assert not Decoder(Stream.from_byte_array(damaged)).check_integrity()


def test_the_crc_is_the_sdks():
    for data in (b"", b".FIT", bytes(range(256)), b"stairrig" * 37):
        assert crc16(data) == CrcCalculator.calculate_crc(bytearray(data), 0, len(data))


def test_the_command_line_writes_where_asked_and_says_what_is_wrong(history, tmp_path):
    data, session = history
    sid = str(session["id"])
    into_dir = run("sessions", "export", sid, "--format", "fit", "--out", str(tmp_path), "--data-dir", str(data))
    assert into_dir.returncode == 0, into_dir.stderr.decode()
    (written,) = tmp_path.glob("stairrig-*.fit")
    piped = run("sessions", "export", sid, "--format", "fit", "--out", "-", "--data-dir", str(data))
    assert piped.returncode == 0 and piped.stdout == written.read_bytes()
    decode(piped.stdout)

    keep = tmp_path / "keep.fit"
    keep.write_bytes(b"precious")
    for args, words in (
        ((), "needs a session id"),
        (("999",), "no session 999"),
        (("999", "--out", str(keep)), "no session 999"),
        ((sid, "--out", str(tmp_path / "no" / "such" / "x.fit")), "cannot write"),
        ((sid, "--athlete", "Nobody"), "no athlete named"),
    ):
        done = run("sessions", "export", *args, "--format", "fit", "--data-dir", str(data))
        err = done.stderr.decode()
        assert done.returncode == 1 and words in err and "Traceback" not in err, err
    assert keep.read_bytes() == b"precious"
    assert not list((tmp_path).glob("*.tmp-*"))


def test_the_panel_serves_an_ended_session_as_a_fit_attachment_and_refuses_a_running_one(client, rig):
    sid = record_session(rig, client)
    stored = rig.service.store.session(sid)
    response = client.get(f"/api/sessions/{sid}/export.fit")
    assert response.status_code == 200 and response.mimetype == "application/vnd.ant.fit"
    local = dt.datetime.fromisoformat(stored["started_at"]).astimezone()
    assert response.headers["Content-Disposition"] == f'attachment; filename="stairrig-{local:%Y-%m-%d}-{sid}.fit"'
    m = decode(response.get_data())
    (session,) = m["session_mesgs"]
    assert session["total_cycles"] == stored["steps"] >= 1
    assert session["total_elapsed_time"] == pytest.approx(stored["duration_s"], abs=0.001)
    assert len(m["lap_mesgs"]) == max(1, len(stored["flights"]))

    assert send(client, "POST", "/api/commands/start_session", {}).status_code == 200
    store = rig.service.store
    running = wait_for(lambda: [s["id"] for s in store.sessions() if s["status"] == "open"], "the open session")[0]
    refused = client.get(f"/api/sessions/{running}/export.fit")
    assert refused.status_code == 409 and "still running" in refused.get_json()["error"]
    missing = client.get("/api/sessions/999/export.fit")
    assert missing.status_code == 404 and "no session 999" in missing.get_json()["error"]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_the_session_page_downloads_the_fit_file(history, browser, tmp_path):  # noqa: F811
    """In a real browser on the panel over the demo's history: the button, its file name, its file."""
    data, s = history
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    rig = PanelRig(str(copy))
    tab = Tab(browser, rig.url)
    try:
        page = tab.goto(f"/history/{s['id']}")
        button = page.get_by_role("link", name="Export for Garmin/Strava (FIT)")
        button.wait_for(timeout=10_000)
        with page.expect_download(timeout=10_000) as download:
            button.click()
        local = dt.datetime.fromisoformat(s["started_at"]).astimezone()
        assert download.value.suggested_filename == f"stairrig-{local:%Y-%m-%d}-{s['id']}.fit"
        m = decode(open(download.value.path(), "rb").read())
        assert m["session_mesgs"][0]["total_cycles"] == s["steps"] and len(m["lap_mesgs"]) == len(s["flights"])
        assert_clean(tab)
    finally:
        tab.close()
        rig.stop()


# -- sessions the demo does not make -------------------------------------------------------------

def stepper_session(**changes) -> dict:
    """A step machine's session: steps and height, no flights (a stepper has none)."""
    return {"id": 4, "status": "closed", "started_at": "2026-03-01T09:12:44.250+00:00", "duration_s": 305.5,
            "steps": 240, "steps_up": 240, "steps_down": 0, "ascents": 0, "descents": 0,
            "elevation_gain_m": 40.8, "active_s": 290.0, "cadence_spm": 49.6, "energy_kcal": 19.4,
            "flights": [], "events": [], **changes}


def test_a_session_without_flights_is_one_lap():
    m = decode(session_fit(stepper_session()))
    (lap,) = m["lap_mesgs"]
    (session,) = m["session_mesgs"]
    assert lap["total_elapsed_time"] == session["total_elapsed_time"] == 305.5
    assert lap["total_cycles"] == session["total_cycles"] == 240 and session["num_laps"] == 1
    assert lap["total_ascent"] + lap["total_fractional_ascent"] == pytest.approx(40.8)
    assert session["total_descent"] == 0 and session["total_calories"] == 19


def test_many_flights_still_decode():
    flights = [{"idx": i + 1, "direction": "up" if i % 2 == 0 else "down", "t_start_s": 10.0 * i + 1,
                "t_end_s": 10.0 * i + 6, "duration_s": 5.0, "steps": 5, "cadence_spm": None if i % 3 else 60.0}
               for i in range(100)]
    m = decode(session_fit(stepper_session(flights=flights, duration_s=1010.0, steps=500, steps_up=250,
                                           steps_down=250, elevation_gain_m=255.0)))
    assert len(m["lap_mesgs"]) == 100 and m["session_mesgs"][0]["num_laps"] == 100
    assert [r["total_cycles"] for r in m["record_mesgs"]][-1] == 500
    assert [lap["total_cycles"] for lap in m["lap_mesgs"]] == [5] * 100


def test_more_kinds_of_message_than_local_types_are_defined_again_when_needed():
    """FIT has 16 local message types: a 17th kind of message takes one back, and its old kind is
    defined again when it comes back. 20 kinds of record (each its own set of fields), twice round."""
    w = FitWriter()
    fields = ["altitude", "cadence", "distance", "total_cycles", "timestamp"]
    kinds = [[name for bit, name in enumerate(fields) if k >> bit & 1] for k in range(1, 21)]
    sent = []
    for i in range(40):
        values = {name: 1_100_000_000 + i if name == "timestamp" else i + 1 for name in kinds[(i * 7) % 20]}
        w.message("record", values)
        sent.append(values)
    records = decode(w.to_bytes())["record_mesgs"]
    assert len(records) == 40
    for got, values in zip(records, sent):
        assert got.get("total_cycles") == values.get("total_cycles")
        assert got.get("cadence") == values.get("cadence")


@pytest.mark.parametrize("changes, words", [
    ({"status": "open"}, "still running"),
    ({"started_at": "yesterday"}, "started_at"),
    ({"duration_s": None}, "duration_s"),
    ({"steps": -1}, "steps"),
    ({"flights": [{"direction": "sideways", "t_start_s": 1, "t_end_s": 2, "steps": 1}]}, "direction"),
    ({"flights": [{"direction": "up", "t_start_s": 5, "t_end_s": 2, "steps": 1}]}, "t_end_s"),
    ({"energy_kcal": 1e9}, "FIT session total_calories"),
])
def test_a_session_that_cannot_be_a_fit_file_is_a_clear_error(changes, words):
    with pytest.raises(ValueError, match=words):
        session_fit(stepper_session(**changes))


def test_a_value_beyond_its_base_type_is_refused_by_name():
    w = FitWriter()
    with pytest.raises(ValueError, match="FIT lap total_cycles: 4294967296 is outside what a uint32 holds"):
        w.message("lap", {"total_cycles": 2 ** 32})
    with pytest.raises(ValueError, match="FIT lap has no field 'steps'"):
        w.message("lap", {"steps": 3})
