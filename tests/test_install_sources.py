"""What install.sh builds the program from: the whole checkout (what git tracks, or a tarball
without its artefacts), hashed, so a change in what is installed reinstalls (a fake pip records
what it was given)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.installer import REPO, install

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
