"""The history's stair tests (schema version 3): written through the writer thread, read per athlete
oldest first with inclusive since/until, never mixed with the training sessions; a version-2
history migrates and keeps its sessions; a full disk keeps a result waiting, as a session's end."""

from __future__ import annotations

import os
import sqlite3
import textwrap

import pytest

from rig.history import HistoryStore, schema
from tests.test_history_full_disk import run_on_small_disk


@pytest.fixture
def store(tmp_path):
    s = HistoryStore.open(str(tmp_path / "data"))
    yield s
    s.close()


def result(athlete_id, started_at="2026-03-01T10:00:00+00:00", **over):
    values = dict(athlete_id=athlete_id, kind="stair_climb_power", started_at=started_at, status="done",
                  duration_s=2.5, steps=5, rise_m=0.9, power_w=211.9, power_w_per_kg=3.53,
                  body_mass_kg=60.0, added_load_kg=0.0, rails_used=False, note=None,
                  detail={"trials": [2.5]})
    values.update(over)
    return values


def test_a_test_is_stored_and_read_back_with_every_field(store):
    ann = store.add_athlete("Ann", 60.0)
    store.add_stair_test(**result(ann, rails_used=True, status="invalid", note="a rail was used"))
    store.flush()
    (row,) = store.stair_tests(ann)
    assert row["athlete_id"] == ann and row["kind"] == "stair_climb_power"
    assert row["started_at"] == "2026-03-01T10:00:00+00:00"
    assert (row["duration_s"], row["steps"], row["rise_m"]) == (2.5, 5, 0.9)
    assert (row["power_w"], row["power_w_per_kg"], row["body_mass_kg"], row["added_load_kg"]) == \
        (211.9, 3.53, 60.0, 0.0)
    assert row["rails_used"] is True and row["status"] == "invalid" and row["note"] == "a rail was used"
    assert row["detail"] == {"trials": [2.5]}
    assert store.stair_test(row["id"]) == row
    assert store.stair_test(row["id"] + 1) is None


def test_tests_are_per_athlete_oldest_first_and_never_sessions(store):
    ann, bob = store.add_athlete("Ann", 60.0), store.add_athlete("Bob", 80.0)
    store.add_stair_test(**result(ann, "2026-03-03T09:00:00+00:00", duration_s=3.0))
    store.add_stair_test(**result(ann, "2026-03-01T09:00:00+00:00", duration_s=4.0))
    store.add_stair_test(**result(bob, "2026-03-02T09:00:00+00:00", kind="timed_stair_climb",
                                  rails_used=None, power_w=None, power_w_per_kg=None))
    store.flush()
    assert [r["duration_s"] for r in store.stair_tests(ann)] == [4.0, 3.0]
    (b,) = store.stair_tests(bob)
    assert b["kind"] == "timed_stair_climb" and b["rails_used"] is None and b["power_w"] is None
    assert store.sessions() == [] and store.progress(ann) == []
    assert store.step_totals("2026-01-01T00:00:00+00:00") == {"total": 0, "since": 0}


def test_since_and_until_are_inclusive_and_a_date_is_its_whole_day(store):
    ann = store.add_athlete("Ann", 60.0)
    for t in ("2026-03-01T00:00:00+00:00", "2026-03-01T23:59:59+00:00", "2026-03-02T12:00:00+00:00",
              "2026-03-03T00:00:00+00:00"):
        store.add_stair_test(**result(ann, t))
    store.flush()

    def starts(**kw):
        return [r["started_at"][:19] for r in store.stair_tests(ann, **kw)]
    assert starts(since="2026-03-02") == ["2026-03-02T12:00:00", "2026-03-03T00:00:00"]
    assert starts(until="2026-03-01") == ["2026-03-01T00:00:00", "2026-03-01T23:59:59"]
    assert starts(since="2026-03-01T23:59:59Z", until="2026-03-02T12:00:00+00:00") == \
        ["2026-03-01T23:59:59", "2026-03-02T12:00:00"]
    # another zone is turned into UTC: 13:00 in +01:00 is 12:00 UTC
    assert starts(since="2026-03-02T13:00:00+01:00", until="2026-03-02T13:00:00+01:00") == \
        ["2026-03-02T12:00:00"]
    with pytest.raises(ValueError, match="since"):
        store.stair_tests(ann, since="last tuesday")


@pytest.mark.parametrize("field, value", [
    ("kind", "six_minute_walk"), ("status", "open"), ("duration_s", -1.0), ("steps", 2.5),
    ("power_w", float("nan")), ("rails_used", "yes"), ("started_at", "yesterday"), ("athlete_id", 99),
    ("body_mass_kg", "60"),
])
def test_a_bad_value_is_refused_naming_the_field_and_nothing_is_written(store, field, value):
    ann = store.add_athlete("Ann", 60.0)
    with pytest.raises(ValueError, match=field.split("_")[0] if field != "athlete_id" else "athlete"):
        store.add_stair_test(**{**result(ann), field: value})
    store.flush()
    assert store.stair_tests(ann) == []


def test_deleting_an_athlete_deletes_their_tests(store):
    ann, bob = store.add_athlete("Ann", 60.0), store.add_athlete("Bob", 80.0)
    store.add_stair_test(**result(ann))
    store.add_stair_test(**result(bob))
    store.flush()
    store.delete_athlete(ann)
    assert store.stair_tests(ann) == [] and len(store.stair_tests(bob)) == 1


def test_a_version_2_history_migrates_and_keeps_its_sessions(tmp_path):
    path = os.path.join(str(tmp_path), schema.FILENAME)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    conn.executescript(schema.MIGRATIONS[0])
    conn.executescript(schema.MIGRATIONS[1])
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO athletes (name, weight_kg, created_at) VALUES ('Ann', 60, '2026-01-01')")
    conn.execute("INSERT INTO sessions (athlete_id, started_at, status, steps) "
                 "VALUES (1, '2026-01-01T10:00:00+00:00', 'closed', 42)")
    conn.commit()
    conn.close()
    with HistoryStore.open(str(tmp_path)) as store:
        (session,) = store.sessions()
        assert (session["steps"], session["status"]) == (42, "closed")
        assert store.stair_tests(1) == []
        store.add_stair_test(**result(1))
        store.flush()
        assert len(store.stair_tests(1)) == 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    assert os.path.exists(path + ".v2.bak") or any(".v2" in n for n in os.listdir(tmp_path))


FULL_DISK_TEST_SCRIPT = textwrap.dedent('''
    import json, os, sys, time
    from rig.history import HistoryStore
    d = sys.argv[1]
    store = HistoryStore.open(d)
    ann = store.ensure_default_athlete("Ann", 60.0)
    fd = os.open(os.path.join(d, "filler"), os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\\0" * 4096)
    except OSError:
        pass
    os.close(fd)
    for n in range(40):       # enough to need pages the disk no longer has
        store.add_stair_test(athlete_id=ann, kind="timed_stair_climb", started_at=f"2026-03-01T10:{n:02d}:00",
                             status="done", duration_s=3.0, steps=5, rise_m=0.9, power_w=None,
                             power_w_per_kg=None, body_mass_kg=60.0, note="x" * 20000)
    deadline = time.monotonic() + 10
    while store.available and time.monotonic() < deadline:
        time.sleep(0.05)
    out = {"health": store.health()}
    os.remove(os.path.join(d, "filler"))
    store._writer.retry_now()
    deadline = time.monotonic() + 10
    while not store.available and time.monotonic() < deadline:
        time.sleep(0.05)
    store.flush()
    out["after"] = store.health()
    out["tests"] = len(store.stair_tests(ann))
    store.close()
    print(json.dumps(out))
''')


def test_a_full_disk_keeps_the_results_waiting_and_writes_them_when_there_is_room(tmp_path):
    out, _ = run_on_small_disk(tmp_path, "running", script=FULL_DISK_TEST_SCRIPT)
    assert out["health"]["available"] is False and out["health"]["failure"] == "disk"
    assert out["after"]["available"] is True
    assert out["tests"] == 40
