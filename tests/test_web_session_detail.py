"""The session detail page's Delete, in a real browser: without the coach's PIN the server refuses
it (401, or 403 with no PIN configured), so the button is locked before anyone tries and a note
says how to unlock it, as Settings does; unlocked, it deletes.

The fixtures (Chromium, Tab, PanelRig, a seeded history) are tests/test_web_browser.py's.
"""

from __future__ import annotations

from tests.test_web_browser import (WAIT_MS, PanelRig, Tab, assert_clean, browser,  # noqa: F401 (a fixture)
                                    login, seed_history)
from tests.test_web_browser import pytestmark  # noqa: F401  (skipped without Chromium)


def open_newest(tab: Tab, rig: PanelRig) -> tuple:
    newest = rig.service.store.sessions(limit=1)[0]
    page = tab.goto(f"/history/{newest['id']}")
    tab.connected()
    page.wait_for_selector("#flights-body tr", timeout=WAIT_MS)
    return page, newest["id"]


def delete_from_page(page, session_id: int) -> int:
    """The DELETE the page's own script would send (with its CSRF token): the status."""
    return page.evaluate("""async (id) => {
      const token = document.querySelector('meta[name="csrf-token"]').content;
      const r = await fetch(`/api/sessions/${id}`, {method: 'DELETE', credentials: 'same-origin',
        headers: {'X-CSRF-Token': token}});
      return r.status;
    }""", session_id)


def test_delete_is_locked_without_the_pin_and_says_how_to_unlock(tmp_path, browser):  # noqa: F811
    seed_history(str(tmp_path), 2)
    rig = PanelRig(str(tmp_path))
    tab = Tab(browser, rig.url)
    try:
        page, session_id = open_newest(tab, rig)
        assert page.is_disabled("#delete-session")
        note = page.locator("#delete-locked")
        assert note.is_visible() and "unlock with the coach's PIN under Settings" in note.inner_text()
        assert delete_from_page(page, session_id) == 401          # what the button would have met
        assert rig.service.store.session(session_id) is not None
        login(tab)
        page, session_id = open_newest(tab, rig)
        assert page.is_enabled("#delete-session")
        assert page.locator("#delete-locked").is_hidden()
        page.click("#delete-session")                             # the confirmation dialog is accepted
        page.wait_for_url("**/history", timeout=WAIT_MS)
        rig.service.store.flush()
        assert rig.service.store.session(session_id) is None
        assert_clean(tab)
    finally:
        tab.close()
        rig.stop()


def test_without_a_pin_configured_delete_says_how_to_set_one(tmp_path, browser):  # noqa: F811
    seed_history(str(tmp_path), 1)
    rig = PanelRig(str(tmp_path), pin=None)
    tab = Tab(browser, rig.url)
    try:
        page, session_id = open_newest(tab, rig)
        assert page.is_disabled("#delete-session")
        assert "no PIN is configured. Settings says how to set one" in page.locator("#delete-locked").inner_text()
        assert rig.service.store.session(session_id) is not None
        assert_clean(tab)
    finally:
        tab.close()
        rig.stop()
