"""Every page of the panel at a tablet's and a phone's size, in a real browser.

At 1280x800 (a 10-inch wall tablet) and 390x844 (a phone): no sideways scrolling, no table
wider than the screen or its box, every page's name in the bar on screen, nothing that reads as
a leaked value ("None", "null", "undefined", "NaN"), and no error on the console nor any refused
request (a 404 included). And what a new owner meets first: Progress before any finished
session, Settings without a PIN or not yet unlocked, the rig check before its stream connects,
the live screen's words for the grip target and the flights.

The fixtures (Chromium, a running service with a simulated rig, a seeded history) are
tests/test_web_browser.py's. Screens are saved under tests/out/screenshots/ (ignored by git).
"""

from __future__ import annotations

import re
import threading
from urllib.parse import urlparse

import pytest

from tests.test_web_browser import (PIN, SCREENSHOTS, WAIT_MS, PanelRig, Tab, browser,  # noqa: F401 (a fixture)
                                    login, seed_history)
from tests.test_web_browser import pytestmark  # noqa: F401  (skipped without Chromium)

TABLET = (1280, 800)
PHONE = (390, 844)
LEAKED = re.compile(r"\b(None|null|undefined|NaN)\b")
PAGES = [("live", "/"), ("session", "/session"), ("history", "/history"), ("progress", "/progress"),
         ("tests", "/tests"), ("rigcheck", "/rigcheck"), ("settings", "/settings"), ("report", "/athletes/1/report")]


class StrictTab(Tab):
    """A tab for which every refused request is a problem, the API's too (a page that asks for
    what does not exist logs a 404 on the console of every load)."""

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status} {urlparse(response.url).path}")

    def _console(self, msg):
        if msg.type == "error":
            self.problems.append(f"console: {msg.text}")


def layout_faults(page) -> list[str]:
    """What is wrong with the page's layout as it is on screen, in words."""
    return page.evaluate("""() => {
      const faults = [];
      const doc = document.documentElement;
      const width = doc.clientWidth;
      if (doc.scrollWidth > width) faults.push(`the page scrolls sideways: ${doc.scrollWidth} px in ${width}`);
      const shown = (n) => n.getClientRects().length > 0 && getComputedStyle(n).visibility !== 'hidden';
      for (const table of document.querySelectorAll('table')) {
        if (!shown(table)) continue;
        const r = table.getBoundingClientRect();
        if (r.right > width + 1 || r.left < -1) faults.push(`table #${table.id} runs off the screen (${r.left}..${r.right})`);
        const box = table.closest('.table-wrap');
        if (box && box.scrollWidth > box.clientWidth + 1)
          faults.push(`table #${table.id} is cut: ${box.scrollWidth} px in a box of ${box.clientWidth}`);
      }
      // on a tablet the bar is one line: it must not change height under a finger when the first
      // tap turns the sound on and the sound button gets shorter
      const bar = document.querySelector('.topbar').getBoundingClientRect();
      if (width > 820 && bar.height > 80) faults.push(`the bar wraps at ${width} px (${bar.height} px high)`);
      for (const link of document.querySelectorAll('.nav a')) {
        const r = link.getBoundingClientRect();
        if (!shown(link) || r.right > width + 1 || r.width === 0)
          faults.push(`the bar's link "${link.textContent}" is not on screen`);
      }
      for (const box of document.querySelectorAll('.fig, .rail, .figure, .banner, .card, button, .nav a')) {
        if (shown(box) && box.scrollWidth > box.clientWidth + 1)
          faults.push(`"${box.textContent.trim().slice(0, 30)}" is wider than its box (${box.scrollWidth} px in ${box.clientWidth})`);
      }
      for (const node of document.querySelectorAll('main *')) {
        if (!shown(node) || node.children.length) continue;
        const head = node.closest('thead');
        if (head && head.getBoundingClientRect().width <= 1) continue;      // headings kept for screen readers only
        const r = node.getBoundingClientRect();
        if (r.right > width + 1) faults.push(`"${node.textContent.trim().slice(0, 30)}" runs off the screen`);
      }
      return faults;
    }""")


def leaked_words(page) -> list[str]:
    return LEAKED.findall(page.locator("body").inner_text())


def wait_for_page(page, name: str) -> None:
    if name == "history":
        page.wait_for_selector("#sessions-body tr", timeout=WAIT_MS)
    elif name == "session_detail":
        page.wait_for_selector("#flights-body tr", timeout=WAIT_MS)
    elif name == "progress":
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-level'))",
                               timeout=WAIT_MS)
    elif name == "rigcheck":
        page.wait_for_selector("#channels-body tr", timeout=WAIT_MS)
        page.wait_for_function("() => !document.getElementById('channels-body').textContent.includes('connecting')",
                               timeout=WAIT_MS)
    elif name == "settings":
        page.wait_for_selector("#athletes-body tr", timeout=WAIT_MS)
    elif name == "tests":
        page.wait_for_selector("#test-athlete option", state="attached", timeout=WAIT_MS)
        page.wait_for_function("() => document.getElementById('test-mdc').textContent !== ''", timeout=WAIT_MS)
    elif name == "report":
        page.wait_for_selector("#sessions-table tbody tr", timeout=WAIT_MS)
    elif name == "session":
        page.wait_for_function("() => !document.getElementById('rec-reason').textContent.includes('Loading')",
                               timeout=WAIT_MS)


@pytest.fixture(scope="module")
def seeded_rig(tmp_path_factory, browser):  # noqa: F811
    data_dir = tmp_path_factory.mktemp("layout")
    seed_history(str(data_dir), 6)
    rig = PanelRig(str(data_dir))
    try:
        yield rig
    finally:
        rig.stop()


@pytest.mark.parametrize("viewport", [TABLET, PHONE, (800, 1280), (1024, 768)],
                         ids=["tablet", "phone", "tablet-portrait", "small-tablet"])
def test_every_page_fits_the_screen_and_reads_right(seeded_rig, browser, viewport):  # noqa: F811
    rig = seeded_rig
    tab = StrictTab(browser, rig.url, viewport=viewport)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    newest = rig.service.store.sessions(limit=1)[0]
    try:
        login(tab)                           # the settings' and detail's controls as a coach sees them
        for name, path in PAGES + [("session_detail", f"/history/{newest['id']}")]:
            page = tab.goto(path)
            tab.connected()
            wait_for_page(page, name)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{viewport[0]}x{viewport[1]}.png"))
            assert layout_faults(page) == [], name
            assert leaked_words(page) == [], name
        assert tab.problems == [], tab.problems
    finally:
        tab.close()


def test_the_live_screen_says_what_the_target_and_the_flights_are(tmp_path, browser):  # noqa: F811
    rig = PanelRig(str(tmp_path))
    tab = StrictTab(browser, rig.url)
    try:
        page = tab.goto("/")
        tab.connected()
        # rails at rest: words, never a leaked value
        page.wait_for_selector('#rail-left:not(.absent)', timeout=WAIT_MS)
        assert page.locator("#rail-left .rail-grip").inner_text() == "Free"
        drill = rig.service.live.snapshot()["drill"]
        ceiling = {"firm": "at most a firm grip", "light": "at most a light touch", "hover": "hands off the rails"}
        # the target is a ceiling; no share is claimed before there is one
        assert page.locator(".target-line").inner_text() == f"Grip target: {ceiling[drill['grip']]}"
        assert page.locator("#within-target").inner_text() == "–"
        rig.rail("left", touch=True, force_n=0.7)
        rig.tread(1, True)
        rig.next("session_update")
        threading.Event().wait(0.6)
        rig.step_up(2, 1, hold_s=0.5)
        rig.next("session_update")
        page.wait_for_selector('#rail-left[data-grip="light"]', timeout=WAIT_MS)
        page.wait_for_function("() => document.getElementById('within-target').textContent !== '–'", timeout=WAIT_MS)
        shown = int(page.locator("#within-target").inner_text())
        assert page.locator("#within-fig").inner_text().endswith("of the time")
        pct = rig.service.live.snapshot()["session"]["within_target_pct"]
        assert abs(shown - pct) <= 1, (shown, pct)
        assert page.locator("#flights-split").inner_text() == "each pass up or down"     # no flight yet
        # a running session (and a banner, if the pace set one off) still fits the tablet's screen
        page.screenshot(path=str(SCREENSHOTS / "live-session-1280x800.png"))
        assert page.evaluate("document.documentElement.scrollHeight <= document.documentElement.clientHeight"), \
            page.evaluate("document.documentElement.scrollHeight")
        assert layout_faults(page) == []
        assert leaked_words(page) == []
        assert tab.problems == []
    finally:
        tab.close()
        rig.stop()


def test_the_live_screen_is_big_enough_to_read_from_three_metres(tmp_path, browser):  # noqa: F811
    """The sizes hardware_docs/tablet.md states, as the browser draws them at 1280x800."""
    rig = PanelRig(str(tmp_path))
    tab = StrictTab(browser, rig.url, viewport=TABLET)
    try:
        page = tab.goto("/")
        tab.connected()
        size = page.evaluate("""() => Object.fromEntries(
          [['label', '.fig .label'], ['value', '.fig .value'], ['target', '.target-line'], ['rail', '.rail-grip'],
           ['side', '.rail-side'], ['steps', '#steps'], ['footer', '.live-footer'], ['state', '#session-state'],
           ['nav', '.nav a'], ['banner', '.banner']]
          .map(([k, s]) => [k, parseFloat(getComputedStyle(document.querySelector(s)).fontSize)]))""")
        for key in ("label", "target", "side", "banner"):
            assert size[key] >= 40, (key, size)
        for key in ("value", "rail"):
            assert size[key] >= 64, (key, size)
        assert size["steps"] >= 190 and size["footer"] >= 28 and size["state"] >= 32 and size["nav"] >= 18, size
        assert layout_faults(page) == []
        # everything on one screen: no scrolling down to the footer on the tablet
        assert page.evaluate("document.documentElement.scrollHeight <= document.documentElement.clientHeight")
    finally:
        tab.close()
        rig.stop()


def test_progress_without_a_finished_session_explains_and_draws_no_empty_chart(tmp_path, browser):  # noqa: F811
    rig = PanelRig(str(tmp_path))
    tab = StrictTab(browser, rig.url, viewport=PHONE)
    try:
        page = tab.goto("/progress")
        tab.connected()
        page.wait_for_selector("#progress-empty", state="visible", timeout=WAIT_MS)
        assert "No finished session" in page.locator("#progress-empty").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "progress-empty-390x844.png"))
        assert page.locator(".chart-card:visible").count() == 0
        box = page.locator("#progress-empty").bounding_box()
        assert box["y"] + box["height"] <= PHONE[1]         # above the fold, on a phone too
        assert layout_faults(page) == [] and leaked_words(page) == []
        assert tab.problems == []
    finally:
        tab.close()
        rig.stop()


def test_progress_with_one_session_shows_every_reliance_mark(tmp_path, browser):  # noqa: F811
    seed_history(str(tmp_path), 1)
    rig = PanelRig(str(tmp_path))
    tab = StrictTab(browser, rig.url)
    try:
        page = tab.goto("/progress")
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-reliance'))",
                               timeout=WAIT_MS)
        marks = page.evaluate("""() => Chart.getChart(document.getElementById('chart-reliance')).data.datasets
          .map(d => ({label: d.label, style: d.pointStyle, radius: d.pointRadius, fill: d.backgroundColor,
                      value: d.data[0]}))""")
        assert len({m["style"] for m in marks}) == 3                  # each line its own mark
        contact, light = marks[0], marks[1]
        assert contact["label"].startswith("Rail contact") and light["label"].startswith("Light touch")
        # where contact and light touch meet, the contact ring is hollow and larger: the light-touch mark shows inside
        assert contact["fill"] == "transparent" and contact["radius"] > light["radius"]
        assert page.locator("#progress-empty").is_hidden()
        assert tab.problems == []
    finally:
        tab.close()
        rig.stop()


def test_settings_are_locked_and_say_how_to_set_a_pin(tmp_path, browser):  # noqa: F811
    rig = PanelRig(str(tmp_path), pin=None)
    tab = StrictTab(browser, rig.url, viewport=PHONE)
    try:
        page = tab.goto("/settings")
        tab.connected()
        page.wait_for_selector("#athletes-body tr", timeout=WAIT_MS)
        how = page.locator("#no-pin").inner_text()
        assert "[web]" in how and 'pin = "' in how and "docs/configuration.md" in how
        for control in page.locator("#athletes-body button, #athletes-body input, #add-athlete button, "
                                    "#add-athlete input").all():
            assert control.is_disabled()
        assert "no PIN is configured" in page.locator("#athletes-locked").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "settings-no-pin-390x844.png"), full_page=True)
        assert layout_faults(page) == [] and tab.problems == []
    finally:
        tab.close()
        rig.stop()


def test_settings_with_a_pin_ask_to_unlock_then_open(tmp_path, browser):  # noqa: F811
    rig = PanelRig(str(tmp_path))
    tab = StrictTab(browser, rig.url)
    try:
        page = tab.goto("/settings")
        tab.connected()
        page.wait_for_selector("#athletes-body tr", timeout=WAIT_MS)
        assert page.locator("#add-athlete button").is_disabled()
        assert page.locator("#athletes-body button").first.is_disabled()
        assert "unlock with the coach's PIN" in page.locator("#athletes-locked").inner_text()
        page.fill("#pin", PIN)
        page.click("#login-form button")
        page.wait_for_selector("#logged-in", state="visible", timeout=WAIT_MS)
        assert page.locator("#athletes-locked").is_hidden()
        assert page.locator("#add-athlete button").is_enabled()
        assert page.locator("#athletes-body button").first.is_enabled()
        assert tab.problems == []
    finally:
        tab.close()
        rig.stop()


def test_the_rig_check_says_connecting_until_its_stream_has_figures(tmp_path, browser):  # noqa: F811
    rig = PanelRig(str(tmp_path))
    tab = StrictTab(browser, rig.url)
    held = []
    try:
        # the live stream held back: the page has its channels from the API but no reading yet
        tab.page.route("**/events*", lambda route: held.append(route))
        page = tab.goto("/rigcheck")
        page.wait_for_selector("#channels-body tr", timeout=WAIT_MS)
        page.wait_for_selector("#calibration-body tr", timeout=WAIT_MS)
        values = page.eval_on_selector_all("#channels-body td.num", "cs => cs.map(c => c.textContent)")
        assert values and set(values) <= {"connecting…", ""}
        notes = page.locator("#channels-body").inner_text()
        assert "never" not in notes and "no reading yet" not in notes and " N" not in notes
        assert page.locator('#calibration-body td.num').first.inner_text() == "connecting…"
        # no walk test yet: said without asking for one that does not exist
        assert page.locator("#walk-prompt").inner_text() == "Not running."
        assert held                                   # the stream was asked for, and held
        assert tab.problems == []
    finally:
        tab.close()
        rig.stop()
