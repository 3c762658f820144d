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
from stepping import time_steps_leaving_engine, walk  # bench/stepping.py (this folder is on sys.path)


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
    left = time_steps_leaving_engine(service)
    service.start()
    rig.set_sample("rail.left.touch", 1)
    rig.set_sample("rail.left.force", 0.6)
    pause = threading.Event()
    edges = walk(rig, config.layout.treads, args.steps)
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
