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


def add_parser(sub) -> None:
    p = sub.add_parser("status", help="is the service healthy, which sensors are live, where is the data")
    p.add_argument("--data-dir", help="the data directory (default $STAIRRIG_DATA_DIR or /var/lib/stairrig)")
    p.add_argument("--config", help="take the data directory from this configuration file")
    p.add_argument("--json", action="store_true")
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


def main(args) -> int:
    explicit = args.data_dir or args.config
    data_dir = data_dir_from_args(args)
    path = status_path(data_dir)
    if os.path.exists(RUNTIME_STATUS) and (not explicit or _status_data_dir(RUNTIME_STATUS) == data_dir):
        path = RUNTIME_STATUS   # the installed service's, under systemd
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except PermissionError:
        print(f"stairrig status: {path} is not readable by this user; try sudo stairrig status", file=sys.stderr)
        return 4
    except FileNotFoundError:
        print(f"stairrig is not running here: no {path} (say where its data is with --data-dir or --config)",
              file=sys.stderr)
        return 3
    except (OSError, ValueError) as exc:
        print(f"stairrig status: cannot read {path}: {exc}", file=sys.stderr)
        return 4
    state, problems = judge(doc)
    if args.json:
        print(json.dumps({"state": state, "problems": problems, **doc}, indent=1))
    else:
        print(f"stairrig: {state} (pid {doc['pid']}, up {doc['uptime_s'] / 60:.0f} min, since {doc['started_at']})")
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
