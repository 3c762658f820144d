"""Replay a trace through the detection core: the spec's summary of a file."""

from __future__ import annotations

import os
from typing import Callable

from rig.core import Detector
from rig.settings import DetectionSettings
from rig.trace import read_trace

ProgressFn = Callable[[int, int], None]


def replay(path: str | os.PathLike, settings: DetectionSettings | None = None, *,
           weight_kg: float | None = None, added_load_kg: float | None = None,
           on_event: Callable[[dict], None] | None = None,
           progress: ProgressFn | None = None, progress_every: int = 200_000) -> dict:
    """Run a trace through the detector and return its summary.

    ``weight_kg`` overrides the header's body weight, ``added_load_kg`` its drill's added load. ``progress(bytes_read,
    size_bytes)`` is called about every ``progress_every`` samples (after the
    block of the file that crosses each multiple). Raises
    ``TraceError`` (naming the line) on a bad file; the file's warnings (a
    truncated end) are in the summary's ``warnings`` list.
    """
    trace = read_trace(path)
    header = trace.header
    kwargs = {"on_event": on_event} if on_event is not None else {}
    detector = Detector(header.layout, settings or DetectionSettings(),
                        weight_kg=weight_kg or header.weight_kg, added_load_kg=header.drill_added_load_kg if added_load_kg is None else added_load_kg,
                        **kwargs)
    feed_many = detector.feed_many
    if progress is None:
        for batch in trace.batches():
            feed_many(batch)
    else:
        n = 0
        next_report = progress_every
        for batch in trace.batches():
            feed_many(batch)
            n += len(batch)
            if n >= next_report:
                progress(trace.bytes_read, trace.size_bytes)
                next_report = n - n % progress_every + progress_every
        progress(trace.size_bytes, trace.size_bytes)
    detector.finish()
    summary = detector.summary()
    if trace.warnings:
        summary["warnings"] = list(trace.warnings)
    return summary
