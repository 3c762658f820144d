"""A test of the fall alarm in a real browser: behind the PIN on the rig check, the overlay says TEST,
and "I'm OK" clears it. The same Chromium, panel and simulated rig as tests/test_web_browser.py."""

from __future__ import annotations

import os

import pytest

from tests.test_web_browser import CHROMIUM, SCREENSHOTS, WAIT_MS, PanelRig, Tab, assert_clean, post_from_page
from tests.test_web_browser import browser  # noqa: F401  (the module's Chromium, a fixture)
from tests.test_web_browser import login as pin_login

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"no Chromium at {CHROMIUM}: `apt install chromium` (./dev.sh test does)")


@pytest.fixture
def rig(tmp_path):
    r = PanelRig(str(tmp_path))
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def tab(browser, rig):  # noqa: F811
    t = Tab(browser, rig.url)
    try:
        yield t
    finally:
        t.close()


def test_the_alarm_test_needs_the_pin_says_test_and_im_ok_clears_it(rig, tab):
    page = tab.goto("/rigcheck")
    tab.connected()
    # not logged in: locked, with the reason; the server refuses too
    assert page.locator("#alarm-test-start").is_disabled()
    assert "unlock with the coach's PIN" in page.locator("#alarm-test-locked").inner_text()
    refused = post_from_page(page, "/api/commands/test_fall_alarm", {})
    assert refused["status"] == 401 and "PIN" in refused["error"]
    assert page.locator("#alarm").is_hidden() and rig.service.engine.fall_alarm is None

    pin_login(tab)
    page = tab.goto("/rigcheck")
    tab.connected()
    assert page.locator("#alarm-test-locked").is_hidden()
    page.click("#alarm-test-start")
    raised, state = rig.next("fall_suspected")
    assert raised["test"] is True and raised["by"] == "panel" and state["alarm"]["test"] is True
    page.wait_for_selector("#alarm", state="visible", timeout=WAIT_MS)
    assert "TEST" in page.locator("#alarm-title").inner_text()
    assert "TEST" in page.locator("#alarm-detail").inner_text()
    assert page.locator("#alarm").get_attribute("data-test") == "true"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "alarm-test.png"))
    page.click("#alarm-ok")
    ack, state = rig.next("fall_acknowledged")
    assert ack["test"] is True and ack["by"] == "panel" and state["alarm"] is None
    page.wait_for_selector("#alarm", state="hidden", timeout=WAIT_MS)
    assert_clean(tab)

