"""The history database's schema: versioned migrations and the file's identity.

``MIGRATIONS[i]`` takes the database from version ``i`` to ``i + 1``; the
version is SQLite's ``PRAGMA user_version``, set in the same transaction as
the migration, so a migration is applied whole or not at all.

``PRAGMA application_id`` marks the file as stairrig's. It is written in the
very first transaction, before the file is switched to WAL, so it is always
in the main file's header on disk: ``identify()`` recognises a stairrig
history (or a foreign file) from the first 100 bytes, without letting SQLite
open, and possibly change, a file stairrig did not create.
"""

from __future__ import annotations

import os
import sqlite3

FILENAME = "history.sqlite3"

#: "SRIG": the value of PRAGMA application_id in every stairrig history
APPLICATION_ID = 0x53524947

SQLITE_MAGIC = b"SQLite format 3\x00"

MIGRATIONS: list[str] = [
    # 1: athletes, sessions with their flights, events and notes
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT
    );

    CREATE TABLE athletes (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
        weight_kg  REAL NOT NULL CHECK (weight_kg > 0),
        level      TEXT,
        created_at TEXT NOT NULL
    );

    CREATE TABLE sessions (
        id               INTEGER PRIMARY KEY,
        athlete_id       INTEGER NOT NULL REFERENCES athletes(id) ON DELETE CASCADE,
        started_at       TEXT NOT NULL,
        ended_at         TEXT,
        duration_s       REAL,
        status           TEXT NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'closed', 'recovered')),
        drill_facing     TEXT,
        drill_grip       TEXT,
        planned_flights  INTEGER,
        added_load_kg    REAL,
        drill_json       TEXT,
        level            TEXT,
        steps            INTEGER,
        steps_up         INTEGER,
        steps_down       INTEGER,
        ascents          INTEGER,
        descents         INTEGER,
        elevation_gain_m REAL,
        active_s         REAL,
        cadence_spm      REAL,
        contact_fraction REAL,
        light_fraction   REAL,
        firm_fraction    REAL,
        grabs            INTEGER,
        stalls           INTEGER,
        falls            INTEGER,
        energy_kcal      REAL,
        summary_json     TEXT,
        trace_path       TEXT,
        effort           INTEGER CHECK (effort BETWEEN 0 AND 10),
        pain             INTEGER CHECK (pain BETWEEN 0 AND 10),
        dizziness        INTEGER CHECK (dizziness IN (0, 1)),
        notes_text       TEXT
    );
    -- (athlete_id, started_at), covering what progress() and outcomes() read:
    -- ten years of daily sessions are read from ~0.4 MB of index, not the whole table
    CREATE INDEX sessions_athlete_started ON sessions(
        athlete_id, started_at, status, level, steps, ascents, descents, active_s, cadence_spm,
        contact_fraction, light_fraction, firm_fraction, grabs, stalls, falls,
        duration_s, drill_facing, drill_grip, added_load_kg, effort, pain, dizziness);
    -- (athlete_id, rowid): one athlete's sessions newest first, a page at a time
    CREATE INDEX sessions_athlete ON sessions(athlete_id);
    CREATE INDEX sessions_open ON sessions(status) WHERE status = 'open';

    CREATE TABLE flights (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx         INTEGER NOT NULL,
        direction   TEXT CHECK (direction IN ('up', 'down')),
        t_start_s   REAL,
        t_end_s     REAL,
        duration_s  REAL,
        steps       INTEGER,
        cadence_spm REAL,
        contact_s   REAL,
        light_s     REAL,
        firm_s      REAL
    );
    CREATE INDEX flights_session ON flights(session_id, idx);

    CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        t_s         REAL,
        type        TEXT NOT NULL,
        detail_json TEXT
    );
    CREATE INDEX events_session ON events(session_id, t_s);
    """,
    # 2: the spec's gait figures: a flight's stair-climb power, and a session's whole-foot share,
    # step-time variability and leg asymmetry in the covering index (the progression reads them);
    # older sessions keep NULL until their traces give them (rig/history/backfill.py)
    """
    ALTER TABLE flights ADD COLUMN power_w REAL;
    ALTER TABLE sessions ADD COLUMN whole_foot_fraction REAL;
    ALTER TABLE sessions ADD COLUMN step_time_cv REAL;
    ALTER TABLE sessions ADD COLUMN dwell_asymmetry REAL;
    DROP INDEX sessions_athlete_started;
    CREATE INDEX sessions_athlete_started ON sessions(
        athlete_id, started_at, status, level, steps, ascents, descents, active_s, cadence_spm,
        contact_fraction, light_fraction, firm_fraction, grabs, stalls, falls,
        duration_s, drill_facing, drill_grip, added_load_kg, effort, pain, dizziness,
        whole_foot_fraction, step_time_cv, dwell_asymmetry);
    """,
    # 3: standard stair tests (timed stair climb, stair climb power), stored apart from the
    # training sessions: a test is never a session (rig/history/stairtests.py, docs/stair-tests.md)
    """
    CREATE TABLE stair_tests (
        id              INTEGER PRIMARY KEY,
        athlete_id      INTEGER NOT NULL REFERENCES athletes(id) ON DELETE CASCADE,
        kind            TEXT NOT NULL CHECK (kind IN ('timed_stair_climb', 'stair_climb_power')),
        started_at      TEXT NOT NULL,
        duration_s      REAL CHECK (duration_s IS NULL OR duration_s >= 0),
        steps           INTEGER,
        rise_m          REAL,
        power_w         REAL,
        power_w_per_kg  REAL,
        body_mass_kg    REAL,
        added_load_kg   REAL,
        rails_used      INTEGER CHECK (rails_used IN (0, 1)),
        status          TEXT NOT NULL CHECK (status IN ('done', 'aborted', 'invalid')),
        note            TEXT,
        detail_json     TEXT
    );
    CREATE INDEX stair_tests_athlete_started ON stair_tests(athlete_id, started_at);
    """,
]


def schema_version() -> int:
    """The version this stairrig writes: the number of migrations it knows."""
    return len(MIGRATIONS)


SCHEMA_VERSION = schema_version()


class Header:
    """What the first 100 bytes of a file say about it."""

    def __init__(self, size: int, head: bytes):
        self.size = size
        self.head = head

    @property
    def empty(self) -> bool:
        return self.size == 0

    @property
    def is_sqlite(self) -> bool:
        return self.head[:16] == SQLITE_MAGIC and len(self.head) >= 100

    @property
    def application_id(self) -> int:
        return int.from_bytes(self.head[68:72], "big", signed=True)

    @property
    def user_version(self) -> int:
        return int.from_bytes(self.head[60:64], "big", signed=True)

    @property
    def is_stairrig(self) -> bool:
        return self.is_sqlite and self.application_id == APPLICATION_ID


def read_header(path: str, fd: int | None = None) -> Header:
    """The size and first 100 bytes of ``path`` (read through ``fd`` when given,
    which is then left open)."""
    if fd is not None:
        return Header(os.fstat(fd).st_size, os.pread(fd, 100, 0))
    with open(path, "rb") as f:
        return Header(os.fstat(f.fileno()).st_size, f.read(100))


def describe_foreign(path: str, header: Header) -> str | None:
    """Why ``path`` is not a stairrig history (None when it is one, or empty)."""
    if header.empty:
        return None
    if header.head[:16] != SQLITE_MAGIC:
        return (f"{path} is not a SQLite database (it starts with {header.head[:16]!r}); "
                "stairrig did not create it and leaves it untouched: move it away, "
                "or choose another data directory")
    if len(header.head) < 100:
        return (f"{path} is damaged (only {header.size} bytes, shorter than a SQLite header); "
                "stairrig leaves it untouched: restore a backup or move the file away")
    if header.application_id != APPLICATION_ID:
        return (f"{path} is a SQLite database of another application (application_id "
                f"{header.application_id:#x}, stairrig's is {APPLICATION_ID:#x}), or a damaged one; "
                "stairrig did not create it and leaves it untouched: move it away, "
                "or choose another data directory")
    return None


def migrate(conn: sqlite3.Connection, *, backup_before=None) -> tuple[int, int]:
    """Bring ``conn``'s database to the newest version; returns (from, to).

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each
    migration runs in its own transaction together with its user_version.
    ``backup_before(version)`` is called before migrating a database that
    already holds data (version >= 1).
    """
    migrations = MIGRATIONS
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    target = len(migrations)
    if current > target:
        raise ValueError(f"schema version {current} is newer than this stairrig knows ({target})")
    if current == target:
        return current, target
    if current >= 1 and backup_before is not None:
        backup_before(current)
    for version in range(current, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if version == 0:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for statement in _statements(migrations[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return current, target


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {buf.strip()[:60]!r}")
    return out
