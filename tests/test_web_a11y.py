"""Accessibility of every page of the panel: axe-core (the copy bundled with axe-playwright-python,
nothing fetched) run in Chromium on the real panel, at a tablet's and a phone's size, logged out
(controls locked) and logged in (controls open). No serious or critical violation may remain:
contrast, names of controls, landmarks, ARIA used as allowed.

The fixtures are tests/test_web_browser.py's.
"""

from __future__ import annotations

import pytest

from tests.test_web_browser import WAIT_MS, PanelRig, Tab, browser, login, seed_history  # noqa: F401 (a fixture)
from tests.test_web_browser import pytestmark  # noqa: F401  (skipped without Chromium)
from tests.test_web_layout import PAGES, wait_for_page

BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe
    return Axe()


@pytest.fixture(scope="module")
def seeded_rig(tmp_path_factory, browser):  # noqa: F811
    data_dir = tmp_path_factory.mktemp("a11y")
    seed_history(str(data_dir), 5)
    rig = PanelRig(str(data_dir))
    try:
        yield rig
    finally:
        rig.stop()


def blocking_violations(axe, page) -> list[str]:
    results = axe.run(page)
    found = []
    for v in results.response["violations"]:
        if v["impact"] in BLOCKING:
            targets = [", ".join(n["target"]) for n in v["nodes"]][:4]
            found.append(f"{v['impact']} {v['id']}: {v['help']} at {targets}")
    return found


@pytest.mark.parametrize("viewport,coach", [((1280, 800), False), ((1280, 800), True), ((390, 844), False)],
                         ids=["tablet", "tablet-unlocked", "phone"])
def test_no_serious_or_critical_violation_on_any_page(seeded_rig, browser, axe, viewport, coach):  # noqa: F811
    rig = seeded_rig
    tab = Tab(browser, rig.url, viewport=viewport)
    newest = rig.service.store.sessions(limit=1)[0]
    try:
        if coach:
            login(tab)
        found = {}
        for name, path in PAGES + [("session_detail", f"/history/{newest['id']}")]:
            page = tab.goto(path)
            tab.connected()
            wait_for_page(page, name)
            problems = blocking_violations(axe, page)
            if problems:
                found[name] = problems
        assert found == {}
    finally:
        tab.close()


def test_the_fall_alarm_and_an_empty_progress_page_pass_too(tmp_path, browser, axe):  # noqa: F811
    rig = PanelRig(str(tmp_path))
    tab = Tab(browser, rig.url)
    try:
        page = tab.goto("/progress")
        tab.connected()
        page.wait_for_selector("#progress-empty", state="visible", timeout=WAIT_MS)
        assert blocking_violations(axe, page) == []
        # the full-screen alarm (a test of it, raised as the rig check does)
        rig.service.commands.test_fall_alarm("a11y test")
        page.wait_for_selector("#alarm", state="visible", timeout=WAIT_MS)
        assert blocking_violations(axe, page) == []
    finally:
        tab.close()
        rig.stop()
