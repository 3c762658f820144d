"""The Home Assistant versions the rig is tested against, and where their venvs live.

Each version has its own venv under ``<cache>/ha-<version>/`` (``CACHE`` below),
made once by ``provision.py`` (``./dev.sh test`` runs it) and reused while
its stamp file matches: the stamp holds a digest of everything that decides
what is installed (the version, its Python, the extra constraints, the
integrations whose requirements are pre-installed, and the provisioning
code), so changing any of them makes the next ``./dev.sh test`` bring the
venv up to date.

Stdlib only: the test venv imports it, and so does ``dev.sh`` before pytest.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Outside the clone, so that every clone and CI run on this machine share one set-up (about 2 GB):
# $STAIRRIG_CACHE, else $XDG_CACHE_HOME/stairrig, else ~/.cache/stairrig.
CACHE = Path(os.environ.get("STAIRRIG_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stairrig")
DOWNLOADS = CACHE / "downloads"
HERE = Path(__file__).resolve().parent

# The explicit opt-out: with it set to 1, dev.sh does not prepare the venvs and the tests skip.
SKIP_ENV = "STAIRRIG_SKIP_HA"

# What the harness's Home Assistant sets up: its configuration.yaml, the MQTT config entry and the
# platforms of the rig's entities, the onboarding steps and the integrations onboarding starts flows
# for. Their requirements, with those of their dependencies, after-dependencies and bootstrap's
# default integrations, are installed with Home Assistant: it never installs anything during a test.
INTEGRATIONS = ("homeassistant", "http", "api", "config", "websocket_api", "logger", "onboarding", "auth",
                "persistent_notification", "automation", "input_boolean", "mqtt",
                # the MQTT platforms of the rig's entities
                "sensor", "binary_sensor", "event", "button", "select", "number",
                # onboarding's integrations and the platforms they set up (google_translate's tts
                # imports mutagen, tts's requirement, already in its config flow)
                "google_translate", "met", "radio_browser", "shopping_list", "tts", "weather", "media_source",
                "todo")


@dataclass(frozen=True)
class PythonSpec:
    version: str            # "3.12" (any 3.12.x already on the machine) or "3.13.5" (built here if missing)
    build: bool = False      # build it from source into <cache>/python-<version> (never the machine's pyenv)
    sha256: str = ""        # of Python-<version>.tar.xz, for a build
    urls: tuple[str, ...] = ()   # where the source tarball may come from, tried in order, for a build
    fallback: "PythonSpec | None" = None   # built when the machine has no such Python

    @property
    def prefix(self) -> Path:
        return CACHE / f"python-{self.version}"


# Python's own tarballs: the sha256 is python.org's (pyenv's python-build definitions list the same).
# Debian's orig tarball of python3.13 3.13.5 (trixie's pool) is that file byte for byte.
PY31212 = PythonSpec(
    "3.12.12", build=True,
    sha256="fb85a13414b028c49ba18bbd523c2d055a30b56b18b92ce454ea2c51edc656c4",
    urls=("https://www.python.org/ftp/python/3.12.12/Python-3.12.12.tar.xz",))
PY312 = PythonSpec("3.12", fallback=PY31212)
PY3135 = PythonSpec(
    "3.13.5", build=True,
    sha256="93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640",
    urls=("http://deb.debian.org/debian/pool/main/p/python3.13/python3.13_3.13.5.orig.tar.xz",
          "https://www.python.org/ftp/python/3.13.5/Python-3.13.5.tar.xz"))


@dataclass(frozen=True)
class HAVersion:
    version: str
    python: PythonSpec
    label: str                          # "oldest" or "current"
    constraints: tuple[str, ...] = ()   # on top of Home Assistant's own package_constraints.txt

    @property
    def venv(self) -> Path:
        return CACHE / f"ha-{self.version}"

    @property
    def hass(self) -> Path:
        return self.venv / "bin" / "hass"

    @property
    def python_exe(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def stamp(self) -> Path:
        return self.venv / ".stairrig-ready"

    def stamp_text(self) -> str:
        digest = hashlib.sha256()
        for part in (self.version, self.python.version, *self.constraints, *INTEGRATIONS):
            digest.update(part.encode() + b"\0")
        for name in ("provision.py", "requirements.py", "versions.py"):
            digest.update((HERE / name).read_bytes())
        return f"homeassistant=={self.version} python {self.python.version} {digest.hexdigest()[:16]}\n"

    def ready(self) -> bool:
        try:
            return self.stamp.read_text() == self.stamp_text() and os.access(self.hass, os.X_OK)
        except OSError:
            return False

    def __str__(self) -> str:
        return f"Home Assistant {self.version} ({self.label}, Python {self.python.version})"


VERSIONS = (
    # The oldest supported: the first series with MQTT device-based discovery. Its hass-nabucasa
    # imports acme, which breaks with josepy 2 (released after it): hold josepy below 2.
    HAVersion("2024.11.3", PY312, "oldest", constraints=("josepy<2",)),
    # The newest that runs on Python 3.13 (later ones need 3.14).
    HAVersion("2026.2.3", PY3135, "current"),
)


def by_version(version: str) -> HAVersion:
    for v in VERSIONS:
        if v.version == version:
            return v
    raise KeyError(version)


def skipped() -> bool:
    return os.environ.get(SKIP_ENV, "") not in ("", "0")
