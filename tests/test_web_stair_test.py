"""A whole stair climb power test from the Tests page, in real Chromium, on the real service with the
simulated rig walked up its treads: the instructions shown and spoken, the countdown, the result timed
from the treads and kept in the history as a test (no session), and its display against the MDC, the
norm and the trend. The page is saved as a screenshot (docs/screenshots/stair-tests.png)."""

from __future__ import annotations

import threading

from tests.test_web_browser import (  # noqa: F401  (browser: the fixture)
    LAYOUT,
    SCREENSHOTS,
    WAIT_MS,
    PanelRig,
    Tab,
    assert_clean,
    browser,
    enable_sound,
    login,
)


def wait_state(rig, wanted, timeout_s=15.0):
    for _ in range(int(timeout_s / 0.05)):
        test = rig.service.live.snapshot()["stair_test"]
        if test is not None and test["state"] in wanted:
            return test
        threading.Event().wait(0.05)
    raise AssertionError(f"the stair test never reached {wanted}: {rig.service.live.snapshot()['stair_test']}")


def test_a_stair_climb_power_test_from_the_panel(tmp_path, browser):  # noqa: F811
    rig = PanelRig(str(tmp_path))
    tab = Tab(browser, rig.url)
    store = rig.service.store
    athlete = store.athletes()[0]
    rise_m = round((LAYOUT.treads - 1) * LAYOUT.riser_m, 4)
    # an earlier, much weaker test on the same flight: the new one is a real change against it
    store.add_stair_test(athlete_id=athlete["id"], kind="stair_climb_power", started_at="2026-01-05T10:00:00",
                         status="done", duration_s=6.0, steps=LAYOUT.treads, rise_m=rise_m, power_w=20.0,
                         power_w_per_kg=20.0 / athlete["weight_kg"], body_mass_kg=athlete["weight_kg"],
                         rails_used=False)
    store.flush()
    try:
        login(tab)
        page = tab.goto("/tests")
        tab.connected()
        enable_sound(page)
        page.wait_for_selector("#test-athlete option", state="attached", timeout=WAIT_MS)
        assert "climb to the top tread as quickly as you safely can" in page.locator("#test-instructions").inner_text()
        page.wait_for_selector("#test-start:enabled", timeout=WAIT_MS)
        page.click("#test-start")
        wait_state(rig, {"countdown"})
        page.wait_for_function("() => document.getElementById('test-state').textContent.includes('get ready')",
                               timeout=WAIT_MS)
        page.wait_for_selector("#test-cancel:enabled", timeout=WAIT_MS)
        wait_state(rig, {"running"})
        # up the flight, one tread at a time
        rig.tread(1, True)
        threading.Event().wait(0.4)
        for tread in range(2, LAYOUT.treads + 1):
            rig.step_up(tread, tread - 1, hold_s=0.4)
        test = wait_state(rig, {"done", "aborted", "invalid"})
        rig.tread(LAYOUT.treads, False)
        assert test["state"] == "done", test
        page.wait_for_function("() => document.getElementById('test-state').textContent.includes('done')",
                               timeout=WAIT_MS)
        # the stored result: a test, with its power, and no training session
        store.flush()
        tests = store.stair_tests(athlete["id"])
        assert len(tests) == 2 and tests[-1]["status"] == "done"
        kept = tests[-1]
        assert kept["power_w"] == test["power_w"] and kept["rise_m"] == rise_m
        assert abs(kept["power_w"] - athlete["weight_kg"] * 9.80665 * rise_m / kept["duration_s"]) < 0.2
        assert store.sessions() == []
        # its display: W, W/kg, the change against the last test by the MDC, the norm, the trend
        assert page.locator("#test-power").inner_text() == f"{round(kept['power_w'])} W"
        assert page.locator("#test-power-kg").inner_text() == f"{kept['power_w_per_kg']:.2f} W/kg"
        page.wait_for_function(
            "() => document.getElementById('test-comparison').textContent.startsWith('more power than the last test')",
            timeout=WAIT_MS)
        assert page.locator("#test-comparison").inner_text() == \
            "more power than the last test by more than the MDC (44 W): a real change"
        assert "no published norm found" in page.locator("#test-norm").inner_text()
        assert "44 W" in page.locator("#test-mdc").inner_text() and "Ni et al. 2017" in page.locator("#test-mdc").inner_text()
        points = page.evaluate("() => Chart.getChart(document.getElementById('chart-trend')).data.datasets[0].data")
        assert points == [20.0, kept["power_w"]]
        assert page.locator("#tests-body tr").count() == 2
        # what the athlete heard: the instructions, the countdown and go (spoken, or beeps without a voice)
        heard = page.evaluate("() => window.stairrig.sound.log.filter(c => c.name === 'stairtest').map(c => c.words)")
        assert any(w.startswith("Stair climb power test.") for w in heard)
        assert "Go!" in heard and any(w.startswith("Done.") for w in heard)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "stair-tests.png"), full_page=True)
        assert_clean(tab)
    finally:
        tab.close()
        rig.stop()
