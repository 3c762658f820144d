"""install.sh against a temporary root directory (--root): files are written
under it for real; apt, useradd, systemctl and pip are printed, not run (pip
runs, into the temporary root, with STAIRRIG_INSTALL_PIP=1)."""
from __future__ import annotations

import hashlib
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

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "install.sh"
EXAMPLE = REPO / "rig" / "rig.example.toml"
UNIT = REPO / "systemd" / "stairrig.service"
KIOSK = REPO / "systemd" / "stairrig-kiosk.service"
REAL_PIP = os.environ.get("STAIRRIG_INSTALL_PIP") == "1"


def install(*args: str, path_prefix: Path | None = None, check: bool = True, script: Path = INSTALL,
            **env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "STAIRRIG_INSTALL_PIP"}
    if REAL_PIP:
        env["STAIRRIG_INSTALL_PIP"] = "1"
    env.update(env_vars)
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}:{env['PATH']}"
    real_pip = env.get("STAIRRIG_INSTALL_PIP") == "1"
    result = subprocess.run(["bash", str(script), *args], capture_output=True, text=True,
                            timeout=600 if real_pip else 60, env=env)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file, link and folder under root: its content hash and mtime."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            out[str(path.relative_to(root))] = ("link", os.readlink(path), st.st_mtime_ns)
        elif path.is_file():
            out[str(path.relative_to(root))] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                                st.st_mode, st.st_mtime_ns)
        else:
            out[str(path.relative_to(root)) + "/"] = ("dir", st.st_mode, st.st_mtime_ns)
    return out


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    return r


def test_the_first_run_installs_configuration_and_units(root):
    out = install("--root", str(root)).stdout
    config = root / "etc/stairrig/rig.toml"
    assert config.read_bytes() == EXAMPLE.read_bytes()
    assert config.stat().st_mode & 0o777 == 0o640
    unit = root / "etc/systemd/system/stairrig.service"
    assert unit.read_bytes() == UNIT.read_bytes()
    assert unit.stat().st_mode & 0o777 == 0o644
    assert (root / "etc/systemd/user/stairrig-kiosk.service").read_bytes() == KIOSK.read_bytes()
    assert (root / "var/lib/stairrig").is_dir()
    assert os.readlink(root / "usr/local/bin/stairrig") == "/opt/stairrig/venv/bin/stairrig"
    # System commands are printed, not run.
    assert "would run: useradd --system" in out and "--groups gpio\\,spi" in out
    assert "--shell /usr/sbin/nologin" in out and "--home-dir /var/lib/stairrig" in out
    assert "would run: systemctl daemon-reload" in out
    assert "would run: systemctl enable stairrig" in out
    assert "would run: systemctl restart stairrig" in out
    if REAL_PIP:
        assert (root / "opt/stairrig/venv/bin/stairrig").exists()
        assert "include-system-site-packages = true" in (root / "opt/stairrig/venv/pyvenv.cfg").read_text()
    else:
        assert f"would run: python3 -m venv --system-site-packages {root}/opt/stairrig/venv" in out
        assert "pip install" in out
        assert not (root / "opt").exists()


def test_a_second_run_changes_nothing(root):
    install("--root", str(root))
    before = snapshot(root)
    out = install("--root", str(root)).stdout
    assert snapshot(root) == before
    for path in ("/etc/stairrig/rig.toml", "/etc/systemd/system/stairrig.service",
                 "/etc/systemd/user/stairrig-kiosk.service", "/usr/local/bin/stairrig"):
        assert f"unchanged  {path}" in out
    assert "created" not in out and "updated" not in out
    assert "daemon-reload" not in out and "restart" not in out
    assert "would run: systemctl enable --now stairrig" in out


def test_an_existing_configuration_is_never_overwritten(root):
    config = root / "etc/stairrig/rig.toml"
    config.parent.mkdir(parents=True)
    config.write_text("# my rig\n")
    out = install("--root", str(root)).stdout
    assert config.read_text() == "# my rig\n"
    assert "kept       /etc/stairrig/rig.toml" in out
    install("--root", str(root), "--update")
    assert config.read_text() == "# my rig\n"


def test_a_changed_unit_is_replaced_and_reloaded(root):
    install("--root", str(root))
    unit = root / "etc/systemd/system/stairrig.service"
    unit.write_text("[Service]\nExecStart=/bin/true\n")
    out = install("--root", str(root)).stdout
    assert unit.read_bytes() == UNIT.read_bytes()
    assert "updated    /etc/systemd/system/stairrig.service" in out
    assert "would run: systemctl daemon-reload" in out and "would run: systemctl restart stairrig" in out


def test_update_restarts_the_service(root):
    install("--root", str(root))
    out = install("--root", str(root), "--update").stdout
    assert "would run: systemctl restart stairrig" in out
    assert "pip install" in out


def test_no_start_neither_enables_nor_starts(root):
    out = install("--root", str(root), "--no-start").stdout
    assert "would run: systemctl enable" not in out and "systemctl restart" not in out
    assert "not started (--no-start)" in out
    assert (root / "etc/systemd/system/stairrig.service").exists()


def test_uninstall_removes_the_service_and_keeps_the_data(root):
    install("--root", str(root))
    (root / "var/lib/stairrig/history.sqlite3").write_text("sessions")
    (root / "opt/stairrig/venv/bin").mkdir(parents=True, exist_ok=True)
    out = install("--root", str(root), "--uninstall").stdout
    assert "would run: systemctl disable --now stairrig" in out
    assert not (root / "etc/systemd/system/stairrig.service").exists()
    assert not (root / "etc/systemd/user/stairrig-kiosk.service").exists()
    assert not (root / "opt/stairrig").exists()
    assert not (root / "usr/local/bin/stairrig").is_symlink()
    assert (root / "etc/stairrig/rig.toml").read_bytes() == EXAMPLE.read_bytes()
    assert (root / "var/lib/stairrig/history.sqlite3").read_text() == "sessions"
    assert "userdel" not in out
    # Twice is fine too.
    again = install("--root", str(root), "--uninstall").stdout
    assert "absent     /etc/systemd/system/stairrig.service" in again


def test_uninstall_purge_deletes_configuration_and_data(root):
    install("--root", str(root))
    (root / "var/lib/stairrig/history.sqlite3").write_text("sessions")
    install("--root", str(root), "--uninstall", "--purge")
    assert not (root / "etc/stairrig").exists()
    assert not (root / "var/lib/stairrig").exists()
    assert not (root / "etc/systemd/system/stairrig.service").exists()


def test_purge_goes_only_with_uninstall(root):
    result = install("--root", str(root), "--purge", check=False)
    assert result.returncode != 0 and "--purge goes with --uninstall" in result.stderr
    result = install("--root", str(root), "--bogus", check=False)
    assert result.returncode != 0 and "unknown option: --bogus" in result.stderr


def test_spi_is_checked_and_enabled_only_when_asked(root):
    config_txt = root / "boot/firmware/config.txt"
    config_txt.parent.mkdir(parents=True)
    config_txt.write_text("dtparam=audio=on\n[cm4]\notg_mode=1\n")
    result = install("--root", str(root))
    assert "lacks dtparam=spi=on" in result.stderr and "--enable-spi" in result.stderr
    assert config_txt.read_text() == "dtparam=audio=on\n[cm4]\notg_mode=1\n"
    install("--root", str(root), "--enable-spi")
    assert config_txt.read_text().endswith("[cm4]\notg_mode=1\n\n[all]\ndtparam=spi=on\n")
    before = config_txt.read_text()
    out = install("--root", str(root), "--enable-spi").stdout
    assert config_txt.read_text() == before
    assert "has dtparam=spi=on" in out


def test_a_dry_run_changes_nothing_and_prints_each_action(tmp_path):
    # Without --root a dry run touches nothing, not even as root.
    existed = {p: Path(p).exists() for p in ("/etc/stairrig", "/etc/systemd/system/stairrig.service",
                                            "/opt/stairrig", "/usr/local/bin/stairrig")}
    out = install("--dry-run").stdout
    assert {p: Path(p).exists() for p in existed} == existed
    if not existed["/etc/stairrig"]:
        assert "would run: install -D -m 0640" in out and "/etc/stairrig/rig.toml" in out
    assert "would run:" in out and "+ " not in out.replace("would run:", "")


def test_it_refuses_to_run_for_real_without_root(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "id").write_text("#!/bin/sh\necho 1000\n")
    (fake / "id").chmod(0o755)
    result = install(path_prefix=fake, check=False)
    assert result.returncode != 0 and "run it as root" in result.stderr
    assert install("--dry-run", path_prefix=fake).returncode == 0


def test_a_failed_pip_install_fails_the_install_and_is_retried(tmp_path):
    """A pip that fails (no network, a full disk) must stop the install with a
    message, and leave nothing marked installed, so that the next run tries again."""
    fake = tmp_path / "python3"
    fake.write_text(
        "#!/bin/bash\n"
        'if [ "$1" = -c ]; then exit 0; fi\n'
        'if [ "$1 $2" = "-m venv" ]; then d="${@: -1}"; mkdir -p "$d/bin"; cp "$0" "$d/bin/python"; exit 0; fi\n'
        'if [ "$1 $2 $3" = "-m pip --version" ]; then exit 0; fi\n'
        'if [ "$1 $2" = "-m pip" ]; then echo "pip: cannot reach the index" >&2; exit 1; fi\n'
        "exit 0\n")
    fake.chmod(0o755)
    root = tmp_path / "root"
    root.mkdir()
    env = {**os.environ, "STAIRRIG_INSTALL_PIP": "1", "PYTHON": str(fake)}
    for _ in range(2):
        done = subprocess.run(["bash", str(INSTALL), "--root", str(root)], capture_output=True, text=True,
                              timeout=60, env=env)
        assert done.returncode != 0
        assert "installing stairrig into /opt/stairrig/venv failed" in done.stderr
        assert not (root / "opt/stairrig/venv/.stairrig-source").exists()


def test_dry_run_with_a_root_writes_nothing(tmp_path):
    done = subprocess.run(["bash", str(INSTALL), "--root", str(tmp_path), "--dry-run"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []
    assert "would run" in done.stdout


# -- what pip installs from ------------------------------------------------------------------------

# A python3 for install.sh that makes a venv of itself and, for `pip install DIR`, writes the
# files of DIR (the copy pip would build from) to $FAKE_PIP_LOG, one per line, then a line "--".
FAKE_PYTHON = """#!/bin/bash
if [ "$1" = -c ]; then exit 0; fi
if [ "$1 $2" = "-m venv" ]; then d="${@: -1}"; mkdir -p "$d/bin"; cp "$0" "$d/bin/python"; exit 0; fi
if [ "$1 $2 $3" = "-m pip --version" ]; then exit 0; fi
if [ "$1 $2 $3" = "-m pip install" ]; then
  (cd "${@: -1}" && find . -type f -printf '%P\\n' | LC_ALL=C sort; echo --) >> "$FAKE_PIP_LOG"; exit 0
fi
exit 1
"""

# A checkout: what pip needs, what it does not, and what a developer's tree collects.
CHECKOUT = {
    "pyproject.toml": "[project]\nname = 'stairrig'\n",
    "README.md": "# stairrig\n",
    "install.sh": None,                      # this repository's, copied
    "rig/__init__.py": "",
    "rig/rig.example.toml": None,
    "rig/core/detector.py": "",
    "web/__init__.py": "",
    "web/static/panel.css": "body {}\n",
    "web/templates/base.html": "<html></html>\n",
    "systemd/stairrig.service": None,
    "systemd/stairrig-kiosk.service": None,
    "tests/test_x.py": "",
    "docs/operations.md": "# ops\n",
}
JUNK = [".venv/bin/python", "rig/__pycache__/cli.cpython-311.pyc", "web/__pycache__/api.cpython-311.pyc",
        "build/lib/rig/__init__.py", "dist/stairrig-0.1.0.tar.gz", "stairrig.egg-info/PKG-INFO",
        ".pytest_cache/README.md", ".hypothesis/examples/x", ".cache/pip/wheel.whl", "venv/bin/python",
        "rig/stale.pyc"]


def make_checkout(path: Path) -> Path:
    for name, text in CHECKOUT.items():
        f = path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            f.write_bytes((REPO / name).read_bytes())
        else:
            f.write_text(text)
    for name in JUNK:
        f = path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("junk\n")
    return path


@pytest.fixture
def fake_pip(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    log = tmp_path / "pip.log"
    log.write_text("")

    def builds() -> list[list[str]]:
        """The file lists pip was asked to install from, one per `pip install`."""
        out, current = [], []
        for line in log.read_text().splitlines():
            if line == "--":
                out.append(current)
                current = []
            else:
                current.append(line)
        return out
    return {"PYTHON": str(fake), "FAKE_PIP_LOG": str(log), "STAIRRIG_INSTALL_PIP": "1"}, builds


def test_pip_builds_from_the_whole_tarball_without_its_artefacts(tmp_path, fake_pip, root):
    env, builds = fake_pip
    src = make_checkout(tmp_path / "src")           # an unpacked tarball: no .git
    install("--root", str(root), script=src / "install.sh", **env)
    assert builds() == [sorted(CHECKOUT)]


def test_a_change_in_the_installed_sources_reinstalls(tmp_path, fake_pip, root):
    env, builds = fake_pip
    src = make_checkout(tmp_path / "src")
    install("--root", str(root), script=src / "install.sh", **env)
    out = install("--root", str(root), script=src / "install.sh", **env).stdout
    assert "unchanged  stairrig in /opt/stairrig/venv (same sources)" in out and len(builds()) == 1
    # caches and build artefacts are not sources: no reinstall
    (src / "rig/__pycache__/detector.cpython-311.pyc").write_text("new junk\n")
    (src / "build/lib/web").mkdir(parents=True)
    install("--root", str(root), script=src / "install.sh", **env)
    assert len(builds()) == 1
    (src / "web/static/panel.css").write_text("body { color: red }\n")
    out = install("--root", str(root), script=src / "install.sh", **env).stdout
    assert "installed  stairrig" in out and len(builds()) == 2
    assert "restart stairrig" in out
    (src / "web/static/live.js").write_text("// a new file\n")
    install("--root", str(root), script=src / "install.sh", **env)
    assert len(builds()) == 3 and "web/static/live.js" in builds()[-1]


def test_from_a_git_checkout_pip_builds_from_what_git_has_and_not_what_it_ignores(tmp_path, fake_pip, root):
    if shutil.which("git") is None:
        pytest.skip("needs git")
    env, builds = fake_pip
    src = make_checkout(tmp_path / "src")
    (src / ".gitignore").write_text("__pycache__/\n*.pyc\n.venv/\nvenv/\n/build/\n/dist/\n*.egg-info/\n"
                                    ".pytest_cache/\n.hypothesis/\n/.cache/\n/data/\n")
    git = ["git", "-C", str(src)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    (src / "docs/operations.md").unlink()                  # tracked, deleted in the working tree
    (src / "web/events.py").write_text("")                  # new, not yet added: part of the checkout
    (src / "data").mkdir()
    (src / "data/history.sqlite3").write_text("ignored\n")
    install("--root", str(root), script=src / "install.sh", **env)
    expected = sorted({*CHECKOUT, ".gitignore", "web/events.py"} - {"docs/operations.md"})
    assert builds() == [expected]


def test_a_dry_run_runs_no_pip_even_when_asked_to_install_into_the_root(tmp_path, fake_pip, root):
    env, builds = fake_pip
    out = install("--root", str(root), "--dry-run", **env).stdout
    assert list(root.iterdir()) == [] and builds() == []
    assert "would run: " in out and "pip install" in out


def test_a_tree_without_pyproject_is_refused_with_a_reason(tmp_path, fake_pip, root):
    env, builds = fake_pip
    src = make_checkout(tmp_path / "src")
    (src / "pyproject.toml").unlink()
    result = install("--root", str(root), script=src / "install.sh", check=False, **env)
    assert result.returncode != 0
    assert f"{src} has no pyproject.toml" in result.stderr
    assert builds() == []


# -- the installed service, started as its unit says -------------------------------------------

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
