"""Sessions with their gait figures, read in one query (the CSV export, the coach's report).

A session's compact row (``store.sessions()``) has no summary; the gait
figures beyond the three the progression reads live in the summary's
``gait`` (docs/trace-format.md, "Gait figures"). Reading each session's
whole summary to get them cost one query per row; here SQLite's JSON
functions take them out of the summary in the same query as the rows
(``rows.GAIT_SUMMARY_COLUMNS``), and each number comes back exactly as the
summary holds it.
"""

from __future__ import annotations

import json

from rig.history.rows import _SESSION_COLUMNS, GAIT_SUMMARY_COLUMNS

#: the gait figures each row carries (None: the session has no such figure)
GAIT_FIGURES = tuple(GAIT_SUMMARY_COLUMNS)


def sessions_with_gait(store, *, athlete_id: int | None = None, session_id: int | None = None,
                       since: str | None = None, until: str | None = None, ended: bool = False) -> list[dict]:
    """The sessions' compact rows (as ``store.sessions()``), oldest id first, each with the gait
    figures of ``GAIT_FIGURES``. ``since``/``until``: ISO times in UTC (as stored), the start at or
    after ``since`` and before ``until``; ``ended``: closed or recovered sessions only."""
    where, params = [], []
    for clause, value in (("athlete_id = ?", athlete_id), ("id = ?", session_id),
                          ("started_at >= ?", since), ("started_at < ?", until)):
        if value is not None:
            where.append(clause)
            params.append(value)
    if ended:
        where.append("status != 'open'")
    gait = ", ".join(f"{sql} AS {name}" for name, sql in GAIT_SUMMARY_COLUMNS.items())
    sql = f"SELECT {', '.join(_SESSION_COLUMNS)}, {gait} FROM sessions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = store._rows(sql + " ORDER BY id", params)
    for r in rows:
        r["trace_path"] = store._abs_trace(r["trace_path"])
        if r["dizziness"] is not None:
            r["dizziness"] = bool(r["dizziness"])
        for name in GAIT_FIGURES:
            if r[name] is not None:
                r[name] = json.loads(r[name])
    return rows
