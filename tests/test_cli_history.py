"""``stairrig sessions|athletes|history`` as a user runs them, on a history made by a real demo run."""

import csv
import gzip
import io
import json
import subprocess
import sys

import pytest


def run(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "rig", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    done = run("demo", "--duration", "60", "--speed", "20", "--data-dir", str(d), "--seed", "3", "--port", "0")
    assert done.returncode == 0, done.stderr
    return d


def test_sessions_list_and_show(data):
    rows = json.loads(run("sessions", "list", "--json", "--data-dir", str(data)).stdout)
    assert len(rows) == 1 and rows[0]["status"] == "closed" and rows[0]["steps"] > 0
    table = run("sessions", "list", "--data-dir", str(data)).stdout
    assert "closed" in table and str(rows[0]["steps"]) in table
    shown = json.loads(run("sessions", "show", str(rows[0]["id"]), "--json", "--data-dir", str(data)).stdout)
    assert shown["summary"]["steps"] == rows[0]["steps"] and shown["flights"]
    text = run("sessions", "show", str(rows[0]["id"]), "--data-dir", str(data)).stdout
    assert "flight  dir" in text and "energy (estimate)" in text
    missing = run("sessions", "show", "999", "--data-dir", str(data))
    assert missing.returncode == 1 and "no session 999" in missing.stderr


def test_exports(data, tmp_path):
    out = tmp_path / "all.csv"
    assert run("sessions", "export", "--format", "csv", "--out", str(out), "--data-dir", str(data)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 1 and int(rows[0]["steps"]) > 0
    history = json.loads(run("sessions", "export", "--format", "json", "--data-dir", str(data)).stdout)
    sessions = [s for athlete in history["athletes"] for s in athlete["sessions"]]
    assert sessions[0]["summary"]["steps"] == int(rows[0]["steps"])
    trace = tmp_path / "s.jsonl.gz"
    assert run("sessions", "export", "1", "--format", "trace", "--out", str(trace), "--data-dir", str(data)).returncode == 0
    with gzip.open(trace, "rt") as fh:
        assert json.loads(fh.readline())["format"] == "stairrig-trace"
    replayed = json.loads(run("replay", str(trace), "--json").stdout)
    assert replayed == sessions[0]["summary"]


def test_notes_are_validated(data):
    ok = run("sessions", "notes", "1", "--effort", "6", "--pain", "2", "--dizziness", "no", "--text", "felt fine",
             "--data-dir", str(data))
    assert ok.returncode == 0, ok.stderr
    shown = json.loads(run("sessions", "show", "1", "--json", "--data-dir", str(data)).stdout)
    assert (shown["effort"], shown["pain"], shown["dizziness"], shown["notes_text"]) == (6, 2, False, "felt fine")
    bad = run("sessions", "notes", "1", "--pain", "11", "--data-dir", str(data))
    assert bad.returncode == 1 and "pain" in bad.stderr and "Traceback" not in bad.stderr


def test_athletes_and_the_recommendation(data):
    assert run("athletes", "add", "Ana", "--weight-kg", "68", "--data-dir", str(data)).returncode == 0
    dup = run("athletes", "add", "ana", "--weight-kg", "60", "--data-dir", str(data))
    assert dup.returncode == 1 and "Traceback" not in dup.stderr
    assert run("athletes", "select", "Ana", "--data-dir", str(data)).returncode == 0
    listed = json.loads(run("athletes", "list", "--json", "--data-dir", str(data)).stdout)
    assert [a["name"] for a in listed if a["selected"]] == ["Ana"]
    nxt = json.loads(run("athletes", "next", "--json", "--data-dir", str(data)).stdout)
    assert nxt["athlete"] == "Ana" and nxt["level"] == "grip-firm" and "firm grip" in nxt["reason"]
    refused = run("athletes", "delete", "Ana", "--data-dir", str(data))
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert run("athletes", "delete", "Ana", "--yes", "--data-dir", str(data)).returncode == 0
    assert "Ana" not in run("athletes", "list", "--data-dir", str(data)).stdout


def test_backup_and_restore(data, tmp_path):
    backup = tmp_path / "history.backup"
    assert run("history", "backup", str(backup), "--data-dir", str(data)).returncode == 0
    fresh = tmp_path / "elsewhere"
    assert run("history", "restore", str(backup), "--data-dir", str(fresh)).returncode == 0
    a = json.loads(run("sessions", "list", "--json", "--data-dir", str(data)).stdout)
    b = json.loads(run("sessions", "list", "--json", "--data-dir", str(fresh)).stdout)
    assert [r["steps"] for r in a] == [r["steps"] for r in b]
    again = run("history", "restore", str(backup), "--data-dir", str(fresh))
    assert again.returncode == 1 and "Traceback" not in again.stderr


def test_no_history_says_where_to_look(tmp_path):
    done = run("sessions", "list", "--data-dir", str(tmp_path))
    assert done.returncode == 1 and "no history in" in done.stderr


def test_history_commands_work_beside_a_running_service(data):
    """The service holds the history open; the command line reads and writes beside it."""
    from rig.history import HistoryStore
    with HistoryStore.open(str(data)):                 # as the running service does
        listed = run("sessions", "list", "--json", "--data-dir", str(data))
        assert listed.returncode == 0, listed.stderr
        notes = run("sessions", "notes", "1", "--effort", "3", "--data-dir", str(data))
        assert notes.returncode == 0, notes.stderr
        restore = run("history", "restore", str(data / "history.sqlite3"), "--data-dir", str(data), "--force")
        assert restore.returncode == 1 and "Traceback" not in restore.stderr   # never under a running rig


def test_athlete_names_are_never_guessed(data):
    assert run("athletes", "add", "Zoë", "--weight-kg", "60", "--data-dir", str(data)).returncode == 0
    assert run("athletes", "add", "ZOË", "--weight-kg", "61", "--data-dir", str(data)).returncode == 0
    guess = run("athletes", "delete", "zoë", "--yes", "--data-dir", str(data))
    assert guess.returncode == 1 and "give the exact name" in guess.stderr
    assert run("athletes", "delete", "ZOË", "--yes", "--data-dir", str(data)).returncode == 0
    names = [a["name"] for a in json.loads(run("athletes", "list", "--json", "--data-dir", str(data)).stdout)]
    assert "Zoë" in names and "ZOË" not in names


def test_export_errors_are_messages(data, tmp_path):
    keep = tmp_path / "keep.json"
    keep.write_text("precious")
    missing = run("sessions", "export", "999", "--out", str(keep), "--data-dir", str(data))
    assert missing.returncode == 1 and keep.read_text() == "precious"
    nowhere = run("sessions", "export", "--format", "csv", "--out", str(tmp_path / "no" / "x.csv"), "--data-dir", str(data))
    assert nowhere.returncode == 1 and "Traceback" not in nowhere.stderr
    empty = run("sessions", "notes", "1", "--data-dir", str(data))
    assert empty.returncode == 1 and "at least one of" in empty.stderr
