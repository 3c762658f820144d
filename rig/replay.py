"""Replay a trace through the detection core: the spec's summary of a file."""

from __future__ import annotations

import os
from typing import Callable

from rig.core import Detector
from rig.settings import DetectionSettings
from rig.trace import read_trace

ProgressFn = Callable[[int, int], None]


def replay(path: str | os.PathLike, settings: DetectionSettings | None = None, *,
           weight_kg: float | None = None, on_event: Callable[[dict], None] | None = None,
           progress: ProgressFn | None = None, progress_every: int = 200_000) -> dict:
    """Run a trace through the detector and return its summary.

    ``weight_kg`` overrides the header's body weight. ``progress(bytes_read,
    size_bytes)`` is called every ``progress_every`` samples. Raises
    ``TraceError`` (naming the line) on a bad file; the file's warnings (a
    truncated end) are in the summary's ``warnings`` list.
    """
    trace = read_trace(path)
    header = trace.header
    kwargs = {"on_event": on_event} if on_event is not None else {}
    detector = Detector(header.layout, settings or DetectionSettings(),
                        weight_kg=weight_kg or header.weight_kg, **kwargs)
    feed = detector.feed
    if progress is None:
        for t, ch, v in trace:
            feed(t, ch, v)
    else:
        n = 0
        for t, ch, v in trace:
            feed(t, ch, v)
            n += 1
            if n % progress_every == 0:
                progress(trace.bytes_read, trace.size_bytes)
        progress(trace.size_bytes, trace.size_bytes)
    detector.finish()
    summary = detector.summary()
    if trace.warnings:
        summary["warnings"] = list(trace.warnings)
    return summary
