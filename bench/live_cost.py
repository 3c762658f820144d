"""What the live path costs per sample, beside what replay costs for the same samples.

    .venv/bin/python bench/live_cost.py [--span 120] [--mqtt mqtt://127.0.0.1] [--streams 4] [--callgrind]

In one run, side by side:

1. ``stairrig run`` on mock pins (``GPIOZERO_PIN_FACTORY=mock``) with the
   example configuration (two rails with load cells sampled at 50 Hz, ten
   tread switches, two touch pads), its panel on 127.0.0.1 and, with
   ``--mqtt``, its MQTT client: **idle** for ``--span`` seconds; then the same
   with ``--streams`` tablets holding the panel's event stream open; then
   with the simulated athlete **walking** (the demo scenario played into the
   mock pins over ``STAIRRIG_MOCK_SOCKET``). For each: the service's CPU time
   (the sum of its threads' run time from ``/proc/PID/task/*/schedstat``,
   nanoseconds, less the thread that receives the simulated athlete's
   datagrams: it stands for the world, not the rig) over the window, the samples it took in that window (the
   channel counts in its status file, rewritten every 2 s: the window runs
   from one rewrite to another), and so the CPU time per sample and the
   share of one core.
2. ``replay`` of the trace the walking run recorded, in this process
   (``rig.replay.replay``, CPU time from ``time.process_time``): CPU time per
   sample, and the ratio live / replay.
3. With ``--callgrind``: instructions (valgrind's callgrind, ``Ir``) per
   sample for replay, and for the service idle and walking
   (``--instr-atstart=no``, instrumented with ``callgrind_control`` for a
   minute). Instruction counts do not depend on how busy the machine is, and
   leave out what the kernel spends waking threads; under valgrind the
   service runs many times slower, so its figures are indicative.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# this checkout's rig, whichever venv runs the bench (so that an older checkout can be measured too)
STAIRRIG = [sys.executable, "-m", "rig"]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}

from rig.config import example_config_path, load_config  # noqa: E402
from rig.replay import replay  # noqa: E402
from rig.sim import simulate  # noqa: E402
from rig.trace import read_trace  # noqa: E402


# the thread that plays the world (the simulated athlete's datagrams) is not the rig's cost
WORLD_THREADS = ("mock-control",)


def thread_cpu_ns(pid: int) -> dict[str, int]:
    """The run time of every live thread of ``pid`` by its OS name (rig/threads.py), in nanoseconds."""
    out: dict[str, int] = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            name = open(f"{task}/comm").read().strip()
            out[name] = out.get(name, 0) + int(open(f"{task}/schedstat").read().split()[0])
        except (OSError, ValueError, IndexError):
            pass      # a thread that ended meanwhile
    return out


def write_config(data_dir: str) -> Path:
    text = open(example_config_path()).read()
    text = re.sub(r'^data_dir = .*$', f'data_dir = "{data_dir}"', text, flags=re.M)
    text = re.sub(r'^host = "0.0.0.0".*$', 'host = "127.0.0.1"', text, flags=re.M)
    text = re.sub(r'^port = 8080.*$', 'port = 0', text, flags=re.M)
    path = Path(data_dir) / "rig.toml"
    path.write_text(text)
    return path


class RunningService:
    """``stairrig run`` on mock pins; ``window(span_s)`` measures it."""

    def __init__(self, args, data_dir: str, *, prefix: list[str] = ()):
        self.data_dir = data_dir
        self.socket_path = os.path.join(data_dir, "mock.sock")
        env = {**ENV, "GPIOZERO_PIN_FACTORY": "mock", "STAIRRIG_MOCK_SOCKET": self.socket_path,
               "PYTHONUNBUFFERED": "1"}
        cmd = [*prefix, *STAIRRIG, "run", "--config", str(write_config(data_dir))]
        if args.mqtt:
            cmd += ["--mqtt", args.mqtt]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.url = None
        self.trace = None
        deadline = time.monotonic() + 300
        while self.url is None and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            found = re.search(r"the panel is at (http://127\.0\.0\.1:\d+)", line)
            if found:
                self.url = found.group(1)
        if self.url is None:
            self.proc.kill()
            raise SystemExit(f"live_cost: {' '.join(cmd)} did not start its panel")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def status(self) -> dict | None:
        try:
            return json.loads(Path(self.data_dir, "status.json").read_text())
        except (OSError, ValueError):
            return None

    def _next_status(self, after: str | None) -> tuple[dict, int]:
        """Wait for the status file to be rewritten; the status and the CPU time right then."""
        while True:
            doc = self.status()
            if doc is not None and doc.get("updated_at") != after and doc.get("channels"):
                return doc, thread_cpu_ns(self.proc.pid)
            time.sleep(0.01)

    @staticmethod
    def _samples(doc: dict) -> int:
        return sum(c["samples"] for c in doc["channels"].values() if c)

    def window(self, span_s: float) -> dict:
        """CPU time and samples from one status rewrite to the first one ``span_s`` later."""
        first, cpu0 = self._next_status(None)
        first, cpu0 = self._next_status(first["updated_at"])      # a fresh rewrite: its start is now
        t0 = time.monotonic()
        time.sleep(max(0.0, span_s - 2.5))
        last = first
        while time.monotonic() - t0 < span_s - 0.5:
            last, cpu1 = self._next_status(last["updated_at"])
        elapsed_s = last["uptime_s"] - first["uptime_s"]
        samples = self._samples(last) - self._samples(first)
        threads = {name: (ns - cpu0.get(name, 0)) / 1e9 for name, ns in cpu1.items()}
        world_s = sum(c for name, c in threads.items() if name in WORLD_THREADS)
        cpu_s = sum(threads.values()) - world_s
        self.trace = last.get("trace")
        return {"span_s": elapsed_s, "samples": samples, "cpu_s": cpu_s, "threads": threads, "world_s": world_s,
                "core_pct": 100.0 * cpu_s / elapsed_s, "us_per_sample": 1e6 * cpu_s / max(1, samples)}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def hold_streams(url: str, n: int, stop: threading.Event) -> list[threading.Thread]:
    def read():
        try:
            with urllib.request.urlopen(url + "/events", timeout=60) as stream:
                while not stop.is_set() and stream.readline():
                    pass
        except OSError:
            pass
    threads = [threading.Thread(target=read, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def walk(socket_path: str, span_s: float, stop: threading.Event) -> int:
    """Play the demo athlete into the mock pins, in real time, over the control socket."""
    config = load_config(example_config_path())
    sim = simulate("demo", seed=3, noise="typical", layout=config.layout, weight_kg=config.athlete.weight_kg,
                   duration_s=span_s + 30.0)
    sent = 0
    last: dict[str, float] = {}
    t0 = time.monotonic()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        for t, channel, value in sim.samples:
            if channel.endswith(".force") and abs(value - last.get(channel, -1.0)) < 0.05:
                continue            # the load cell reads on as it was: nothing to tell the mock
            last[channel] = value
            wait = t - (time.monotonic() - t0)
            if wait > 0 and stop.wait(wait):
                break
            if stop.is_set():
                break
            try:
                s.sendto(f"{channel} {value}".encode(), socket_path)
            except OSError:
                break           # the service stopped
            sent += 1
    return sent


def replay_cost(trace: str) -> dict:
    samples = sum(1 for _ in read_trace(trace))
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        replay(trace)
        best = min(best, time.process_time() - t0)
    return {"samples": samples, "cpu_s": best, "us_per_sample": 1e6 * best / max(1, samples)}


def callgrind_replay(trace: str, out_dir: str) -> float:
    """Instructions per sample of ``stairrig replay`` (less those of replaying a header-only trace)."""
    def ir(path: str) -> int:
        out = os.path.join(out_dir, "cg.replay")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *STAIRRIG, "replay",
                        path, "--json"], check=True, capture_output=True, env=ENV)
        return callgrind_total(out)
    empty = os.path.join(out_dir, "empty.jsonl")
    with open(empty, "w") as f:
        f.write(next(iter(open_text(trace))))
    samples = sum(1 for _ in read_trace(trace))
    return (ir(trace) - ir(empty)) / samples


def open_text(path: str):
    import gzip
    return gzip.open(path, "rt") if path.endswith(".gz") else open(path)


def callgrind_total(path: str) -> int:
    for line in open(path):
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise ValueError(f"no totals in {path}")


def callgrind_live(args, span_s: float, out_dir: str, *, walking: bool) -> float:
    """Instructions per sample of the service under callgrind (every thread, the datagram
    receiver too), instrumented for a window of ``span_s`` only (``--instr-atstart=no`` and
    ``callgrind_control -i on``, then a dump)."""
    out = os.path.join(out_dir, "cg.live")
    data_dir = tempfile.mkdtemp(prefix="stairrig-cost-cg-")
    stop = threading.Event()
    try:
        svc = RunningService(args, data_dir, prefix=["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                                      f"--callgrind-out-file={out}"])
        if walking:
            threading.Thread(target=walk, args=(svc.socket_path, span_s + 120, stop), daemon=True).start()
        first, _ = svc._next_status(None)
        first, _ = svc._next_status(first["updated_at"])
        subprocess.run(["callgrind_control", "-i", "on"], check=True, capture_output=True)
        time.sleep(span_s)
        last, _ = svc._next_status(first["updated_at"])
        subprocess.run(["callgrind_control", "-d"], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-i", "off"], check=True, capture_output=True)
        samples = svc._samples(last) - svc._samples(first)
        stop.set()
        svc.stop()
        dumps = [p for p in glob.glob(out + ".*") if p.rsplit(".", 1)[1].isdigit()]
        return callgrind_total(max(dumps, key=lambda p: int(p.rsplit(".", 1)[1]))) / max(1, samples)
    finally:
        stop.set()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--span", type=float, default=120.0, help="seconds measured in each state")
    ap.add_argument("--mqtt", help="the service's broker, e.g. mqtt://127.0.0.1")
    ap.add_argument("--streams", type=int, default=4, help="tablets holding /events open in the second window")
    ap.add_argument("--callgrind", action="store_true", help="also count instructions with valgrind")
    args = ap.parse_args()
    rows = []
    data_dir = tempfile.mkdtemp(prefix="stairrig-cost-")
    try:
        svc = RunningService(args, data_dir)
        try:
            time.sleep(5)                                   # start-up over
            rows.append(("idle", svc.window(args.span)))
            stop = threading.Event()
            hold_streams(svc.url, args.streams, stop)
            time.sleep(2)
            rows.append((f"idle, {args.streams} tablet streams", svc.window(args.span)))
            stop.set()
            walking = threading.Event()
            walker = threading.Thread(target=walk, args=(svc.socket_path, args.span + 10, walking), daemon=True)
            walker.start()
            time.sleep(3)
            rows.append(("athlete walking", svc.window(args.span)))
            trace = svc.trace
            walking.set()
        finally:
            svc.stop()
        replayed = replay_cost(trace)
        print(f"live path cost: stairrig run on mock pins, example configuration, panel on"
              f"{', MQTT ' + args.mqtt if args.mqtt else ', no MQTT'}; windows of about {args.span:g} s")
        print(f"  {'state':28s} {'samples':>8s} {'CPU s':>8s} {'% core':>7s} {'us/sample':>10s} {'x replay':>9s}")
        for name, r in rows:
            print(f"  {name:28s} {r['samples']:8d} {r['cpu_s']:8.3f} {r['core_pct']:7.3f} {r['us_per_sample']:10.1f} "
                  f"{r['us_per_sample'] / replayed['us_per_sample']:9.1f}")
            top = sorted(r["threads"].items(), key=lambda kv: -kv[1])[:7]
            print("      by thread: " + ", ".join(f"{n} {100 * c / r['span_s']:.3f} %" for n, c in top if c > 0)
                  + (f" ({', '.join(WORLD_THREADS)} not counted)" if r["world_s"] else ""))
        idle, streams = rows[0][1], rows[1][1]
        per_stream = (streams["core_pct"] - idle["core_pct"]) / max(1, args.streams)
        print(f"  each tablet stream: {per_stream:+.3f} % of a core")
        print(f"  replay of the walking run's trace ({replayed['samples']} samples): "
              f"{replayed['us_per_sample']:.2f} us/sample (CPU, best of 3)")
        if args.callgrind:
            out_dir = tempfile.mkdtemp(prefix="stairrig-cg-")
            try:
                ir_replay = callgrind_replay(trace, out_dir)
                ir_idle = callgrind_live(args, 60.0, out_dir, walking=False)
                ir_walking = callgrind_live(args, 60.0, out_dir, walking=True)
                print(f"  instructions per sample (callgrind): replay {ir_replay:,.0f}; service idle "
                      f"{ir_idle:,.0f} ({ir_idle / ir_replay:.1f} x), athlete walking {ir_walking:,.0f} "
                      f"({ir_walking / ir_replay:.1f} x)")
            finally:
                shutil.rmtree(out_dir, ignore_errors=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
