"""Panel under load: /api/status latency while ten tablets hold /events streams open.

The example rig (5 split treads, two touch+force rails, the MCP3008 sampler
at 50 Hz) on gpiozero's MockFactory, the simulated demo athlete walking it,
and the panel served by waitress on 127.0.0.1 (a free port) inside the
service, as on the Pi. Ten threads each open /events with http.client and
read continuously (every update and the 5 Hz ticks); meanwhile one client
asks GET /api/status a few hundred times (every 25 ms) over one keep-alive
connection, as a page's script does, and the time from sending to the whole
body read is measured. Target: p99 under 100 ms.

    .venv/bin/python bench/panel_load.py [--streams 10] [--requests 400] [--interval-ms 25] [--speed 1]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import threading
import time
from dataclasses import replace

from rig.config import example_config_path, load_config
from rig.service import Service
from rig.sim import simulate
from rig.sim.mockrig import RigDriver, SimulatedRig


class StreamReader(threading.Thread):
    """One tablet: an open /events stream, read as fast as it comes."""

    def __init__(self, port: int, n: int, stop: threading.Event):
        super().__init__(name=f"bench-stream-{n}", daemon=True)
        self.port, self.stop = port, stop
        self.counts = {"snapshot": 0, "update": 0, "tick": 0}
        self.bytes = 0
        self.ready = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            conn.request("GET", "/events")
            response = conn.getresponse()
            if response.status != 200:
                self.error = f"HTTP {response.status}: {response.read()[:200]!r}"
                self.ready.set()
                return
            buffer = b""
            while not self.stop.is_set():
                chunk = response.read1(65536)
                if not chunk:
                    break
                self.bytes += len(chunk)
                buffer += chunk
                *blocks, buffer = buffer.split(b"\n\n")
                for block in blocks:
                    for line in block.split(b"\n"):
                        if line.startswith(b"event: "):
                            name = line[7:].decode()
                            self.counts[name] = self.counts.get(name, 0) + 1
                if self.counts["snapshot"]:
                    self.ready.set()
            conn.close()
        except OSError as exc:
            if not self.stop.is_set():
                self.error = str(exc)
        finally:
            self.ready.set()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=10)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--interval-ms", type=float, default=25.0, help="pause between requests")
    ap.add_argument("--speed", type=float, default=1.0, help="simulated time per real second (more events)")
    args = ap.parse_args()

    config = load_config(example_config_path())
    threads = max(16, args.streams + 4)
    config = replace(config, data_dir=tempfile.mkdtemp(prefix="stairrig-bench-"),
                     web=replace(config.web, enabled=True, host="127.0.0.1", port=0, threads=threads))
    sim = simulate("demo", seed=1, noise="typical", layout=config.layout, weight_kg=config.athlete.weight_kg,
                   duration_s=600.0)
    rig = SimulatedRig(config, speed=args.speed, virtual=True)
    service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="bench")
    driver = RigDriver(rig, sim.samples, service.stop_event)
    stop = threading.Event()
    readers = []
    try:
        service.start()
        driver.start()
        port = service.panel.port
        readers = [StreamReader(port, n, stop) for n in range(args.streams)]
        for r in readers:
            r.start()
        for r in readers:
            r.ready.wait(10)
        errors = [r.error for r in readers if r.error]
        if errors:
            raise SystemExit(f"a stream failed: {errors[0]}")
        time.sleep(1.0)                       # the athlete is walking, the streams are flowing

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        latencies_ms = []
        sizes = []
        before = [dict(r.counts) for r in readers]
        t_start = time.monotonic()
        for _ in range(args.requests):
            t0 = time.perf_counter()
            conn.request("GET", "/api/status")
            response = conn.getresponse()
            body = response.read()
            latencies_ms.append((time.perf_counter() - t0) * 1000)
            assert response.status == 200, response.status
            sizes.append(len(body))
            stop.wait(args.interval_ms / 1000)
        elapsed_s = time.monotonic() - t_start
        conn.request("GET", "/healthz")
        health = json.loads(conn.getresponse().read())
        conn.close()
        ticks = [r.counts["tick"] - b["tick"] for r, b in zip(readers, before)]
        stream_updates = [r.counts["update"] - b["update"] for r, b in zip(readers, before)]
    finally:
        stop.set()
        service.stop()
        rig.close()
        for r in readers:
            r.join(5)

    print(f"panel load: {args.streams} open /events streams, demo athlete at speed x{args.speed:g}, "
          f"waitress {threads} threads")
    print(f"  GET /api/status x{args.requests}, one every {args.interval_ms:g} ms, over {elapsed_s:.1f} s "
          f"(one keep-alive connection), "
          f"body {statistics.mean(sizes) / 1024:.1f} KB")
    print(f"  p50 {percentile(latencies_ms, 50):.2f} ms   p99 {percentile(latencies_ms, 99):.2f} ms   "
          f"max {max(latencies_ms):.2f} ms   (target p99 < 100 ms)")
    if not readers:
        return
    print(f"  per stream while measuring: {min(ticks)}-{max(ticks)} ticks "
          f"({min(ticks) / elapsed_s:.1f}/s at least), {min(stream_updates)}-{max(stream_updates)} updates")
    print(f"  healthz: streams {health['streams']} of {health['stream_limit']}, dropped {health['dropped']}, "
          f"refused {health['refused']}")


if __name__ == "__main__":
    main()
