"""The black box: every live run's raw samples, as a trace in the data directory."""

from __future__ import annotations

import datetime as dt
import logging
import os

from rig.trace import TraceHeader, TraceWriter
from rig.trace.writer import TraceLost

log = logging.getLogger(__name__)


class TraceRecorder:
    """A bus output that writes ``samples`` events to a gzip trace.

    The file is ``<data_dir>/traces/<UTC start>.jsonl.gz``, flushed at least
    once a second, so a power cut leaves it readable up to its last second.
    A write failure (a full disk) is logged once and kept in ``problem``
    (``stairrig status``, the panel's status and MQTT's diagnostics show it);
    recording stops, the rig goes on counting. A file deleted while it is
    recorded is put back whole by the writer (``rig/trace/writer.py``), and
    logged once.
    """

    def __init__(self, data_dir: str, header: TraceHeader, *, started_at: dt.datetime | None = None):
        started_at = started_at or dt.datetime.now(dt.timezone.utc)
        folder = os.path.join(data_dir, "traces")
        os.makedirs(folder, exist_ok=True)
        stamp = started_at.strftime("%Y-%m-%dT%H-%M-%SZ")
        path = os.path.join(folder, f"{stamp}.jsonl.gz")
        n = 1
        while os.path.exists(path):
            n += 1
            path = os.path.join(folder, f"{stamp}-{n}.jsonl.gz")
        header = TraceHeader(**{**header.__dict__, "recorded_at": started_at.isoformat(timespec="seconds")})
        self.path = path
        self.failed = False
        self.problem: str | None = None      # why the trace is not being recorded (None: it is)
        self._restored = 0
        # a flush happens on the next event after 0.75 s; the engine publishes a
        # tick every 0.25 s, so the file reaches the disk at least once a second
        self._writer = TraceWriter(path, header, flush_every_s=0.75)

    def __call__(self, event: dict) -> None:
        if self.failed:
            return
        try:
            etype = event["type"]
            if etype == "samples":
                self._writer.write_samples(event["samples"])
            elif etype == "stopped":
                self._writer.close()
            else:
                self._writer.maybe_flush()
        except OSError as exc:
            self.failed = True
            what = exc.strerror if isinstance(exc, TraceLost) else \
                f"recording the raw trace {self.path} failed ({exc.strerror or exc})"
            self.problem = f"{what}; the rig goes on counting without recording it"
            log.error("%s", self.problem)
            return
        if self._writer.restored != self._restored:
            self._restored = self._writer.restored
            log.warning("the raw trace %s was deleted while it was recorded; stairrig put it back whole "
                        "and goes on recording it", self.path)

    def close(self) -> None:
        try:
            self._writer.close()
        except OSError as exc:
            if not self.failed:            # a failure already said once
                log.error("closing the trace %s failed: %s", self.path, exc)
