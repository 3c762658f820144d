"""Replay speed on a one-hour trace, beside the time that merely parsing it takes.

The trace: the simulator's `demo` session for one hour on a five-tread split
flight with two touch-and-force rails sampled at 50 Hz (about 376,000
samples), written once to bench/out/. Each figure is the best of --repeat
runs, wall-clock (time.perf_counter), on one core.

    .venv/bin/python bench/replay_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import orjson

from rig.replay import replay
from rig.sim import simulate, write_sim
from rig.trace import read_trace

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "hour.jsonl")
    if not os.path.exists(path):
        result = simulate("demo", seed=1, noise="typical", duration_s=3600.0)
        write_sim(result, path)
    truth = json.load(open(path.replace(".jsonl", ".truth.json")))
    samples = sum(1 for _ in read_trace(path))
    size_mb = os.path.getsize(path) / 1e6
    t_orjson, _ = best_of(args.repeat, lambda: parse_lines(path, orjson.loads))
    t_json, _ = best_of(args.repeat, lambda: parse_lines(path, json.loads))
    t_read, _ = best_of(args.repeat, lambda: sum(1 for _ in read_trace(path)))
    t_replay, summary = best_of(args.repeat, lambda: replay(path))
    assert summary["steps"] == truth["steps"], (summary["steps"], truth["steps"])
    print(f"one-hour trace: {samples} samples, {size_mb:.1f} MB, {truth['steps']} steps "
          f"(replay counts {summary['steps']}); Python {platform.python_version()}, {platform.machine()}")
    rows = [("parse only, orjson", t_orjson), ("parse only, stdlib json", t_json),
            ("read and validate (rig.trace)", t_read), ("replay: read, validate, detect", t_replay)]
    for name, t in rows:
        print(f"  {name:<32} {t:6.3f} s   {samples / t:>10,.0f} samples/s")


if __name__ == "__main__":
    main()
