"""Running as a service: systemd's notify protocol, the watchdog, `stairrig status`, journald levels."""

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest
from gpiozero import Device

from rig.config import example_config_path, load_config
from rig.hardware.mockpi import RigMockFactory
from rig.layout import RigLayout
from rig.service import Service
from rig.systemd_notify import Notifier
from tests.rigs import config_for


@pytest.fixture
def notify_socket(tmp_path):
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    yield path, sock
    sock.close()


def received(sock, until: str, limit: int = 500) -> list[str]:
    got = []
    for _ in range(limit):
        msg = sock.recv(4096).decode()
        got.append(msg)
        if until in msg:
            return got
    raise AssertionError(f"{until} never came: {got[:5]}")


def test_notifier_speaks_the_protocol(notify_socket):
    path, sock = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "6000000", "WATCHDOG_PID": str(os.getpid())})
    assert n.enabled and n.watchdog_s == 6.0
    assert n.ready("counting")
    assert sock.recv(100) == b"READY=1\nSTATUS=counting"
    assert n.watchdog() and sock.recv(100) == b"WATCHDOG=1"
    assert n.stopping() and sock.recv(100) == b"STOPPING=1"
    n.close()


def test_notifier_outside_systemd_and_for_another_pid():
    assert not Notifier({}).enabled and not Notifier({}).ready()
    other = Notifier({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"})
    assert other.watchdog_s is None                   # the watchdog is another process's
    assert not other.watchdog()                       # a dead socket is logged, not raised


def test_abstract_socket_names(notify_socket):
    name = f"stairrig-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()


def test_the_service_is_ready_then_fed_only_while_its_threads_live(notify_socket, tmp_path):
    path, sock = notify_socket
    save = Device.pin_factory
    Device.pin_factory = factory = RigMockFactory()
    try:
        config = config_for(RigLayout(treads=2, rails={"left": ("force",)}), str(tmp_path))
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "300000"})
        service = Service(config, pin_factory=factory, notifier=notifier)
        service.start()
        received(sock, "READY=1")                        # fails if it never comes
        assert received(sock, "WATCHDOG=1") and received(sock, "WATCHDOG=1")   # fed while healthy
        service.sensors.sampler.stop.set()              # the ADC sampler thread dies...
        service.sensors.sampler.thread.join(5)
        assert not service.healthy()
        sock.settimeout(1.0)
        deadline = time.monotonic() + 5                  # ...and the pings stop (systemd then restarts)
        while time.monotonic() < deadline:
            try:
                sock.recv(100)
            except socket.timeout:
                break
        with pytest.raises(socket.timeout):
            sock.recv(100)
        service.stop()
        sock.settimeout(5)
        assert received(sock, "STOPPING=1")
    finally:
        factory.reset()
        Device.pin_factory = save


def test_status_is_readable_by_everyone(tmp_path):
    """The service writes its status 0644 (no health data in it), in /run/stairrig under systemd."""
    (tmp_path / "run").mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "rig", "demo", "--duration", "600", "--data-dir", str(tmp_path), "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "RUNTIME_DIRECTORY": str(tmp_path / "run")})
    try:
        status = tmp_path / "run" / "status.json"
        deadline = time.monotonic() + 60
        while not status.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status.stat().st_mode & 0o777 == 0o644
        assert "weight_kg" not in status.read_text()
    finally:
        proc.kill()
        proc.wait(10)


def test_status_of_a_running_and_a_stopped_service(tmp_path):
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "rig", "demo", "--duration", "600", "--data-dir", str(data), "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (data / "status.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        done = subprocess.run([sys.executable, "-m", "rig", "status", "--json", "--data-dir", str(data)],
                              capture_output=True, text=True, timeout=60)
        doc = json.loads(done.stdout)
        assert done.returncode == 0 and doc["state"] == "healthy", doc.get("problems")
        assert set(doc["channels"]) == set(load_config(example_config_path()).layout.channels())
        assert doc["channels"]["rail.left.force"]["age_s"] < 5
        text = subprocess.run([sys.executable, "-m", "rig", "status", "--data-dir", str(data)],
                              capture_output=True, text=True, timeout=60).stdout
        assert "stairrig: healthy" in text and "rail.left.force" in text and str(data) in text
    finally:
        proc.kill()
        proc.wait(10)
    # killed: its last status has no stopped_at, and says so instead of showing figures as if live
    stopped = subprocess.run([sys.executable, "-m", "rig", "status", "--data-dir", str(data)],
                             capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 3 and "stairrig: stopped without a clean stop" in stopped.stdout, stopped.stdout
    assert "sampled" not in stopped.stdout and " up " not in stopped.stdout
    nothing = subprocess.run([sys.executable, "-m", "rig", "status", "--data-dir", str(tmp_path / "none")],
                             capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 3 and "not running here" in nothing.stderr


def status(*args, env=None, user=None):
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if user == "nobody" else []
    return subprocess.run([*prefix, sys.executable, "-m", "rig", "status", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def test_status_json_when_nothing_runs(tmp_path):
    """Not running: a JSON document (exit 3) that says so and where it looked, for scripts."""
    none = tmp_path / "none"
    done = status("--json", "--data-dir", str(none))
    assert done.returncode == 3, done.stderr
    doc = json.loads(done.stdout)
    assert doc["state"] == "not_running" and doc["running"] is False
    assert doc["looked_in"] == [str(none / "status.json")]
    assert str(none / "status.json") in doc["problems"][0] and done.stderr == ""
    if os.path.exists("/run/stairrig/status.json"):
        pytest.skip("an installed stairrig runs on this machine")
    # the default: the installed service's status under /run, then the data directory's
    done = status("--json", env={"STAIRRIG_DATA_DIR": str(none)})
    doc = json.loads(done.stdout)
    assert done.returncode == 3 and doc["state"] == "not_running"
    assert doc["looked_in"] == ["/run/stairrig/status.json", str(none / "status.json")]
    text = status(env={"STAIRRIG_DATA_DIR": str(none)})
    assert text.returncode == 3 and text.stdout == ""
    assert "stairrig is not running here: no /run/stairrig/status.json" in text.stderr
    assert "systemctl status stairrig" in text.stderr and "Traceback" not in text.stderr


@pytest.mark.skipif(os.geteuid() != 0 or os.path.exists("/run/stairrig/status.json"),
                    reason="needs root to act as another user, and no installed stairrig running")
def test_status_of_a_data_dir_another_user_cannot_read(tmp_path):
    """The installed service stopped (no /run/stairrig): the service's data directory, 0750, is not
    readable by others. That is "not running" (exit 3), not a reason to reach for sudo first."""
    data = tmp_path / "data"
    data.mkdir(mode=0o750)
    (data / "status.json").write_text("{}")
    os.chmod(tmp_path, 0o755)
    default = status("--json", env={"STAIRRIG_DATA_DIR": str(data)}, user="nobody")
    doc = json.loads(default.stdout)
    assert default.returncode == 3 and doc["state"] == "not_running", default.stderr
    assert "not readable by this user" in doc["problems"][0] and "sudo stairrig status" in doc["problems"][0]
    # asked for that directory by name: it cannot be read (exit 4)
    named = status("--data-dir", str(data), user="nobody")
    assert named.returncode == 4 and "is not readable by this user" in named.stderr, named.stderr


def test_status_after_a_finished_demo(tmp_path):
    """A demo that ended: when it stopped and how long it ran, no live figures; its JSON says so too."""
    data = tmp_path / "data"
    demo = subprocess.run([sys.executable, "-m", "rig", "demo", "--duration", "20", "--speed", "10", "--port", "0",
                           "--data-dir", str(data)], capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    text = status("--data-dir", str(data))
    assert text.returncode == 3, text.stderr
    first = text.stdout.splitlines()[0]
    assert re.fullmatch(r"stairrig: stopped at \S+ \(\d+ s ago\), after running \d+ s \(pid \d+, started \S+\)",
                        first), first
    assert "sampled" not in text.stdout and " up " not in text.stdout and "  ! " not in text.stdout
    assert "sensors: not watched (the service is not running)" in text.stdout and str(data) in text.stdout
    doc = json.loads(status("--json", "--data-dir", str(data)).stdout)
    assert doc["state"] == "stopped" and doc["running"] is False and doc["stopped_at"] >= doc["started_at"]
    started, stopped = (dt.datetime.fromisoformat(doc[k]) for k in ("started_at", "stopped_at"))
    assert doc["ran_s"] == round((stopped - started).total_seconds())


def test_logs_carry_their_level_for_journald():
    code = ("import logging, rig.cli as c; c._setup_logging(logging.INFO); "
            "logging.getLogger('rig.x').warning('careful'); logging.getLogger('rig.x').error('broken')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "JOURNAL_STREAM": "8:1234"})
    assert done.stderr.splitlines() == ["<4>rig.x: careful", "<3>rig.x: broken"]
    code = ("import logging, rig.cli as c; c._setup_logging(logging.INFO)\n"
            "try:\n    1/0\nexcept ZeroDivisionError:\n    logging.getLogger('rig.x').exception('failed')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "JOURNAL_STREAM": "8:1234"})
    lines = done.stderr.splitlines()
    assert len(lines) > 3 and all(line.startswith("<3>") for line in lines)   # the traceback too


@pytest.mark.parametrize("content, words", [
    (b'{"pid": 1}', "is not a status stairrig wrote (no 'updated_at')"),
    (b"[1, 2]", "not a JSON object"),
    (b"{" * 10, "cannot read"),
    (b" " * (2 << 20), "larger than 1 MB"),
])
def test_status_of_a_damaged_status_file(tmp_path, content, words):
    """Not a status stairrig wrote: one message naming the file (exit 4), as JSON with --json; no traceback."""
    (tmp_path / "status.json").write_bytes(content)
    text = status("--data-dir", str(tmp_path))
    assert text.returncode == 4 and words in text.stderr and str(tmp_path / "status.json") in text.stderr
    assert "Traceback" not in text.stderr and text.stdout == ""
    doc = json.loads(status("--json", "--data-dir", str(tmp_path)).stdout)
    assert doc["state"] == "unreadable" and words in doc["problems"][0]
