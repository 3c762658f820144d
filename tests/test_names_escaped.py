"""Names are data, not markup: stored as given, logged and printed with control characters escaped.

An athlete named to forge a log line (a newline, then a line that looks like
the service's own ERROR) and to recolour a terminal (ESC) or reverse a line
(a bidi override) is created through the CLI and through the panel's API; the
history keeps the name (the same bytes, but for runs of spaces, tabs and line
ends, which every athlete name has as one space), and neither the log nor
``stairrig athletes list`` ever shows a raw control character. The CLI runs
as a user runs it (a subprocess), with the service's real log handler.
"""

import io
import json
import logging
import re
import subprocess
import sys

import pytest

from rig import logsafe
from rig.history import HistoryStore
from tests.test_web_support import login, send

pytest_plugins = ("tests.test_web_support",)   # its fixtures: rig, service, app, client

FORGED_LINE = "2026-11-21 09:55:01,310 ERROR rig.service: FORGED"
FORGED = f"Evil\n{FORGED_LINE}\u001b[31m"
# no white space in it, so the history keeps it byte for byte: ESC, BEL, a C1 CSI, bidi overrides, DEL
MARKUP = "Zo\u00eb\u001b[2J\u0007\u009b31m\u202egnp.exe\u2066x\u2069\u007f\U0001F3C3\u200d\u2640\ufe0f"
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def run(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "rig", *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def kept(name: str) -> str:
    """An athlete's name as the history keeps every name: runs of white space as one space."""
    return " ".join(name.split())


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    HistoryStore.open(str(d)).close()          # a real, empty history
    return d


# -- the escaping itself ------------------------------------------------------------------------
def test_escaped_makes_every_control_visible_and_leaves_other_text_alone():
    assert logsafe.escaped(FORGED) == "Evil\\n" + FORGED_LINE + "\\x1b[31m"
    assert logsafe.escaped("a\rb\tc\x00d\x7fe\x85f\u2028g\u2029h\u202ei\u200fj") == \
        "a\\rb\\tc\\x00d\\x7fe\\x85f\\u2028g\\u2029h\\u202ei\\u200fj"
    for harmless in ("Zoë Ångström", "José Núñez", "山田 花子", "محمد", "🏃‍♀️ Anna", "C:\\path", "100 %s %d"):
        assert logsafe.escaped(harmless) == harmless
    assert not RAW.search(logsafe.escaped("".join(map(chr, range(0x10000)))))


def _log_through(handler_formatter: logging.Formatter, emit) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(handler_formatter)
    logsafe.install(handler)
    logger = logging.getLogger("test.names")
    logger.addHandler(handler)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


def test_a_logged_name_is_one_line_and_a_traceback_keeps_only_its_own_newlines():
    text = _log_through(logging.Formatter("%(levelname)s %(name)s: %(message)s"),
                        lambda log: log.warning("added athlete %s (%d)", FORGED, 7))
    assert text == f"WARNING test.names: added athlete Evil\\n{FORGED_LINE}\\x1b[31m (7)\n"

    def failing(log):
        try:
            raise ValueError(f"no athlete {FORGED}")
        except ValueError:
            log.exception("while selecting %s", FORGED)
    lines = _log_through(logging.Formatter("%(levelname)s %(name)s: %(message)s"), failing).splitlines()
    assert lines[0].startswith("ERROR test.names: while selecting Evil\\n2026")
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == f"ValueError: no athlete Evil\\n{FORGED_LINE}\\x1b[31m"
    assert not any(line.startswith(FORGED_LINE[:10]) for line in lines)
    assert not any(RAW.search(line) for line in lines)


# -- through the CLI, with the service's log handler -------------------------------------------------
def test_an_athlete_added_by_the_cli_is_kept_and_listed_and_logged_escaped(data_dir, tmp_path):
    for name in (FORGED, MARKUP):
        added = run("athletes", "add", name, "--weight-kg", "70", "--data-dir", str(data_dir))
        assert added.returncode == 0, added.stderr
        assert not RAW.search(added.stdout) and logsafe.escaped(kept(name)) in added.stdout
    store = HistoryStore.open(str(data_dir), exclusive=False)
    try:
        names = [a["name"] for a in store.athletes()]
    finally:
        store.close()
    assert names == [kept(FORGED), MARKUP]                     # MARKUP: the very same code points
    assert names[1].encode() == MARKUP.encode()

    listed = run("athletes", "list", "--data-dir", str(data_dir))
    assert listed.returncode == 0, listed.stderr
    assert not RAW.search(listed.stdout)
    assert len(listed.stdout.splitlines()) == 3                # a header and one line per athlete
    assert logsafe.escaped(MARKUP) in listed.stdout and "\\x1b[31m" in listed.stdout
    as_json = json.loads(run("athletes", "list", "--json", "--data-dir", str(data_dir)).stdout)
    assert [a["name"] for a in as_json] == names               # JSON: the name itself, JSON-escaped

    # the selected athlete's name goes into the service's log as it starts: one line, escaped
    selected = run("athletes", "select", FORGED, "--data-dir", str(data_dir))   # as typed: found
    assert selected.returncode == 0, selected.stderr
    demo = run("demo", "--duration", "3", "--speed", "10", "--data-dir", str(data_dir), "--port", "0")
    assert demo.returncode == 0, demo.stderr
    lines = demo.stderr.splitlines()
    assert not RAW.search(demo.stderr)
    assert not any(line.startswith(FORGED_LINE[:10]) and "FORGED" in line for line in lines)
    running = [line for line in lines if "stairrig is running" in line]
    assert len(running) == 1 and f"athlete Evil {FORGED_LINE}\\x1b[31m (70 kg)" in running[0]

    # a note on the demo's session: kept as written, shown escaped
    session_id = json.loads(run("sessions", "list", "--json", "--data-dir", str(data_dir)).stdout)[0]["id"]
    noted = run("sessions", "notes", str(session_id), "--text", FORGED + MARKUP, "--data-dir", str(data_dir))
    assert noted.returncode == 0, noted.stderr
    shown = json.loads(run("sessions", "show", str(session_id), "--json", "--data-dir", str(data_dir)).stdout)
    assert shown["notes_text"] == FORGED + MARKUP
    text = run("sessions", "show", str(session_id), "--data-dir", str(data_dir)).stdout
    assert not RAW.search(text) and logsafe.escaped(FORGED + MARKUP) in text


def test_a_name_in_the_journal_is_one_entry(data_dir):
    """Under systemd every line of the log is one journal entry: a name must not make two."""
    import os
    run("athletes", "add", MARKUP + "\u2028" + FORGED, "--weight-kg", "70", "--data-dir", str(data_dir))
    demo = run("demo", "--duration", "3", "--speed", "10", "--data-dir", str(data_dir), "--port", "0",
               env={**os.environ, "JOURNAL_STREAM": "8:1234"})
    assert demo.returncode == 0, demo.stderr
    lines = demo.stderr.splitlines()
    assert lines and all(re.match(r"<[0-7]>", line) for line in lines), lines
    assert not RAW.search(demo.stderr)
    running = [line for line in lines if "stairrig is running" in line]
    assert len(running) == 1 and "\\x1b[2J" in running[0] and "\\u202e" in running[0] and "FORGED" in running[0]


# -- through the panel's API ---------------------------------------------------------------------------
def test_an_athlete_added_by_the_api_is_kept_and_logged_escaped(client, service):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logsafe.install(handler)                                  # as the CLI sets up the service's log
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        assert login(client).status_code == 200
        ids = []
        for name in (FORGED, MARKUP, "Nul\u0000Byte"):
            response = send(client, "POST", "/api/athletes", {"name": name, "weight_kg": 66})
            assert response.status_code == 201, response.get_json()
            ids.append(response.get_json()["athlete"]["id"])
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert [service.store.athlete(i)["name"] for i in ids] == [kept(FORGED), MARKUP, "Nul\u0000Byte"]
    listed = [a["name"] for a in client.get("/api/athletes").get_json()["athletes"]]
    assert MARKUP in listed and "Nul\u0000Byte" in listed
    log = out.getvalue()
    assert not RAW.search(log)
    added = [line for line in log.splitlines() if "added athlete" in line]
    assert len(added) == 3
    assert f"added athlete Evil\\n{FORGED_LINE}\\x1b[31m" in added[0]     # as the request gave it
    assert logsafe.escaped(MARKUP) in added[1] and "Nul\\x00Byte" in added[2]
    assert not any(line.startswith(FORGED_LINE[:10]) for line in log.splitlines())
