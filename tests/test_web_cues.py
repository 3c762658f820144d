"""The live screen's "whole foot" cue (issue 13) in a real browser, on the real service with a
simulated rig whose treads are split into a front (nosing side) and a back (riser side) half.

A step's whole-foot verdict goes from the pins through the detector (a ``placement`` event when
its tread empties), the bus and the event stream to cues.js: spoken (its log) when the step was
not whole-foot and was taken in the drill's facing, and shown for a few seconds. Off until it is
switched on; no cue for a whole-foot step, for a step facing the other way, or with its switch off.

The fixtures (Chromium, Tab, PanelRig) are tests/test_web_browser.py's; PanelRig's layout is
swapped for a split one here.
"""

from __future__ import annotations

import threading

import pytest

import tests.test_web_browser as web_browser
from rig.layout import RigLayout
from tests.test_web_browser import SCREENSHOTS, WAIT_MS, PanelRig, Tab, assert_clean, browser, enable_sound  # noqa: F401
from tests.test_web_browser import pytestmark  # noqa: F401  (skipped without Chromium)

SPLIT = RigLayout(treads=3, split=True, rails={"left": ("touch", "force"), "right": ("touch",)})
HOLD_S = 0.3          # a foot on a tread: well over the minimum contact (sets up the walk, asserts nothing)
GAP_S = 0.06          # the second half after the first: well over the facing simultaneity (15 ms)


class SplitPanelRig(PanelRig):
    TYPES = PanelRig.TYPES | {"placement"}       # the bus events a test may wait for


@pytest.fixture
def split_rig(tmp_path, monkeypatch):
    monkeypatch.setattr(web_browser, "LAYOUT", SPLIT)
    r = SplitPanelRig(str(tmp_path))
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def tab(browser, split_rig):  # noqa: F811
    t = Tab(browser, split_rig.url)
    try:
        yield t
    finally:
        t.close()


def press(rig: PanelRig, tread: int, halves: tuple[str, ...]) -> dict:
    """A step onto ``tread`` from the floor (an up step), the halves landing in that order; the foot
    leaves again. Returns the core's verdict as the bus carried it."""
    for k, half in enumerate(halves):
        if k:
            threading.Event().wait(GAP_S)
        rig.sim.set_sample(f"tread.{tread}.{half}", 1)
    threading.Event().wait(HOLD_S)
    for half in halves:
        rig.sim.set_sample(f"tread.{tread}.{half}", 0)
    return rig.next("placement", tread=tread)[0]


def cue_log(page) -> list[dict]:
    return page.evaluate("window.stairrig.sound.log.filter(c => c.name === 'wholefoot')")


def open_live(tab: Tab, *, switch_on: bool):
    page = tab.goto("/")
    tab.connected()
    enable_sound(page)
    page.click("#cue-settings summary")
    assert page.is_checked('input[data-cue="wholefoot"]') is False      # optional: off until switched on
    assert page.is_disabled('input[data-cue="wholefoot"]') is False     # split treads: it can tell
    if switch_on:
        page.check('input[data-cue="wholefoot"]')
    page.click("#cue-settings summary")                                   # closed again: the screen as it is
    return page


def test_a_partial_step_in_the_drills_facing_is_heard_and_shown(split_rig, tab):
    split_rig.service.commands.set_drill(facing="forward")
    page = open_live(tab, switch_on=True)
    verdict = press(split_rig, 1, ("back",))       # forward up: riser side first; the heel never came down
    assert (verdict["whole_foot"], verdict["half"], verdict["facing"]) == (False, "back", "forward")
    page.wait_for_function("() => window.stairrig.sound.log.some(c => c.name === 'wholefoot' && c.played)",
                           timeout=WAIT_MS)
    assert [(c["words"], c["played"]) for c in cue_log(page)] == [("Whole foot on the step", True)]
    banner = page.wait_for_selector("#placement-banner", state="visible", timeout=WAIT_MS)
    assert banner.inner_text() == "Whole foot on the step (tread 1)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "live-whole-foot.png"))
    assert page.evaluate("document.documentElement.scrollHeight <= document.documentElement.clientHeight")
    assert_clean(tab)


def test_whole_foot_and_other_facing_steps_get_no_cue(split_rig, tab):
    split_rig.service.commands.set_drill(facing="forward")
    page = open_live(tab, switch_on=True)
    whole = press(split_rig, 1, ("back", "front"))          # both halves, riser side first: forward
    assert (whole["whole_foot"], whole["facing"]) == (True, "forward")
    turned = press(split_rig, 1, ("front",))                 # nosing side only, going up: facing backward
    assert (turned["whole_foot"], turned["facing"]) == (False, "backward")
    partial = press(split_rig, 1, ("back",))                 # then one in the drill's facing
    assert (partial["whole_foot"], partial["facing"]) == (False, "forward")
    # the stream keeps the order: once the last verdict is cued, the two before it were seen and passed over
    page.wait_for_function("() => window.stairrig.sound.log.some(c => c.name === 'wholefoot')", timeout=WAIT_MS)
    assert [c["words"] for c in cue_log(page)] == ["Whole foot on the step"]
    assert_clean(tab)


def test_switched_off_the_cue_is_neither_heard_nor_shown(split_rig, tab):
    split_rig.service.commands.set_drill(facing="forward")
    page = open_live(tab, switch_on=False)
    press(split_rig, 1, ("back",))
    page.wait_for_function("() => window.stairrig.sound.log.some(c => c.name === 'wholefoot')", timeout=WAIT_MS)
    assert [c["played"] for c in cue_log(page)] == [False]
    assert page.is_hidden("#placement-banner")
    assert_clean(tab)


def test_walking_backward_the_words_ask_for_the_heel(split_rig, tab):
    split_rig.service.commands.set_drill(facing="backward")
    page = open_live(tab, switch_on=True)
    verdict = press(split_rig, 1, ("front",))     # backward up: nosing side first, the heel not down
    assert (verdict["whole_foot"], verdict["facing"]) == (False, "backward")
    page.wait_for_function("() => window.stairrig.sound.log.some(c => c.name === 'wholefoot' && c.played)",
                           timeout=WAIT_MS)
    assert [c["words"] for c in cue_log(page)] == ["Heel down, whole foot on the step"]
    assert_clean(tab)


def test_without_split_treads_the_switch_is_disabled_and_says_why(tmp_path, browser):  # noqa: F811
    rig = PanelRig(str(tmp_path))               # tests/test_web_browser.py's layout: whole treads
    tab = Tab(browser, rig.url)
    try:
        page = tab.goto("/")
        tab.connected()
        page.click("#cue-settings summary")
        page.wait_for_selector('input[data-cue="wholefoot"]:disabled', timeout=WAIT_MS)
        assert page.is_checked('input[data-cue="wholefoot"]') is False
        assert "not split" in page.locator("#wholefoot-note").inner_text()
        assert page.is_enabled('input[data-cue="grab"]')
        assert_clean(tab)
    finally:
        tab.close()
        rig.stop()
