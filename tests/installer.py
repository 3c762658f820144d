"""install.sh run against a temporary root directory (--root), shared by the installer tests."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

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

