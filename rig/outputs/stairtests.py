"""Keeps each finished stair test in the history (a bus output, isolated like the others).

A test that ends (done, aborted or invalid) arrives as a ``stair_test`` event
from the engine (rig/stairtests.py); its result goes to
``HistoryStore.add_stair_test``, queued through the history's writer like a
session's end, so a full disk keeps it waiting instead of losing it.
"""

from __future__ import annotations

import logging

from rig.core.stairtest import FINAL_STATES
from rig.history import HistoryUnavailable

log = logging.getLogger(__name__)

TYPES = {"stair_test"}


class StairTestRecorder:
    def __init__(self, store):
        self.store = store
        self.kept = 0

    def __call__(self, event: dict) -> None:
        test = event["test"]
        if test["state"] not in FINAL_STATES:
            return
        detail = {k: test[k] for k in ("up_s", "treads", "riser_m", "rails_allowed") if test.get(k) is not None}
        try:
            self.store.add_stair_test(
                athlete_id=test["athlete_id"], kind=test["kind"], started_at=test["started_at"],
                status=test["state"], duration_s=test["duration_s"], steps=test["steps"], rise_m=test["rise_m"],
                power_w=test["power_w"], power_w_per_kg=test["power_w_per_kg"],
                body_mass_kg=test["body_mass_kg"], added_load_kg=test["added_load_kg"],
                rails_used=test["rails_used"], note=test["note"], detail=detail)
            self.kept += 1
        except (HistoryUnavailable, ValueError) as exc:
            log.error("a %s stair test of athlete %s could not be kept: %s", test["kind"], test["athlete_id"], exc)
