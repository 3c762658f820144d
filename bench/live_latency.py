"""Live path latency: a pin edge to its step event leaving the engine, beyond the confirmation.

The example rig (5 split treads, two touch+force rails) on gpiozero's
MockFactory in real time, with the demo's MCP3008 sampler running at its
50 Hz. For each step the script notes time.monotonic() just before it
drives the pin, and the engine's bus notes the moment the step event is
handed to it. Latency beyond confirmation = that moment - the edge -
min_contact_s (the spec's 100 ms, which no implementation can beat).

    .venv/bin/python bench/live_latency.py [--steps 150]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import replace

from rig.config import example_config_path, load_config
from rig.service import Service
from rig.sim.mockrig import SimulatedRig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    args = ap.parse_args()
    config = load_config(example_config_path())
    # the detection path alone: no panel (bench/panel_latency.py measures that one)
    config = replace(config, data_dir=tempfile.mkdtemp(prefix="stairrig-bench-"),
                     web=replace(config.web, enabled=False))
    rig = SimulatedRig(config, speed=1.0)
    service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="bench")
    left = {}
    publish = service.bus.publish

    def timed_publish(event):
        if event["type"] == "step":
            left[event["steps"]] = time.monotonic()
        publish(event)
    service.engine.bus = type("TimedBus", (), {"publish": staticmethod(timed_publish)})()
    service.start()
    rig.set_sample("rail.left.touch", 1)
    rig.set_sample("rail.left.force", 0.6)
    pause = threading.Event()
    edges = {}
    treads = config.layout.treads
    previous = None
    # up and down the flight, never the same tread twice in a row
    cycle = list(range(1, treads + 1)) + list(range(treads - 1, 1, -1))
    for k in range(1, args.steps + 1):
        tread = cycle[(k - 1) % len(cycle)]
        edges[k] = time.monotonic()
        rig.set_sample(f"tread.{tread}.back", 1)
        pause.wait(0.03)
        rig.set_sample(f"tread.{tread}.front", 1)
        pause.wait(0.17)
        if previous is not None:
            rig.set_sample(f"tread.{previous}.back", 0)
            rig.set_sample(f"tread.{previous}.front", 0)
        previous = tread
        pause.wait(0.15)  # a released tread stays free longer than the 60 ms bridging
    pause.wait(0.5)
    service.stop()
    rig.close()
    min_s = config.detection.min_contact_s
    lat = sorted((left[k] - edges[k] - min_s) * 1000 for k in edges if k in left)
    missing = len(edges) - len(lat)
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))]
    print(f"live path, pin edge -> step event leaving the engine, beyond the {min_s * 1000:.0f} ms confirmation")
    print(f"  steps {len(lat)} (missing {missing}), ADC sampler {config.adc.sample_hz:g} Hz on "
          f"{sum(1 for c in config.wiring if c.endswith('.force'))} channels")
    print(f"  p50 {p50:.2f} ms   p99 {p99:.2f} ms   max {lat[-1]:.2f} ms")


if __name__ == "__main__":
    main()
