"""Each session's raw trace, in the spec's format, beside its history row.

``<data_dir>/sessions/<session key>.jsonl.gz``: the samples the session's
detector was fed, on the session's own time base, so that
``stairrig replay`` of the file reproduces the session's stored summary.

A trace deleted while its session runs is put back whole by the writer
(logged once); one that cannot be written (a full disk, the folder gone)
is logged once and kept in ``problem`` until the next session's trace
works, for ``stairrig status``, the panel's status and MQTT's diagnostics.
"""

from __future__ import annotations

import logging
import os

from rig.layout import RigLayout
from rig.trace import TraceHeader, TraceWriter
from rig.trace.writer import TraceLost

log = logging.getLogger(__name__)

TYPES = {"session_started", "session_samples", "session_ended", "tick"}


def session_trace_path(data_dir: str, key: str) -> str:
    return os.path.join(data_dir, "sessions", f"{key}.jsonl.gz")


class SessionTraceRecorder:
    def __init__(self, data_dir: str):
        self.data_dir = data_dir
        self._writer: TraceWriter | None = None
        self._key: str | None = None
        self.failed = False
        self.problem: str | None = None      # why the last session's trace is not being recorded
        self._restored = 0

    def __call__(self, event: dict) -> None:
        etype = event["type"]
        try:
            if etype == "session_started":
                self._open(event)
            elif self._writer is None or event.get("key", self._key) != self._key:
                return
            elif etype == "session_samples":
                self._writer.write_samples(event["samples"])
            elif etype == "session_ended":
                self.close()
                return
            else:
                self._writer.maybe_flush()
        except OSError as exc:
            path = session_trace_path(self.data_dir, self._key or event.get("key", "?"))
            what = exc.strerror if isinstance(exc, TraceLost) else \
                f"recording the session's raw trace {path} failed ({exc.strerror or exc})"
            self.problem = f"{what}; the session goes on, and is kept in the history, without it"
            log.error("%s", self.problem)
            writer, self._writer = self._writer, None
            self.failed = True
            if writer is not None:
                try:
                    writer.close()
                except OSError:
                    pass
            return
        if self._writer is not None and self._writer.restored != self._restored:
            self._restored = self._writer.restored
            log.warning("the session's raw trace %s was deleted while it was recorded; stairrig put it back "
                        "whole and goes on recording it", self._writer.path)

    def _open(self, event: dict) -> None:
        self.close()
        athlete, drill = event["athlete"], event["drill"]
        header = TraceHeader(layout=RigLayout.from_header(event["layout"]), weight_kg=athlete["weight_kg"],
                             athlete_name=athlete["name"], drill_facing=drill["facing"], drill_grip=drill["grip"],
                             drill_added_load_kg=drill.get("added_load_kg") or 0.0, recorded_at=event["started_at"], source="session")
        path = session_trace_path(self.data_dir, event["key"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._key = event["key"]
        self._writer = TraceWriter(path, header, flush_every_s=0.5)
        self._restored = 0
        self.problem = None
        self.failed = False
        self._writer.write_samples(event["samples"])

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
