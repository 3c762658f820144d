"""The installed service starts as its unit says: install.sh into a temporary root (pip for real),
then the unit's command line as an unprivileged user in a private mount namespace, on mock pins
driven over STAIRRIG_MOCK_SOCKET: READY, /healthz, a walk counted, a clean stop."""
from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.unit_sandbox import SYSTEMD_PATH, ServiceUnit, UnitError, sandboxed_command
from tests.installer import EXAMPLE, install

SUDO_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"   # Debian's sudoers secure_path
SERVICE_USER = "nobody"   # stands in for the unit's `stairrig` account, which a test must not create


def _cannot_sandbox() -> str | None:
    """Why the installed service cannot be run here, or None."""
    if not sys.platform.startswith("linux"):
        return "needs Linux (mount namespaces)"
    if os.geteuid() != 0:
        return "needs root: it mounts the temporary root over /opt, /etc and /var/lib in a private mount namespace"
    for tool in ("unshare", "nsenter", "setpriv"):
        if shutil.which(tool) is None:
            return f"needs {tool} (util-linux)"
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return f"needs the user {SERVICE_USER!r} to run the service unprivileged"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs", "probe", "/mnt"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"cannot make a private mount namespace here: {probe.stderr.strip()}"
    return None


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _unused_uid() -> int:
    """A user id without an account: someone who is neither root nor the service's user."""
    taken = {p.pw_uid for p in pwd.getpwall()}
    return next(uid for uid in range(64000, 65000) if uid not in taken)


def _as_user(uid: int, gid: int, *argv: str, nsenter_pid: int | None = None) -> subprocess.CompletedProcess:
    """argv as uid:gid with a clean environment (in the mount namespace of nsenter_pid, if given)."""
    cmd = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv]
    if nsenter_pid is not None:
        cmd = ["nsenter", "-t", str(nsenter_pid), "-m", *cmd]
    return subprocess.run(cmd, env={"PATH": SUDO_PATH, "LANG": "C.UTF-8"}, cwd="/", capture_output=True,
                          text=True, timeout=60)


class RunningUnit:
    """The service started from the installed unit: its process, its output (what journald
    would get) and what it sent to the notify socket."""

    def __init__(self, unit: ServiceUnit, *, binds: dict[str, Path], user: pwd.struct_passwd, base: Path,
                 extra_env: dict[str, str]):
        self.unit = unit
        self.log = base / "journal.log"
        self.notifications: list[str] = []
        # systemd's notify socket: abstract (no file, no permissions to get right)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify_name = f"stairrig-test-{os.getpid()}-{time.monotonic_ns()}"
        self.notify.bind("\0" + notify_name)
        self.notify.setblocking(False)
        scratch = base / "scratch"
        scratch.mkdir()
        with self.log.open("wb") as out:
            st = os.fstat(out.fileno())
            # what systemd puts in the environment of a service with these settings
            env = {"PATH": SYSTEMD_PATH, "HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name,
                   "SHELL": user.pw_shell, "LANG": "C.UTF-8", "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}",
                   **unit.environment,
                   **{var: path for path, var in unit.paths().items()},
                   "NOTIFY_SOCKET": "@" + notify_name}
            if unit.watchdog_s:
                env["WATCHDOG_USEC"] = str(int(unit.watchdog_s * 1e6))
            env.update(extra_env)
            command = sandboxed_command(unit, binds=binds, uid=user.pw_uid, gid=user.pw_gid, scratch=scratch)
            self.proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def read_notifications(self) -> list[str]:
        while True:
            try:
                self.notifications += self.notify.recv(4096).decode().splitlines()
            except BlockingIOError:
                return self.notifications

    def wait_for(self, what: str, deadline_s: float, predicate):
        """predicate() until it returns something true; fail with the output if the service ends first."""
        end = time.monotonic() + deadline_s
        while True:
            value = predicate()
            if value:
                return value
            if self.proc.poll() is not None:
                pytest.fail(f"the service ended (status {self.proc.returncode}) before {what}:\n{self.output()}")
            if time.monotonic() > end:
                pytest.fail(f"no {what} within {deadline_s:g} s; the service's output:\n{self.output()}")
            time.sleep(0.1)

    def stop(self) -> int:
        """What `systemctl stop` does: SIGTERM, then SIGKILL after TimeoutStopSec (a failure here)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=self.unit.stop_timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"the service did not stop within TimeoutStopSec={self.unit.stop_timeout_s:g} s:\n"
                        f"{self.output()}")
        finally:
            self.read_notifications()
            self.notify.close()
        return self.proc.returncode


@pytest.fixture
def sandbox_dir():
    """A temporary directory the service's user can reach (pytest's tmp_path is under a 0700 one)."""
    reason = _cannot_sandbox()
    if reason:
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="stairrig-unit-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base)


def test_the_unit_reader_takes_what_runs_the_service_and_refuses_what_it_cannot_reproduce():
    unit = ServiceUnit.parse(
        "# a comment\n[Unit]\nDescription=x\n[Service]\n"
        "ExecStart=/opt/x/bin/x run \\\n  --config '/etc/x/my rig.toml'\n"
        "Environment=A=1 \"B=two words\"\nEnvironment=C=3\n; another comment\n"
        "User=x\nUMask=0027\nStateDirectory=x\nStateDirectoryMode=0750\nRuntimeDirectory=x\n"
        "Type=notify\nWatchdogSec=10\nTimeoutStopSec=30s\n")
    assert unit.argv == ["/opt/x/bin/x", "run", "--config", "/etc/x/my rig.toml"]
    assert unit.environment == {"A": "1", "B": "two words", "C": "3"}
    assert (unit.user, unit.umask, unit.state_directory_mode) == ("x", 0o027, 0o750)
    assert unit.paths() == {"/var/lib/x": "STATE_DIRECTORY", "/run/x": "RUNTIME_DIRECTORY"}
    assert (unit.notify, unit.watchdog_s, unit.start_timeout_s, unit.stop_timeout_s) == (True, 10.0, 90.0, 30.0)
    with pytest.raises(UnitError, match="EnvironmentFile is not reproduced"):
        ServiceUnit.parse("[Service]\nExecStart=/bin/x\nEnvironmentFile=/etc/default/x\n", "x.service")
    with pytest.raises(UnitError, match="x.service: ExecStart='-/bin/x' uses a prefix"):
        ServiceUnit.parse("[Service]\nExecStart=-/bin/x\n", "x.service")
    with pytest.raises(UnitError, match="x.service line 2: not KEY=VALUE"):
        ServiceUnit.parse("[Service]\nExecStart /bin/x\n", "x.service")


def _walk_up(socket_path: Path, treads: int) -> None:
    """Up the flight on the mock pins: each tread's front half pressed for 0.4 s, the next
    tread pressed before the last one is released, as feet do (docs/detection.md: each tread
    going from empty to occupied is a step, up from the one still occupied; tread N emptying
    after an up step is an ascent)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as pins:
        def send(channel: str, value: int) -> None:
            pins.sendto(f"{channel} {value}".encode(), str(socket_path))
        for tread in range(1, treads + 1):
            send(f"tread.{tread}.front", 1)
            if tread > 1:
                send(f"tread.{tread - 1}.front", 0)
            time.sleep(0.4)
        send(f"tread.{treads}.front", 0)


@pytest.mark.timeout(900)   # a real pip install (up to 600 s on a slow network), then the service
def test_the_installed_service_runs_as_its_unit_says_counts_a_step_and_stops_cleanly(sandbox_dir):
    """install.sh into a temporary root with a real pip; then the installed unit's ExecStart, as
    its User=, with its WorkingDirectory=, Environment= and directories, in a mount namespace in
    which the root's /opt/stairrig, /etc/stairrig and /var/lib/stairrig are the real paths; on
    mock pins driven through STAIRRIG_MOCK_SOCKET."""
    base = sandbox_dir
    root = base / "root"
    root.mkdir()
    # `sudo ./install.sh` runs with sudo's secure_path: the distribution's python3, whose
    # standard library and dist-packages (python3-lgpio) the service's user can read
    install("--root", str(root), STAIRRIG_INSTALL_PIP="1", PATH=SUDO_PATH)
    unit_file = root / "etc/systemd/system/stairrig.service"
    unit = ServiceUnit.parse(unit_file.read_text(), str(unit_file))
    program = "/opt/stairrig"
    assert unit.argv[0].startswith(program + "/") and (root / unit.argv[0].lstrip("/")).exists(), unit.argv
    config_file = root / unit.argv[unit.argv.index("--config") + 1].lstrip("/")
    assert config_file.read_bytes() == EXAMPLE.read_bytes()
    config = tomllib.loads(config_file.read_text())
    assert config["service"]["data_dir"] == f"/var/lib/{unit.state_directory}"

    # If 8080 is taken on this machine, another port, as a user would set it in rig.toml.
    port = config["web"]["port"]
    if not _port_is_free(config["web"]["host"], port):
        port = _free_port(config["web"]["host"])
        text, n = re.subn(r"(?m)^(\[web\][^\[]*?^port\s*=\s*)\d+", rf"\g<1>{port}", config_file.read_text())
        assert n == 1, "no port line in the [web] table of the example configuration"
        config_file.write_text(text)
        assert tomllib.loads(config_file.read_text())["web"]["port"] == port

    # What systemd and install.sh do for the service's account (here nobody): StateDirectory=
    # owned by it, RuntimeDirectory= made for it, rig.toml in its group (install.sh's chgrp).
    assert unit.user == "stairrig"
    user = pwd.getpwnam(SERVICE_USER)
    state = root / ("var/lib/" + unit.state_directory)
    os.chown(state, user.pw_uid, user.pw_gid)
    state.chmod(unit.state_directory_mode)
    runtime = base / "run"
    runtime.mkdir()
    runtime.chmod(unit.runtime_directory_mode)
    os.chown(runtime, user.pw_uid, user.pw_gid)
    os.chown(config_file, 0, user.pw_gid)
    binds = {program: root / program.lstrip("/"),
             f"/etc/{unit.configuration_directory}": root / ("etc/" + unit.configuration_directory),
             f"/var/lib/{unit.state_directory}": state,
             f"/run/{unit.runtime_directory}": runtime}
    # the mock pins' socket in the runtime directory: only the service's user may write there
    mock_socket = f"/run/{unit.runtime_directory}/mock.sock"
    service = RunningUnit(unit, binds=binds, user=user, base=base,
                          extra_env={"GPIOZERO_PIN_FACTORY": "mock", "STAIRRIG_MOCK_SOCKET": mock_socket})
    treads = config["rig"]["treads"]
    walked = False
    try:
        assert unit.notify
        service.wait_for("READY=1 on the notify socket", unit.start_timeout_s,
                         lambda: "READY=1" in service.read_notifications())
        status, health = _get_json(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and health["ok"] and health["engine"] and health["history"]["available"], health
        service.wait_for("WATCHDOG=1 on the notify socket", 2 * unit.watchdog_s,
                         lambda: "WATCHDOG=1" in service.read_notifications())

        # The hardware docs' check after install (README step 9, walk-test.md step 1): `stairrig
        # status` by any user, no sudo: healthy, every tread and touch channel quiet, the unloaded
        # load cells near 0 N. It reads /run/stairrig/status.json (written every 2 s).
        service.wait_for("/run/stairrig/status.json", 10, lambda: _read_json(runtime / "status.json"))
        anyone = _unused_uid()
        shown = _as_user(anyone, anyone, unit.argv[0], "status", nsenter_pid=service.proc.pid)
        assert shown.returncode == 0 and shown.stdout.startswith("stairrig: healthy"), shown.stdout + shown.stderr
        for channel in config["wiring"]:
            # (how fresh a force sample must be is the service's own rule for `healthy`)
            expected = r"-?0\.\d\d N, sampled [\d.]+ s ago" if channel.endswith(".force") else \
                r"quiet since start \(off\)"
            assert re.search(rf"(?m)^  {re.escape(channel)} +{expected}$", shown.stdout), shown.stdout

        host_socket = runtime / "mock.sock"
        end = time.monotonic() + 10
        while not host_socket.exists() and time.monotonic() < end:
            time.sleep(0.1)
        walked = host_socket.exists()
        if walked:
            _walk_up(host_socket, treads)
            end = time.monotonic() + 10
            while True:
                live = _get_json(f"http://127.0.0.1:{port}/api/status")[1]["state"]["session"]
                if (live["steps"] >= treads and live["flights_up"] >= 1) or time.monotonic() > end:
                    break
                time.sleep(0.2)
    finally:
        returncode = service.stop()

    output = service.output()
    assert returncode == 0, output
    assert "STOPPING=1" in service.notifications, service.notifications
    assert "Traceback" not in output, output

    assert walked, (f"the service did not bind STAIRRIG_MOCK_SOCKET={mock_socket} under "
                    f"GPIOZERO_PIN_FACTORY=mock: no step could be made:\n{output}")
    assert live["steps"] == treads and live["steps_up"] == treads and live["flights_up"] == 1, live
    sessions = _as_user(user.pw_uid, user.pw_gid, str(root / unit.argv[0].lstrip("/")),
                        "sessions", "list", "--json", "--data-dir", str(state))
    assert sessions.returncode == 0, sessions.stderr
    rows = json.loads(sessions.stdout)
    assert [(r["status"], r["steps"], r["ascents"]) for r in rows] == [("closed", treads, 1)], rows

    # `journalctl -u stairrig` tells a clean stop from a crash: after it started, a line saying it stopped
    started = output.find("stairrig is running")
    assert started >= 0, output
    assert re.search(r"(?m)^<[0-6]>.*\bstop(ped|ping)\b", output[started:]), \
        f"the service's log does not say it stopped:\n{output}"
