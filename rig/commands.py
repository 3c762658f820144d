"""What the panel and Home Assistant may ask of the rig, validated in one place.

Every command checks its arguments and raises :class:`CommandError` with a
sentence for people when they are wrong (an unknown athlete, a grip that
does not exist, no fall to acknowledge, a test alarm while an alarm is on).
Nothing here trusts its caller: the MQTT client and the HTTP API hand over
what came off the network.

Session commands run in the engine thread (``Engine.command``), in order
with the samples; this waits for them (a couple of seconds at most).
"""

from __future__ import annotations

import logging
import math
import re
from concurrent.futures import TimeoutError as FutureTimeout

from rig.core.stairtest import KINDS as STAIR_TEST_KINDS
from rig.limits import ADDED_LOAD_KG, PLANNED_FLIGHTS
from rig.progression import drill as progression_drill
from rig.progression import first_level
from rig.progression import level as level_of
from rig.sessions import Athlete, Drill
from rig.trace.header import FACINGS, GRIPS

log = logging.getLogger(__name__)

_WAIT_S = 3.0
MAX_PLANNED_FLIGHTS = PLANNED_FLIGHTS[1]     # the configuration's bounds (rig/limits.py)
MAX_ADDED_LOAD_KG = ADDED_LOAD_KG[1]
MAX_NAME_CHARS = 100  # an athlete's name (the history's bound)
WHO_CHARS = 40        # who pressed "I'm OK" or raised a test alarm, as the events keep it
_MAX_ID = 2**63 - 1   # SQLite's largest integer
_MAX_ID_DIGITS = len(str(_MAX_ID))


def shown(value, chars: int = 40) -> str:
    """A value a caller sent, as an error message may repeat it: a string's repr cut to ``chars``, or
    its type (never ``str()`` of it: a 5,000-digit integer cannot even be turned into text)."""
    if isinstance(value, str):
        return repr(value[:chars]) + ("…" if len(value) > chars else "")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() <= 100:          # up to 31 digits, shown as they are
            return str(value)
        return f"a whole number of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    return f"a {type(value).__name__}"


class CommandError(ValueError):
    """A command that cannot be done; the message says why, for people."""


def who(by, does: str) -> str:
    """Who did something, as the alarm's events keep it: one line of at most 40 characters."""
    if not isinstance(by, str) or not by.strip() or len(by) > 10 * WHO_CHARS:
        raise CommandError(f"say who {does} (a name of at most {WHO_CHARS} characters, or where from: "
                           "panel, mqtt)")
    return " ".join(by.split())[:WHO_CHARS]


class Commands:
    def __init__(self, service):
        self.service = service

    # -- helpers -----------------------------------------------------------------
    def _run(self, name: str, **kwargs):
        future = self.service.engine.command(name, **kwargs)
        try:
            return future.result(_WAIT_S)
        except FutureTimeout:
            raise CommandError(f"the rig did not answer the {name} command in time") from None
        except (ValueError, RuntimeError) as exc:
            raise CommandError(str(exc)) from None

    def _store(self):
        store = self.service.store
        if store is None or not store.available:
            raise CommandError("the history is not available, so athletes cannot be changed (see the log)")
        return store

    # -- sessions ------------------------------------------------------------------
    def start_session(self) -> dict:
        """Start a session now (ending one that runs); returns ``{"key": ...}``."""
        return self._run("start_session")

    def stop_session(self) -> dict | None:
        """End the running session; None when none was running."""
        ended = self._run("end_session", reason="stopped by command")
        return None if ended is None else {"key": ended["key"], "duration_s": ended["duration_s"],
                                           "steps": ended["summary"]["steps"]}

    def acknowledge_fall(self, by: str) -> dict:
        """"I'm OK": end the fall alarm; records a ``fall_acknowledged`` event."""
        return self._run("acknowledge_fall", by=who(by, "says \"I'm OK\""))

    def test_fall_alarm(self, by: str) -> dict:
        """Raise a test fall alarm (buzzer, panel overlay, Home Assistant), ended by "I'm OK" like a
        real one; returns its ``fall_suspected`` event (``"test": True``). Refused while an alarm is on
        and during a walk test. It never counts as a fall."""
        return self._run("test_fall_alarm", by=who(by, "raises the test fall alarm"))

    # -- standard stair tests (rig/stairtests.py, docs/stair-tests.md) ------------------
    def start_stair_test(self, kind, athlete, *, added_load_kg=0.0, rails_allowed=True) -> dict:
        """Begin a stair test for an athlete (by id or name): its countdown starts now. Refused while a
        session, a walk test, a fall alarm or another test runs, and without a working history (the
        result is kept there)."""
        if not isinstance(kind, str) or kind not in STAIR_TEST_KINDS:
            raise CommandError(f"kind must be one of {', '.join(STAIR_TEST_KINDS)}, not {shown(kind)}")
        if isinstance(added_load_kg, bool) or not isinstance(added_load_kg, (int, float)) \
                or not 0 <= added_load_kg <= MAX_ADDED_LOAD_KG or not math.isfinite(added_load_kg):
            raise CommandError(f"the added load must be a number of kg from 0 to {MAX_ADDED_LOAD_KG:g}, "
                               f"not {shown(added_load_kg)}")
        if not isinstance(rails_allowed, bool):
            raise CommandError(f"rails_allowed must be true or false, not {shown(rails_allowed)}")
        found = self.find_athlete(athlete)
        self._store()
        return self._run("start_stair_test", kind=kind, athlete=found, added_load_kg=float(added_load_kg),
                         rails_allowed=rails_allowed)

    def cancel_stair_test(self) -> dict | None:
        """Stop the running stair test (kept as aborted); None when none was running."""
        return self._run("cancel_stair_test")

    # -- athlete and drill ------------------------------------------------------
    def athletes(self) -> list[dict]:
        store = self.service.store
        if store is None or not store.available:
            a = self.service.sessions.athlete
            return [{"id": a.id, "name": a.name, "weight_kg": a.weight_kg, "level": a.level, "selected": True}]
        return store.athletes()

    def find_athlete(self, ref) -> dict:
        """An athlete by id (a whole number) or by name (case and spaces ignored)."""
        store = self._store()
        if isinstance(ref, bool) or ref is None:
            raise CommandError("name an athlete (their name or id)")
        if isinstance(ref, int):
            if not 1 <= ref <= _MAX_ID:
                raise CommandError(f"there is no athlete with id {shown(ref)} (ids are whole numbers from 1)")
            found = store.athlete(ref)
            if found is None:
                raise CommandError(f"there is no athlete with id {ref}")
            return found
        if not isinstance(ref, str) or not ref.strip():
            raise CommandError("name an athlete (their name or id)")
        if len(ref) > MAX_NAME_CHARS:
            raise CommandError(f"an athlete's name is at most {MAX_NAME_CHARS} characters, not {len(ref):,}")
        wanted = " ".join(ref.split()).casefold()
        for athlete in store.athletes():
            if " ".join(athlete["name"].split()).casefold() == wanted:
                return athlete
        if re.fullmatch(rf"[0-9]{{1,{_MAX_ID_DIGITS}}}", wanted):
            return self.find_athlete(int(wanted))
        athletes = store.athletes()
        names = ", ".join(a["name"] for a in athletes[:10]) + (f" and {len(athletes) - 10} more" if
                                                                len(athletes) > 10 else "") or "none yet"
        raise CommandError(f"there is no athlete called {ref.strip()[:60]!r} (athletes: {names})")

    def select_athlete(self, ref) -> dict:
        """Make an athlete the one who trains next; their level's drill comes with them."""
        athlete = self.find_athlete(ref)
        store = self._store()
        store.select_athlete(athlete["id"])
        store.flush()
        level = athlete["level"] or first_level().key
        drill = progression_drill(level_of(level))
        self._run("set_athlete", athlete=Athlete(athlete["id"], athlete["name"], athlete["weight_kg"], level))
        self._run("set_drill", drill=Drill(drill.facing, drill.grip, drill.planned_flights, drill.added_load_kg))
        return {**athlete, "level": level}

    def set_drill(self, *, facing=None, grip=None, planned_flights=None, added_load_kg=None,
                  clear_planned: bool = False) -> dict:
        """Change the next session's drill (the fields given); the coach's choice is kept over
        the progression's until another athlete is selected."""
        changes: dict = {}
        if facing is not None:
            if not isinstance(facing, str) or facing not in FACINGS:
                raise CommandError(f"facing must be one of {', '.join(FACINGS)}, not {shown(facing)}")
            changes["facing"] = facing
        if grip is not None:
            if not isinstance(grip, str) or grip not in GRIPS:
                raise CommandError(f"the target grip must be one of {', '.join(GRIPS)}, not {shown(grip)}")
            changes["grip"] = grip
        if clear_planned:
            changes["planned_flights"] = None
        elif planned_flights is not None:
            if isinstance(planned_flights, bool) or not isinstance(planned_flights, int) \
                    or not 1 <= planned_flights <= MAX_PLANNED_FLIGHTS:
                raise CommandError(f"planned flights must be a whole number from 1 to {MAX_PLANNED_FLIGHTS}, "
                                   f"not {shown(planned_flights)}")
            changes["planned_flights"] = planned_flights
        if added_load_kg is not None:
            # the range first: math.isfinite() of a huge integer raises OverflowError
            if isinstance(added_load_kg, bool) or not isinstance(added_load_kg, (int, float)) \
                    or not 0 <= added_load_kg <= MAX_ADDED_LOAD_KG or not math.isfinite(added_load_kg):
                raise CommandError(f"the added load must be a number of kg from 0 to {MAX_ADDED_LOAD_KG:g}, "
                                   f"not {shown(added_load_kg)}")
            changes["added_load_kg"] = float(added_load_kg)
        # merged in the engine thread, so that two coaches changing different fields both count
        return self._run("set_drill", changes=changes)
