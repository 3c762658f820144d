"""``<data_dir>/status.json``: what the running service says about itself, for ``stairrig status``.

Rewritten (atomically) every two seconds: the process, whether every worker
thread is alive, each channel's last value and when it last changed or was
sampled, the current session, where the data is, and whether the history and
the raw traces are being kept (``Service.storage_health``). The last one,
written when the service has stopped (its engine finished), also says when:
``stopped_at``; a status without it whose process is gone is from a service
that died.

A write that fails (a full disk) leaves no temporary file behind and is
logged once, not every two seconds; the log says when it works again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time

import orjson

log = logging.getLogger(__name__)

TYPES = {"samples", "tick", "session_started", "session_ended"}
FILENAME = "status.json"
_WRITE_EVERY_S = 2.0


def status_path(data_dir: str) -> str:
    """Under systemd, its RuntimeDirectory (``/run/stairrig``, readable by every user);
    otherwise the data directory."""
    return os.path.join(os.environ.get("RUNTIME_DIRECTORY") or data_dir, FILENAME)


class StatusWriter:
    def __init__(self, service, data_dir: str):
        self.service = service
        self.path = status_path(data_dir)
        self.started_at = dt.datetime.now(dt.timezone.utc)
        self._channels: dict[str, dict] = {}
        self._counts: dict[str, int] = {}        # samples per channel since the start
        self._session: str | None = None
        self._next_write = 0.0
        self.failed = False

    def __call__(self, event: dict) -> None:
        etype = event["type"]
        if etype == "samples":
            counts = self._counts
            last = {}
            for sample in event["samples"]:     # counted per sample, the rest from each channel's last
                channel = sample[1]
                counts[channel] = counts.get(channel, 0) + 1
                last[channel] = sample
            for channel, (t, _, value) in last.items():
                entry = self._channels.setdefault(channel, {})
                entry["value"] = value
                entry["t_s"] = t
        elif etype == "session_started":
            self._session = event["key"]
        elif etype == "session_ended":
            self._session = None
        elif etype == "tick" and time.monotonic() >= self._next_write:
            self._next_write = time.monotonic() + _WRITE_EVERY_S
            self.write(event["t"])

    def write(self, now_s: float) -> None:
        svc = self.service
        channels = {}
        for channel in svc.config.layout.channels():
            entry = self._channels.get(channel)
            channels[channel] = None if entry is None else {
                "value": entry["value"], "samples": self._counts[channel], "age_s": round(now_s - entry["t_s"], 3)}
        storage = svc.storage_health()
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        doc = {
            "pid": os.getpid(),
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "updated_at": now,
            "uptime_s": round(now_s, 1),
            "threads": {"engine": svc.engine.is_alive(), "bus": svc.bus.is_alive(),
                        "adc_sampler": svc.sensors.alive()},
            "healthy": svc.healthy(),
            "config": svc.config.path,
            "data_dir": svc.config.data_dir,
            "rig": svc.config.layout.to_header(),
            "athlete": {"name": svc.sessions.athlete.name, "level": svc.sessions.athlete.level},
            "session": self._session,
            "channels": channels,
            "late_samples": svc.engine.late_samples,
            "history": storage["history"],
            "traces": storage["traces"],
            "trace": svc.recorder.path if svc.recorder else None,
        }
        if svc.stop_event.is_set() and not svc.engine.is_alive():
            doc["stopped_at"] = now     # the last word of a clean stop (Service.stop)
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
            os.chmod(tmp, 0o644)   # no health data in it: anyone may ask whether the rig is healthy
            os.replace(tmp, self.path)
        except OSError as exc:
            try:
                os.remove(tmp)     # a full disk leaves a 0-byte file: never leave it behind
            except OSError:
                pass
            if not self.failed:
                log.warning("cannot write %s (%s); stairrig status shows the last one written until it "
                            "works again", self.path, exc.strerror or exc)
            self.failed = True
            return
        if self.failed:
            self.failed = False
            log.warning("%s is written again", self.path)
