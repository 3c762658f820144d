"""The systemd units: what they declare, and what systemd-analyze says of them.

The systemd-analyze checks run wherever the command exists (systemd 250 or
later for `security --offline`), and are skipped, with the reason, elsewhere.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "stairrig.service"
KIOSK = REPO / "systemd" / "stairrig-kiosk.service"
PROGRAM = "/opt/stairrig/venv/bin/stairrig"
# The one complaint allowed on a build machine, where the program is not installed.
MISSING_PROGRAM = f"stairrig.service: Command {PROGRAM} is not executable: No such file or directory"
MAX_EXPOSURE = 2.0

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed here")


def settings(path: Path) -> dict[str, list[str]]:
    """Every Key=value of a unit file, a key's values in order (keys repeat)."""
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def one(unit: dict[str, list[str]], key: str) -> str:
    assert key in unit, f"{key}= missing"
    return unit[key][-1]


def analyze(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "", **(env or {})})


def lines(result: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]


# -- what the service unit declares ---------------------------------------------------
def test_the_service_is_a_notify_service_with_a_watchdog_and_restarts():
    unit = settings(UNIT)
    assert one(unit, "Type") == "notify"
    assert one(unit, "NotifyAccess") == "main"
    watchdog = one(unit, "WatchdogSec")
    assert re.fullmatch(r"\d+s?", watchdog) and 2 <= int(watchdog.rstrip("s")) <= 60
    assert one(unit, "Restart") == "on-failure"
    assert one(unit, "ExecStart") == f"{PROGRAM} run --config /etc/stairrig/rig.toml"
    assert "TimeoutStartSec" in unit and "RestartSec" in unit
    assert one(unit, "WantedBy") == "multi-user.target"


def test_the_service_runs_as_its_own_account_with_gpio_and_spi():
    unit = settings(UNIT)
    assert one(unit, "User") == "stairrig"
    assert one(unit, "Group") == "stairrig"
    groups = " ".join(unit["SupplementaryGroups"]).split()
    assert "gpio" in groups and "spi" in groups
    assert one(unit, "StateDirectory") == "stairrig"      # /var/lib/stairrig, the example's data_dir
    assert one(unit, "ConfigurationDirectory") == "stairrig"
    # lgpio needs a writable working directory: the state directory is the only one.
    assert one(unit, "WorkingDirectory") == "/var/lib/stairrig"
    example = (REPO / "rig" / "rig.example.toml").read_text()
    assert 'data_dir = "/var/lib/stairrig"' in example


def test_the_service_reaches_the_gpio_and_spi_devices_and_no_others():
    unit = settings(UNIT)
    assert one(unit, "PrivateDevices") == "no"      # a private /dev has no /dev/gpiochip*
    assert one(unit, "DevicePolicy") == "closed"
    allowed = unit["DeviceAllow"]
    assert "char-gpiochip rw" in allowed and "char-spi rw" in allowed
    assert one(unit, "ProtectSystem") == "strict"
    assert one(unit, "NoNewPrivileges") == "yes"
    assert one(unit, "CapabilityBoundingSet") == ""
    # gpiozero reads the board revision from /proc/device-tree and /proc/cpuinfo.
    assert "ProcSubset" not in unit


# -- systemd-analyze ----------------------------------------------------------------------
@needs_analyze
def test_systemd_analyze_verify_has_no_complaint_but_the_missing_program():
    result = analyze("verify", str(UNIT))
    complaints = lines(result)
    if Path(PROGRAM).exists():
        assert complaints == [] and result.returncode == 0, complaints
    else:
        assert complaints == [MISSING_PROGRAM], complaints


def _temporary_root(tmp_path: Path) -> Path | None:
    """A root with the host's system units, a stub program and the unit."""
    units = next((p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
                  if (p / "sysinit.target").exists()), None)
    if units is None:
        return None
    root = tmp_path / "root"
    shutil.copytree(units, root / "usr/lib/systemd/system", symlinks=True)
    program = root / PROGRAM.lstrip("/")
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system/stairrig.service")
    return root


@needs_analyze
def test_systemd_analyze_verify_passes_in_a_temporary_root(tmp_path):
    root = _temporary_root(tmp_path)
    if root is None:
        pytest.skip("no system unit directory with sysinit.target to copy")
    result = analyze("verify", f"--root={root}", "stairrig.service")
    assert lines(result) == [] and result.returncode == 0, lines(result)
    # ...and it would have complained: an unknown key is reported.
    with (root / "etc/systemd/system/stairrig.service").open("a") as f:
        f.write("[Service]\nNoSuchSetting=1\n")
    assert any("NoSuchSetting" in ln for ln in lines(analyze("verify", f"--root={root}", "stairrig.service")))


@needs_analyze
def test_systemd_analyze_security_rates_the_exposure_at_2_or_better():
    if "--offline" not in analyze("--help").stdout:
        pytest.skip("this systemd-analyze has no `security --offline` (it came with systemd 250)")
    result = analyze("security", "--offline=true", "--no-pager", str(UNIT))
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert match, result.stdout + result.stderr
    exposure = float(match.group(1))
    assert exposure <= MAX_EXPOSURE, result.stdout


# -- the kiosk unit ------------------------------------------------------------------------
def test_the_kiosk_is_a_user_unit_that_keeps_chromium_running():
    unit = settings(KIOSK)
    assert one(unit, "WantedBy") == "graphical-session.target"
    assert one(unit, "Restart") == "always"
    start = one(unit, "ExecStart")
    for flag in ("--kiosk", "--noerrdialogs", "--disable-infobars", "--incognito",
                 "--check-for-update-interval=31536000"):
        assert flag in start
    assert "Environment" in unit and "STAIRRIG_PANEL_URL=http://localhost:8080/" in unit["Environment"]
    assert "User" not in unit        # a user unit runs as the desktop user


def _shell_script(value: str) -> str:
    """The script of an ExecStart=/bin/sh -c '...' line, as the shell sees it."""
    args = shlex.split(value.lstrip("-"))
    assert args[:2] == ["/bin/sh", "-c"] and len(args) == 3
    return args[2].replace("$$", "$")


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.mark.parametrize("browsers, expected", [
    (["chromium-browser"], "chromium-browser"),          # Bookworm
    (["chromium"], "chromium"),                          # Trixie
    (["chromium", "chromium-browser"], "chromium"),
])
def test_the_kiosk_starts_whichever_chromium_exists(tmp_path, browsers, expected):
    for name in browsers:
        _stub(tmp_path, name, f'echo {name} "$@"')
    script = _shell_script(one(settings(KIOSK), "ExecStart"))
    result = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=10,
                            env={"PATH": str(tmp_path), "STAIRRIG_PANEL_URL": "http://localhost:8080/"})
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[0] == expected
    assert "--kiosk" in words and words[-1] == "http://localhost:8080/"


def test_the_kiosk_says_what_is_missing_without_chromium(tmp_path):
    script = _shell_script(one(settings(KIOSK), "ExecStart"))
    result = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=10,
                            env={"PATH": str(tmp_path), "STAIRRIG_PANEL_URL": "http://localhost:8080/"})
    assert result.returncode == 1 and "install chromium" in result.stderr


def test_the_kiosk_waits_for_the_panel_only_where_it_can(tmp_path):
    script = _shell_script(one(settings(KIOSK), "ExecStartPre"))
    env = {"PATH": str(tmp_path), "STAIRRIG_PANEL_URL": "http://localhost:8080/"}
    # No curl: no wait. A panel that answers: no wait either.
    assert subprocess.run(["/bin/sh", "-c", script], env=env, timeout=5).returncode == 0
    _stub(tmp_path, "curl", "exit 0")
    assert subprocess.run(["/bin/sh", "-c", script], env=env, timeout=5).returncode == 0


@needs_analyze
def test_systemd_analyze_verify_passes_for_the_kiosk_user_unit(tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    result = analyze("verify", "--user", str(KIOSK), env={"XDG_RUNTIME_DIR": str(runtime)})
    if "Failed to initialize manager" in result.stderr:
        pytest.skip(f"systemd-analyze cannot run a user manager here: {result.stderr.strip()}")
    assert lines(result) == [] and result.returncode == 0, lines(result)
