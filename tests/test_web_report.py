"""The coach's report and the Progress page's gait charts in a real browser (Debian's Chromium).

The report is printed to a PDF by Chromium itself (``page.pdf``, print media, A4) and the PDF's
text read back with pypdf: the athlete's name, the period, a session's figures and a pain note are
on paper, the panel's bar and buttons are not, and four weeks of daily sessions fit two pages.
The JSON form and the refusals (bad dates, no such athlete) are checked over HTTP.
The fixtures are tests/test_web_browser.py's; screens go to tests/out/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import json
import urllib.error
import urllib.request

import pytest

from rig.history import HistoryStore
from tests.gait_history import gait_for, note_for, seed_gait_history
from tests.test_web_browser import SCREENSHOTS, WAIT_MS, PanelRig, Tab, browser  # noqa: F401 (a fixture)
from tests.test_web_browser import pytestmark  # noqa: F401  (skipped without Chromium)
from tests.test_web_layout import PHONE, TABLET, StrictTab, layout_faults, leaked_words

DAYS = 28
NAME = "Ana Reportwriter"


def seed(data_dir: str) -> dict:
    """Four weeks of daily sessions up to today (local dates, as the report's default period),
    with gait figures, notes and two stair tests; returns ids and what to look for."""
    now = dt.datetime.now(dt.timezone.utc)
    with HistoryStore.open(data_dir) as store:
        store.ensure_default_athlete("Test", 70.0)
        ana = store.add_athlete(NAME, 62.5)
        # the last session today, at noon local time: in the default period whatever the zone
        noon = dt.datetime.combine(dt.date.today(), dt.time(12)).astimezone()
        ids = seed_gait_history(store, ana, DAYS, end=noon.astimezone(dt.timezone.utc) + dt.timedelta(days=1))
        store.update_athlete(ana, level=store.session(ids[-1])["level"])    # as the rig moves the athlete on
        store.add_stair_test(athlete_id=ana, kind="stair_climb_power", started_at=(now - dt.timedelta(days=20)).isoformat(),
                             status="done", duration_s=4.31, steps=10, rise_m=1.7, power_w=241.7, power_w_per_kg=3.87,
                             body_mass_kg=62.5, note=None)
        store.add_stair_test(athlete_id=ana, kind="stair_climb_power", started_at=(now - dt.timedelta(days=10)).isoformat(),
                             status="aborted", duration_s=None, steps=3, rise_m=0.5, power_w=None, power_w_per_kg=None,
                             body_mass_kg=62.5, note="stopped: a stall")
        store.add_stair_test(athlete_id=ana, kind="timed_stair_climb", started_at=(now - dt.timedelta(days=2)).isoformat(),
                             status="done", duration_s=9.86, steps=20, rise_m=1.7, power_w=None, power_w_per_kg=None,
                             body_mass_kg=62.5, rails_used=False)
        store.flush()
        sessions = [store.session(i) for i in ids]
    return {"athlete_id": ana, "ids": ids, "sessions": sessions}


@pytest.fixture(scope="module")
def report_rig(tmp_path_factory, browser):  # noqa: F811
    data_dir = tmp_path_factory.mktemp("report")
    seeded = seed(str(data_dir))
    rig = PanelRig(str(data_dir))
    try:
        yield rig, seeded
    finally:
        rig.stop()


def get(rig, path: str) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(rig.url.rstrip("/") + path, timeout=10) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def pdf_text(pdf: bytes) -> tuple[int, str]:
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_report_prints_on_at_most_two_a4_pages_with_the_athletes_figures(report_rig, browser):  # noqa: F811
    rig, seeded = report_rig
    tab = StrictTab(browser, rig.url, viewport=TABLET)
    try:
        page = tab.goto(f"/athletes/{seeded['athlete_id']}/report")
        assert tab.response.status == 200
        tab.connected()
        page.wait_for_selector("#sessions-table tbody tr", timeout=WAIT_MS)
        page.screenshot(path=str(SCREENSHOTS / "coach-report-1280x800.png"), full_page=True)
        assert layout_faults(page) == [] and leaked_words(page) == []
        pdf = page.pdf(format="A4", print_background=True)
        # how it looks on paper (A4's width at 96 dpi), for the docs
        page.emulate_media(media="print")
        page.set_viewport_size({"width": 794, "height": 1123})
        page.screenshot(path=str(SCREENSHOTS / "coach-report-print.png"), full_page=True)
        assert tab.problems == []
    finally:
        tab.close()
    (SCREENSHOTS / "coach-report.pdf").write_bytes(pdf)
    pages, text = pdf_text(pdf)
    text = flat(text)
    assert pages <= 2, pages
    assert NAME in text
    first, last = dt.date.today() - dt.timedelta(days=DAYS - 1), dt.date.today()
    assert f"Period: {first:%a} {first.day} {first:%b %Y} to {last:%a} {last.day} {last:%b %Y} ({DAYS} days)" in text
    assert f"{DAYS} sessions" in text
    # a session's figures: its step time, variability and best ascent, as the table prints them
    n = DAYS - 1                              # the newest session, today
    gait = gait_for(n) or gait_for(n - 1)
    assert f"{gait['step_time_s']:.2f} s" in text and f"{gait['step_time_cv'] * 100:.1f} %" in text
    assert f"{gait['flights'][0]['power_w']:.0f} W" in text
    # every pain note is on paper, with its words
    pains = [note_for(k)["text"] for k in range(DAYS) if note_for(k) and note_for(k)["pain"] >= 1]
    assert pains and all(p in text for p in pains)
    assert "light-headed at the top" in text
    # the stair tests
    assert "Stair climb power" in text and "242 W" in text and "3.87 W/kg" in text and "9.86 s" in text
    assert "aborted: stopped: a stall" in text
    # paper has no bar and no control
    assert "Rig check" not in text and "Print or save as PDF" not in text and "Back to Progress" not in text


def test_the_report_on_a_phone_fits_and_reads_right(report_rig, browser):  # noqa: F811
    rig, seeded = report_rig
    tab = StrictTab(browser, rig.url, viewport=PHONE)
    try:
        page = tab.goto(f"/athletes/{seeded['athlete_id']}/report")
        tab.connected()
        page.wait_for_selector("#sessions-table tbody tr", timeout=WAIT_MS)
        page.screenshot(path=str(SCREENSHOTS / "coach-report-390x844.png"))
        assert layout_faults(page) == [] and leaked_words(page) == []
        assert tab.problems == []
    finally:
        tab.close()


def test_a_period_without_sessions_says_so_on_paper(report_rig, browser):  # noqa: F811
    rig, seeded = report_rig
    tab = StrictTab(browser, rig.url)
    try:
        page = tab.goto(f"/athletes/{seeded['athlete_id']}/report?from=2020-01-01&to=2020-01-28")
        tab.connected()
        assert page.locator("#report-totals").inner_text() == "No training session in this period."
        pages, text = pdf_text(page.pdf(format="A4"))
        assert pages == 1 and "No training session in this period." in flat(text)
        assert "No pain or dizziness noted in this period." in flat(text)
        assert tab.problems == []
    finally:
        tab.close()


def test_the_report_page_refuses_bad_dates_with_a_sentence_and_an_unknown_athlete_with_404(report_rig):
    rig, seeded = report_rig
    aid = seeded["athlete_id"]
    status, body, headers = get(rig, f"/athletes/{aid}/report?from=2026-02-30")
    assert status == 400 and headers["Content-Type"].startswith("text/html")
    assert "from must be a date as YYYY-MM-DD" in body and 'type="date"' in body    # the picker to put it right
    status, body, _ = get(rig, "/athletes/9999/report")
    assert status == 404 and "Not found" in body or "not a page" in body


def test_the_report_as_json(report_rig):
    rig, seeded = report_rig
    aid = seeded["athlete_id"]
    status, body, _ = get(rig, f"/api/athletes/{aid}/report")
    assert status == 200
    report = json.loads(body)
    assert report["athlete"]["name"] == NAME and report["period"]["days"] == DAYS
    assert [s["id"] for s in report["sessions"]] == seeded["ids"]
    assert [(t["kind"], t["status"]) for t in report["stair_tests"]] == \
        [("stair_climb_power", "done"), ("stair_climb_power", "aborted"), ("timed_stair_climb", "done")]
    first = dt.date.today() - dt.timedelta(days=6)
    status, body, _ = get(rig, f"/api/athletes/{aid}/report?from={first.isoformat()}")
    assert status == 200 and len(json.loads(body)["sessions"]) == 7
    status, body, _ = get(rig, f"/api/athletes/{aid}/report?to=tomorrow")
    assert status == 400 and json.loads(body)["error"].startswith("to must be a date")
    status, body, _ = get(rig, f"/api/athletes/{aid}/report?from=2026-03-02&to=2026-03-01")
    assert status == 400 and "after" in json.loads(body)["error"]
    status, body, _ = get(rig, "/api/athletes/9999/report")
    assert status == 404 and "no athlete with id 9999" in json.loads(body)["error"]


def progress_charts(page) -> dict:
    return page.evaluate("""() => Object.fromEntries(
      ['chart-steadiness', 'chart-whole-foot', 'chart-asymmetry', 'chart-power'].map(id =>
        [id, Chart.getChart(document.getElementById(id)).data.datasets.map(d => ({label: d.label, data: d.data,
                                                                                  dash: d.borderDash || null}))]))""")


@pytest.mark.parametrize("viewport", [TABLET, PHONE], ids=["tablet", "phone"])
def test_progress_charts_the_gait_figures_with_gaps_and_the_plans_marks(report_rig, browser, viewport):  # noqa: F811
    rig, seeded = report_rig
    tab = StrictTab(browser, rig.url, viewport=viewport)
    try:
        page = tab.goto(f"/progress?athlete_id={seeded['athlete_id']}")
        tab.connected()
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('chart-power'))",
                               timeout=WAIT_MS)
        charts = progress_charts(page)
        rows = seeded["sessions"]
        n = len(rows)
        gaits = [s["summary"].get("gait") or {} for s in rows]
        steadiness, cv_mark = charts["chart-steadiness"]
        assert steadiness["data"] == [None if g.get("step_time_cv") is None else math.floor(g["step_time_cv"] * 1000 + 0.5) / 10
                                      for g in gaits]
        assert None in steadiness["data"]                                  # a session without it: a gap
        assert cv_mark["data"] == [10] * n and cv_mark["dash"]
        asymmetry, flag = charts["chart-asymmetry"]
        assert flag["data"] == [15] * n and "15 %" in flag["label"]
        assert max(v for v in asymmetry["data"] if v is not None) == 21
        whole, _ = charts["chart-whole-foot"]
        assert whole["data"][0] == 70 and whole["data"][2] is None
        watts, per_kg = charts["chart-power"]
        best = [max((f["power_w"] for f in s["flights"] if f["power_w"] is not None), default=None) for s in rows]
        assert watts["data"] == best
        assert per_kg["data"] == [None if w is None else round(w / 62.5 * 100) / 100 for w in best]
        # the stair tests: each finished one, power and time on their own axes; the aborted one left out
        page.wait_for_function("() => Chart.getChart(document.getElementById('chart-stair-tests'))", timeout=WAIT_MS)
        tests = page.evaluate("""() => Chart.getChart(document.getElementById('chart-stair-tests')).data.datasets
          .map(d => ({label: d.label, data: d.data, axis: d.yAxisID || 'y'}))""")
        assert tests == [{"label": "Stair climb power (W)", "data": [241.7, None], "axis": "y"},
                         {"label": "Timed stair climb (s)", "data": [None, 9.86], "axis": "seconds"}]
        assert page.locator("#stair-tests-empty").is_hidden()
        note = page.locator("#gait-charts").inner_text()
        assert "A gap in a line is a session without that figure" in note
        page.screenshot(path=str(SCREENSHOTS / f"progress-gait-full-{viewport[0]}x{viewport[1]}.png"), full_page=True)
        page.evaluate("document.getElementById('gait-charts').scrollIntoView()")
        page.screenshot(path=str(SCREENSHOTS / f"progress-gait-{viewport[0]}x{viewport[1]}.png"))
        assert layout_faults(page) == [] and leaked_words(page) == []

        # the coach's report from here, for the period picked
        first = dt.date.today() - dt.timedelta(days=6)
        page.fill("#report-from", first.isoformat())
        page.click("#report-open")
        page.wait_for_selector("#report-period", timeout=WAIT_MS)
        assert page.url.endswith(f"/athletes/{seeded['athlete_id']}/report?from={first.isoformat()}"
                                 f"&to={dt.date.today().isoformat()}")
        assert page.locator("#report-totals").inner_text().startswith("7 sessions")
        assert tab.problems == []
    finally:
        tab.close()


def test_progress_without_stair_tests_says_where_to_run_one(report_rig, browser):  # noqa: F811
    rig, seeded = report_rig
    tab = StrictTab(browser, rig.url, viewport=PHONE)
    try:
        page = tab.goto("/progress?athlete_id=1")          # the configuration's athlete: no test, no session
        tab.connected()
        page.wait_for_selector("#stair-tests-empty", state="visible", timeout=WAIT_MS)
        assert "No finished stair test yet" in page.locator("#stair-tests-empty").inner_text()
        assert page.locator("#stair-tests-box").is_hidden()
        page.wait_for_selector("#report-open:enabled", timeout=WAIT_MS)
        assert page.locator("#report-form").get_attribute("action") == "/athletes/1/report"
        assert layout_faults(page) == [] and leaked_words(page) == [] and tab.problems == []
    finally:
        tab.close()
