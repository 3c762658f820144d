"""The last will: ``stairrig run`` killed with SIGKILL leaves "offline" on its availability topic.

A real ``python -m rig run`` in a subprocess (gpiozero's mock pin factory, as
tests/test_cli.py runs it), the session's Mosquitto, and ``kill -9``: no
chance for the rig to say goodbye, so what Home Assistant sees is the broker
publishing the will.
"""

import os
import re
import signal
import subprocess
import sys

from rig.config import example_config_path
from tests.broker import Collector

BASE = "stairrig/lastwill"


def without_tables(text: str, names: set[str]) -> str:
    """The TOML text without the named top-level tables (their header up to the next header)."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        header = re.match(r"\s*\[([A-Za-z0-9_-]+)\]\s*(#.*)?$", line)
        if header:
            skipping = header.group(1) in names
        if not skipping:
            out.append(line)
    return "".join(out)


def test_kill_9_leaves_offline_retained(mqtt_broker, tmp_path):
    config = tmp_path / "rig.toml"
    text = open(example_config_path()).read().replace('"/var/lib/stairrig"', f'"{tmp_path}"')
    text = without_tables(text, {"mqtt", "web"})
    text += (f'\n[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_broker.port}\nbase_topic = "{BASE}"\n'
             'client_id = "stairrig-lastwill"\n\n[web]\nenabled = false\n')
    config.write_text(text)
    collector = Collector(mqtt_broker.port, topics=(f"{BASE}/#",))
    proc = subprocess.Popen([sys.executable, "-m", "rig", "run", "--config", str(config)],
                            env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        collector.wait_for(lambda m: m.topic == f"{BASE}/availability" and m.payload == b"online", timeout=60,
                           what="the rig online")
        collector.wait_for(lambda m: m.topic == f"{BASE}/state", what="its state")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL
        collector.wait_for(lambda m: m.topic == f"{BASE}/availability" and m.payload == b"offline",
                           what="the last will")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        collector.close()
    late = Collector(mqtt_broker.port, topics=(f"{BASE}/availability", f"{BASE}/state"))
    try:
        will = late.wait_for(lambda m: m.topic == f"{BASE}/availability")
        assert (will.payload, will.retain) == (b"offline", True)
        assert late.wait_for(lambda m: m.topic == f"{BASE}/state").retain      # the last state stays
    finally:
        late.close()
