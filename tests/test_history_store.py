"""The history store on real SQLite files: schema, crash recovery, bad storage,
athletes, exports, backup and restore, retention."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

from rig.history import (
    APPLICATION_ID,
    CSV_COLUMNS,
    FILENAME,
    SCHEMA_VERSION,
    HistoryStore,
    HistoryUnavailable,
    backup,
    export_history_json,
    export_session_json,
    export_sessions_csv,
    export_trace,
    prune_traces,
    restore,
    schema,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T0 = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.timezone.utc)


def summary(steps=40, *, events=(), contact=0.5, light=0.3, firm=0.1, active=60.0):
    return {
        "steps": steps, "steps_up": steps // 2, "steps_down": steps - steps // 2,
        "ascents": steps // 10, "descents": steps // 10, "elevation_gain_m": 0.17 * steps // 2,
        "active_s": active, "duration_s": active + 10, "cadence_spm": round(steps / active * 60, 2),
        "facing": {"forward": 0, "backward": steps // 5},
        "rails": {"left": {"contact_s": 10.0}},
        "reliance": {"contact_fraction": contact, "firm_fraction": firm, "light_fraction": light},
        "events": [dict(e) for e in events],
    }


FLIGHTS = [
    {"idx": 0, "direction": "up", "t_start_s": 1.0, "t_end_s": 6.0, "duration_s": 5.0, "steps": 5,
     "cadence_spm": 60.0, "contact_s": 4.0, "light_s": 3.0, "firm_s": 1.0, "power_w": 123.4},
    {"idx": 1, "direction": "down", "t_start_s": 8.0, "t_end_s": 14.0, "duration_s": 6.0, "steps": 5,
     "cadence_spm": 50.0, "contact_s": 5.0, "light_s": 4.0, "firm_s": 0.5, "power_w": None},
]
EVENTS = [{"t": 3.5, "type": "grab", "rail": "left", "force_n": 120.0},
          {"t": 9.0, "type": "stall", "duration_s": 6.0},
          {"t": 12.0, "type": "fall_suspected"}]


def iso(days=0.0, seconds=0.0):
    return (T0 + dt.timedelta(days=days, seconds=seconds)).isoformat()


def full_session(store, athlete_id, day, *, steps=40, trace_path=None, level="L1", events=EVENTS,
                 status="closed"):
    sid = store.begin_session(athlete_id=athlete_id, started_at=iso(day),
                              drill={"facing": "backward", "grip": "light", "planned_flights": 6,
                                     "added_load_kg": 2.5},
                              level=level, trace_path=trace_path)
    s = summary(steps, events=events)
    store.end_session(sid, ended_at=iso(day, 600), duration_s=600.0, summary=s, flights=FLIGHTS,
                      events=s["events"], energy_kcal=12.5, status=status)
    return sid


@pytest.fixture
def store(tmp_path):
    s = HistoryStore.open(str(tmp_path / "data"))
    yield s
    s.close()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def sidecars(path):
    return [p for p in (path + "-wal", path + "-shm", path + "-journal") if os.path.exists(p)]


# -- schema and identity -----------------------------------------------------------

def test_a_new_history_is_versioned_marked_and_in_wal_mode(tmp_path):
    store = HistoryStore.open(str(tmp_path / "data"))
    assert store.path == str(tmp_path / "data" / FILENAME)
    threads = [t.name for t in threading.enumerate()]
    assert "stairrig-history" in threads
    store.close()
    assert "stairrig-history" not in [t.name for t in threading.enumerate()]
    assert sidecars(store.path) == []          # a clean close leaves one file
    head = read_bytes(store.path)[:100]
    assert int.from_bytes(head[68:72], "big") == APPLICATION_ID    # on disk, in the main file
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(schema.MIGRATIONS)
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"meta", "athletes", "sessions", "flights", "events"} <= tables
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "sessions_athlete_started" in indexes
        from rig.history.store import _OUTCOME_COLUMNS, _PROGRESS_COLUMNS
        for columns in (_PROGRESS_COLUMNS, _OUTCOME_COLUMNS):   # the charts' query reads only the index
            plan = " ".join(r[3] for r in conn.execute(
                f"EXPLAIN QUERY PLAN SELECT {', '.join(columns)} FROM sessions "
                "WHERE athlete_id = 1 AND status != 'open' ORDER BY started_at"))
            assert "COVERING INDEX sessions_athlete_started" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        conn.close()


def test_the_writer_connection_has_foreign_keys_wal_and_normal_sync(store):
    got = store._writer.conn.execute("PRAGMA foreign_keys").fetchone()[0], \
        store._writer.conn.execute("PRAGMA synchronous").fetchone()[0], \
        store._writer.conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert got == (1, 1, "wal")     # synchronous 1 = NORMAL


def test_reopening_keeps_the_data(tmp_path):
    data = str(tmp_path / "data")
    store = HistoryStore.open(data)
    aid = store.add_athlete("Kim", 64.5, "L2")
    sid = full_session(store, aid, 0)
    store.close()
    store = HistoryStore.open(data)
    try:
        assert [a["name"] for a in store.athletes()] == ["Kim"]
        s = store.session(sid)
        assert s["status"] == "closed" and s["steps"] == 40 and len(s["flights"]) == 2 and len(s["events"]) == 3
    finally:
        store.close()


def test_a_store_is_opened_once_per_process(store):
    with pytest.raises(HistoryUnavailable, match="already open"):
        HistoryStore.open(store.data_dir)


def test_another_process_holding_the_history_is_refused(tmp_path):
    data = str(tmp_path / "data")
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {ROOT!r})
            from rig.history import HistoryStore
            s = HistoryStore.open({data!r})
            print("open", flush=True)
            sys.stdin.read()
            s.close()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "open"
        with pytest.raises(HistoryUnavailable, match="in use by another stairrig process"):
            HistoryStore.open(data)
    finally:
        child.stdin.close()
        child.wait(10)
    HistoryStore.open(data).close()


# -- files stairrig did not create ---------------------------------------------------

def foreign_db(path, application_id=0):
    conn = sqlite3.connect(path)
    if application_id:
        conn.execute(f"PRAGMA application_id = {application_id}")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany("INSERT INTO notes (body) VALUES (?)", [("x" * 100,)] * 100)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("application_id", [0, 0x12345678], ids=["no-application-id", "other-application"])
def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path, application_id):
    path = str(tmp_path / FILENAME)
    foreign_db(path, application_id)
    before, mtime = read_bytes(path), os.stat(path).st_mtime_ns
    with pytest.raises(HistoryUnavailable) as err:
        HistoryStore.open(str(tmp_path))
    message = str(err.value)
    assert path in message and "another application" in message and "untouched" in message
    assert read_bytes(path) == before and os.stat(path).st_mtime_ns == mtime
    assert sidecars(path) == []


def test_a_text_file_named_like_the_history_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / FILENAME
    path.write_text("my shopping list\n")
    with pytest.raises(HistoryUnavailable) as err:
        HistoryStore.open(str(tmp_path))
    assert str(path) in str(err.value) and "not a SQLite database" in str(err.value)
    assert path.read_text() == "my shopping list\n"
    assert sidecars(str(path)) == []


def test_a_damaged_history_is_refused_and_left_untouched(tmp_path):
    data = str(tmp_path / "data")
    store = HistoryStore.open(data)
    aid = store.add_athlete("Kim", 64.5)
    for day in range(60):
        full_session(store, aid, day)
    store.close()
    path = os.path.join(data, FILENAME)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    before = read_bytes(path)
    with pytest.raises(HistoryUnavailable) as err:
        HistoryStore.open(data)
    assert path in str(err.value) and "damaged" in str(err.value) and "restore a backup" in str(err.value)
    assert read_bytes(path) == before


def test_a_history_from_a_newer_stairrig_is_refused(tmp_path):
    data = str(tmp_path / "data")
    HistoryStore.open(data).close()
    path = os.path.join(data, FILENAME)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = read_bytes(path)
    with pytest.raises(HistoryUnavailable, match="newer stairrig"):
        HistoryStore.open(data)
    assert read_bytes(path) == before


def test_a_wal_without_its_database_is_refused(tmp_path):
    (tmp_path / (FILENAME + "-wal")).write_bytes(b"\x37\x7f\x06\x82" + bytes(28))
    with pytest.raises(HistoryUnavailable, match="exists without"):
        HistoryStore.open(str(tmp_path))
    assert not (tmp_path / FILENAME).exists()


def test_an_older_schema_is_migrated_after_a_copy(tmp_path, monkeypatch):
    data = str(tmp_path / "data")
    store = HistoryStore.open(data)
    store.add_athlete("Kim", 64.5)
    store.close()
    monkeypatch.setattr(schema, "MIGRATIONS",
                        schema.MIGRATIONS + ["ALTER TABLE athletes ADD COLUMN height_m REAL;"])
    store = HistoryStore.open(data)
    try:
        assert [a["name"] for a in store.athletes()] == ["Kim"]
        conn = store.read_connection()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert "height_m" in [r[1] for r in conn.execute("PRAGMA table_info(athletes)")]
    finally:
        store.close()
    copy = os.path.join(data, f"{FILENAME}.v{SCHEMA_VERSION}.bak")
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT name FROM athletes").fetchall() == [("Kim",)]
    conn.close()


def test_a_failing_migration_changes_nothing(tmp_path, monkeypatch):
    data = str(tmp_path / "data")
    HistoryStore.open(data).close()
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS + [
        "ALTER TABLE athletes ADD COLUMN height_m REAL; SELECT * FROM no_such_table;"])
    with pytest.raises(HistoryUnavailable):
        HistoryStore.open(data)
    monkeypatch.undo()
    store = HistoryStore.open(data)
    try:
        conn = store.read_connection()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert "height_m" not in [r[1] for r in conn.execute("PRAGMA table_info(athletes)")]
    finally:
        store.close()


# -- read-only storage ------------------------------------------------------------

def _unprivileged_user():
    import pwd
    for name in ("nobody", "daemon"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def open_as(user, data_dir) -> str:
    """Open the store in a forked child running as ``user`` (no exec: the test's
    interpreter may live where that user cannot read); returns what happened."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the child
        msg = "ERROR:?"
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            try:
                HistoryStore.open(data_dir).close()
                msg = "OPENED"
            except HistoryUnavailable as exc:
                msg = "REFUSED:" + str(exc)
            except BaseException as exc:
                msg = f"ERROR:{type(exc).__name__}: {exc}"
            os.write(w, msg.encode())
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


@pytest.fixture
def world_dir():
    """A directory an unprivileged user can reach (pytest's tmp_path is root's 0700)."""
    path = tempfile.mkdtemp(prefix="stairrig-test-")
    os.chmod(path, 0o755)
    yield path
    for root, dirs, _ in os.walk(path):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
    shutil.rmtree(path, ignore_errors=True)


def test_a_read_only_data_directory_gives_a_clear_message(world_dir):
    user = _unprivileged_user() if os.geteuid() == 0 else None
    if os.geteuid() == 0 and user is None:
        pytest.skip("running as root and no unprivileged user (nobody, daemon) to open the store as")
    empty = os.path.join(world_dir, "empty")
    existing = os.path.join(world_dir, "existing")
    os.mkdir(empty)
    store = HistoryStore.open(existing)
    store.add_athlete("Kim", 64.5)
    store.close()
    path = os.path.join(existing, FILENAME)
    os.chmod(path, 0o644)
    before = read_bytes(path)
    os.chmod(empty, 0o555)
    os.chmod(existing, 0o555)

    def attempt(d):
        if user is None:
            try:
                HistoryStore.open(d).close()
                return "OPENED"
            except HistoryUnavailable as exc:
                return "REFUSED:" + str(exc)
        return open_as(user, d)

    for d, verb in ((empty, "create"), (existing, "write")):
        got = attempt(d)
        assert got.startswith("REFUSED:"), got
        assert f"the data directory {d} is read-only" in got
        assert f"cannot {verb} {os.path.join(d, FILENAME)}" in got and "To fix" in got
    got = attempt(os.path.join(empty, "sub"))
    assert got.startswith("REFUSED:") and "cannot create the data directory" in got, got
    assert os.listdir(empty) == []
    assert read_bytes(path) == before and sidecars(path) == []


def test_a_read_only_history_file_gives_a_clear_message(world_dir):
    user = _unprivileged_user()
    if os.geteuid() != 0 or user is None:
        pytest.skip("needs root to hand the directory to an unprivileged user")
    data = os.path.join(world_dir, "data")
    HistoryStore.open(data).close()
    path = os.path.join(data, FILENAME)
    os.chown(data, user.pw_uid, user.pw_gid)   # the directory is theirs, the file is root's 0644
    os.chmod(path, 0o644)
    got = open_as(user, data)
    assert got.startswith("REFUSED:") and f"{path} is read-only for {user.pw_name}" in got, got


def mount_tmpfs(path, options):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")


def umount(path):
    if subprocess.run(["umount", path], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", path], capture_output=True)


def test_a_read_only_mount_gives_a_clear_message(tmp_path):
    mnt = str(tmp_path / "ro")
    os.mkdir(mnt)
    mount_tmpfs(mnt, "ro,size=64k")
    try:
        with pytest.raises(HistoryUnavailable) as err:
            HistoryStore.open(mnt)
        assert f"the data directory {mnt} is read-only" in str(err.value)
    finally:
        umount(mnt)


def test_a_full_disk_makes_the_history_unavailable_and_reads_go_on(tmp_path, caplog):
    mnt = str(tmp_path / "small")
    os.mkdir(mnt)
    mount_tmpfs(mnt, "size=1m")
    try:
        store = HistoryStore.open(mnt, commit_every_s=0.05)
        try:
            aid = store.add_athlete("Kim", 64.5)
            sid = store.begin_session(athlete_id=aid, started_at=iso(), drill={}, level=None, trace_path=None)
            store.update_session(sid, duration_s=1.0, summary=summary(4))
            store.flush()
            fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT)   # fill the disk
            try:
                while os.write(fd, b"\0" * 4096):
                    pass
            except OSError:
                pass
            finally:
                os.close(fd)
            big = summary(400)
            big["padding"] = "x" * 400_000
            store.end_session(sid, ended_at=iso(0, 60), duration_s=60.0, summary=big,
                              flights=FLIGHTS * 500, events=[], energy_kcal=None)
            store.flush()
            assert store.available is False
            assert "full" in store.error and store.path in store.error and "counting" in store.error
            assert sum("full" in r.getMessage() for r in caplog.records) == 1     # logged once
            # writes are dropped (queued ones quietly, waited-for ones with the message) ...
            store.update_session(sid, duration_s=2.0, summary=summary(8))
            store.flush()
            with pytest.raises(HistoryUnavailable, match="full"):
                store.add_athlete("Lee", 70.0)
            assert sum("full" in r.getMessage() for r in caplog.records) == 1
            # ... and what was committed can still be read
            s = store.session(sid)
            assert s["status"] == "open" and s["duration_s"] == 1.0 and s["steps"] == 4
            assert [a["name"] for a in store.athletes()] == ["Kim"]
        finally:
            store.close()
    finally:
        umount(mnt)


# -- writes: batching and crashes -------------------------------------------------

def test_updates_are_batched_and_the_last_one_is_stored(tmp_path):
    store = HistoryStore.open(str(tmp_path), commit_every_s=3600)
    try:
        aid = store.ensure_default_athlete("Athlete", 70.0)
        sid = store.begin_session(athlete_id=aid, started_at=iso(), drill={}, level=None, trace_path=None)
        commits = store._writer.commits
        for i in range(1, 501):
            store.update_session(sid, duration_s=i * 0.5, summary=summary(i))
        assert store.session(sid)["duration_s"] == 0.0     # nothing committed yet
        store.flush()
        assert store._writer.commits == commits + 1         # one commit for 500 updates
        s = store.session(sid)
        assert s["duration_s"] == 250.0 and s["steps"] == 500 and s["summary"]["steps"] == 500
        assert s["status"] == "open"
    finally:
        store.close()


def test_the_summary_is_copied_when_queued(store):
    aid = store.ensure_default_athlete("Athlete", 70.0)
    sid = store.begin_session(athlete_id=aid, started_at=iso(), drill={}, level=None, trace_path=None)
    s = summary(10)
    store.update_session(sid, duration_s=1.0, summary=s)
    s["steps"] = 999
    store.flush()
    assert store.session(sid)["steps"] == 10


def test_an_update_after_the_end_changes_nothing(store):
    aid = store.ensure_default_athlete("Athlete", 70.0)
    sid = full_session(store, aid, 0, steps=40)
    store.update_session(sid, duration_s=1.0, summary=summary(2))
    store.flush()
    s = store.session(sid)
    assert s["steps"] == 40 and s["duration_s"] == 600.0 and s["status"] == "closed"


def test_a_bad_queued_write_is_skipped_alone(store):
    aid = store.ensure_default_athlete("Athlete", 70.0)
    sid = store.begin_session(athlete_id=aid, started_at=iso(), drill={}, level=None, trace_path=None)
    store.end_session(sid + 100, ended_at=iso(0, 9), duration_s=9.0, summary=summary(3), flights=[],
                      events=[], energy_kcal=None)
    store.update_session(sid, duration_s=5.0, summary=summary(7))
    store.flush()
    assert store.available and store.session(sid)["steps"] == 7
    assert store._writer.failed_ops == 1


def test_session_inputs_are_validated_by_the_caller(store):
    aid = store.ensure_default_athlete("Athlete", 70.0)
    with pytest.raises(ValueError, match="no athlete"):
        store.begin_session(athlete_id=aid + 1, started_at=iso(), drill={}, level=None, trace_path=None)
    with pytest.raises(ValueError, match="ISO-8601"):
        store.begin_session(athlete_id=aid, started_at="yesterday", drill={}, level=None, trace_path=None)
    sid = store.begin_session(athlete_id=aid, started_at=iso(), drill={}, level=None, trace_path=None)
    with pytest.raises(ValueError, match="status"):
        store.end_session(sid, ended_at=iso(), duration_s=1.0, summary=summary(), flights=[], events=[],
                          energy_kcal=None, status="open")
    with pytest.raises(ValueError, match="direction"):
        store.end_session(sid, ended_at=iso(), duration_s=1.0, summary=summary(),
                          flights=[{"direction": "sideways"}], events=[], energy_kcal=None)
    with pytest.raises(ValueError, match="summary"):
        store.update_session(sid, duration_s=1.0, summary=[1, 2])


CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from rig.history import HistoryStore
store = HistoryStore.open({data!r})
aid = store.ensure_default_athlete("Athlete", 70.0)
sid = store.begin_session(athlete_id=aid, started_at="2026-01-01T08:00:00+00:00",
                          drill={{"facing": "backward"}}, level="L1", trace_path=None)
print("session", sid, flush=True)
t0 = time.monotonic()
while True:
    d = round(time.monotonic() - t0, 3)
    store.update_session(sid, duration_s=d, summary={{"steps": int(d * 10), "duration_s": d}})
    print("duration", d, flush=True)
    time.sleep(0.2)
"""


def test_a_kill_9_mid_session_loses_at_most_2_s_and_the_session_is_recovered(tmp_path):
    data = str(tmp_path / "data")
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(root=ROOT, data=data)],
                             stdout=subprocess.PIPE, text=True)
    last = None
    try:
        kind, sid = child.stdout.readline().split()
        assert kind == "session"
        for line in child.stdout:
            last = float(line.split()[1])
            if last >= 3.0:
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    path = os.path.join(data, FILENAME)
    assert os.path.exists(path + "-wal")          # the last commits were still in the WAL
    store = HistoryStore.open(data)
    try:
        left = store.open_sessions()
        assert [s["id"] for s in left] == [int(sid)]
        s = left[0]
        assert s["status"] == "open" and s["drill"] == {"facing": "backward"} and s["weight_kg"] == 70.0
        assert last - 2.0 <= s["duration_s"] <= last
        assert s["summary"]["duration_s"] == s["duration_s"] and s["steps"] == int(s["duration_s"] * 10)
        # the session manager closes it as recovered at the next start
        store.end_session(s["id"], ended_at=iso(0, s["duration_s"]), duration_s=s["duration_s"],
                          summary=s["summary"], flights=[], events=None, energy_kcal=None, status="recovered")
        store.flush()
        assert store.open_sessions() == []
        assert store.session(s["id"])["status"] == "recovered"
        assert store.read_connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()


# -- athletes ---------------------------------------------------------------------

def test_the_default_athlete_is_created_once_and_the_selection_persists(tmp_path):
    data = str(tmp_path / "data")
    store = HistoryStore.open(data)
    assert store.selected_athlete() is None
    first = store.ensure_default_athlete("Athlete", 70.0)
    assert store.ensure_default_athlete("Other default", 80.0) == first
    assert [a["name"] for a in store.athletes()] == ["Athlete"]
    kim = store.add_athlete("Kim", 64.5, "L2")
    assert store.selected_athlete()["id"] == first
    store.select_athlete(kim)
    store.close()
    store = HistoryStore.open(data)
    try:
        assert store.selected_athlete() == {"id": kim, "name": "Kim", "weight_kg": 64.5, "level": "L2",
                                            "created_at": store.selected_athlete()["created_at"]}
        assert store.ensure_default_athlete("Athlete", 70.0) == kim
        with pytest.raises(ValueError, match="no athlete"):
            store.select_athlete(kim + 10)
    finally:
        store.close()


def test_athlete_names_are_unique_regardless_of_case(store):
    aid = store.add_athlete("Kim Lee", 64.5)
    with pytest.raises(ValueError, match="already exists"):
        store.add_athlete("kim lee", 70.0)
    other = store.add_athlete("Sam", 80.0)
    with pytest.raises(ValueError, match="already exists"):
        store.update_athlete(other, name="KIM LEE")
    store.update_athlete(aid, name="Kim Lee-Park", weight_kg=63.0, level="L3")
    assert store.athlete(aid)["name"] == "Kim Lee-Park" and store.athlete(aid)["weight_kg"] == 63.0
    assert store.athlete(aid)["level"] == "L3"
    with pytest.raises(ValueError, match="body weight"):
        store.add_athlete("Tiny", 0)
    with pytest.raises(ValueError, match="name"):
        store.add_athlete("  ", 70)


def test_deleting_an_athlete_removes_all_their_data(store):
    traces = os.path.join(store.data_dir, "traces")
    os.makedirs(traces)
    kim = store.add_athlete("Kim", 64.5)
    sam = store.add_athlete("Sam", 80.0)
    kim_traces = []
    for day in range(3):
        trace = os.path.join(traces, f"kim-{day}.jsonl.gz")
        with gzip.open(trace, "wt") as f:
            f.write('{"secret": "kim"}\n')
        kim_traces.append(trace)
        full_session(store, kim, day, trace_path=trace)
    sam_trace = os.path.join(traces, "sam.jsonl.gz")
    with gzip.open(sam_trace, "wt") as f:
        f.write("{}\n")
    sam_session = full_session(store, sam, 5, trace_path=sam_trace)
    store.select_athlete(kim)
    store.flush()

    counts = store.delete_athlete(kim)
    assert counts == {"athletes": 1, "sessions": 3, "flights": 6, "events": 9, "traces": 3}
    assert [a["name"] for a in store.athletes()] == ["Sam"]
    assert store.sessions(athlete_id=kim) == []
    assert [s["id"] for s in store.sessions()] == [sam_session]
    assert store.counts() == {"athletes": 1, "sessions": 1, "flights": 2, "events": 3}
    assert not any(os.path.exists(t) for t in kim_traces) and os.path.exists(sam_trace)
    assert store.selected_athlete()["id"] == sam
    # no copy left in the files: the WAL is checkpointed and deleted rows overwritten
    assert os.path.getsize(store.path + "-wal") == 0
    with open(store.path, "rb") as f:
        assert b"Kim" not in f.read()
    # deleting the last athlete is allowed; a default comes back at the next start
    store.delete_athlete(sam)
    assert store.athletes() == [] and store.selected_athlete() is None
    assert store.athlete(store.ensure_default_athlete("Athlete", 70.0))["name"] == "Athlete"
    with pytest.raises(ValueError, match="no athlete"):
        store.delete_athlete(999)


def test_deleting_a_session_removes_its_rows_and_trace_only(store):
    traces = os.path.join(store.data_dir, "traces")
    os.makedirs(traces)
    kim = store.add_athlete("Kim", 64.5)
    paths = []
    for day in range(2):
        trace = os.path.join(traces, f"kim-{day}.jsonl.gz")
        with gzip.open(trace, "wt") as f:
            f.write('{"secret": "kim-%d"}\n' % day)
        paths.append(trace)
    gone = full_session(store, kim, 0, trace_path=paths[0], steps=41)
    kept = full_session(store, kim, 1, trace_path=paths[1])
    shared = full_session(store, kim, 2, trace_path=paths[1])    # two sessions naming one trace
    store.flush()
    before = store.counts()
    assert [r["steps"] for r in store.progress(kim)] == [41, 40, 40]

    counts = store.delete_session(gone)
    assert counts == {"sessions": 1, "flights": len(FLIGHTS), "events": len(EVENTS), "traces": 1}
    assert store.session(gone) is None and not os.path.exists(paths[0])
    assert store.counts() == {"athletes": 1, "sessions": before["sessions"] - 1,
                              "flights": before["flights"] - len(FLIGHTS), "events": before["events"] - len(EVENTS)}
    assert [s["id"] for s in store.sessions()] == [shared, kept]
    assert [r["id"] for r in store.progress(kim)] == [kept, shared]     # the cached rows follow
    assert os.path.getsize(store.path + "-wal") == 0
    # a trace another session still names stays, and goes with the last of them
    assert store.delete_session(kept)["traces"] == 0 and os.path.exists(paths[1])
    assert store.delete_session(shared)["traces"] == 1 and not os.path.exists(paths[1])
    with pytest.raises(ValueError, match="no session"):
        store.delete_session(gone)


# -- sessions: notes and reads ------------------------------------------------------

def test_notes_are_validated_and_stored(store):
    aid = store.ensure_default_athlete("Athlete", 70.0)
    sid = full_session(store, aid, 0)
    store.flush()
    for bad in ({"effort": 11}, {"pain": -1}, {"effort": 2.5}, {"pain": True}, {"dizziness": "yes"}):
        with pytest.raises(ValueError):
            store.set_notes(sid, **bad)
    with pytest.raises(ValueError, match="no session"):
        store.set_notes(sid + 1, effort=3)
    store.set_notes(sid, effort=7, pain=2, dizziness=True, text="left knee tight")
    store.set_notes(sid, pain=0)
    assert store.session(sid)["notes"] == {"effort": 7, "pain": 0, "dizziness": True, "text": "left knee tight"}


def test_a_session_has_everything(store):
    aid = store.ensure_default_athlete("Athlete", 70.0)
    sid = full_session(store, aid, 0, trace_path=os.path.join(store.data_dir, "traces", "x.jsonl.gz"))
    store.flush()
    s = store.session(sid)
    assert s["started_at"] == "2026-01-01T08:00:00+00:00" and s["ended_at"] == "2026-01-01T08:10:00+00:00"
    assert (s["drill_facing"], s["drill_grip"], s["planned_flights"], s["added_load_kg"]) == \
        ("backward", "light", 6, 2.5)
    assert (s["steps"], s["steps_up"], s["ascents"], s["cadence_spm"]) == (40, 20, 4, 40.0)
    assert (s["contact_fraction"], s["light_fraction"], s["firm_fraction"]) == (0.5, 0.3, 0.1)
    assert (s["grabs"], s["stalls"], s["falls"], s["energy_kcal"]) == (1, 1, 1, 12.5)
    assert s["summary"] == summary(40, events=EVENTS)
    assert s["flights"] == FLIGHTS
    assert s["events"][0] == {"t_s": 3.5, "type": "grab", "detail": {"rail": "left", "force_n": 120.0}}
    assert s["trace_path"] == os.path.join(store.data_dir, "traces", "x.jsonl.gz")
    stored = store.read_connection().execute("SELECT trace_path FROM sessions").fetchone()[0]
    assert stored == os.path.join("traces", "x.jsonl.gz")     # relative: survives a move
    assert store.session(sid + 1) is None


def test_sessions_are_listed_newest_first_and_paged(store):
    kim = store.add_athlete("Kim", 64.5)
    sam = store.add_athlete("Sam", 80.0)
    ids = [full_session(store, kim if d % 2 else sam, d) for d in range(10)]
    store.flush()
    assert [s["id"] for s in store.sessions()] == ids[::-1]
    page = store.sessions(limit=3)
    assert [s["id"] for s in page] == ids[:-4:-1]
    assert [s["id"] for s in store.sessions(limit=3, before_id=page[-1]["id"])] == ids[-4:-7:-1]
    assert all(s["athlete_id"] == kim for s in store.sessions(athlete_id=kim))
    assert "summary" not in page[0] and "flights" not in page[0]


def test_progress_is_oldest_first_and_leaves_out_open_sessions(store):
    aid = store.ensure_default_athlete("Athlete", 70.0)
    for day in (5, 1, 3):             # recorded out of order
        full_session(store, aid, day, steps=10 * day)
    store.begin_session(athlete_id=aid, started_at=iso(9), drill={}, level=None, trace_path=None)
    store.flush()
    rows = store.progress(aid)
    assert [r["steps"] for r in rows] == [10, 30, 50]
    assert [r["started_at"] for r in rows] == sorted(r["started_at"] for r in rows)
    keys = {"started_at", "steps", "ascents", "descents", "active_s", "cadence_spm", "contact_fraction",
            "light_fraction", "firm_fraction", "level", "grabs", "falls"}
    assert keys <= set(rows[0])
    now = dt.datetime.now(dt.timezone.utc)
    recent = store.begin_session(athlete_id=aid, started_at=(now - dt.timedelta(days=2)).isoformat(),
                                 drill={}, level=None, trace_path=None)
    store.end_session(recent, ended_at=now.isoformat(), duration_s=1.0, summary=summary(7), flights=[],
                      events=[], energy_kcal=None)
    store.flush()
    assert [r["steps"] for r in store.progress(aid, days=7)] == [7]


def test_progress_is_cached_until_an_ended_session_changes(store):
    aid = store.ensure_default_athlete("Athlete", 70.0)
    full_session(store, aid, 0, steps=10)
    store.flush()
    rows = store.progress(aid)
    rows[0]["steps"] = 999                      # a caller's copy: the cache is not changed
    assert store.progress(aid)[0]["steps"] == 10
    generation = store._writer.generation
    sid = store.begin_session(athlete_id=aid, started_at=iso(1), drill={}, level=None, trace_path=None)
    for i in range(5):                          # the running session's updates keep the cache
        store.update_session(sid, duration_s=float(i), summary=summary(i))
    store.flush()
    assert store._writer.generation == generation + 1     # only for begin_session
    assert [r["steps"] for r in store.progress(aid)] == [10]
    store.end_session(sid, ended_at=iso(1, 60), duration_s=60.0, summary=summary(20), flights=[],
                      events=[], energy_kcal=None)
    store.flush()
    assert [r["steps"] for r in store.progress(aid)] == [10, 20]
    store.delete_athlete(aid)
    assert store.progress(aid) == []


def test_outcomes_feed_the_progression_engine(store):
    aid = store.ensure_default_athlete("Athlete", 70.0)
    ids = [full_session(store, aid, day, steps=10 + day, level=f"L{day % 3}") for day in range(30)]
    store.flush()
    store.set_notes(ids[-1], effort=6, pain=3, dizziness=False)
    rows = store.outcomes(aid, limit=5)
    assert [r["id"] for r in rows] == ids[-5:]
    last = rows[-1]
    assert (last["pain"], last["dizziness"], last["effort"], last["added_load_kg"]) == (3, False, 6, 2.5)
    assert (last["grabs"], last["stalls"], last["falls"], last["level"]) == (1, 1, 1, "L2")
    assert rows[0]["dizziness"] is None
    keys = {"level", "ascents", "descents", "active_s", "cadence_spm", "contact_fraction", "light_fraction",
            "firm_fraction", "grabs", "falls", "stalls", "pain", "dizziness", "effort", "added_load_kg"}
    assert keys <= set(last)


def test_reads_from_many_threads(store):
    aid = store.ensure_default_athlete("Athlete", 70.0)
    for day in range(20):
        full_session(store, aid, day)
    store.flush()
    results, errors = [], []

    def read():
        try:
            for _ in range(20):
                results.append(len(store.progress(aid)))
        except Exception as exc:   # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and set(results) == {20}


# -- exports --------------------------------------------------------------------

def test_sessions_export_as_csv(store, tmp_path):
    kim = store.add_athlete("Kim", 64.5)
    sam = store.add_athlete("=HYPERLINK(1)", 80.0)
    a = full_session(store, kim, 0)
    b = full_session(store, sam, 1)
    c = full_session(store, kim, 2)
    store.flush()
    store.set_notes(a, effort=5, pain=1, dizziness=False, text='felt "good", knee ok\nsecond line')
    store.set_gait(a, {"flights": [{"dir": "up", "t": 1.0, "duration_s": 5.0, "steps": 5, "power_w": 151.25},
                                   {"dir": "down", "t": 8.0, "duration_s": 6.0, "steps": 5, "power_w": None}],
                       "step_time_s": 0.51, "step_time_cv": 0.08, "dwell_s": 0.9, "dwell_asymmetry": 0.03,
                       "double_support_fraction": 0.3, "whole_foot_fraction": 0.875})
    store.flush()
    out = tmp_path / "sessions.csv"
    assert export_sessions_csv(store, str(out)) == 3
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    records = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert [r["session_id"] for r in records] == [str(a), str(b), str(c)]     # oldest first
    first = records[0]
    assert first["athlete"] == "Kim" and first["steps"] == "40" and first["contact_fraction"] == "0.5"
    assert first["notes"] == 'felt "good", knee ok\nsecond line'
    assert (first["effort"], first["pain"], first["dizziness"]) == ("5", "1", "no")
    assert first["started_at"] == iso(0) and first["grabs"] == "1"
    assert (first["best_ascent_power_w"], first["step_time_cv"], first["whole_foot_fraction"]) == \
        ("151.25", "0.08", "0.875")
    assert records[1]["best_ascent_power_w"] == records[1]["step_time_s"] == ""   # stored without gait figures
    assert store.session(a)["flights"][0]["power_w"] == 151.2        # set_gait gives the flights their power too
    assert records[1]["athlete"] == "'=HYPERLINK(1)"     # not a formula in a spreadsheet
    buf = io.StringIO()
    assert export_sessions_csv(store, buf, athlete_id=kim) == 2
    assert len(list(csv.reader(io.StringIO(buf.getvalue())))) == 3
    buf = io.StringIO()
    assert export_sessions_csv(store, buf, session_id=b) == 1
    assert [r[0] for r in csv.reader(io.StringIO(buf.getvalue()))] == ["session_id", str(b)]
    with pytest.raises(ValueError, match="no session"):
        export_sessions_csv(store, io.StringIO(), athlete_id=kim, session_id=b)


def test_a_session_and_the_history_export_as_json(store, tmp_path):
    kim = store.add_athlete("Kim", 64.5, "L2")
    sam = store.add_athlete("Sam", 80.0)
    a = full_session(store, kim, 0)
    full_session(store, sam, 1)
    b = full_session(store, kim, 2)
    store.flush()
    store.set_notes(a, text="ok")
    doc = export_session_json(store, a)
    doc = json.loads(json.dumps(doc))
    assert doc["format"] == "stairrig.session" and doc["athlete"]["name"] == "Kim"
    assert doc["session"]["flights"] == FLIGHTS and doc["session"]["notes"]["text"] == "ok"
    assert doc["session"]["summary"]["steps"] == 40
    with pytest.raises(ValueError):
        export_session_json(store, 999)

    out = tmp_path / "history.json"
    assert export_history_json(store, str(out)) == {"athletes": 2, "sessions": 3}
    history = json.loads(out.read_text())
    assert history["schema_version"] == SCHEMA_VERSION
    assert [a["name"] for a in history["athletes"]] == ["Kim", "Sam"]
    assert [s["id"] for s in history["athletes"][0]["sessions"]] == [a, b]
    assert history["athletes"][0]["sessions"][0]["events"][1]["type"] == "stall"
    buf = io.StringIO()
    export_history_json(store, buf, athlete_id=sam)
    assert [a["name"] for a in json.loads(buf.getvalue())["athletes"]] == ["Sam"]


def test_the_raw_trace_exports_as_recorded(store, tmp_path):
    aid = store.ensure_default_athlete("Athlete", 70.0)
    trace = os.path.join(store.data_dir, "traces", "t.jsonl.gz")
    os.makedirs(os.path.dirname(trace))
    with gzip.open(trace, "wt") as f:
        f.write('{"t": 0}\n')
    sid = full_session(store, aid, 0, trace_path=trace)
    bare = full_session(store, aid, 1)
    store.flush()
    export_trace(store, sid, str(tmp_path / "copy.jsonl.gz"))
    assert read_bytes(str(tmp_path / "copy.jsonl.gz")) == read_bytes(trace)
    with pytest.raises(ValueError, match="no raw trace"):
        export_trace(store, bare, io.BytesIO())


# -- backup and restore ------------------------------------------------------------

def test_a_backup_taken_while_writing_restores_into_a_new_directory(tmp_path):
    store = HistoryStore.open(str(tmp_path / "data"), commit_every_s=0.02)
    aid = store.ensure_default_athlete("Athlete", 70.0)
    for day in range(50):
        full_session(store, aid, day)
    store.flush()
    stop = threading.Event()

    def keep_writing():
        day = 100
        while not stop.is_set():
            sid = store.begin_session(athlete_id=aid, started_at=iso(day), drill={}, level=None, trace_path=None)
            store.update_session(sid, duration_s=1.0, summary=summary(3))
            store.end_session(sid, ended_at=iso(day, 5), duration_s=5.0, summary=summary(5, events=EVENTS),
                              flights=FLIGHTS, events=EVENTS, energy_kcal=None)
            day += 1
    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        time.sleep(0.2)
        dest = str(tmp_path / "backups" / "history-backup.sqlite3")
        info = backup(store, dest)
        time.sleep(0.1)
    finally:
        stop.set()
        writer.join()
    store.flush()
    assert info["path"] == dest and info["sessions"] >= 50 and os.listdir(tmp_path / "backups") == [
        "history-backup.sqlite3"]
    with pytest.raises(FileExistsError):
        backup(store, dest)

    new = str(tmp_path / "restored")
    result = restore(new, dest)
    assert result["previous"] is None and result["sessions"] == info["sessions"]
    restored = HistoryStore.open(new)
    try:
        assert restored.counts() == {k: info[k] for k in ("athletes", "sessions", "flights", "events")}
        assert restored.athletes() == store.athletes()
        for row in restored.sessions():
            if row["status"] == "closed":      # closed before the backup: identical
                assert restored.session(row["id"]) == store.session(row["id"])
        assert restored.read_connection().execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        restored.close()
        store.close()


def test_restore_refuses_what_it_should(tmp_path):
    data = str(tmp_path / "data")
    store = HistoryStore.open(data)
    store.add_athlete("Kim", 64.5)
    dest = str(tmp_path / "b.sqlite3")
    backup(store, dest)
    # the history is open: refused even with force
    with pytest.raises(HistoryUnavailable, match="in use"):
        restore(data, dest, force=True)
    store.add_athlete("Sam", 80.0)
    store.close()
    # an existing history is kept unless asked
    with pytest.raises(FileExistsError, match="--force"):
        restore(data, dest)
    result = restore(data, dest, force=True)
    assert os.path.exists(result["previous"])
    reopened = HistoryStore.open(data)
    assert [a["name"] for a in reopened.athletes()] == ["Kim"]
    reopened.close()
    kept = sqlite3.connect(result["previous"])
    assert [r[0] for r in kept.execute("SELECT name FROM athletes ORDER BY id")] == ["Kim", "Sam"]
    kept.close()
    # a foreign file is never replaced, and a foreign backup never restored
    foreign_dir = tmp_path / "foreign"
    foreign_dir.mkdir()
    (foreign_dir / FILENAME).write_text("not mine")
    with pytest.raises(ValueError, match="not a SQLite database"):
        restore(str(foreign_dir), dest, force=True)
    assert (foreign_dir / FILENAME).read_text() == "not mine"
    other = str(tmp_path / "other.sqlite3")
    foreign_db(other, 0x1234)
    with pytest.raises(ValueError, match="another application"):
        restore(str(tmp_path / "new"), other)
    assert not os.path.exists(tmp_path / "new" / FILENAME)
    # nor one from a newer stairrig
    conn = sqlite3.connect(dest)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(ValueError, match="newer stairrig"):
        restore(str(tmp_path / "new"), dest)
    assert not os.path.exists(tmp_path / "new" / FILENAME)


# -- retention -------------------------------------------------------------------

def test_traces_are_pruned_oldest_first_within_the_budget(store):
    traces = os.path.join(store.data_dir, "traces")
    os.makedirs(traces)
    aid = store.ensure_default_athlete("Athlete", 70.0)
    kib = 1024

    def trace(name, size):
        path = os.path.join(traces, name)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        return path
    # an open session with the oldest trace, then closed sessions, oldest first
    open_trace = trace("0-open.jsonl.gz", 100 * kib)
    store.begin_session(athlete_id=aid, started_at=iso(0), drill={}, level=None, trace_path=open_trace)
    closed = {}
    for day in (3, 1, 2, 4):
        path = trace(f"{day}.jsonl.gz", 100 * kib)
        closed[day] = full_session(store, aid, day, trace_path=path)
    orphan = trace("orphan.jsonl.gz", 100 * kib)          # no session refers to it, and it is new
    other = [trace("notes.txt", 400 * kib), trace("raw.jsonl", 400 * kib), trace("run.truth.json", 50 * kib)]
    store.flush()
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    os.utime(open_trace, (old, old))

    # 600 KiB of traces, 350 KiB allowed: the three oldest closed sessions' traces go
    deleted = prune_traces(store, traces, budget_mb=0.35, protect_recent_s=0)
    assert deleted == [os.path.join(traces, f"{day}.jsonl.gz") for day in (1, 2, 3)]
    assert [store.session(closed[d])["trace_path"] for d in (1, 2, 3)] == [None, None, None]
    assert store.session(closed[4])["trace_path"] == os.path.join(traces, "4.jsonl.gz")
    assert store.session(closed[1])["summary"] is not None          # summaries stay forever
    assert prune_traces(store, traces, budget_mb=0.35, protect_recent_s=0) == []
    # then the orphan, by its age (two hours ago: newer than the last session)
    assert prune_traces(store, traces, budget_mb=0.15, protect_recent_s=0) == [
        os.path.join(traces, "4.jsonl.gz"), orphan]
    # an open session's trace is never deleted, nor anything that is not a *.jsonl.gz
    assert prune_traces(store, traces, budget_mb=0, protect_recent_s=0) == []
    assert os.path.exists(open_trace) and all(os.path.exists(p) for p in other)
    assert sorted(os.listdir(traces)) == ["0-open.jsonl.gz", "notes.txt", "raw.jsonl", "run.truth.json"]


def test_recently_written_traces_are_kept(store):
    traces = os.path.join(store.data_dir, "traces")
    os.makedirs(traces)
    aid = store.ensure_default_athlete("Athlete", 70.0)
    path = os.path.join(traces, "now.jsonl.gz")
    with open(path, "wb") as f:
        f.write(os.urandom(50_000))
    full_session(store, aid, 0, trace_path=path)
    store.flush()
    assert prune_traces(store, traces, budget_mb=0) == []      # may still be being recorded
    assert prune_traces(store, traces, budget_mb=0, protect_recent_s=0) == [path]
    with pytest.raises(ValueError):
        prune_traces(store, traces, budget_mb=-1)
    assert prune_traces(store, os.path.join(traces, "missing"), budget_mb=0) == []


def test_a_version_1_history_gains_flight_power_and_keeps_its_flights(tmp_path):
    """Migration 2 adds a flight's power; flights stored before it keep theirs empty (NULL)."""
    path = os.path.join(str(tmp_path), schema.FILENAME)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    conn.executescript(schema.MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO athletes (name, weight_kg, created_at) VALUES ('Ann', 60, '2026-01-01')")
    conn.execute("INSERT INTO sessions (athlete_id, started_at, status) VALUES (1, '2026-01-01T10:00:00+00:00', "
                 "'closed')")
    conn.execute("INSERT INTO flights (session_id, idx, direction, steps) VALUES (1, 1, 'up', 5)")
    conn.commit()
    conn.close()
    with HistoryStore.open(str(tmp_path)) as store:
        flights = store.session(1)["flights"]
    assert [(f["direction"], f["steps"], f["power_w"]) for f in flights] == [("up", 5, None)]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION



def test_the_progression_reads_each_sessions_gait_figures_from_the_history(store):
    from rig.outputs.history import outcomes
    ann = store.add_athlete("Ann", 60.0)
    old = full_session(store, ann, 0)                                  # stored without gait figures
    sid = store.begin_session(athlete_id=ann, started_at=iso(1), drill=None, level="grip-light", trace_path=None)
    s = {**summary(40), "gait": {"flights": [], "step_time_s": 0.5, "step_time_cv": 0.12, "dwell_s": 0.8,
                                 "dwell_asymmetry": 0.2, "double_support_fraction": 0.3,
                                 "whole_foot_fraction": 0.75}}
    store.end_session(sid, ended_at=iso(1, 600), duration_s=600.0, summary=s, flights=[], events=[],
                      energy_kcal=None)
    store.flush()
    first, second = outcomes(store, ann)
    assert (first.whole_foot_fraction, first.step_time_cv, first.dwell_asymmetry) == (None, None, None)
    assert (second.whole_foot_fraction, second.step_time_cv, second.dwell_asymmetry) == (0.75, 0.12, 0.2)
    assert old != sid
