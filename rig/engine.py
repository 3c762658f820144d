"""The engine: the one thread that owns the detection state.

Pin callbacks and the ADC sampler only put ``(t, channel, value)`` on the
engine's queue (``sink``). The engine feeds them to the detector in order,
tells it the time when nothing comes (so that a step is announced as soon as
it is confirmed, and stalls and falls are noticed without new samples), and
publishes what the detector says on the bus, with the raw samples in batches
for the trace recorder. Every second it publishes a ``summary`` event.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from rig.core import Detector

log = logging.getLogger(__name__)

_WAKE_AFTER_S = 0.0002   # decisions are strict "before": wake just after a deadline
_MAX_IDLE_S = 0.05       # wake at least this often (real seconds) to notice the stop event
_SUMMARY_EVERY_S = 1.0


class Engine:
    def __init__(self, detector: Detector, clock, bus, stop: threading.Event, *, name: str = "stairrig-engine"):
        self.detector = detector
        self.clock = clock
        self.bus = bus
        self.stop_event = stop
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._last_t = 0.0
        self.late_samples = 0      # samples that arrived after later ones (clamped)
        self.samples = 0
        self.last_loop_s = 0.0     # time.monotonic() of the last loop, for the watchdog
        self.final_summary: dict | None = None
        detector.on_event = self._on_event
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # called from pin callback threads and the sampler: keep it tiny
    def sink(self, t: float, channel: str, value: float) -> None:
        self._queue.put((t, channel, value))

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _on_event(self, event: dict) -> None:
        self.bus.publish(event)

    def _run(self) -> None:
        det, clock, stop, bus = self.detector, self.clock, self.stop_event, self.bus
        get = self._queue.get
        get_nowait = self._queue.get_nowait
        next_summary = clock.now() + _SUMMARY_EVERY_S
        try:
            while not stop.is_set():
                now = clock.now()
                wait_s = min(det.next_deadline(), next_summary) - now
                timeout = min(_MAX_IDLE_S, max(0.0, clock.real_delay(wait_s)) + _WAKE_AFTER_S)
                batch = []
                try:
                    batch.append(get(timeout=timeout))
                    while True:
                        batch.append(get_nowait())
                except queue.Empty:
                    pass
                if batch:
                    self._feed(batch)
                now = clock.now()
                det.advance(now)
                if now >= next_summary:
                    next_summary = now + _SUMMARY_EVERY_S
                    bus.publish({"type": "summary", "t": now, "summary": det.summary()})
                self.last_loop_s = time.monotonic()
        except Exception:
            log.exception("the engine failed; stopping the rig")
            stop.set()
            raise
        finally:
            self._finish()

    def _feed(self, batch: list) -> None:
        det = self.detector
        last = self._last_t
        out = []
        for t, channel, value in batch:
            t = round(t, 6)  # the trace's resolution: live and its replay see the same times
            if t < last:
                self.late_samples += 1
                t = last
            last = t
            try:
                det.feed(t, channel, value)
            except KeyError:
                log.warning("a sample from unknown channel %r was dropped", channel)
                continue
            out.append((t, channel, value))
        self._last_t = last
        self.samples += len(out)
        self.bus.publish({"type": "samples", "samples": out})

    def _finish(self) -> None:
        batch = []
        try:
            while True:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        if batch:
            self._feed(batch)
        det = self.detector
        det.finish(max(self.clock.now(), self._last_t))
        self.final_summary = det.summary()
        self.bus.publish({"type": "summary", "t": self._last_t, "final": True, "summary": self.final_summary})
        self.bus.publish({"type": "stopped", "t": self._last_t})
