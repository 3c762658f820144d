"""``stairrig demo`` as a process of its own, for the Home Assistant tests.

    rig = DemoRig(broker_port, data_dir, fall=True).start()   # waits for the panel's address
    rig.status()      # GET /api/status of its panel (docs/api.md)
    rig.kill()        # SIGKILL: the broker publishes its last will
    rig.stop()        # SIGTERM: a clean stop (offline published)

It is the command a user runs (``stairrig demo --mqtt ...``) from this repo's
venv: the whole service on a simulated rig, faster than real time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

PANEL = re.compile(r"the panel: (http://\S+?)/?$")


def stairrig_command() -> list[str]:
    exe = Path(sys.executable).parent / "stairrig"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("stairrig")
    return [found] if found else [sys.executable, "-m", "rig"]


class DemoRig:
    def __init__(self, broker_port: int, data_dir: Path, *, fall: bool = False, speed: float = 5.0,
                 duration_s: float = 3600.0, seed: int = 1, extra: tuple[str, ...] = ()):
        self.data_dir = Path(data_dir)
        self.cmd = [*stairrig_command(), "demo", "--mqtt", f"mqtt://127.0.0.1:{broker_port}", "--port", "0",
                    "--speed", f"{speed:g}", "--duration", f"{duration_s:g}", "--data-dir", str(self.data_dir),
                    "--seed", str(seed), *(["--fall"] if fall else []), *extra]
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []
        self.panel_url: str | None = None
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 60.0) -> "DemoRig":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("STAIRRIG_MQTT_URL", None)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env, start_new_session=True)
        self._reader = threading.Thread(target=self._read, name="test-demo-rig-output", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.panel_url is None:
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"stairrig demo exited with {self.proc.returncode}: {self.output()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"stairrig demo printed no panel address within {timeout:g} s: "
                                         f"{self.output()}")
                self._cond.wait(min(left, 0.2))
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self._cond:
                self.lines.append(line)
                m = PANEL.search(line.strip())
                if m and self.panel_url is None:
                    self.panel_url = m[1]
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def output(self, last: int = 40) -> str:
        with self._cond:
            return "\n".join(self.lines[-last:])

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def status(self) -> dict:
        with urllib.request.urlopen(f"{self.panel_url}/api/status", timeout=10) as response:
            return json.loads(response.read())

    def wait_status(self, predicate, timeout: float = 30.0, what: str = "a status") -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = self.status()
                if predicate(last):
                    return last
            except (OSError, KeyError, TypeError, ValueError):
                pass
            if time.monotonic() > deadline:
                state = (last or {}).get("state")
                raise AssertionError(f"the rig: {what}: not so within {timeout:g} s; its state: {state}")
            time.sleep(0.2)

    def kill(self) -> None:
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._reader is not None:
            self._reader.join(5)
        return self.proc.returncode
