"""Panel latency: a pin edge to the step in a browser, beyond the confirmation.

The example rig (5 split treads, two touch+force rails, the MCP3008 sampler
at 50 Hz) on gpiozero's MockFactory in real time, with the panel served by
waitress in the service as on a Pi, and the live screen open in Debian's
headless Chromium (Playwright). For each step the script notes the wall
clock just before it drives the first pin; the bus notes when the step
event reaches the outputs; in the page, an EventSource on /events notes
when the step's "update" message arrives (performance.timeOrigin +
performance.now(), the same wall clock), and the live screen's own script
notes when its big step count changes (and the next animation frame after
that, when it is painted). Every figure is less min_contact_s, the 100 ms a
step must last to be one (no implementation can beat it).

    .venv/bin/python bench/panel_latency.py [--steps 50] [--period 0.6]

Needs /usr/bin/chromium (``apt install chromium``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rig.config import WebConfig, example_config_path, load_config  # noqa: E402
from rig.service import Service  # noqa: E402
from rig.sim.mockrig import SimulatedRig  # noqa: E402
from stepping import walk  # bench/stepping.py (this folder is on sys.path)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

# in the page: when each step's update arrives on a second EventSource, and when the live
# screen's big number shows each count (and the frame after, when it is painted)
PROBE = """() => {
  const now = () => performance.timeOrigin + performance.now();
  const lat = { es: {}, dom: {}, frame: {} };
  window.__lat = lat;
  const es = new EventSource('/events');
  es.addEventListener('update', (e) => {
    const t = now();
    const m = JSON.parse(e.data);
    if (m.reason === 'step') lat.es[m.event.steps] = t;
  });
  const node = document.getElementById('steps');
  new MutationObserver(() => {
    const t = now();
    const n = node.textContent;
    if (!(n in lat.dom)) {
      lat.dom[n] = t;
      requestAnimationFrame(() => { lat.frame[n] = now(); });
    }
  }).observe(node, { childList: true, characterData: true, subtree: true });
  return new Promise((resolve) => es.addEventListener('snapshot', () => resolve(true), { once: true }));
}"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def line(name: str, values_ms: list[float]) -> str:
    if not values_ms:
        return f"  {name:<34} no data"
    return (f"  {name:<34} p50 {statistics.median(values_ms):6.2f} ms   p99 {pct(values_ms, 99):6.2f} ms"
            f"   max {max(values_ms):6.2f} ms")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--period", type=float, default=0.6, help="seconds from one step to the next")
    args = ap.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        print(f"no Chromium at {CHROMIUM}: apt install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    config = load_config(example_config_path())
    config = replace(config, data_dir=tempfile.mkdtemp(prefix="stairrig-bench-"),
                     web=WebConfig(enabled=True, host="127.0.0.1", port=0))
    confirm_s = config.detection.min_contact_s
    rig = SimulatedRig(config, speed=1.0)
    service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="bench")
    on_bus: dict[int, float] = {}
    service.subscribe("bench", lambda e: on_bus.setdefault(e["steps"], time.time()), types={"step"})
    service.start()
    edges: dict[int, float] = {}
    pause = threading.Event()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(service.panel.url)
            page.wait_for_selector('#connection[data-state="connected"]', timeout=10_000)
            page.evaluate(PROBE)
            rig.set_sample("rail.left.touch", 1)
            rig.set_sample("rail.left.force", 0.6)
            edges = walk(rig, config.layout.treads, args.steps, period_s=args.period, clock=time.time)
            pause.wait(1.0)
            lat = page.evaluate("window.__lat")
            browser.close()
    finally:
        service.stop()
        rig.close()

    es = {int(k): v / 1000 for k, v in lat["es"].items()}
    dom = {int(k): v / 1000 for k, v in lat["dom"].items() if k.isdigit()}
    frame = {int(k): v / 1000 for k, v in lat["frame"].items() if k.isdigit()}
    beyond = (lambda t, k: (t - edges[k] - confirm_s) * 1000)
    pin_bus = [beyond(on_bus[k], k) for k in edges if k in on_bus]
    pin_es = [beyond(es[k], k) for k in edges if k in es]
    bus_es = [(es[k] - on_bus[k]) * 1000 for k in edges if k in es and k in on_bus]
    # the screen counts the session's steps; the session starts at the first step, so the k-th step shows k
    pin_dom = [beyond(dom[k], k) for k in edges if k in dom]
    pin_frame = [beyond(frame[k], k) for k in edges if k in frame]
    missing = [k for k in edges if k not in es]
    print(f"panel latency, pin edge -> browser, beyond the {confirm_s * 1000:.0f} ms confirmation")
    print(f"  steps {len(edges)} (missing in the stream: {len(missing)}), Chromium headless, "
          f"ADC sampler {config.adc.sample_hz if config.adc else 0:g} Hz, 2 streams open (the screen's, the probe's)")
    print(line("pin -> step event on the bus", pin_bus))
    print(line("bus -> EventSource in the browser", bus_es))
    print(line("pin -> EventSource in the browser", pin_es))
    print(line("pin -> live screen's number set", pin_dom))
    print(line("pin -> next frame (painted)", pin_frame))
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
