"""The standard stair tests of the history: a timed stair climb or a stair climb power test.

A test is never a training session: it has its own table (schema version 3),
is not in ``sessions()``, ``progress()`` or the step totals, and is trended on
its own (``stair_tests()``). The runner that produces a result is
``rig/core/stairtest.py``; the protocol and its sources are in
docs/stair-tests.md.

A result is written like a session's end: queued to the writer thread
(``_submit``), committed with the next batch, and while the disk is full it
waits in the writer's backlog and is written when there is room again (see
writer.py). Bad values are refused at once with a ``ValueError`` naming the
field, before anything is queued.
"""

from __future__ import annotations

import datetime as dt
import json
import math

from rig.history.rows import _dumps, normalise_time

#: the kinds of test the rig runs (docs/stair-tests.md)
STAIR_TEST_KINDS = ("timed_stair_climb", "stair_climb_power")
#: done: a valid result; aborted: stopped (a stall, a fall, a timeout, cancelled);
#: invalid: finished, but against the protocol (e.g. a rail used where it forbids them)
STAIR_TEST_STATUSES = ("done", "aborted", "invalid")

_COLUMNS = ("id", "athlete_id", "kind", "started_at", "duration_s", "steps", "rise_m", "power_w",
            "power_w_per_kg", "body_mass_kg", "added_load_kg", "rails_used", "status", "note", "detail_json")


def _optional_number(value, what: str, *, integer: bool = False, minimum: float | None = None):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    if integer and int(value) != value:
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be at least {minimum:g}, not {value!r}")
    return int(value) if integer else float(value)


def _bound(value: str, what: str, *, end: bool) -> str:
    """A ``since``/``until`` bound as stored times compare: a date alone is its whole day."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{what} {value!r} is not an ISO-8601 date or time") from None
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        return (start + dt.timedelta(days=1) if end else start).isoformat()
    return normalise_time(value, what)


def stair_test_row(row: dict) -> dict:
    """A stored row as callers get it: rails_used a bool (or None), the protocol details a dict."""
    out = dict(row)
    if out.get("rails_used") is not None:
        out["rails_used"] = bool(out["rails_used"])
    raw = out.pop("detail_json", None)
    out["detail"] = json.loads(raw) if raw else {}
    return out


class StairTestsMixin:
    """``HistoryStore``'s stair tests (see store.py for ``_submit``, ``_read`` and ``_rows``)."""

    def add_stair_test(self, *, athlete_id: int, kind: str, started_at: str, status: str,
                       duration_s: float | None, steps: int | None, rise_m: float | None,
                       power_w: float | None, power_w_per_kg: float | None, body_mass_kg: float | None,
                       added_load_kg: float | None = 0.0, rails_used: bool | None = None,
                       note: str | None = None, detail: dict | None = None) -> None:
        """Keep one test's result (queued like a session's end; ``flush()`` to read it back)."""
        if kind not in STAIR_TEST_KINDS:
            raise ValueError(f"kind must be one of {STAIR_TEST_KINDS}, not {kind!r}")
        if status not in STAIR_TEST_STATUSES:
            raise ValueError(f"status must be one of {STAIR_TEST_STATUSES}, not {status!r}")
        if isinstance(athlete_id, bool) or not isinstance(athlete_id, int):
            raise ValueError(f"athlete_id must be a whole number, not {athlete_id!r}")
        if rails_used is not None and not isinstance(rails_used, bool):
            raise ValueError(f"rails_used must be True, False or None, not {rails_used!r}")
        if note is not None and not isinstance(note, str):
            raise ValueError(f"note must be text, not {note!r}")
        if detail is not None and not isinstance(detail, dict):
            raise ValueError(f"detail must be a dict, not {detail!r}")
        values = (
            athlete_id, kind, normalise_time(started_at, "started_at"),
            _optional_number(duration_s, "duration_s", minimum=0),
            _optional_number(steps, "steps", integer=True, minimum=0),
            _optional_number(rise_m, "rise_m", minimum=0),
            _optional_number(power_w, "power_w", minimum=0),
            _optional_number(power_w_per_kg, "power_w_per_kg", minimum=0),
            _optional_number(body_mass_kg, "body_mass_kg", minimum=0),
            _optional_number(added_load_kg, "added_load_kg", minimum=0),
            None if rails_used is None else int(rails_used),
            status, note or None, _dumps(detail) if detail else None,
        )
        if self.athlete(athlete_id) is None:
            raise ValueError(f"there is no athlete with id {athlete_id}")
        sql = (f"INSERT INTO stair_tests ({', '.join(_COLUMNS[1:])}) "
               f"VALUES ({', '.join('?' * (len(_COLUMNS) - 1))})")
        self._submit(lambda conn: conn.execute(sql, values))

    def stair_tests(self, athlete_id: int, *, since: str | None = None, until: str | None = None) -> list[dict]:
        """One athlete's tests, oldest first; ``since`` and ``until`` (UTC ISO dates or times)
        are inclusive, a date alone meaning its whole day."""
        where, params = ["athlete_id = ?"], [athlete_id]
        if since is not None:
            where.append("started_at >= ?")
            params.append(_bound(since, "since", end=False))
        if until is not None:
            if isinstance(until, str) and len(until.strip()) == 10:
                where.append("started_at < ?")
            else:
                where.append("started_at <= ?")
            params.append(_bound(until, "until", end=True))
        rows = self._rows(f"SELECT {', '.join(_COLUMNS)} FROM stair_tests WHERE {' AND '.join(where)} "
                          "ORDER BY started_at, id", params)
        return [stair_test_row(r) for r in rows]

    def stair_test(self, test_id: int) -> dict | None:
        """One test by its id (None when there is none)."""
        rows = self._rows(f"SELECT {', '.join(_COLUMNS)} FROM stair_tests WHERE id = ?", (test_id,))
        return stair_test_row(rows[0]) if rows else None
