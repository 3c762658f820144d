"""MQTT latency: a pin edge to the new step count in <base>/state at a subscriber, beyond the confirmation.

The example rig (5 split treads, two touch+force rails) on gpiozero's
MockFactory in real time, the demo's MCP3008 sampler running at its 50 Hz,
the MQTT output publishing to a real Mosquitto on 127.0.0.1 (started here
from tests/broker.py, or ``--broker HOST:PORT``), and a paho subscriber on
``<base>/state`` in a process of its own (as Home Assistant is: it must not
compete with the rig's threads for this process's GIL). For each step the
script notes time.monotonic() just before it drives the pin; the subscriber
notes time.monotonic() (CLOCK_MONOTONIC, the same clock in every process)
when the first state with that session step count arrives. Latency beyond confirmation = arrival -
edge - min_contact_s (the 100 ms no detector can beat), as
bench/live_latency.py measures the engine alone; the engine's share is
shown too (the step event handed to the bus).

    .venv/bin/python bench/mqtt_latency.py [--steps 150] [--broker 127.0.0.1:1883] [--per-step]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # tests/broker.py

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from rig.config import MqttConfig, WebConfig, example_config_path, load_config  # noqa: E402
from rig.service import Service  # noqa: E402
from rig.sim.mockrig import SimulatedRig  # noqa: E402
from stepping import time_steps_leaving_engine, walk  # bench/stepping.py (this folder is on sys.path)


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))]


def subscriber(broker: str, topic: str) -> None:
    """The subscriber process: one line per state message, "<monotonic time> <session steps>"."""
    host, _, port = broker.rpartition(":")

    def on_message(client, userdata, message):
        now = time.monotonic()
        try:
            steps = json.loads(message.payload)["session"]["steps"]
        except (ValueError, KeyError, TypeError):
            return
        print(f"{now:.6f} {steps}", flush=True)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="stairrig-bench-subscriber")
    client.on_message = on_message
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=0)
    client.on_subscribe = lambda *a: print("subscribed", flush=True)
    client.connect(host, int(port))
    client.loop_forever()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--subscriber":
        subscriber(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--broker", help="HOST:PORT of a running broker (default: start a Mosquitto here)")
    ap.add_argument("--per-step", action="store_true", help="print each step's figures too")
    args = ap.parse_args()
    broker = None
    if args.broker:
        host, _, port = args.broker.rpartition(":")
        port = int(port)
    else:
        from tests.broker import Broker
        broker = Broker().start()
        host, port = broker.host, broker.port

    config = load_config(example_config_path())
    config = replace(config, data_dir=tempfile.mkdtemp(prefix="stairrig-bench-"), rig_id="bench",
                     web=WebConfig(enabled=False),
                     mqtt=MqttConfig(host=host, port=port, client_id="stairrig-bench-mqtt"))
    base = "stairrig/bench"

    arrived: dict[int, float] = {}
    messages = [0]
    subscribed = threading.Event()
    sub = subprocess.Popen([sys.executable, __file__, "--subscriber", f"{host}:{port}", f"{base}/state"],
                           stdout=subprocess.PIPE, text=True)

    def read_subscriber():
        for line in sub.stdout:
            if line.startswith("subscribed"):
                subscribed.set()
                continue
            t, steps = line.split()
            messages[0] += 1
            for k in range(1, int(steps) + 1):
                arrived.setdefault(k, float(t))
    threading.Thread(target=read_subscriber, name="bench-subscriber-reader", daemon=True).start()
    if not subscribed.wait(10):
        raise SystemExit("the subscriber could not subscribe")

    rig = SimulatedRig(config, speed=1.0)
    service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="bench")
    engine_left = time_steps_leaving_engine(service)
    handed: dict[int, float] = {}        # the state with step k handed to paho
    paho_publish = service.mqtt._client.publish

    def timed_paho_publish(topic, payload=None, *a, **kw):
        if topic == f"{base}/state" and payload:
            now = time.monotonic()
            for k in range(1, json.loads(payload)["session"]["steps"] + 1):
                handed.setdefault(k, now)
        return paho_publish(topic, payload, *a, **kw)
    service.mqtt._client.publish = timed_paho_publish
    service.start()
    pause = threading.Event()
    deadline = time.monotonic() + 10
    while not service.mqtt.connected and time.monotonic() < deadline:
        pause.wait(0.05)
    pause.wait(1.0)      # past the announcement and the first tick's drill
    rig.set_sample("rail.left.touch", 1)
    rig.set_sample("rail.left.force", 0.6)
    edges = walk(rig, config.layout.treads, args.steps)
    pause.wait(0.5)
    published = messages[0]
    service.stop()
    rig.close()
    sub.terminate()
    sub.wait(10)
    if broker is not None:
        broker.close()

    min_s = config.detection.min_contact_s
    lat = sorted((arrived[k] - edges[k] - min_s) * 1000 for k in edges if k in arrived)
    eng = sorted((engine_left[k] - edges[k] - min_s) * 1000 for k in edges if k in engine_left)
    mqtt_part = sorted((arrived[k] - engine_left[k]) * 1000 for k in edges if k in arrived and k in engine_left)
    rig_part = sorted((handed[k] - engine_left[k]) * 1000 for k in edges if k in handed and k in engine_left)
    wire_part = sorted((arrived[k] - handed[k]) * 1000 for k in edges if k in arrived and k in handed)
    missing = len(edges) - len(lat)
    if args.per_step:
        print("step  engine ms  engine->paho ms  paho->subscriber ms")
        for k in sorted(edges):
            if k in arrived and k in engine_left and k in handed:
                print(f"{k:4d}  {(engine_left[k] - edges[k] - min_s) * 1000:9.2f}  "
                      f"{(handed[k] - engine_left[k]) * 1000:15.2f}  {(arrived[k] - handed[k]) * 1000:19.2f}")
    print(f"MQTT, pin edge -> new step count in {base}/state at a subscriber, "
          f"beyond the {min_s * 1000:.0f} ms confirmation")
    print(f"  steps {len(lat)} (missing {missing}); {published} state messages; Mosquitto on {host}:{port}; "
          f"state_max_hz {config.mqtt.state_max_hz:g}")
    print(f"  edge -> subscriber      p50 {statistics.median(lat):6.2f} ms   p99 {percentile(lat, 0.99):6.2f} ms"
          f"   max {lat[-1]:6.2f} ms")
    print(f"  of which the engine     p50 {statistics.median(eng):6.2f} ms   p99 {percentile(eng, 0.99):6.2f} ms")
    print(f"  engine -> subscriber    p50 {statistics.median(mqtt_part):6.2f} ms   "
          f"p99 {percentile(mqtt_part, 0.99):6.2f} ms   max {mqtt_part[-1]:6.2f} ms")
    print(f"    bus, throttle, paho   p50 {statistics.median(rig_part):6.2f} ms   "
          f"p99 {percentile(rig_part, 0.99):6.2f} ms   max {rig_part[-1]:6.2f} ms   (step event -> state handed to paho)")
    print(f"    paho, broker, sub     p50 {statistics.median(wire_part):6.2f} ms   "
          f"p99 {percentile(wire_part, 0.99):6.2f} ms   max {wire_part[-1]:6.2f} ms   (handed to paho -> received)")


if __name__ == "__main__":
    main()
