"""Running as a service: systemd's notify protocol, the watchdog, `stairrig status`, journald levels."""

import json
import os
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
    stopped = subprocess.run([sys.executable, "-m", "rig", "status", "--data-dir", str(data)],
                             capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 3 and "stopped" in stopped.stdout
    nothing = subprocess.run([sys.executable, "-m", "rig", "status", "--data-dir", str(tmp_path / "none")],
                             capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 3 and "not running here" in nothing.stderr


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
