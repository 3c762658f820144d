"""Run an installed systemd service the way its unit says, without systemd and
without touching the machine's /opt, /etc, /var/lib or /run.

``read_unit`` parses a unit file; ``ServiceUnit`` is what of it says how the
service runs (ExecStart, WorkingDirectory, Environment, User, UMask, the
state, runtime and configuration directories, Type=notify and WatchdogSec).
``sandboxed_command`` is the command line that runs ExecStart in a private
mount namespace (``unshare -m --propagation private``) in which directories
of a temporary root are bind-mounted over the unit's absolute paths, as an
unprivileged user (``setpriv``). This file is also the program that does the
mounting inside that namespace (``python unit_sandbox.py exec ...``), then
becomes the service with ``exec``: the service keeps the pid that
``subprocess.Popen`` returned, as systemd's main process does.

Only what decides how the program runs is reproduced, not the unit's
sandboxing (ProtectSystem=, PrivateTmp=, SystemCallFilter=, ...).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shlex
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"   # systemd's default PATH


class UnitError(ValueError):
    """A unit file this helper cannot run as systemd would: the message says why."""


def read_unit(text: str, name: str = "unit") -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values, in order]}}``: comments, blank lines and
    backslash continuations as systemd reads them."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        number = i + 1
        i += 1
        if not line or line[0] in "#;":
            continue
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + " " + lines[i].strip()
            i += 1
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if "=" not in line:
            raise UnitError(f"{name} line {number}: not KEY=VALUE: {line!r}")
        if current is None:
            raise UnitError(f"{name} line {number}: {line!r} comes before any [section]")
        key, value = (part.strip() for part in line.split("=", 1))
        current.setdefault(key, []).append(value)
    return sections


@dataclass
class ServiceUnit:
    argv: list[str]
    working_directory: str | None
    environment: dict[str, str]
    user: str | None
    group: str | None
    umask: int
    state_directory: str | None
    state_directory_mode: int
    runtime_directory: str | None
    runtime_directory_mode: int
    configuration_directory: str | None
    notify: bool
    watchdog_s: float | None
    start_timeout_s: float
    stop_timeout_s: float

    @classmethod
    def parse(cls, text: str, name: str = "unit") -> "ServiceUnit":
        service = read_unit(text, name).get("Service")
        if service is None:
            raise UnitError(f"{name} has no [Service] section")

        def one(key: str, default: str | None = None) -> str | None:
            values = [v for v in service.get(key, []) if v]   # an empty assignment resets the list
            if len(values) > 1:
                raise UnitError(f"{name}: {key}= is given {len(values)} times; this helper expects one")
            return values[0] if values else default

        exec_start = one("ExecStart")
        if exec_start is None:
            raise UnitError(f"{name} has no ExecStart=")
        if exec_start[0] in "-@:+!" or "%" in exec_start or "$" in exec_start:
            raise UnitError(f"{name}: ExecStart={exec_start!r} uses a prefix, specifier or variable "
                            "that this helper does not expand")
        environment: dict[str, str] = {}
        for value in service.get("Environment", []):
            for assignment in shlex.split(value):
                if "=" not in assignment:
                    raise UnitError(f"{name}: Environment={value!r}: {assignment!r} is not NAME=VALUE")
                key, val = assignment.split("=", 1)
                environment[key] = val
        unsupported = [k for k in ("EnvironmentFile", "ExecStartPre", "ExecStartPost", "RootDirectory",
                                   "DynamicUser", "PassEnvironment") if k in service]
        if unsupported:
            raise UnitError(f"{name}: {', '.join(unsupported)} is not reproduced by this helper")
        if len((one("StateDirectory") or "").split()) > 1 or len((one("RuntimeDirectory") or "").split()) > 1:
            raise UnitError(f"{name}: one StateDirectory and one RuntimeDirectory are expected")
        unit_type = one("Type", "simple")
        if unit_type not in ("simple", "exec", "notify"):
            raise UnitError(f"{name}: Type={unit_type} is not reproduced by this helper")
        return cls(
            argv=shlex.split(exec_start),
            working_directory=one("WorkingDirectory"),
            environment=environment,
            user=one("User"),
            group=one("Group"),
            umask=int(one("UMask", "0022"), 8),
            state_directory=one("StateDirectory"),
            state_directory_mode=int(one("StateDirectoryMode", "0755"), 8),
            runtime_directory=one("RuntimeDirectory"),
            runtime_directory_mode=int(one("RuntimeDirectoryMode", "0755"), 8),
            configuration_directory=one("ConfigurationDirectory"),
            notify=unit_type == "notify",
            watchdog_s=_seconds(one("WatchdogSec"), name, "WatchdogSec"),
            start_timeout_s=_seconds(one("TimeoutStartSec", "90"), name, "TimeoutStartSec") or 90.0,
            stop_timeout_s=_seconds(one("TimeoutStopSec", "90"), name, "TimeoutStopSec") or 90.0,
        )

    def paths(self) -> dict[str, str]:
        """The directories systemd makes for it: ``{absolute path: environment variable}``."""
        out = {}
        if self.state_directory:
            out["/var/lib/" + self.state_directory] = "STATE_DIRECTORY"
        if self.runtime_directory:
            out["/run/" + self.runtime_directory] = "RUNTIME_DIRECTORY"
        if self.configuration_directory:
            out["/etc/" + self.configuration_directory] = "CONFIGURATION_DIRECTORY"
        return out


def _seconds(value: str | None, name: str, key: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value.removesuffix("s"))
    except ValueError:
        raise UnitError(f"{name}: {key}={value!r}: only plain seconds are understood here") from None


def sandboxed_command(unit: ServiceUnit, *, binds: dict[str, Path], uid: int, gid: int,
                      scratch: Path) -> list[str]:
    """The command line that runs the unit's ExecStart in a private mount namespace, with
    each ``binds`` source directory mounted over its absolute path, as ``uid``:``gid``.
    ``scratch``: an empty directory of the caller's, for the mount points of the parents
    that have to be shadowed (see ``_make_mount_point``)."""
    cmd = ["unshare", "-m", "--propagation", "private", sys.executable, os.path.abspath(__file__), "exec",
           "--scratch", str(scratch), "--umask", f"{unit.umask:04o}", "--uid", str(uid), "--gid", str(gid)]
    for target, source in binds.items():
        cmd += ["--bind", f"{source}:{target}"]
    if unit.working_directory:
        cmd += ["--chdir", unit.working_directory]
    return cmd + ["--", *unit.argv]


# -- inside the namespace ------------------------------------------------------------

MS_BIND = 4096
MS_REC = 16384
_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                   data.encode() if data else None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target} ({fstype or 'bind'}): {os.strerror(errno)}")


def _make_mount_point(path: str, scratch: str) -> None:
    """Make the directory ``path`` exist in this namespace only. If it does not exist, its
    parent is shadowed: the real parent is bind-mounted aside (under ``scratch``), a tmpfs
    with the parent's mode and owner is mounted over it, every entry of the real parent is
    bind-mounted back (symbolic links are copied), and ``path`` is made in the tmpfs. The
    real file system gets nothing."""
    if os.path.isdir(path):
        return
    if os.path.lexists(path):
        raise OSError(f"{path} exists and is not a directory: cannot mount a directory over it")
    parent = os.path.dirname(path)
    _make_mount_point(parent, scratch)
    st = os.stat(parent)
    aside = tempfile.mkdtemp(dir=scratch, prefix="real" + parent.replace("/", "-") + "-")
    _mount(parent, aside, None, MS_BIND | MS_REC)
    _mount("tmpfs", parent, "tmpfs", 0, f"mode={stat.S_IMODE(st.st_mode):o},uid={st.st_uid},gid={st.st_gid}")
    for entry in os.scandir(aside):
        real, shadow = entry.path, os.path.join(parent, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(real), shadow)
            continue
        if entry.is_dir():
            os.mkdir(shadow)
        else:
            open(shadow, "wb").close()
        _mount(real, shadow, None, MS_BIND | MS_REC)
    os.mkdir(path, 0o755)


def _exec(args: argparse.Namespace) -> None:
    for bind in args.bind:
        source, _, target = bind.partition(":")
        if not os.path.isabs(target) or not os.path.isdir(source):
            raise SystemExit(f"unit_sandbox: --bind {bind}: want EXISTING_DIR:/ABSOLUTE/PATH")
        _make_mount_point(target, args.scratch)
        _mount(source, target, None, MS_BIND | MS_REC)
    if args.chdir:
        os.chdir(args.chdir)
    os.umask(int(args.umask, 8))
    # As systemd does for User=: no supplementary groups (the unit's gpio and spi do not
    # exist here), no capabilities, and NoNewPrivileges=yes.
    setpriv = ["setpriv", f"--reuid={args.uid}", f"--regid={args.gid}", "--clear-groups", "--no-new-privs",
               "--inh-caps=-all", "--bounding-set=-all", "--", *args.argv]
    os.execvpe("setpriv", setpriv, os.environ)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="unit_sandbox.py")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("exec", help="mount, then become the service (inside unshare -m)")
    e.add_argument("--scratch", required=True)
    e.add_argument("--bind", action="append", default=[], metavar="SOURCE:TARGET")
    e.add_argument("--chdir")
    e.add_argument("--umask", default="0022")
    e.add_argument("--uid", type=int, required=True)
    e.add_argument("--gid", type=int, required=True)
    e.add_argument("argv", nargs="+")
    args = p.parse_args(argv)
    try:
        _exec(args)
    except OSError as exc:
        raise SystemExit(f"unit_sandbox: {exc}") from None


if __name__ == "__main__":
    main()
