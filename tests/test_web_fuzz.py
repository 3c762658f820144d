"""schemathesis against docs/openapi.yaml, on the running panel (issue 11).

A real waitress serves a real service on a simulated rig (only its pins are
mocked) with a temporary data directory. Every operation of the spec is
called with data generated from it, valid and invalid, by a browser that
holds the CSRF token and a PIN login; every answer must be no 5xx and agree
with the spec (status, content type, headers, body schema; valid data
accepted, invalid data refused). ``/events`` is a stream that never ends,
so it is checked by tests/test_web_events.py instead.

The run is bounded: ``MAX_EXAMPLES`` cases an operation, derandomised, so
it takes the same time and finds the same things on every run.
"""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from web.server import PanelServer
from tests.test_web_support import PIN, Rig, make_config

pytest_plugins = ("tests.test_web_support",)

SPEC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "openapi.yaml")
MAX_EXAMPLES = 25

schema = schemathesis.openapi.from_path(SPEC).exclude(path="/events")


class Panel:
    """The served panel and a coach's browser on it: its session cookie and CSRF token, with a
    PIN login (renewed when a case logged out, or when the fuzzer's wrong PINs locked logins)."""

    def __init__(self, tmp_path):
        self.rig = Rig(make_config(str(tmp_path / "data"), host="127.0.0.1", port=0))
        self.server = PanelServer(self.rig.service, "127.0.0.1", 0)
        self.server.start()
        self.base_url = self.server.url.rstrip("/")
        self.cookie = ""
        self.token = ""

    def _get(self, path: str) -> requests.Response:
        return requests.get(self.base_url + path, cookies={COOKIE: self.cookie}, timeout=10)

    def ready(self) -> None:
        if self.cookie and self._get("/api/status").json()["authorised"]:
            return
        self.server.app.extensions["stairrig"].throttle.locked_until = 0.0   # the coach waits the lockout out
        fresh = requests.get(self.base_url + "/api/csrf", timeout=10)
        cookie, token = fresh.cookies[COOKIE], fresh.json()["token"]
        answer = requests.post(self.base_url + "/api/login", json={"pin": PIN}, cookies={COOKIE: cookie},
                               headers={"X-CSRF-Token": token}, timeout=10)
        assert answer.status_code == 200, answer.text
        self.cookie, self.token = answer.cookies[COOKIE], answer.json()["csrf_token"]

    def close(self) -> None:
        self.server.close()
        self.rig.close()


COOKIE = "stairrig_session"
current: dict[str, Panel] = {}


@schema.auth(refresh_interval=None)
class CoachBrowser:
    """The spec's security (the session cookie and the CSRF token), left out by schemathesis
    itself when a case tests what happens without them."""

    def get(self, case, context):
        return None                       # the credentials change as cases log out: read them in set()

    def set(self, case, data, context):
        panel = current.get("panel")
        if panel is None:                 # schemathesis looks before any case runs
            return
        case.headers = {**(case.headers or {}), "X-CSRF-Token": panel.token}
        case.cookies = {**(case.cookies or {}), COOKIE: panel.cookie}


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    p = Panel(tmp_path_factory.mktemp("fuzz"))
    p.rig.settle()
    yield p
    p.close()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_panel_agrees_with_its_openapi(case, panel):
    panel.ready()
    current["panel"] = panel
    case.call_and_validate(base_url=panel.base_url, timeout=10)
    assert panel.server.is_alive() and panel.rig.service.healthy()
