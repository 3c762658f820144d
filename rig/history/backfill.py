"""Gait figures for sessions stored before them, recomputed from their kept raw traces.

A session's raw trace replays to its stored summary exactly, so replaying
the trace of a session stored before the gait figures existed gives the
figures it would have had. ``backfill_gait(store)`` does that for every such
session whose trace is still kept, one at a time, in the thread that calls
it (the service runs it in ``stairrig-backfill`` at start); a session whose
trace is gone keeps no gait figures, and the panel and exports show them as
empty. A trace that cannot be read is logged and skipped.
"""

from __future__ import annotations

import logging
import os
import threading

from rig.replay import replay
from rig.trace import TraceError

log = logging.getLogger(__name__)


def backfill_gait(store, stop: threading.Event | None = None) -> dict:
    """Recompute and store the gait figures of older sessions; returns the counts
    ``{"recomputed": n, "without_trace": n, "failed": n}``."""
    counts = {"recomputed": 0, "without_trace": 0, "failed": 0}
    for row in store.sessions_without_gait():
        if stop is not None and stop.is_set():
            break
        path = row["trace_path"]
        if not path or not os.path.exists(path):
            counts["without_trace"] += 1
            continue
        try:
            summary = replay(path, added_load_kg=row["added_load_kg"] or 0.0)
        except (TraceError, OSError) as exc:
            log.warning("session %s: its gait figures cannot be recomputed from %s: %s", row["id"], path, exc)
            counts["failed"] += 1
            continue
        store.set_gait(row["id"], summary["gait"])
        counts["recomputed"] += 1
    if any(counts.values()):
        log.info("gait figures of older sessions: %d recomputed from their raw traces, %d without a kept trace "
                 "(shown without them), %d could not be read", counts["recomputed"], counts["without_trace"],
                 counts["failed"])
    return counts
