"""Soak: run the service for a long while and watch its memory, threads and open files.

    .venv/bin/python bench/soak.py demo --speed 10 --duration 1800     # 30 simulated minutes in 3
    .venv/bin/python bench/soak.py run --minutes 10 [--mqtt mqtt://127.0.0.1]   # mock pins, idle

``demo`` starts ``stairrig demo`` (the simulated athlete walking the example
rig, its panel and, with --mqtt, Home Assistant's topics); ``run`` starts
``stairrig run`` under ``GPIOZERO_PIN_FACTORY=mock`` with the example
configuration (data in a temporary folder, the panel on a free port), idle,
with one tablet stream open (``--streams N``). Every ``--every`` seconds it
reads the process's resident memory (VmRSS), its threads and its open file
descriptors from /proc, and at the end prints each sample and the growth
after the first minute (the figure the issue asks to stay under 10 MB).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAIRRIG = REPO / ".venv" / "bin" / "stairrig"
WARM_UP_S = 60.0


def proc_figures(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))
    threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return {"rss_mb": rss_kb / 1024, "threads": threads, "fds": fds}


def open_stream(url: str, stop: threading.Event) -> None:
    """A tablet: read the panel's event stream until stopped."""
    try:
        with urllib.request.urlopen(url, timeout=30) as stream:
            while not stop.is_set() and stream.readline():
                pass
    except OSError:
        pass


def start(args, data_dir: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if args.mode == "demo":
        cmd = [str(STAIRRIG), "demo", "--speed", str(args.speed), "--duration", str(args.duration),
               "--data-dir", data_dir, "--port", "0"]
    else:
        example = (REPO / "rig" / "rig.example.toml").read_text()
        config = re.sub(r'^data_dir = .*$', f'data_dir = "{data_dir}"', example, flags=re.M)
        config = re.sub(r'^host = "0.0.0.0".*$', 'host = "127.0.0.1"', config, flags=re.M)
        config = re.sub(r'^port = 8080.*$', 'port = 0', config, flags=re.M)
        path = Path(data_dir) / "rig.toml"
        path.write_text(config)
        cmd = [str(STAIRRIG), "run", "--config", str(path)]
        env["GPIOZERO_PIN_FACTORY"] = "mock"
    if args.mqtt:
        cmd += ["--mqtt", args.mqtt]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = None
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.search(r"(http://127\.0\.0\.1:\d+)/?", line)
        if found and ("panel" in line):
            url = found.group(1)
    if url is None:
        proc.kill()
        raise SystemExit(f"soak: {' '.join(cmd)} did not announce its panel")
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()   # keep the pipe drained
    return proc, url


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("demo", "run"))
    ap.add_argument("--speed", type=float, default=10.0, help="demo: simulated seconds per second")
    ap.add_argument("--duration", type=float, default=1800.0, help="demo: simulated seconds")
    ap.add_argument("--minutes", type=float, default=10.0, help="run: how long")
    ap.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--streams", type=int, default=1, help="tablet streams held open on /events")
    ap.add_argument("--mqtt", help="a broker URL for the service (mqtt://127.0.0.1)")
    args = ap.parse_args()
    span_s = args.duration / args.speed if args.mode == "demo" else args.minutes * 60.0
    data_dir = tempfile.mkdtemp(prefix="stairrig-soak-")
    proc, url = start(args, data_dir)
    stop = threading.Event()
    for _ in range(args.streams):
        threading.Thread(target=open_stream, args=(url + "/events", stop), daemon=True).start()
    t0 = time.monotonic()
    samples = []
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - t0
            samples.append((elapsed, proc_figures(proc.pid)))
            if elapsed >= span_s:
                break
            time.sleep(min(args.every, max(0.5, span_s - elapsed)))
    finally:
        stop.set()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    what = (f"stairrig demo --speed {args.speed:g} --duration {args.duration:g}" if args.mode == "demo"
            else f"GPIOZERO_PIN_FACTORY=mock stairrig run (example configuration), idle, {args.minutes:g} min")
    print(f"soak: {what}; {args.streams} tablet stream(s){', MQTT ' + args.mqtt if args.mqtt else ''}")
    print(f"  {'t (s)':>7} {'RSS (MB)':>9} {'threads':>8} {'fds':>5}")
    for elapsed, f in samples:
        print(f"  {elapsed:7.0f} {f['rss_mb']:9.1f} {f['threads']:8d} {f['fds']:5d}")
    after = [f for elapsed, f in samples if elapsed >= WARM_UP_S]
    if len(after) >= 2:
        grown = after[-1]["rss_mb"] - after[0]["rss_mb"]
        hours = (samples[-1][0] - next(e for e, _ in samples if e >= WARM_UP_S)) / 3600
        print(f"  after the first minute: RSS {after[0]['rss_mb']:.1f} -> {after[-1]['rss_mb']:.1f} MB "
              f"({grown:+.1f} MB, {grown / hours if hours else 0:+.1f} MB/h); "
              f"threads {min(f['threads'] for f in after)}..{max(f['threads'] for f in after)}, "
              f"open files {min(f['fds'] for f in after)}..{max(f['fds'] for f in after)}")
    if proc.returncode not in (0, None, -signal.SIGINT):
        print(f"  the service exited with {proc.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
