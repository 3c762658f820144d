"""Prepare the Home Assistant venvs of the tests: ``python -m tests.homeassistant.provision``.

``./dev.sh test`` runs it before pytest. For each version in ``versions.py``:

1. its Python: 3.12 from the machine (pyenv's versions, else ``python3.12`` on
   the PATH; with neither, 3.12.12 is built from python.org's tarball);
   3.13.5 built from source into ``<cache>/python-3.13.5`` (the tarball from
   Debian's pool, the same file as python.org's, else python.org's; checked
   against its sha256), with pyenv's ``python-build`` when the machine has
   it (it checks the tarball again), else Python's own configure and make;
2. a venv ``<cache>/ha-<version>``, Home Assistant installed under its own
   ``package_constraints.txt`` (read from the wheel before installing), plus
   the version's extra constraints;
3. every requirement Home Assistant would otherwise pip-install at run time
   for what the tests set up (``requirements.py``), under the same
   constraints, then checked, and Home Assistant imported;
4. the stamp file: the next run sees it and does nothing.

Versions are prepared side by side (the 3.13.5 build overlaps the 2024.11
install). Everything a step prints goes to ``<cache>/logs/``; on a failure the
command says which step failed, shows the end of its log and exits 1.
Idempotent: a version whose stamp matches costs nothing, a half-made venv is
made anew; two runs at once take turns (``<cache>/provision.lock``).
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

from tests.homeassistant.versions import CACHE, DOWNLOADS, HERE, INTEGRATIONS, VERSIONS, HAVersion, PythonSpec

LOGS = CACHE / "logs"
_print_lock = threading.Lock()
_build_lock = threading.Lock()


class ProvisionError(RuntimeError):
    pass


def say(text: str) -> None:
    with _print_lock:
        print(f"dev.sh: {text}", file=sys.stderr, flush=True)


def run(cmd: list, log: Path, what: str, env: dict | None = None, capture: bool = False,
        cwd: Path | None = None) -> str:
    """Run ``cmd``, appending its output to ``log``; a failure raises with the end of the log."""
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(map(str, cmd))}\n")
        f.flush()
        proc = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE if capture else f,
                              stderr=f, env={**os.environ, **(env or {})}, text=True, cwd=cwd)
        if capture and proc.stdout:
            f.write(proc.stdout)
    if proc.returncode != 0:
        tail = "".join([line for line in log.read_text(errors="replace").splitlines(True)
                        if "is ignored: it is neither a file nor a directory" not in line][-30:])
        raise ProvisionError(f"{what} failed (exit {proc.returncode}); the end of {log}:\n{tail}")
    return proc.stdout if capture else ""


# -- Python -----------------------------------------------------------------
def _python_version(exe: Path | str) -> str | None:
    try:
        out = subprocess.run([str(exe), "-c", "import sys, ssl, sqlite3, zlib, bz2, lzma, ctypes, venv; "
                              "print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _pyenv_root() -> Path | None:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    exe = shutil.which("pyenv")
    if exe:
        out = subprocess.run([exe, "root"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    home = Path.home() / ".pyenv"
    return home if home.is_dir() else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_python(spec: PythonSpec, log: Path) -> Path:
    if spec.build:
        return build_python(spec, log)
    candidates: list[Path] = []
    root = _pyenv_root()
    if root:
        found = glob.glob(str(root / "versions" / f"{spec.version}.*" / "bin" / "python"))
        found.sort(key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parent.parent.name)], reverse=True)
        candidates += [Path(p) for p in found]
    on_path = shutil.which(f"python{spec.version}")
    if on_path:
        candidates.append(Path(on_path))
    for exe in candidates:
        version = _python_version(exe)
        if version and version.startswith(spec.version + "."):
            return exe
    if spec.fallback is not None:
        return build_python(spec.fallback, log)
    raise ProvisionError(f"no Python {spec.version} found (looked in pyenv's versions and for python{spec.version} "
                         f"on the PATH); install one, e.g. `pyenv install {spec.version}`")


def build_python(spec: PythonSpec, log: Path) -> Path:
    exe = spec.prefix / "bin" / "python3"
    if _python_version(exe) == spec.version:
        return exe
    with _build_lock:
        DOWNLOADS.mkdir(parents=True, exist_ok=True)
        tarball = DOWNLOADS / f"Python-{spec.version}.tar.xz"
        if not tarball.exists() or _sha256(tarball) != spec.sha256:
            _download(spec, tarball)
        say(f"building Python {spec.version} into {spec.prefix} (a few minutes, once; log: {log})")
        shutil.rmtree(spec.prefix, ignore_errors=True)
        started = time.monotonic()
        python_build = _python_build(spec)
        if python_build is not None:
            run([python_build, spec.version, spec.prefix], log, f"building Python {spec.version}",
                env={"PYTHON_BUILD_CACHE_PATH": str(DOWNLOADS), "MAKE_OPTS": f"-j{os.cpu_count() or 2}",
                     "PYTHON_BUILD_SKIP_MIRROR": "1"})
        else:     # no pyenv: Python's own configure and make
            _configure_and_make(spec, tarball, log)
        if _python_version(exe) != spec.version:
            shutil.rmtree(spec.prefix, ignore_errors=True)
            raise ProvisionError(f"the Python {spec.version} built in {spec.prefix} does not work "
                                 f"(ssl, sqlite3, zlib, bz2, lzma, ctypes and venv must import); see {log}")
        say(f"Python {spec.version} built in {time.monotonic() - started:.0f} s")
        return exe


def _download(spec: PythonSpec, tarball: Path) -> None:
    """The source tarball from the first of ``spec.urls`` that has it, checked against its sha256."""
    failures = []
    for url in spec.urls:
        say(f"downloading the source of Python {spec.version} ({url})")
        part = tarball.with_suffix(".part")
        try:
            with urllib.request.urlopen(url, timeout=120) as response, open(part, "wb") as f:
                shutil.copyfileobj(response, f)
        except OSError as exc:
            failures.append(f"{url}: {exc}")
            continue
        if _sha256(part) != spec.sha256:
            part.unlink()
            failures.append(f"{url} does not have the sha256 of Python-{spec.version}.tar.xz ({spec.sha256})")
            continue
        part.replace(tarball)
        return
    raise ProvisionError(f"cannot get the source of Python {spec.version}: " + "; ".join(failures))


def _python_build(spec: PythonSpec) -> Path | None:
    """pyenv's python-build, when the machine has one that knows ``spec.version``."""
    root = _pyenv_root()
    candidates = [root / "plugins" / "python-build" / "bin" / "python-build"] if root else []
    if shutil.which("python-build"):
        candidates.append(Path(shutil.which("python-build")))
    for python_build in candidates:
        if python_build.exists():
            known = subprocess.run([str(python_build), "--definitions"], capture_output=True, text=True).stdout
            if spec.version in known.split():
                return python_build
    return None


def _configure_and_make(spec: PythonSpec, tarball: Path, log: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="stairrig-python-") as work:
        run(["tar", "-xJf", tarball, "-C", work], log, f"unpacking Python {spec.version}")
        source = Path(work) / f"Python-{spec.version}"
        run(["./configure", f"--prefix={spec.prefix}", "--with-ensurepip=install"], log,
            f"configuring Python {spec.version}", cwd=source)
        run(["make", f"-j{os.cpu_count() or 2}"], log, f"building Python {spec.version}", cwd=source)
        run(["make", "install"], log, f"installing Python {spec.version}", cwd=source)


# -- Home Assistant ---------------------------------------------------------
def _package_constraints(v: HAVersion, pip: list, log: Path) -> Path:
    """Home Assistant's own package_constraints.txt, from its wheel, plus the version's extra lines."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    wheels = list(DOWNLOADS.glob(f"homeassistant-{v.version}-*.whl"))
    if not wheels:
        run([*pip, "download", "--no-deps", "--only-binary", ":all:", "-d", DOWNLOADS, f"homeassistant=={v.version}"],
            log, f"downloading the homeassistant {v.version} wheel")
        wheels = list(DOWNLOADS.glob(f"homeassistant-{v.version}-*.whl"))
    if not wheels:
        raise ProvisionError(f"pip downloaded no homeassistant-{v.version} wheel into {DOWNLOADS}")
    with zipfile.ZipFile(wheels[0]) as z:
        text = z.read("homeassistant/package_constraints.txt").decode()
    path = v.venv / "constraints.txt"
    extra = "".join(f"{line}\n" for line in v.constraints)
    path.write_text(f"# Home Assistant {v.version}'s package_constraints.txt, then stairrig's additions\n"
                    f"{text}\n# stairrig (tests/homeassistant/versions.py)\n{extra}")
    return path


def provision(v: HAVersion) -> float:
    started = time.monotonic()
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"ha-{v.version}.log"
    log.write_text(f"# {v} prepared by tests/homeassistant/provision.py\n")
    python = find_python(v.python, LOGS / f"python-{v.python.version}.log" if v.python.build else log)
    v.stamp.unlink(missing_ok=True)
    fresh = _python_version(v.python_exe) is None or not (v.venv / "bin" / "pip").exists()
    say(f"{'preparing' if fresh else 'bringing up to date'} {v} in {v.venv} "
        f"({'a few minutes, once; ' if fresh else ''}log: {log})")
    if fresh:
        shutil.rmtree(v.venv, ignore_errors=True)
        run([python, "-m", "venv", v.venv], log, f"making the venv {v.venv}")
    pip = [v.python_exe, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    constraints = _package_constraints(v, pip, log)
    run([*pip, "install", "-c", constraints, f"homeassistant=={v.version}"], log,
        f"installing homeassistant=={v.version}")
    domains = list(INTEGRATIONS)
    requirements = run([v.python_exe, HERE / "requirements.py", *domains], log,
                       f"listing what Home Assistant {v.version} installs at run time", capture=True).split()
    if requirements:
        run([*pip, "install", "-c", constraints, *requirements], log,
            f"installing the run-time requirements of Home Assistant {v.version}")
    run([v.python_exe, HERE / "requirements.py", "--check", *domains], log,
        f"checking the requirements of Home Assistant {v.version}")
    run([v.python_exe, "-c", "import homeassistant.bootstrap, homeassistant.components.mqtt, "
         "homeassistant.components.onboarding, homeassistant.components.frontend"], log,
        f"importing Home Assistant {v.version}")
    version = run([v.hass, "--version"], log, f"running {v.hass} --version", capture=True).strip()
    if version != v.version:
        raise ProvisionError(f"{v.hass} --version says {version!r}, not {v.version}")
    v.stamp.write_text(v.stamp_text())
    took = time.monotonic() - started
    say(f"{v} ready in {took:.0f} s")
    return took


def main(argv: list[str]) -> int:
    wanted = [v for v in VERSIONS if not argv or v.version in argv]
    if all(v.ready() for v in wanted):
        return 0
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "provision.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another run that is preparing Home Assistant (<cache>/provision.lock)")
            fcntl.flock(lock, fcntl.LOCK_EX)
        return _provision_all([v for v in wanted if not v.ready()])


def _provision_all(todo: list[HAVersion]) -> int:
    if not todo:
        return 0
    errors: dict[str, str] = {}

    def work(v: HAVersion) -> None:
        try:
            provision(v)
        except ProvisionError as exc:
            errors[v.version] = str(exc)
        except Exception as exc:  # a bug here must still say which version
            errors[v.version] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=work, args=(v,), name=f"provision-{v.version}") for v in todo]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for version, error in errors.items():
        say(f"cannot prepare Home Assistant {version} for the tests: {error}")
    if errors:
        say("fix the cause and run it again, or set STAIRRIG_SKIP_HA=1 to run the tests without Home Assistant")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
