"""install.sh against a temporary root directory (--root): files are written
under it for real; apt, useradd, systemctl and pip are printed, not run (pip
runs, into the temporary root, with STAIRRIG_INSTALL_PIP=1)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path


from tests.installer import EXAMPLE, INSTALL, KIOSK, REAL_PIP, UNIT, install, snapshot

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
