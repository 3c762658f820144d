"""The wall-tablet panel in a real browser.

Debian's Chromium, headless, driven by Playwright, against the real panel
(waitress inside a running Service) with a simulated rig: only the hardware
is mocked (gpiozero's MockFactory pins and a mock MCP3008), so a step here
goes from a pin edge through the detector, the bus, the event stream and
the page's JavaScript to the screen.

Waits have generous upper bounds so that a broken path fails instead of
hanging; the one short wait is the brief's: a step shows on the live
screen within a second of its event reaching the bus. How fast the panel
is otherwise is bench/panel_latency.py's job.

Every screen is saved at 1280x800 under tests/out/screenshots/ (ignored by
git); docs/screenshots/ holds a few of them for the README.
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from rig.history import HistoryStore
from rig.layout import RigLayout
from rig.service import Service
from rig.sim.mockrig import SimulatedRig
from tests.rigs import config_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"no Chromium at {CHROMIUM}: `apt install chromium` (./dev.sh test does)")

PIN = "4711"
WAIT_S = 10.0                 # the most any wait may take before the test fails
WAIT_MS = WAIT_S * 1000
SHOWN_WITHIN_MS = 1000        # a step on the live screen after its event reached the bus
SCREENSHOTS = Path(__file__).parent / "out" / "screenshots"
LAYOUT = RigLayout(treads=3, rails={"left": ("touch", "force"), "right": ("touch",)})
# the strict Content-Security-Policy the panel sends: the pages must work with scripts, styles
# and connections from the panel itself only (no inline script, no handler attribute, no CDN);
# a violation is reported on the console and fails the test
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Tab:
    """A browser tab on the panel that keeps what went wrong in it: script errors,
    refused requests, CSP violations, and any request that left the panel's origin."""

    def __init__(self, browser, origin: str, *, viewport=(1280, 800)):
        self.origin = origin
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.foreign: list[str] = []
        self.page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        self.page.on("console", self._console)
        self.page.on("request", self._request)
        self.page.on("response", self._response)
        self.page.on("dialog", lambda dialog: dialog.accept())

    def _console(self, msg):
        # a refused API call is logged by the browser too: _response judges those
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.problems.append(f"console: {msg.text}")

    def _response(self, response):
        path = urlparse(response.url).path
        if response.status >= 500 or (response.status >= 400 and not path.startswith("/api/")):
            self.problems.append(f"HTTP {response.status} {response.url}")

    def _request(self, request):
        if not request.url.startswith(self.origin):
            self.foreign.append(request.url)

    def goto(self, path: str = "/"):
        self.response = self.page.goto(self.origin.rstrip("/") + path)
        return self.page

    def connected(self):
        self.page.wait_for_selector('#connection[data-state="connected"]', timeout=WAIT_MS)

    def close(self):
        self.context.unroute_all(behavior="ignoreErrors")
        self.context.close()


class PanelRig:
    """A running service with the panel on a free port and a simulated rig; its bus events in a queue,
    each with the live state as it was right after the event."""

    TYPES = {"step", "vacated", "ascent", "descent", "grip", "grab", "stall", "fall_suspected", "fall_acknowledged",
             "session_started", "session_update", "session_ended", "athlete_changed"}

    def __init__(self, data_dir: str, *, pin: str | None = PIN, port: int = 0, units: str = "metric", **detection):
        web = {"enabled": True, "host": "127.0.0.1", "port": port, "units": units}
        if pin is not None:
            web["pin"] = pin
        self.config = config_for(LAYOUT, data_dir, web=web, detection=detection or None)
        self.sim = SimulatedRig(self.config, speed=1.0)
        try:
            self.service = Service(self.config, pin_factory=self.sim.factory, clock=self.sim.clock, source="sim")
        except Exception:
            self.sim.close()
            raise
        self.events: queue.Queue = queue.Queue()
        self.service.subscribe("browser-test", self._on_event, types=self.TYPES)
        self.service.start()
        self.stopped = False
        # the history hands the selected athlete and their level's drill to the engine at the first
        # tick: the tests start from that settled state
        self.next("athlete_changed")

    def _on_event(self, event: dict) -> None:
        # LiveState runs first on the bus: this snapshot already holds the event
        self.events.put((event, self.service.live.snapshot()))

    @property
    def url(self) -> str:
        return self.service.panel.url

    def next(self, etype: str, **match) -> tuple[dict, dict]:
        """The next bus event of ``etype`` (with the given fields), and the live state right after it."""
        while True:
            event, state = self.events.get(timeout=WAIT_S)
            if event["type"] == etype and all(event.get(k) == v for k, v in match.items()):
                return event, state

    def wait_channel(self, channel: str, ok) -> float:
        """The channel's raw value in the live state once ``ok(value)`` holds."""
        for _ in range(int(WAIT_S / 0.05)):
            value = self.service.live.channels()[channel]["value"]
            if ok(value):
                return value
            threading.Event().wait(0.05)
        raise AssertionError(f"{channel} never reached the wanted value (last {value!r})")

    def tread(self, i: int, on: bool) -> None:
        self.sim.set_sample(f"tread.{i}", 1 if on else 0)

    def rail(self, side: str, *, touch: bool | None = None, force_n: float | None = None) -> None:
        if touch is not None:
            self.sim.set_sample(f"rail.{side}.touch", 1 if touch else 0)
        if force_n is not None:
            self.sim.set_sample(f"rail.{side}.force", force_n)

    def step_up(self, lead: int, trail: int | None, hold_s: float = 0.25) -> None:
        """A step over step: the lead foot lands, then the trailing foot leaves its tread."""
        self.tread(lead, True)
        threading.Event().wait(hold_s)
        if trail is not None:
            self.tread(trail, False)

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            try:
                self.service.stop()
            finally:
                self.sim.close()


@pytest.fixture
def rig(tmp_path):
    r = PanelRig(str(tmp_path))
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def tab(browser, rig):
    t = Tab(browser, rig.url)
    try:
        yield t
    finally:
        t.close()


def assert_clean(tab: Tab) -> None:
    assert tab.problems == []
    assert tab.foreign == []          # nothing from outside the panel: no CDN, no web font


def enable_sound(page) -> None:
    """The one tap browsers need before a page may make sound."""
    button = page.locator("#sound-toggle")
    assert button.inner_text() == "Tap to enable sound"
    button.click()
    page.wait_for_selector('#sound-toggle[data-state="on"]', timeout=WAIT_MS)


def cues_played(page, name: str) -> int:
    return page.evaluate("n => window.stairrig.sound.log.filter(c => c.name === n && c.played).length", name)


# -- history for the history, progress and screenshot tests ------------------------------------

def seed_history(data_dir: str, sessions: int) -> None:
    """``sessions`` finished sessions of the configuration's athlete, one a day up to yesterday, whose
    handrail reliance falls as the athlete climbs the ladder (written with the store's own API)."""
    levels = ["grip-firm", "grip-light", "grip-hover", "volume-4"]
    now = dt.datetime.now(dt.timezone.utc).replace(hour=9, minute=0, second=0, microsecond=0)
    with HistoryStore.open(data_dir) as store:
        athlete_id = store.ensure_default_athlete("Test", 70.0)
        for n in range(sessions):
            share = n / max(1, sessions - 1)
            level = levels[min(len(levels) - 1, int(share * len(levels)))]
            flights = 2 + int(share * 4)
            steps = flights * 3
            active = flights * 9.0
            contact, firm = round(0.95 - 0.7 * share, 3), round(0.6 * (1 - share) ** 2, 3)
            start = now - dt.timedelta(days=sessions - n)
            sid = store.begin_session(athlete_id=athlete_id, started_at=start.isoformat(),
                                      drill={"facing": "backward", "grip": "light", "planned_flights": flights,
                                             "added_load_kg": 0.0}, level=level, trace_path=None)
            flight_rows = [{"idx": i + 1, "direction": "up" if i % 2 == 0 else "down", "t_start_s": 12.0 * i,
                            "t_end_s": 12.0 * i + 9.0, "duration_s": 9.0, "steps": 3,
                            "cadence_spm": round(20.0 + 30 * share + i, 1), "contact_s": round(9 * contact, 2),
                            "light_s": round(9 * (contact - firm), 2), "firm_s": round(9 * firm, 2)}
                           for i in range(flights)]
            summary = {"steps": steps, "steps_up": steps // 2, "steps_down": steps - steps // 2,
                       "ascents": (flights + 1) // 2, "descents": flights // 2,
                       "elevation_gain_m": round((flights + 1) // 2 * 3 * 0.17, 3), "active_s": active,
                       "duration_s": active + 30, "cadence_spm": round(20.0 + 30 * share, 1),
                       "facing": {"forward": 0, "backward": flights},
                       "rails": {"left": {"contact_s": active * contact}},
                       "reliance": {"contact_fraction": contact, "firm_fraction": firm,
                                    "light_fraction": round(contact - firm, 3)},
                       "events": [{"t": 14.0, "type": "grab", "rail": "left", "force_n": 96.0}] if n % 4 == 1 else []}
            store.end_session(sid, ended_at=(start + dt.timedelta(seconds=active + 30)).isoformat(),
                              duration_s=active + 30, summary=summary, flights=flight_rows, events=None,
                              energy_kcal=round(steps * 0.1, 2))
        store.flush()


# -- the live screen ----------------------------------------------------------------------------

def test_a_step_shows_on_the_live_screen_within_a_second(rig, tab):
    page = tab.goto("/")
    tab.connected()
    assert page.locator("#steps").inner_text() == "0"
    rig.tread(1, True)
    step, _ = rig.next("step")
    assert (step["tread"], step["direction"]) == (1, "up")
    # the session's count (what the big number shows) is updated in the same breath as the step
    _, state = rig.next("session_update")
    shown = str(state["session"]["steps"])
    assert shown == "1"
    page.wait_for_function("n => document.getElementById('steps').textContent === n", arg=shown,
                           timeout=SHOWN_WITHIN_MS)
    page.wait_for_selector("#session-state.active", timeout=WAIT_MS)
    # a second step, up to tread 2: the screen follows the service again
    rig.step_up(2, 1)
    _, state = rig.next("session_update")
    page.wait_for_function("n => document.getElementById('steps').textContent === n",
                           arg=str(state["session"]["steps"]), timeout=SHOWN_WITHIN_MS)
    assert page.locator("#elevation-unit").inner_text() == "m"
    assert page.locator("#rail-left").get_attribute("data-grip") == "none"
    assert_clean(tab)


def test_imperial_units_show_the_elevation_in_feet(tmp_path, browser):
    rig = PanelRig(str(tmp_path), units="imperial")
    tab = Tab(browser, rig.url)
    try:
        page = tab.goto("/")
        tab.connected()
        assert page.locator("#elevation-unit").inner_text() == "ft"
        rig.tread(1, True)
        rig.next("step")
        rig.step_up(2, 1)
        _, state = rig.next("session_update")
        while state["session"]["steps"] < 2:
            _, state = rig.next("session_update")
        feet = f"{state['session']['elevation_gain_m'] / 0.3048:.1f}"
        assert feet != "0.0"
        page.wait_for_function("ft => document.getElementById('elevation').textContent === ft", arg=feet,
                               timeout=WAIT_MS)
        assert_clean(tab)
    finally:
        tab.close()
        rig.stop()


def test_a_grab_raises_its_banner_and_its_cues(rig, tab):
    rig.service.commands.set_drill(grip="light")             # the drill allows a light touch, not a firm grip
    page = tab.goto("/")
    tab.connected()
    enable_sound(page)
    rig.rail("left", touch=True, force_n=0.6)                # a light touch first
    rig.next("grip", rail="left", grip="light")
    page.wait_for_selector('#rail-left[data-grip="light"]', timeout=WAIT_MS)
    assert "over-target" not in page.locator("#rail-left").get_attribute("class")
    rig.rail("left", force_n=120.0)                          # then a sudden grab
    grab, _ = rig.next("grab")
    assert grab["rail"] == "left"
    banner = page.wait_for_selector('#alert-banner[data-type="grab"]', state="visible", timeout=WAIT_MS)
    assert "left rail" in banner.inner_text()
    page.wait_for_selector('#rail-left[data-grip="firm"].over-target', timeout=WAIT_MS)
    _, state = rig.next("grip", rail="left", grip="firm")
    assert page.locator("#rail-left .rail-force").inner_text() == f"{state['rails']['left']['force_n']:.0f} N"
    # walking backward the athlete cannot see the banner: the grab, and the grip firmer than the target, are heard
    page.wait_for_function("() => ['grab', 'grip'].every(n => "
                           "window.stairrig.sound.log.some(c => c.name === n && c.played))",
                           timeout=WAIT_MS)
    assert cues_played(page, "grab") == 1
    assert_clean(tab)


def test_a_stall_raises_its_banner_and_its_cue(tmp_path, browser):
    rig = PanelRig(str(tmp_path), stall_s=0.5)
    tab = Tab(browser, rig.url)
    try:
        page = tab.goto("/")
        tab.connected()
        enable_sound(page)
        rig.tread(1, True)                                    # and stays there
        stall, state = rig.next("stall")
        assert stall["tread"] == 1 and state["alert"]["type"] == "stall"
        banner = page.wait_for_selector('#alert-banner[data-type="stall"]', state="visible", timeout=WAIT_MS)
        assert "tread 1" in banner.inner_text()
        page.wait_for_function("() => window.stairrig.sound.log.some(c => c.name === 'stall' && c.played)",
                               timeout=WAIT_MS)
        assert_clean(tab)
    finally:
        tab.close()
        rig.stop()


def test_too_fast_says_slow_down_and_a_flight_is_heard(rig, tab):
    page = tab.goto("/")
    tab.connected()
    enable_sound(page)
    rig.tread(1, True)
    rig.next("step", tread=1)
    rig.step_up(2, 1, hold_s=0.15)                            # hurried steps up the flight
    rig.step_up(3, 2, hold_s=0.15)
    _, state = rig.next("session_update")
    while state["session"]["steps"] < 3:
        _, state = rig.next("session_update")
    limit = state["drill"]["cadence_limit_spm"]
    assert state["session"]["cadence_spm"] > limit
    page.wait_for_selector("#slow-banner", state="visible", timeout=WAIT_MS)
    assert "Slow down" in page.locator("#slow-banner").inner_text()
    threading.Event().wait(0.25)
    rig.tread(3, False)                                       # off the top: a flight up
    ascent, state = rig.next("ascent")
    assert ascent["ascents"] == 1
    page.wait_for_function("() => window.stairrig.sound.log.some(c => c.name === 'flight' && c.played)",
                           timeout=WAIT_MS)
    words = page.evaluate("window.stairrig.sound.log.filter(c => c.name === 'flight').map(c => c.words)")
    assert words == ["Flight 1 done"]
    # after the flight: its time and power in plain words (the session's gait figures)
    page.wait_for_selector("#flight-line", state="visible", timeout=WAIT_MS)
    flight = rig.service.live.snapshot()["session"]["last_flight"]
    assert flight["dir"] == "up" and flight["power_w"] > 0
    assert page.locator("#flight-line").inner_text().startswith(
        f"Last flight up: {flight['duration_s']:.1f} s · {flight['power_w']} W")
    assert page.evaluate("document.documentElement.scrollHeight <= document.documentElement.clientHeight")
    assert cues_played(page, "fast") == 1
    assert_clean(tab)


def test_each_cue_can_be_switched_off_and_stays_off(rig, tab):
    page = tab.goto("/")
    tab.connected()
    page.click("#cue-settings summary")
    page.uncheck('input[data-cue="grab"]')
    page = tab.goto("/")                                      # the switch is kept in this browser
    tab.connected()
    assert page.is_checked('input[data-cue="grab"]') is False
    assert page.is_checked('input[data-cue="stall"]') is True
    enable_sound(page)
    rig.rail("left", touch=True, force_n=0.6)
    rig.next("grip", rail="left")
    rig.rail("left", force_n=120.0)
    rig.next("grab")
    page.wait_for_selector('#alert-banner[data-type="grab"]', state="visible", timeout=WAIT_MS)
    page.wait_for_function("() => window.stairrig.sound.log.some(c => c.name === 'grab')", timeout=WAIT_MS)
    assert cues_played(page, "grab") == 0                     # shown, not heard
    page.click("#sound-toggle")                               # the master switch: off
    assert page.locator("#sound-toggle").inner_text() == "Sound off"
    page = tab.goto("/")
    assert page.locator("#sound-toggle").inner_text() == "Sound off"
    assert_clean(tab)


def test_a_suspected_fall_raises_the_alarm_until_im_ok(rig, tab):
    page = tab.goto("/")
    tab.connected()
    enable_sound(page)
    assert page.locator("#alarm").is_hidden()
    rig.tread(1, True)
    rig.next("step", tread=1)
    rig.step_up(2, 1)
    rig.next("step", tread=2)
    threading.Event().wait(0.25)
    rig.tread(2, False)                                       # off the stairs from a middle tread
    fall, state = rig.next("fall_suspected")
    assert state["alarm"] is not None and fall["tread"] == 2
    page.wait_for_selector("#alarm", state="visible", timeout=WAIT_MS)
    assert "tread 2" in page.locator("#alarm-detail").inner_text()
    assert page.evaluate("window.stairrig.sound.alarming") is True
    page.click("#alarm-ok")
    ack, state = rig.next("fall_acknowledged")
    assert ack["by"] == "panel" and state["alarm"] is None
    page.wait_for_selector("#alarm", state="hidden", timeout=WAIT_MS)
    assert page.evaluate("window.stairrig.sound.alarming") is False
    banner = page.wait_for_selector('#alert-banner[data-type="fall_acknowledged"]', state="visible", timeout=WAIT_MS)
    assert "OK" in banner.inner_text()
    assert_clean(tab)


def test_an_alarm_acknowledged_elsewhere_leaves_the_screen(rig, tab):
    """Acknowledged over MQTT (or by another tablet): the state's alarm goes null, and so does the overlay."""
    page = tab.goto("/")
    tab.connected()
    rig.tread(2, True)
    rig.next("step", tread=2)
    threading.Event().wait(0.25)
    rig.tread(2, False)
    rig.next("fall_suspected")
    page.wait_for_selector("#alarm", state="visible", timeout=WAIT_MS)
    rig.service.commands.acknowledge_fall(by="mqtt")
    rig.next("fall_acknowledged", by="mqtt")
    page.wait_for_selector("#alarm", state="hidden", timeout=WAIT_MS)
    assert_clean(tab)


def test_the_disconnected_state_shows_when_the_server_stops_and_it_reconnects(tmp_path, browser):
    rig = PanelRig(str(tmp_path))
    tab = Tab(browser, rig.url)
    again = None
    try:
        page = tab.goto("/")
        tab.connected()
        assert page.locator("#offline-banner").is_hidden()
        rig.stop()
        page.wait_for_selector('#connection[data-state="disconnected"]', timeout=WAIT_MS)
        page.wait_for_selector("#offline-banner", state="visible", timeout=WAIT_MS)
        assert "Disconnected" in page.locator("#connection").inner_text()
        assert page.evaluate("document.body.classList.contains('offline')") is True
        # the rig comes back on the same address: the page finds it again by itself
        again = PanelRig(str(tmp_path), port=rig.service.panel.port)
        page.wait_for_selector('#connection[data-state="connected"]', timeout=3 * WAIT_MS)
        page.wait_for_selector("#offline-banner", state="hidden", timeout=WAIT_MS)
        again.tread(1, True)
        _, state = again.next("session_update")
        page.wait_for_function("n => document.getElementById('steps').textContent === n",
                               arg=str(state["session"]["steps"]), timeout=WAIT_MS)
        assert tab.problems == []
    finally:
        tab.close()
        rig.stop()
        if again is not None:
            again.stop()


# -- sessions and history ----------------------------------------------------------------------

def test_a_session_started_from_the_panel_is_in_the_history_after_it_stops(rig, tab):
    page = tab.goto("/session")
    tab.connected()
    page.wait_for_selector("#stop-session:disabled", timeout=WAIT_MS)
    page.click("#start-session")
    started, _ = rig.next("session_started")
    assert started["reason"] == "command"
    page.wait_for_selector("#stop-session:enabled", timeout=WAIT_MS)
    rig.tread(1, True)                                        # one step in it
    rig.next("session_update")
    page.click("#stop-session")
    ended, _ = rig.next("session_ended")
    assert ended["key"] == started["key"] and ended["summary"]["steps"] == 1
    rig.service.store.flush()
    newest = rig.service.store.sessions(limit=1)[0]
    assert newest["steps"] == 1
    page = tab.goto("/history")
    row = page.wait_for_selector(f'#sessions-body tr[data-id="{newest["id"]}"]', timeout=WAIT_MS)
    assert row.query_selector("td:nth-child(5)").inner_text() == "1"
    row.query_selector("a").click()
    page.wait_for_url(f"**/history/{newest['id']}", timeout=WAIT_MS)
    page.wait_for_selector("#export-buttons a", timeout=WAIT_MS)
    hrefs = page.eval_on_selector_all("#export-buttons a", "as => as.map(a => a.getAttribute('href'))")
    assert f"/api/sessions/{newest['id']}/export.json" in hrefs
    assert f"/api/sessions/{newest['id']}/export.csv" in hrefs
    with page.expect_download(timeout=WAIT_MS) as download:
        page.click(f'#export-buttons a[href$="export.csv"]')
    assert download.value.suggested_filename == f"stairrig-session-{newest['id']}.csv"
    assert_clean(tab)


def test_the_drill_and_the_athlete_are_chosen_on_the_session_page(rig, tab):
    page = tab.goto("/session")
    tab.connected()
    page.wait_for_function("() => document.getElementById('rec-reason').textContent.length > 20", timeout=WAIT_MS)
    page.select_option("#drill-form select[name=grip]", "hover")
    page.fill("#drill-form input[name=planned_flights]", "6")
    page.fill("#drill-form input[name=added_load_kg]", "2.5")
    page.click("#drill-form button[type=submit]")
    page.wait_for_function("() => window.stairrig.stream.state && window.stairrig.stream.state.drill.grip === 'hover'",
                           timeout=WAIT_MS)
    assert rig.service.sessions.drill.as_dict() == {"facing": "backward", "grip": "hover", "planned_flights": 6,
                                                    "added_load_kg": 2.5}
    # bad input: the server's sentence is shown, nothing changes
    page.fill("#drill-form input[name=planned_flights]", "500")
    page.click("#drill-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('drill-error').textContent.includes('1 to 200')",
                           timeout=WAIT_MS)
    assert rig.service.sessions.drill.planned_flights == 6
    # an empty plan clears it
    page.fill("#drill-form input[name=planned_flights]", "")
    page.click("#drill-form button[type=submit]")
    page.wait_for_function("() => window.stairrig.stream.state.drill.planned_flights === null", timeout=WAIT_MS)
    assert rig.service.sessions.drill.planned_flights is None
    assert_clean(tab)


def test_history_pages_and_progress_charts(tmp_path, browser):
    seed_history(str(tmp_path), 30)
    rig = PanelRig(str(tmp_path))
    tab = Tab(browser, rig.url)
    try:
        page = tab.goto("/history")
        tab.connected()
        page.wait_for_selector("#sessions-body tr", timeout=WAIT_MS)
        assert page.locator("#sessions-body tr").count() == 25
        page.click("#load-more")
        page.wait_for_function("() => document.querySelectorAll('#sessions-body tr').length === 30", timeout=WAIT_MS)
        assert page.locator("#load-more").is_hidden()
        ids = page.eval_on_selector_all("#sessions-body tr", "rs => rs.map(r => Number(r.dataset.id))")
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 30

        page = tab.goto("/progress")
        page.wait_for_function("() => { const c = window.Chart && "
                               "Chart.getChart(document.getElementById('chart-steps'));"
                               " return c && c.data.labels.length === 30; }", timeout=WAIT_MS)
        contact = page.evaluate("Chart.getChart(document.getElementById('chart-reliance')).data.datasets[0].data")
        stored = [round(r["contact_fraction"] * 100, 1) for r in rig.service.store.progress(1)]
        assert contact == stored
        levels = page.evaluate("Chart.getChart(document.getElementById('chart-level')).data.datasets[0].data")
        assert levels[0] == 0 and levels[-1] == 3               # grip-firm ... volume-4

        newest = rig.service.store.sessions(limit=1)[0]
        page = tab.goto(f"/history/{newest['id']}")
        page.wait_for_selector("#flights-body tr", timeout=WAIT_MS)
        assert page.locator("#flights-body tr").count() == len(rig.service.store.session(newest["id"])["flights"])
        # deleting needs the PIN: locked before anyone tries (tests/test_web_session_detail.py)
        assert page.is_disabled("#delete-session")
        assert rig.service.store.session(newest["id"]) is not None
        login(tab)
        page = tab.goto(f"/history/{newest['id']}")
        page.wait_for_selector("#flights-body tr", timeout=WAIT_MS)
        page.click("#delete-session")
        page.wait_for_url("**/history", timeout=WAIT_MS)
        rig.service.store.flush()
        assert rig.service.store.session(newest["id"]) is None
        assert_clean(tab)
    finally:
        tab.close()
        rig.stop()


# -- the coach's PIN ---------------------------------------------------------------------------

def test_settings_need_the_pin_and_show_the_servers_refusals(rig, tab):
    page = tab.goto("/settings")
    tab.connected()
    page.wait_for_selector("#athletes-body tr", timeout=WAIT_MS)
    # not logged in: the controls are locked and say to unlock; the server refuses too, and says why
    assert page.locator("#add-athlete button").is_disabled()
    assert page.locator("#athletes-body button").first.is_disabled()
    assert "unlock with the coach's PIN" in page.locator("#athletes-locked").inner_text()
    refused = post_from_page(page, "/api/athletes", {"name": "Ada", "weight_kg": 61})
    assert refused["status"] == 401 and "PIN" in refused["error"]
    assert [a["name"] for a in rig.service.commands.athletes()] == ["Test"]
    page.fill("#pin", "0000")
    page.click("#login-form button")
    page.wait_for_function("() => document.getElementById('login-error').textContent.includes('wrong PIN')",
                           timeout=WAIT_MS)
    page.fill("#pin", PIN)
    page.click("#login-form button")
    page.wait_for_selector("#logged-in", state="visible", timeout=WAIT_MS)
    page.fill("#add-athlete input[name=name]", "Ada")
    page.fill("#add-athlete input[name=weight_kg]", "61")
    page.click("#add-athlete button")
    page.wait_for_function("() => [...document.querySelectorAll('#athletes-body input[type=text]')]"
                           ".some(i => i.value === 'Ada')", timeout=WAIT_MS)
    assert sorted(a["name"] for a in rig.service.commands.athletes()) == ["Ada", "Test"]
    # a weight the store refuses: its sentence is shown, nothing changes
    row = page.locator("#athletes-body tr", has=page.locator("input[value='Ada']"))
    row.locator("input[type=number]").fill("-5")
    row.locator("button", has_text="Save").click()
    page.wait_for_function("() => document.getElementById('athletes-error').textContent.length > 0", timeout=WAIT_MS)
    assert [a["weight_kg"] for a in rig.service.commands.athletes() if a["name"] == "Ada"] == [61.0]
    row.locator("button", has_text="Delete").click()
    page.wait_for_function("() => ![...document.querySelectorAll('#athletes-body input[type=text]')]"
                           ".some(i => i.value === 'Ada')", timeout=WAIT_MS)
    assert [a["name"] for a in rig.service.commands.athletes()] == ["Test"]
    assert_clean(tab)


def test_without_a_pin_the_settings_say_so(tmp_path, browser):
    rig = PanelRig(str(tmp_path), pin=None)
    tab = Tab(browser, rig.url)
    try:
        page = tab.goto("/settings")
        tab.connected()
        assert page.locator("#no-pin").is_visible()
        assert "No PIN configured" in page.locator("#no-pin").inner_text()
        assert page.locator("#login-form").is_hidden()
        page.wait_for_selector("#athletes-body tr", timeout=WAIT_MS)
        # locked, and it says how to set a PIN; the server refuses too, and says why
        assert page.locator("#add-athlete button").is_disabled()
        assert "no PIN is configured" in page.locator("#athletes-locked").inner_text()
        refused = post_from_page(page, "/api/athletes", {"name": "Ada", "weight_kg": 61})
        assert refused["status"] == 403 and "none is configured" in refused["error"]
        assert [a["name"] for a in rig.service.commands.athletes()] == ["Test"]
        assert_clean(tab)
    finally:
        tab.close()
        rig.stop()


def post_from_page(page, path: str, body: dict) -> dict:
    """A POST as the page's own script sends it (with its CSRF token): the status and the error."""
    return page.evaluate("""async ([path, body]) => {
      const token = document.querySelector('meta[name="csrf-token"]').content;
      const r = await fetch(path, {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token}, body: JSON.stringify(body)});
      const data = await r.json().catch(() => ({}));
      return {status: r.status, error: data.error || ''};
    }""", [path, body])


# -- the rig check ---------------------------------------------------------------------------------

def login(tab: Tab) -> None:
    page = tab.goto("/settings")
    page.fill("#pin", PIN)
    page.click("#login-form button")
    page.wait_for_selector("#logged-in", state="visible", timeout=WAIT_MS)


def test_the_rig_check_shows_every_channel_live_and_calibrates(rig, tab):
    page = tab.goto("/rigcheck")
    tab.connected()
    page.wait_for_selector("#channels-body tr", timeout=WAIT_MS)
    shown = page.eval_on_selector_all("#channels-body tr", "rs => rs.map(r => r.dataset.channel)")
    assert sorted(shown) == sorted(LAYOUT.channels())
    rig.tread(1, True)              # the bottom tread (off the stairs from a middle one is a suspected fall)
    page.wait_for_selector('#channels-body tr[data-channel="tread.1"][data-value="1"]', timeout=WAIT_MS)
    assert page.locator('#channels-body tr[data-channel="tread.1"] td.num').first.inner_text() == "on"
    rig.tread(1, False)
    page.wait_for_selector('#channels-body tr[data-channel="tread.1"][data-value="0"]', timeout=WAIT_MS)
    rig.rail("left", force_n=5.0)
    force_n = rig.wait_channel("rail.left.force", lambda v: v is not None and abs(v - 5.0) < 0.5)
    page.wait_for_function("n => document.querySelector('#channels-body tr[data-channel=\"rail.left.force\"] td.num')"
                           ".textContent.startsWith(n)", arg=f"{force_n:.1f} N", timeout=WAIT_MS)
    rig.rail("left", force_n=0.0)
    # calibrating needs the PIN: locked, with the reason; the server refuses too
    row = page.locator('#calibration-body tr[data-channel="rail.left.force"]')
    assert row.locator("button", has_text="Tare").is_disabled() and row.locator("button", has_text="Scale").is_disabled()
    assert "unlock with the coach's PIN" in page.locator("#calibration-locked").inner_text()
    refused = post_from_page(page, "/api/calibration/rail.left.force/tare", {})
    assert refused["status"] == 401 and "PIN" in refused["error"]
    assert rig.service.rigcheck.calibration()["rail.left.force"]["source"] == "config"
    login(tab)
    page = tab.goto("/rigcheck#calibration")
    row = page.locator('#calibration-body tr[data-channel="rail.left.force"]')
    row.wait_for(timeout=WAIT_MS)
    assert page.locator("#calibration-locked").is_hidden()
    threading.Event().wait(1.2)                               # a second of readings with the rail unloaded
    row.locator("button", has_text="Tare").click()
    page.wait_for_function("() => document.querySelector('#calibration-body tr[data-channel=\"rail.left.force\"]')"
                           ".textContent.includes('rig check')", timeout=WAIT_MS)
    cal = rig.service.rigcheck.calibration()["rail.left.force"]
    assert cal["source"] == "file"
    wire = rig.config.wiring["rail.left.force"]
    assert cal["zero_offset"] == pytest.approx(wire.zero_offset, abs=1 / 1023)
    # a known mass: 5 kg hanging from the rail
    rig.rail("left", force_n=5 * 9.80665)
    threading.Event().wait(1.2)
    row = page.locator('#calibration-body tr[data-channel="rail.left.force"]')
    row.locator("input").fill("5")
    row.locator("button", has_text="Scale").click()
    page.wait_for_function("() => document.querySelector('.message.ok') !== null && "
                           "document.querySelector('.message.ok').textContent.includes('scale')", timeout=WAIT_MS)
    scale_n = rig.service.rigcheck.calibration()["rail.left.force"]["scale_n"]
    assert scale_n == pytest.approx(wire.scale_n, rel=0.03)
    shown = page.locator('#calibration-body tr[data-channel="rail.left.force"] td.num').nth(2).inner_text()
    assert float(shown) == pytest.approx(scale_n, abs=0.05)
    assert_clean(tab)


def test_the_walk_test_names_swapped_and_dead_channels(rig, tab):
    page = tab.goto("/rigcheck")
    tab.connected()
    page.click("#walk-start")
    prompt = page.locator("#walk-prompt")

    def at_prompt(n: int) -> None:
        page.wait_for_selector(f'#walk-prompt[data-step="{n}"]', timeout=WAIT_MS)

    def tap(*actions) -> None:
        for on in (True, False):
            for act in actions:
                act(on)
            threading.Event().wait(0.3)

    at_prompt(0)
    assert "tread 1" in prompt.inner_text()
    tap(lambda on: rig.tread(1, on))
    at_prompt(1)
    assert "tread 2" in prompt.inner_text()
    rig.tread(1, True)                                        # the tester stands on the tread below
    tap(lambda on: rig.tread(3, on))                          # the wires of treads 2 and 3 are crossed
    at_prompt(2)
    tap(lambda on: rig.tread(2, on))
    rig.tread(1, False)
    # the last step was on a middle tread, then nobody is on the stairs: in training a suspected
    # fall, but during a walk test the engine raises no alarm (and starts no session)
    at_prompt(3)
    assert page.locator("#alarm").is_hidden()
    assert rig.service.engine.fall_alarm is None and rig.service.sessions.current is None
    assert "left rail" in prompt.inner_text()
    tap(lambda on: rig.rail("left", touch=on, force_n=30.0 if on else 0.0))
    at_prompt(4)
    assert "right rail" in prompt.inner_text()
    page.click("#walk-skip")                                  # nothing happens at the right rail's touch pad
    page.wait_for_function("() => document.getElementById('walk-prompt').textContent.includes('done')",
                           timeout=WAIT_MS)
    verdicts = dict(page.eval_on_selector_all("#walk-body tr",
                                              "rs => rs.map(r => [r.dataset.channel, r.dataset.verdict])"))
    assert verdicts == {"tread.1": "ok", "tread.2": "swapped", "tread.3": "swapped", "rail.left.touch": "ok",
                        "rail.left.force": "ok", "rail.right.touch": "dead"}
    assert "swapped" in page.locator('#walk-body tr[data-channel="tread.2"]').inner_text()
    assert "Dead" in page.locator('#walk-body tr[data-channel="rail.right.touch"]').inner_text()
    assert page.locator("#walk-start").is_visible() and page.locator("#walk-cancel").is_hidden()
    assert_clean(tab)


# -- every screen ---------------------------------------------------------------------------------

SCREENS = [("live", "/"), ("session", "/session"), ("history", "/history"), ("progress", "/progress"),
           ("rigcheck", "/rigcheck"), ("settings", "/settings")]


def test_every_screen_renders_and_is_saved_as_a_screenshot(tmp_path, browser):
    seed_history(str(tmp_path), 12)
    rig = PanelRig(str(tmp_path))
    tab = Tab(browser, rig.url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        # someone on the stairs: a session with two steps at a calm pace, a light hand on the left rail
        rig.rail("left", touch=True, force_n=0.7)
        rig.rail("right", touch=True)
        rig.tread(1, True)
        rig.next("session_update")
        threading.Event().wait(1.0)
        rig.step_up(2, 1, hold_s=0.5)
        rig.next("session_update")
        newest = rig.service.store.sessions(limit=2)[-1]       # the newest finished (seeded) session
        for name, path in SCREENS + [("session_detail", f"/history/{newest['id']}")]:
            page = tab.goto(path)
            tab.connected()
            if name == "progress":
                page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-level'))",
                                       timeout=WAIT_MS)
            if name == "session_detail":
                page.wait_for_selector("#flights-body tr", timeout=WAIT_MS)
            if name == "history":
                page.wait_for_selector("#sessions-body tr", timeout=WAIT_MS)
            if name == "live":
                page.wait_for_selector('#rail-left[data-grip="light"]', timeout=WAIT_MS)
            assert page.locator("main h1:not(.visually-hidden), #steps").first.is_visible()
            assert tab.response.headers["content-security-policy"] == STRICT_CSP   # and nothing was refused
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        # the live screen on a phone: the same figures, stacked
        phone = Tab(browser, rig.url, viewport=(390, 844))
        try:
            page = phone.goto("/")
            phone.connected()
            page.wait_for_selector('#rail-left[data-grip="light"]', timeout=WAIT_MS)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.screenshot(path=str(SCREENSHOTS / "live-phone.png"), full_page=True)
            assert_clean(phone)
        finally:
            phone.close()
        assert_clean(tab)
    finally:
        tab.close()
        rig.stop()
    assert {f"{n}.png" for n, _ in SCREENS} <= {p.name for p in SCREENSHOTS.glob("*.png")}
