"""``stairrig status``: is the service healthy, which sensors are live, where is its data."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

from rig.cli_common import data_dir_from_args
from rig.logsafe import escaped
from rig.outputs.status import status_path

RUNTIME_STATUS = "/run/stairrig/status.json"   # where the systemd unit's service writes it
STALE_S = 10.0       # the service rewrites its status every 2 s
ANALOG_LIVE_S = 2.0  # a force channel sampled within this is live
MAX_STATUS_BYTES = 1 << 20   # a 64-tread rig's status is a few kB


def add_parser(sub) -> None:
    p = sub.add_parser("status", help="is the service running and healthy, which sensors are live, where is the data",
                       description="Reads /run/stairrig/status.json (the installed service's), else status.json in "
                                   "the data directory. Exit status: 0 healthy, 1 unhealthy, 3 not running or "
                                   "stopped, 4 the status cannot be read.")
    p.add_argument("--data-dir", help="the data directory (default $STAIRRIG_DATA_DIR or /var/lib/stairrig)")
    p.add_argument("--config", help="take the data directory from this configuration file")
    p.add_argument("--json", action="store_true",
                   help="the status as JSON, also when stairrig is not running (state not_running)")
    p.set_defaults(func=main)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True   # running as another user (the service's)
    return True


def judge(doc: dict, now: dt.datetime | None = None) -> tuple[str, list[str]]:
    """``healthy``, ``unhealthy`` or ``stopped``, with the reasons."""
    now = now or dt.datetime.now(dt.timezone.utc)
    problems = []
    if not _alive(doc["pid"]):
        return "stopped", [f"process {doc['pid']} is not running"]
    age = (now - dt.datetime.fromisoformat(doc["updated_at"])).total_seconds()
    if age > STALE_S:
        problems.append(f"the status is {age:.0f} s old: the service is stuck")
    problems += [f"the {name} thread is dead" for name, alive in doc["threads"].items() if not alive]
    history = doc["history"]
    if not history["available"]:
        error = history.get("error") or "the history is not available"
        problems.append(error if error.startswith("history unavailable") else f"history unavailable: {error}")
    waiting = history.get("waiting_sessions") or 0
    if waiting:
        problems.append(f"history: {waiting} session{'s wait' if waiting != 1 else ' waits'} in memory for the "
                        "history to work again")
    for problem in (doc.get("traces") or {}).get("problems", []):
        problems.append(f"traces: {problem}")
    for channel, entry in doc["channels"].items():
        if channel.endswith(".force") and (entry is None or entry["age_s"] > ANALOG_LIVE_S):
            problems.append(f"{channel} is not being sampled")
    # a failing history or trace is a problem to show, not a reason to call the service unhealthy:
    # it counts, and restarting it would not mend a disk
    hard = [p for p in problems if not p.startswith(("history", "traces"))]
    return ("unhealthy" if hard else "healthy"), problems


def _status_data_dir(path: str) -> str | None:
    try:
        with open(path) as fh:
            return json.load(fh).get("data_dir")
    except (OSError, ValueError):
        return None


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``, ``2 days 4 h``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours, minutes = divmod(int(minutes), 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h"


def _since(stamp: str, now: dt.datetime) -> float:
    return (now - dt.datetime.fromisoformat(stamp)).total_seconds()


def _not_running(args, message: str, looked_in: list[str], state: str, code: int) -> int:
    """No status to show: a JSON document with ``--json`` (for scripts), else the message on stderr."""
    if args.json:
        print(json.dumps({"state": state, "running": False, "problems": [message], "looked_in": looked_in},
                         indent=1))
    else:
        print(message, file=sys.stderr)
    return code


def _read(args) -> tuple[dict | None, int, list[str]]:
    """The status document, or None and the exit status once the reason is printed; and the files
    looked in (the one read last)."""
    explicit = args.data_dir or args.config
    data_dir = data_dir_from_args(args)
    path = status_path(data_dir)
    runtime = os.path.exists(RUNTIME_STATUS)
    if runtime and (not explicit or _status_data_dir(RUNTIME_STATUS) == data_dir):
        path = RUNTIME_STATUS   # the installed service's, under systemd
    looked_in = [path] if explicit or runtime else [RUNTIME_STATUS, path]
    # where the installed service's status would be, when it is not there
    no_service = "" if explicit or runtime else (f"no {RUNTIME_STATUS} (the installed service writes it while "
                                                 "it runs: systemctl status stairrig says why it does not) and ")
    try:
        with open(path, "rb") as fh:
            text = fh.read(MAX_STATUS_BYTES + 1)
        if len(text) > MAX_STATUS_BYTES:
            raise ValueError(f"larger than {MAX_STATUS_BYTES >> 20} MB")
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        return doc, 0, looked_in
    except PermissionError:
        if no_service:   # the installed service is not running; one run by hand as its user may be
            return None, _not_running(
                args, f"stairrig is not running here: {no_service}{path} is not readable by this user (one run by "
                      "hand as the service's user would write it: sudo stairrig status reads it)",
                looked_in, "not_running", 3), looked_in
        return None, _not_running(
            args, f"stairrig status: {path} is not readable by this user; sudo stairrig status reads it",
            looked_in, "unreadable", 4), looked_in
    except FileNotFoundError:
        where = ("(is this its data directory?)" if explicit else
                 "(for a stairrig run by hand with another data directory, say which with --data-dir or --config)")
        return None, _not_running(
            args, f"stairrig is not running here: {no_service}no {path} {where}", looked_in, "not_running", 3), looked_in
    except (OSError, ValueError) as exc:
        return None, _not_running(args, f"stairrig status: cannot read {path}: {exc}", looked_in, "unreadable",
                                  4), looked_in


def _print_stopped(doc: dict, now: dt.datetime) -> None:
    """A stopped service: when it stopped and how long it ran, not live figures."""
    if doc.get("stopped_at"):
        ran_s = _since(doc["started_at"], now) - _since(doc["stopped_at"], now)
        print(f"stairrig: stopped at {doc['stopped_at']} ({_duration(_since(doc['stopped_at'], now))} ago), "
              f"after running {_duration(ran_s)} (pid {doc['pid']}, started {doc['started_at']})")
    else:
        print(f"stairrig: stopped without a clean stop (killed, crashed or the power went): pid {doc['pid']} is "
              f"gone; its last status, {_duration(_since(doc['updated_at'], now))} ago, was written "
              f"{_duration(_since(doc['started_at'], now) - _since(doc['updated_at'], now))} after its start "
              f"({doc['started_at']})")
    print(f"athlete: {escaped(doc['athlete']['name'])}, level {escaped(doc['athlete']['level'])}"
          + (f"; session {doc['session']} was under way (the next start recovers it)" if doc["session"] else ""))
    print("sensors: not watched (the service is not running)")


def main(args) -> int:
    doc, code, looked_in = _read(args)
    if doc is None:
        return code
    try:
        return _show(args, doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:   # not a status stairrig wrote
        what = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        return _not_running(args, f"stairrig status: {looked_in[-1]} is not a status stairrig wrote "
                                  f"({escaped(what)})", looked_in, "unreadable", 4)


def _show(args, doc: dict) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    state, problems = judge(doc, now)
    if args.json:
        extra = {"running": state != "stopped", "up_s": round(_since(doc["started_at"], now))}
        if state == "stopped":
            end = doc.get("stopped_at") or doc["updated_at"]
            extra = {"running": False, "ran_s": round(_since(doc["started_at"], now) - _since(end, now))}
        print(json.dumps({"state": state, "problems": problems, **extra, **doc}, indent=1))
        return {"healthy": 0, "unhealthy": 1, "stopped": 3}[state]
    if state == "stopped":    # its only problem is that it is not running: said here
        _print_stopped(doc, now)
    else:
        print(f"stairrig: {state} (pid {doc['pid']}, up {_duration(_since(doc['started_at'], now))}, "
              f"since {doc['started_at']})")
        for problem in problems:
            print(f"  ! {problem}")
        print(f"athlete: {escaped(doc['athlete']['name'])}, level {escaped(doc['athlete']['level'])}"
              + (f"; session {doc['session']} under way" if doc["session"] else ""))
        print("sensors:")
        for channel, entry in doc["channels"].items():
            if entry is None:
                what = "no sample yet" if channel.endswith(".force") else "quiet since start (off)"
            elif channel.endswith(".force"):
                what = f"{entry['value']:.2f} N, sampled {entry['age_s']:.1f} s ago"
            else:
                n = entry["samples"]
                what = f"{'on' if entry['value'] else 'off'} since {entry['age_s']:.0f} s, {n} edge{'s' if n != 1 else ''}"
            print(f"  {channel:<18} {what}")
    print(f"data: {doc['data_dir']} (history {doc['history']['path'] or 'unavailable'}; trace {doc['trace']})")
    print(f"config: {doc['config']}")
    return {"healthy": 0, "unhealthy": 1, "stopped": 3}[state]   # 4: not readable
