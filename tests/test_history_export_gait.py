"""The gait figures in the exports and the progress rows, read in one query, on a real history."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from rig.history import HistoryStore, export_history_json, export_sessions_csv
from rig.history.export import CSV_COLUMNS, GAIT_CSV_COLUMNS, _cell
from rig.history.gait_rows import sessions_with_gait
from tests.gait_history import gait_for, seed_gait_history

END = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def history(tmp_path):
    store = HistoryStore.open(str(tmp_path / "data"))
    try:
        kim = store.add_athlete("Kim", 64.5)
        sam = store.add_athlete("=Sam", 80.0)
        ids = seed_gait_history(store, kim, 9, end=END)
        ids += seed_gait_history(store, sam, 4, end=END)
        # a running session (no summary yet) is exported too, with empty figures
        ids.append(store.begin_session(athlete_id=kim, started_at=END.isoformat(), drill=None, level=None,
                                       trace_path=None))
        yield store, kim, sam, ids
    finally:
        store.close()


def csv_as_before(store, athlete_id=None, session_id=None) -> str:
    """The CSV export as it was written before the one-query read: each row's gait figures from
    the whole session read again (the reference the new export must equal, byte for byte)."""
    import csv
    names = {a["id"]: a["name"] for a in store.athletes()}
    if session_id is not None:
        rows = [store.session(session_id)]
    else:
        rows = list(reversed(store.sessions(athlete_id=athlete_id)))
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for s in rows:
        summary = (store.session(s["id"]) or {}).get("summary")
        gait = (summary or {}).get("gait") or {}
        powers = [f["power_w"] for f in gait.get("flights") or () if f.get("power_w") is not None]
        cells = {"best_ascent_power_w": max(powers) if powers else None,
                 **{k: gait.get(k) for k in GAIT_CSV_COLUMNS if k != "best_ascent_power_w"}}
        record = {**s, "session_id": s["id"], "athlete": names.get(s["athlete_id"], ""),
                  "notes": s["notes_text"], **cells}
        writer.writerow([_cell(c, record.get(c)) for c in CSV_COLUMNS])
    return out.getvalue()


def export(store, **kw) -> str:
    out = io.StringIO(newline="")
    export_sessions_csv(store, out, **kw)
    return out.getvalue()


def test_the_csv_export_is_what_it_was_column_for_column_and_value_for_value(history):
    store, kim, sam, ids = history
    whole = export(store)
    assert whole == csv_as_before(store)
    assert whole.count("\n") == 1 + len(ids)
    assert export(store, athlete_id=sam) == csv_as_before(store, athlete_id=sam)
    assert export(store, session_id=ids[0]) == csv_as_before(store, session_id=ids[0])
    assert export(store, session_id=ids[-1]) == csv_as_before(store, session_id=ids[-1])   # still open
    # the figures are there (and empty for a session stored without them)
    import csv
    rows = list(csv.DictReader(io.StringIO(whole)))
    assert rows[0]["best_ascent_power_w"] == str(gait_for(0)["flights"][0]["power_w"])   # 120.25, not rounded
    assert rows[0]["step_time_cv"] == str(gait_for(0)["step_time_cv"])
    assert rows[2]["whole_foot_fraction"] == rows[2]["best_ascent_power_w"] == ""
    assert rows[9]["athlete"] == "'=Sam"
    with pytest.raises(ValueError, match="no session 9999"):
        export(store, session_id=9999)
    with pytest.raises(ValueError, match=f"no session {ids[0]} of athlete {sam}"):
        export(store, athlete_id=sam, session_id=ids[0])


def test_the_csv_export_reads_the_sessions_in_one_query_however_many_there_are(history):
    store, kim, sam, ids = history
    statements = []
    conn = store.read_connection()
    conn.set_trace_callback(statements.append)
    try:
        export(store)
    finally:
        conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # the athletes' names and the sessions with their figures: not one read per session
    assert len(selects) == 2, selects


def test_sessions_with_gait_keeps_a_period_and_ended_sessions(history):
    store, kim, sam, ids = history
    rows = sessions_with_gait(store, athlete_id=kim, ended=True,
                              since=(END - dt.timedelta(days=5)).isoformat(), until=END.isoformat())
    assert [r["started_at"][:10] for r in rows] == [(END - dt.timedelta(days=d)).date().isoformat()
                                                   for d in (4, 3, 2, 1)]
    assert all(r["status"] == "closed" for r in rows)
    assert isinstance(rows[0]["dizziness"], (bool, type(None)))


def test_the_progress_rows_carry_the_gait_figures_and_the_best_ascent(history):
    store, kim, sam, ids = history
    rows = store.progress(kim)
    assert len(rows) == 9
    for n, row in enumerate(rows):
        gait = gait_for(n)
        if gait is None:
            assert row["step_time_cv"] is row["whole_foot_fraction"] is row["best_ascent_power_w"] is None
        else:
            assert row["step_time_cv"] == gait["step_time_cv"]
            assert row["whole_foot_fraction"] == gait["whole_foot_fraction"]
            assert row["dwell_asymmetry"] == gait["dwell_asymmetry"]
            assert row["best_ascent_power_w"] == round(gait["flights"][0]["power_w"], 1)


def test_the_json_export_carries_every_gait_figure(history, tmp_path):
    store, kim, sam, ids = history
    out = tmp_path / "h.json"
    export_history_json(store, str(out), athlete_id=kim)
    sessions = json.loads(out.read_text())["athletes"][0]["sessions"]
    assert sessions[0]["summary"]["gait"] == gait_for(0)
    assert "gait" not in sessions[2]["summary"]
    assert [f["power_w"] for f in sessions[0]["flights"]] == [120.2, None, 115.8]


def test_the_json_export_carries_the_athletes_stair_tests(history, tmp_path):
    store, kim, sam, ids = history
    store.add_stair_test(athlete_id=kim, kind="stair_climb_power", started_at=END.isoformat(), status="done",
                         duration_s=4.2, steps=10, rise_m=1.7, power_w=252.3, power_w_per_kg=3.91, body_mass_kg=64.5)
    store.flush()
    out = tmp_path / "h.json"
    export_history_json(store, str(out))
    athletes = {a["name"]: a for a in json.loads(out.read_text())["athletes"]}
    assert [(t["kind"], t["power_w"], t["power_w_per_kg"]) for t in athletes["Kim"]["stair_tests"]] == \
        [("stair_climb_power", 252.3, 3.91)]
    assert athletes["=Sam"]["stair_tests"] == []
