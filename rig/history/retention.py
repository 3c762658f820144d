"""Retention: raw traces are pruned, oldest first, past a size budget; summaries stay forever.

Only ``*.jsonl.gz`` regular files directly in the traces directory are ever
deleted. A trace referenced by an open session (one running now, or left
by a crash and not yet recovered) is kept, and so is any trace written to in
the last ``protect_recent_s`` seconds (it may still be being recorded).
Traces no session refers to (recorded while the history was unavailable,
or by a demo) count towards the budget and are pruned by their age too.

The session's ``trace_path`` is cleared (committed) before its file is
deleted: a crash in between leaves an unreferenced file, pruned next time,
never a session pointing at nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

from rig.history.store import HistoryStore

log = logging.getLogger(__name__)

TRACE_SUFFIX = ".jsonl.gz"


def traces_size(traces_dir: str) -> int:
    """The total size in bytes of the ``*.jsonl.gz`` files in ``traces_dir``."""
    return sum(size for size, _ in _trace_files(traces_dir).values())


def prune_traces(store: HistoryStore, traces_dir: str, budget_mb: float, *,
                 protect_recent_s: float = 900.0) -> list[str]:
    """Delete the oldest traces until the ``*.jsonl.gz`` files in ``traces_dir``
    total at most ``budget_mb`` megabytes (MiB); returns the deleted paths.

    It stops early, over budget, when only protected traces are left.
    """
    if budget_mb is None or budget_mb < 0:
        raise ValueError(f"the trace budget must be 0 MB or more, not {budget_mb!r}")
    budget = int(budget_mb * 1024 * 1024)
    files = _trace_files(traces_dir)
    total = sum(size for size, _ in files.values())
    if total <= budget:
        return []

    # which sessions refer to which file, and which files an open session holds
    sessions: dict[str, list[int]] = {}
    started: dict[str, str] = {}
    protected: set[str] = set()
    for ref in store.trace_references():
        real = os.path.realpath(ref["trace_path"])
        if real not in files:
            continue
        if ref["status"] == "open":
            protected.add(real)
        sessions.setdefault(real, []).append(ref["id"])
        started[real] = min(started.get(real, ref["started_at"]), ref["started_at"])

    now = dt.datetime.now(dt.timezone.utc).timestamp()
    candidates = []
    for real, (size, mtime) in files.items():
        if real in protected or now - mtime < protect_recent_s:
            continue
        # a session's trace is as old as its session; any other by its last change
        when = started.get(real) or dt.datetime.fromtimestamp(mtime, dt.timezone.utc).isoformat()
        candidates.append((when, real))
    candidates.sort()

    deleted = []
    for _, real in candidates:
        if total <= budget:
            break
        ids = sessions.get(real)
        if ids:
            store.clear_trace(ids)
        try:
            os.remove(real)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.error("could not prune the raw trace %s: %s", real, exc)
            continue
        total -= files[real][0]
        deleted.append(real)
    if deleted:
        log.info("pruned %d raw traces to keep %s within %g MB", len(deleted), traces_dir, budget_mb)
    if total > budget:
        log.warning("raw traces in %s take %.1f MB, over the %g MB budget, but the rest are in use or recent",
                    traces_dir, total / 1048576, budget_mb)
    return deleted


def _trace_files(traces_dir: str) -> dict[str, tuple[int, float]]:
    """real path -> (size, mtime) of each ``*.jsonl.gz`` regular file (not a link) in the folder."""
    out = {}
    try:
        entries = list(os.scandir(traces_dir))
    except FileNotFoundError:
        return out
    for entry in entries:
        if not entry.name.endswith(TRACE_SUFFIX) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        out[os.path.realpath(entry.path)] = (st.st_size, st.st_mtime)
    return out
