"""Instructions per sample of each part of the live path, side by side with replay.

    .venv/bin/python bench/live_parts.py [--seconds 120] [--out PATH]

``bench/live_cost.py`` measures ``stairrig run`` as a whole; this one says where its
instructions go. It builds the service as ``stairrig run`` does (the example configuration,
the mock Pi, traces, history and status on; MQTT and the panel off: they work per tick, not
per sample, and live_cost counts them), but drives it in one thread, part after part, over the
same samples: the demo athlete walking for ``--seconds`` seconds of its time.

1. ``adc``: gpiozero's ``MCP3008.value`` for every force sample, on the mock Pi's
   transfer-level SPI (the real path's code; the mock answers for the chip);
2. ``engine``: the engine's ``_feed`` (the run's detector, the session's detector, the trace's
   resolution), its ticks and summaries, as its loop does them at 10 wakes a second;
3. each bus output on the events the engine published, one output after the other;
4. ``replay`` of the trace the recorder wrote (what ``stairrig replay`` costs per sample).

Each part runs under valgrind's callgrind between two client requests (a small C helper
built with gcc at the start: ``CALLGRIND_ZERO_STATS``, ``CALLGRIND_DUMP_STATS_AT``), so every
figure is instructions (``Ir``) of that part alone, repeatable on a busy machine. Without
valgrind (``--no-valgrind``) it prints CPU seconds per part instead (noisy).
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

_HELPER_C = r"""
#include <valgrind/callgrind.h>
void cg_zero(void) { CALLGRIND_ZERO_STATS; }
void cg_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""

WAKE_S = 0.1        # the engine wakes ten times a second while the rig is in use (adc.WAKE_EVERY_S)
TICK_S = 0.25       # engine._TICK_EVERY_S
SUMMARY_S = 1.0     # engine._SUMMARY_EVERY_S


def build_helper(out_dir: str) -> str:
    src = os.path.join(out_dir, "cg_helper.c")
    lib = os.path.join(out_dir, "cg_helper.so")
    Path(src).write_text(_HELPER_C)
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", lib, src], check=True)
    return lib


class Meter:
    """Marks where a part starts and ends: callgrind client requests, or CPU time."""

    def __init__(self, lib: str | None):
        self._lib = ctypes.CDLL(lib) if lib else None
        self.cpu: dict[str, float] = {}
        self._t0 = 0.0

    def start(self) -> None:
        if self._lib:
            self._lib.cg_zero()
        self._t0 = time.process_time()

    def stop(self, name: str) -> None:
        self.cpu[name] = time.process_time() - self._t0
        if self._lib:
            self._lib.cg_dump(name.encode())


def walking_samples(layout, weight_kg: float, seconds: float):
    from rig.sim import simulate
    sim = simulate("demo", seed=3, noise="typical", layout=layout, weight_kg=weight_kg, duration_s=seconds)
    return [s for s in sim.samples if s[0] <= seconds]


def run_parts(seconds: float, lib: str | None, data_dir: str) -> dict:
    from bench.live_cost import write_config
    from rig.config import load_config
    from rig.hardware.mockpi import RigMockFactory
    from rig.replay import replay
    from rig.service import Service

    config = load_config(str(write_config(data_dir)))
    factory = RigMockFactory()
    service = Service(config, pin_factory=factory, source="gpio")
    meter = Meter(lib)
    samples = walking_samples(config.layout, config.athlete.weight_kg, seconds)
    force = [s for s in samples if s[1].endswith(".force")]
    edges = [s for s in samples if not s[1].endswith(".force")]
    n = len(samples)

    # 1. the ADC: one gpiozero read per force sample, on the mock chip, as the sampler reads
    devices = dict(service.sensors.sampler.channels)
    meter.start()
    for _, channel, _ in force:
        devices[channel].value
    meter.stop("adc")

    # 2. the engine, wake by wake
    engine, det, sessions, bus = service.engine, service.detector, service.sessions, service.bus
    scans: dict[float, list] = {}
    for t, ch, v in force:
        scans.setdefault(t, []).append((ch, v))
    scan_items = sorted(scans.items())
    meter.start()
    i = j = 0
    now = 0.0
    next_tick = TICK_S
    next_summary = SUMMARY_S
    end = samples[-1][0] + WAKE_S
    while now < end:
        now += WAKE_S
        batch = []
        while i < len(edges) and edges[i][0] <= now:
            batch.append(edges[i])
            i += 1
        while j < len(scan_items) and scan_items[j][0] <= now:
            engine.sink_scan(scan_items[j][0], tuple(scan_items[j][1]))
            j += 1
        engine._feed(batch, engine._take_scans())
        if now > engine._last_t:
            engine._last_t = now
        det.advance(engine._last_t)
        sessions.tick(engine._last_t)
        if now >= next_tick:
            next_tick = now + TICK_S
            events = [engine._take_samples(), {"type": "tick", "t": now}]
            if now >= next_summary:
                next_summary = now + SUMMARY_S
                events.append({"type": "summary", "t": now, "summary": det.summary()})
            bus.publish_all(events)
    meter.stop("engine")

    events = []
    while not bus._queue.empty():
        item = bus._queue.get_nowait()
        events.extend(item if isinstance(item, list) else [item])

    # 3. each output of the bus, alone, on the same events
    parts = ["adc", "engine"]
    for sub in bus._subscribers:
        meter.start()
        for event in events:
            if sub.types is None or event.get("type") in sub.types:
                sub.listener(event)
        name = f"bus:{sub.name}"
        meter.stop(name)
        parts.append(name)
    service.recorder.close() if service.recorder else None
    trace = service.recorder.path

    # 4. replay of what the recorder wrote
    meter.start()
    replay(trace)
    meter.stop("replay")
    if service.store is not None:
        service.store.close()
    return {"samples": n, "force_samples": len(force), "parts": parts, "cpu": meter.cpu, "trace": trace}


def child(args) -> int:
    """The measured process (under valgrind, or not)."""
    result = run_parts(args.seconds, args.helper, args.data_dir)
    import json
    Path(args.result).write_text(json.dumps(result))
    return 0


def totals_by_part(out_dir: str) -> dict[str, int]:
    found = {}
    for path in glob.glob(os.path.join(out_dir, "cg.out.*")):
        name = total = None
        for line in open(path):
            if line.startswith("desc: Trigger: Client Request: "):
                name = line.split(": ", 2)[2].split(": ", 1)[1].strip()
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
        if name and total is not None:
            found[name] = total
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="seconds of the demo athlete walking")
    ap.add_argument("--no-valgrind", action="store_true", help="CPU seconds per part, without callgrind")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--helper", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    out_dir = tempfile.mkdtemp(prefix="stairrig-parts-")
    try:
        data_dir = os.path.join(out_dir, "data")
        os.makedirs(data_dir)
        result_path = os.path.join(out_dir, "result.json")
        cmd = [sys.executable, __file__, "--child", "--seconds", str(args.seconds), "--data-dir", data_dir,
               "--result", result_path]
        env = {**os.environ, "PYTHONPATH": str(REPO), "GPIOZERO_PIN_FACTORY": "mock"}
        if not args.no_valgrind:
            lib = build_helper(out_dir)
            cmd = ["valgrind", "--tool=callgrind", "--dump-instr=no",
                   f"--callgrind-out-file={out_dir}/cg.out", *cmd, "--helper", lib]
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        import json
        result = json.loads(Path(result_path).read_text())
        n = result["samples"]
        print(f"live path by part: the demo athlete walking {args.seconds:g} s, {n} samples "
              f"({result['force_samples']} of force)")
        if args.no_valgrind:
            figures = {p: 1e6 * s / n for p, s in result["cpu"].items()}
            unit = "CPU us/sample"
        else:
            figures = {p: ir / n for p, ir in totals_by_part(out_dir).items()}
            unit = "instructions/sample"
        replay_cost = figures.get("replay") or float("nan")
        live = 0.0
        print(f"  {'part':28s} {unit:>20s} {'x replay':>9s}")
        for part in result["parts"]:
            value = figures.get(part, 0.0)
            live += value
            print(f"  {part:28s} {value:20,.0f} {value / replay_cost:9.2f}")
        print(f"  {'live path, all parts':28s} {live:20,.0f} {live / replay_cost:9.2f}")
        print(f"  {'replay':28s} {replay_cost:20,.0f} {1.0:9.2f}")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
