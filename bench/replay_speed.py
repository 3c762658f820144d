"""Replay speed on a one-hour trace, beside the time that merely parsing it takes.

The trace: the simulator's `demo` session for one hour on a five-tread split
flight with two touch-and-force rails sampled at 50 Hz (about 376,000
samples), written once to bench/out/. Each figure is the best of --repeat
runs, wall-clock (time.perf_counter), on one core; the last line is replay's
time as a multiple of the orjson parse floor measured in the same run.

With --callgrind, it also counts the instructions of `python -m rig replay
TRACE --json` under valgrind's callgrind (slow: about a minute), less those
of the same command on a trace with a header and no samples (start-up,
imports, output), and prints them per sample.

    .venv/bin/python bench/replay_speed.py [--repeat 3] [--callgrind]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

import orjson

from rig.replay import replay
from rig.sim import simulate, write_sim
from rig.trace import read_trace

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def best_of(repeat: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def parse_lines(path: str, loads) -> int:
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            loads(line)
            n += 1
    return n


def read_batches(path: str) -> int:
    return sum(len(batch) for batch in read_trace(path).batches())


def callgrind_instructions(trace: str) -> int:
    """Instructions (callgrind's Ir total) of ``python -m rig replay TRACE --json``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, "-m", "rig", "replay", trace, "--json", "--no-progress"],
            cwd=ROOT, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)|I\s+refs:\s+([\d,]+)", run.stderr)
    if not found:
        raise SystemExit(f"no instruction count in callgrind's output:\n{run.stderr[-2000:]}")
    return int((found.group(1) or found.group(2)).replace(",", ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--callgrind", action="store_true",
                    help="also count replay's instructions per sample under valgrind's callgrind")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "hour.jsonl")
    if not os.path.exists(path):
        result = simulate("demo", seed=1, noise="typical", duration_s=3600.0)
        write_sim(result, path)
    with open(path.replace(".jsonl", ".truth.json")) as fh:
        truth = json.load(fh)
    samples = read_batches(path)
    size_mb = os.path.getsize(path) / 1e6
    t_orjson, _ = best_of(args.repeat, lambda: parse_lines(path, orjson.loads))
    t_json, _ = best_of(args.repeat, lambda: parse_lines(path, json.loads))
    t_read, _ = best_of(args.repeat, lambda: read_batches(path))
    t_replay, summary = best_of(args.repeat, lambda: replay(path))
    assert summary["steps"] == truth["steps"], (summary["steps"], truth["steps"])
    print(f"one-hour trace: {samples} samples, {size_mb:.1f} MB, {truth['steps']} steps "
          f"(replay counts {summary['steps']}); Python {platform.python_version()}, {platform.machine()}")
    rows = [("parse only, orjson", t_orjson), ("parse only, stdlib json", t_json),
            ("read and validate (rig.trace)", t_read), ("replay: read, validate, detect", t_replay)]
    for name, t in rows:
        print(f"  {name:<32} {t:6.3f} s   {samples / t:>10,.0f} samples/s   {t / t_orjson:4.2f} x orjson")
    print(f"  replay / orjson parse floor: {t_replay / t_orjson:.2f}")

    if args.callgrind:
        if shutil.which("valgrind") is None:
            raise SystemExit("--callgrind needs valgrind (apt-get install valgrind)")
        with open(path, "rb") as fh:
            header = fh.readline()
        with tempfile.TemporaryDirectory() as tmp:
            empty = os.path.join(tmp, "header-only.jsonl")
            with open(empty, "wb") as fh:
                fh.write(header)
            base = callgrind_instructions(empty)
        total = callgrind_instructions(path)
        print(f"callgrind, python -m rig replay {os.path.relpath(path, ROOT)} --json:")
        print(f"  {total:,} instructions; {base:,} for a trace without samples (start-up, imports, output)")
        print(f"  {(total - base) / samples:,.0f} instructions per sample")


if __name__ == "__main__":
    main()
