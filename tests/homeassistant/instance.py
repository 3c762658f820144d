"""A real Home Assistant, started from its venv, for the tests.

    ha = HomeAssistant(by_version("2026.2.3"), config_dir, automations=[...])
    ha.start()                        # hass -c config_dir; waits until its HTTP server answers
    ha.onboard()                      # owner user, token, core_config, analytics, integration
    ha.add_mqtt("127.0.0.1", port)    # the MQTT integration, by its config flow
    ha.state("sensor.stairrig"); ha.call_service("button", "press", entity_id=...)
    ha.entity_registry(); ha.device_registry(); ha.notifications(); ha.log_since(mark)
    ha.stop()

The configuration is minimal (not ``default_config``): http on a free port of
127.0.0.1, automation (from ``automations.yaml``, which the test writes),
input_boolean, logger; bootstrap adds its default integrations. Home
Assistant runs with pip and uv offline: every requirement was installed with
it (``provision.py``), and one that was not fails at once in the log instead
of reaching for the network. Onboarding and the MQTT config flow go through
the same REST API as the frontend; the registries, notifications and a
long-lived token through the websocket API (``ws.py``, no extra package).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.homeassistant.versions import HAVersion
from tests.homeassistant.ws import WebSocket

START_TIMEOUT_S = 240.0   # the first start of a venv compiles its bytecode
HTTP_TIMEOUT_S = 30.0
OWNER = {"name": "Stair Tester", "username": "tester", "password": "stairrig-test-password", "language": "en"}

# one record of Home Assistant's log: "2026-02-03 10:11:12.345 WARNING (MainThread) [logger] message"
LOG_RECORD = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) +(DEBUG|INFO|WARNING|ERROR|CRITICAL) "
                        r"\(([^)]*)\) \[([^\]]+)\] ?(.*)$")


# Home Assistant tried to install a package (every requirement should have been installed with it),
# or gave up starting
FATAL_AT_START = re.compile(r"^.*(?:Unable to install package|core failed to initialize).*$", re.M)


class HomeAssistantError(AssertionError):
    """Home Assistant did not do what the harness needed; the message says what and quotes its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configuration_yaml(port: int) -> str:
    return f"""\
# Written by tests/homeassistant/instance.py: only what the tests need (no default_config).
homeassistant:
  name: stairrig test
  # no location: the onboarding's "met" flow aborts instead of fetching weather from the internet
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: SE
http:
  server_host: 127.0.0.1
  server_port: {port}
automation: !include automations.yaml
input_boolean:
  stairrig_test:
    name: stairrig test marker
logger:
  default: warning
  logs:
    homeassistant.setup: info                  # what was set up, and how long it took
    homeassistant.bootstrap: info
    homeassistant.util.package: info           # any attempt to install a package (there must be none)
    homeassistant.requirements: info
    homeassistant.components.mqtt: info        # connection, discovery
    homeassistant.components.mqtt.discovery: debug
    homeassistant.components.automation: info  # each run of an automation
    homeassistant.helpers.template: warning
"""


class HomeAssistant:
    def __init__(self, version: HAVersion, config_dir: Path, automations: list | None = None,
                 port: int | None = None):
        self.version = version
        self.config_dir = Path(config_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.client_id = f"{self.url}/"
        self.automations = automations or []
        self.token: str | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = self.config_dir / "home-assistant.log"
        self.console_path = self.config_dir / "console.log"
        self._console = None
        self.timings: dict[str, float] = {}

    # -- process ------------------------------------------------------------
    def write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(configuration_yaml(self.port))
        # JSON is YAML: the automations as data, their templates as the strings they were
        (self.config_dir / "automations.yaml").write_text(json.dumps(self.automations, indent=2) + "\n")

    def start(self) -> "HomeAssistant":
        if not os.access(self.version.hass, os.X_OK):
            raise HomeAssistantError(f"{self.version.hass} is missing: run ./dev.sh test (or "
                                     "python -m tests.homeassistant.provision) to prepare it")
        self.write_config()
        started = time.monotonic()
        self._console = open(self.console_path, "ab")
        # nothing is installed while a test runs: a missing requirement fails fast, in the log
        env = {**os.environ, "UV_OFFLINE": "1", "PIP_NO_INDEX": "1"}
        for name in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(name, None)
        self.proc = subprocess.Popen(
            [str(self.version.hass), "-c", str(self.config_dir), "--log-file", str(self.log_path), "--log-no-color"],
            stdout=self._console, stderr=subprocess.STDOUT, env=env, cwd=str(self.config_dir),
            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise HomeAssistantError(f"{self.version} exited with {self.proc.returncode} while starting\n"
                                         + self.log_tail())
            fatal = FATAL_AT_START.search(self.log())
            if fatal:
                raise HomeAssistantError(f"{self.version} cannot start: {fatal[0].strip()} (its venv lacks a "
                                         "requirement: run ./dev.sh test, or python -m "
                                         "tests.homeassistant.provision, to bring it up to date)\n" + self.log_tail())
            try:
                status, _ = self._http("GET", "/api/onboarding", auth=False, timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise HomeAssistantError(f"{self.version} did not answer on {self.url} within "
                                         f"{START_TIMEOUT_S:g} s\n" + self.log_tail())
            time.sleep(0.25)
        self.timings["start"] = time.monotonic() - started
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60.0) -> int | None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            code = proc.returncode
        else:
            code = None
        if self._console:
            self._console.close()
            self._console = None
        return code

    # -- HTTP -----------------------------------------------------------------
    def _http(self, method: str, path: str, body=None, *, auth: bool = True, form: bool = False,
              timeout: float = HTTP_TIMEOUT_S, token: str | None = None):
        headers = {}
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {token or self.token}"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            status = exc.code
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return status, payload

    def api(self, method: str, path: str, body=None, *, expect=(200, 201), **kwargs):
        status, payload = self._http(method, path, body, **kwargs)
        if status not in expect:
            raise HomeAssistantError(f"{method} {path} -> {status}: {payload}")
        return payload

    # -- onboarding -----------------------------------------------------------
    def onboard(self) -> str:
        """Onboard as the frontend does; the token (a long-lived one) is kept in ``self.token``."""
        started = time.monotonic()
        steps = {s["step"]: s["done"] for s in self.api("GET", "/api/onboarding", auth=False)}
        if steps.get("user"):
            raise HomeAssistantError(f"{self.config_dir} is onboarded already: the harness wants a new one")
        code = self.api("POST", "/api/onboarding/users", {**OWNER, "client_id": self.client_id},
                        auth=False)["auth_code"]
        tokens = self.api("POST", "/auth/token", {"grant_type": "authorization_code", "code": code,
                                                  "client_id": self.client_id}, auth=False, form=True)
        self.token = tokens["access_token"]
        self.api("POST", "/api/onboarding/core_config", {})
        self.api("POST", "/api/onboarding/analytics", {})
        code = self.api("POST", "/api/onboarding/integration",
                        {"client_id": self.client_id, "redirect_uri": f"{self.url}/?auth_callback=1"})["auth_code"]
        # the frontend would log in with this code: do the same, to show it works
        self.api("POST", "/auth/token", {"grant_type": "authorization_code", "code": code,
                                         "client_id": self.client_id}, auth=False, form=True)
        left = [s["step"] for s in self.api("GET", "/api/onboarding", auth=False) if not s["done"]]
        if left:
            raise HomeAssistantError(f"onboarding steps left undone: {left}")
        # an access token lasts 30 minutes; a long-lived one outlasts any test run
        self.token = self.ws({"type": "auth/long_lived_access_token", "client_name": "stairrig tests",
                              "lifespan": 1})
        self.wait_until_running()
        # Onboarding sets up radio_browser, which can only fail here (it wants the internet) and
        # retries for ever: remove it. (met aborts without a location; the others need no network.)
        for entry in self.config_entries():
            if entry["domain"] == "radio_browser":
                self.api("DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}")
        self.timings["onboard"] = time.monotonic() - started
        return self.token

    def wait_until_running(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            config = self.api("GET", "/api/config")
            if config.get("state") == "RUNNING":
                return
            if time.monotonic() > deadline:
                raise HomeAssistantError(f"{self.version} is {config.get('state')}, not RUNNING, after "
                                         f"{timeout:g} s\n" + self.log_tail())
            time.sleep(0.5)

    # -- config entries ---------------------------------------------------------
    def config_entries(self) -> list[dict]:
        return self.api("GET", "/api/config/config_entries/entry")

    def add_mqtt(self, host: str, port: int, timeout: float = 60.0) -> dict:
        """The MQTT integration through its config flow (the "broker" step), as a user in the UI would."""
        started = time.monotonic()
        flow = self.api("POST", "/api/config/config_entries/flow",
                        {"handler": "mqtt", "show_advanced_options": False})
        if flow.get("type") != "form" or flow.get("step_id") != "broker":
            raise HomeAssistantError(f"the MQTT config flow did not ask for a broker: {flow}")
        result = self.api("POST", f"/api/config/config_entries/flow/{flow['flow_id']}",
                          {"broker": host, "port": port})
        if result.get("type") != "create_entry":
            raise HomeAssistantError(f"the MQTT config flow did not create an entry: {result}\n" + self.log_tail())
        deadline = time.monotonic() + timeout
        while True:
            entries = [e for e in self.config_entries() if e["domain"] == "mqtt"]
            if entries and entries[0]["state"] == "loaded":
                break
            if time.monotonic() > deadline:
                raise HomeAssistantError(f"the MQTT entry is not loaded after {timeout:g} s: {entries}\n"
                                         + self.log_tail())
            time.sleep(0.25)
        self.timings["add_mqtt"] = time.monotonic() - started
        return entries[0]

    # -- websocket --------------------------------------------------------------
    def ws(self, command: dict, timeout: float = HTTP_TIMEOUT_S):
        """One websocket command (on a connection of its own); its result, or an error naming it."""
        with WebSocket("127.0.0.1", self.port, "/api/websocket", timeout=timeout) as sock:
            hello = sock.recv_json()
            if hello.get("type") != "auth_required":
                raise HomeAssistantError(f"the websocket said {hello}, not auth_required")
            sock.send_json({"type": "auth", "access_token": self.token})
            answer = sock.recv_json()
            if answer.get("type") != "auth_ok":
                raise HomeAssistantError(f"the websocket refused the token: {answer}")
            sock.send_json({"id": 1, **command})
            while True:
                message = sock.recv_json()
                if message.get("id") == 1 and message.get("type") == "result":
                    break
        if not message.get("success"):
            raise HomeAssistantError(f"websocket {command['type']} failed: {message.get('error')}")
        return message.get("result")

    def entity_registry(self) -> list[dict]:
        return self.ws({"type": "config/entity_registry/list"})

    def device_registry(self) -> list[dict]:
        return self.ws({"type": "config/device_registry/list"})

    def notifications(self) -> list[dict]:
        return self.ws({"type": "persistent_notification/get"})

    # -- states and services ----------------------------------------------------
    def states(self) -> dict[str, dict]:
        return {s["entity_id"]: s for s in self.api("GET", "/api/states")}

    def state(self, entity_id: str) -> dict | None:
        status, payload = self._http("GET", f"/api/states/{entity_id}")
        if status == 404:
            return None
        if status != 200:
            raise HomeAssistantError(f"GET /api/states/{entity_id} -> {status}: {payload}")
        return payload

    def wait_state(self, entity_id: str, predicate, timeout: float = 30.0, what: str | None = None) -> dict:
        """The entity's state dict once ``predicate(state dict)`` is true (polls the REST API)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.state(entity_id)
            try:
                if last is not None and predicate(last):
                    return last
            except (KeyError, TypeError, ValueError):
                pass
            if time.monotonic() > deadline:
                shown = None if last is None else {"state": last["state"], "attributes": last["attributes"]}
                raise HomeAssistantError(f"{what or entity_id}: not so within {timeout:g} s; "
                                         f"{entity_id} is {shown}")
            time.sleep(0.2)

    def call_service(self, domain: str, service: str, **data) -> list:
        return self.api("POST", f"/api/services/{domain}/{service}", data)

    def fire_event(self, event_type: str, **data) -> dict:
        return self.api("POST", f"/api/events/{event_type}", data)

    # -- the log -----------------------------------------------------------------
    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_mark(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, mark: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(mark)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        text = self.log() or (self.console_path.read_text(errors="replace") if self.console_path.exists() else "")
        return f"--- the end of {self.log_path} ---\n" + "\n".join(text.splitlines()[-lines:])


def log_records(text: str) -> list[dict]:
    """Home Assistant's log as records (``level``, ``logger``, ``message`` with the lines that follow it)."""
    records: list[dict] = []
    for line in text.splitlines():
        m = LOG_RECORD.match(line)
        if m:
            records.append({"time": m[1], "level": m[2], "thread": m[3], "logger": m[4], "message": m[5]})
        elif records:
            records[-1]["message"] += "\n" + line
    return records
