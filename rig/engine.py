"""The engine: the one thread that owns the detection state.

Pin callbacks only put ``(t, channel, value)`` on the engine's queue
(``sink``), which wakes it: an edge is decided at once. The ADC sampler
hands over one scan of every force channel as one item (``sink_scan``),
mostly without waking it: scans wait until the engine next wakes (an edge, a
deadline of the detector, the sampler's wake a few times a second while the
rig is in use, or ``_MAX_IDLE_S``), and are fed in time order with the
edges. The engine tells the detector the time when nothing comes (so that a
step is announced as soon as it is confirmed, and stalls and falls are
noticed without new samples), and publishes what the detector says on the
bus at once; four times a second it hands the bus, in one go, the raw
samples fed since the last time (for the trace recorder and the live
state), a ``tick``, and every second a ``summary``.

It stops on ``close()``, which its owner calls once the inputs have
stopped, so that no sample is lost: the last samples are fed, every channel
is written once more at the end time (so a contact still held ends there in
the trace as it does live, and the trace replays to the same summary), and
the final summary is published.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
from concurrent.futures import Future

from rig.core import Detector
from rig.sessions import Drill
from rig.stairtests import StairTestControl
from rig.threads import named_thread
from rig.engine_feed import COMMAND as _COMMAND, FeedMixin
from rig.trace.resolution import time_on_grid

log = logging.getLogger(__name__)

_WAKE_AFTER_S = 0.0002   # decisions are strict "before": wake just after a deadline
_MAX_IDLE_S = 0.5        # wake at least this often (real seconds); the ADC sampler wakes it more often
                         # while someone is on the rig (adc.WAKE_EVERY_S)
_IDLE_AFTER_S = 10.0     # no edge, command or busy ADC for this long: the rig is idle
_IDLE_TICK_EVERY_S = 0.5  # an idle rig ticks twice a second (nothing on it moves)
_TICK_EVERY_S = 0.25
_SUMMARY_EVERY_S = 1.0
_ALARMS = ("grab", "stall", "fall_suspected")
_END = object()
_WAKE = (float("inf"),)   # a queue item that only wakes the engine (the force scans are waiting)


class Engine(FeedMixin):
    def __init__(self, detector: Detector, clock, bus, stop: threading.Event, *, sessions=None,
                 name: str = "stairrig-engine"):
        self.detector = detector
        self.sessions = sessions   # a SessionManager, or None
        self.clock = clock
        self.bus = bus
        self.stop_event = stop
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._scans: collections.deque = collections.deque()   # (t, ((channel, newtons), ...)) from the ADC
        self._out: list = []       # samples fed and not yet on the bus
        self._in_use_until = 0.0   # engine time until which the rig counts as in use (ticks 4 a second)
        self._last_t = 0.0         # the latest time fed or advanced to: nothing goes before it
        self._values: dict[str, float] = {}   # each channel's last value
        self.late_samples = 0      # samples stamped before _last_t (clamped to it)
        self.samples = 0
        self.idle = False          # nobody on the rig, no session, no alarm (set at each tick; any thread reads)
        self.error: BaseException | None = None
        self._finishing = False
        self.heartbeat = None   # called from every loop (the systemd watchdog hangs on it)
        self.final_summary: dict | None = None
        self.fall_alarm: dict | None = None   # the fall_suspected event not yet acknowledged
        self.checking_until: float | None = None   # a walk test runs: no sessions, no alarms, until then
        # standard stair tests: their steps are kept from the sessions (rig/stairtests.py)
        self.stair_tests = None if sessions is None else StairTestControl(
            sessions.layout, bus.publish, wall_clock=sessions.wall_clock)
        detector.on_event = self._on_run_event
        self._thread = named_thread(self._run, name)

    # called from pin callback threads: keep it tiny
    def sink(self, t: float, channel: str, value: float) -> None:
        self._queue.put((t, channel, value))

    # called from the ADC sampler: one scan of the force channels, fed when the engine next wakes
    # (``wake``: now, which the sampler asks for a few times a second while the rig is in use)
    def sink_scan(self, t: float, readings, wake: bool = False) -> None:
        self._scans.append((t, readings))
        if wake:
            self._queue.put(_WAKE)

    def command(self, name: str, **kwargs) -> Future:
        """Run a command (``start_session``, ``end_session``, ``set_athlete``, ``set_drill``,
        ``acknowledge_fall``, ``test_fall_alarm``, ``set_checking``) in the engine thread, in order
        with the samples."""
        future: Future = Future()
        self._queue.put((_COMMAND, name, kwargs, future))
        return future

    def _on_run_event(self, event: dict) -> None:
        # the time of the sample that made it (the detector is within a run of samples: _feed_run)
        if self.detector.now > self._last_t:
            self._last_t = self.detector.now
        if self.checking_until is not None:
            if self._last_t < self.checking_until:
                # someone walks the rig to test its wiring: steps show, but they are no
                # training, and stepping off a middle tread on purpose is no fall
                if event["type"] not in _ALARMS:
                    self.bus.publish(event)
                return
            self.checking_until = None
        self.bus.publish(event)
        if event["type"] == "fall_suspected":
            self.fall_alarm = event
        if self.stair_tests is not None and self.stair_tests.on_event(event, self._last_t):
            return      # a stair test's steps are never a training session
        if self.sessions is not None and not self._finishing:
            self.sessions.on_run_event(event, self._last_t)

    def _walk_test_running(self) -> bool:
        return self.checking_until is not None and self._last_t < self.checking_until

    def _acknowledge_fall(self, by: str) -> dict:
        """End the fall alarm: publish (and keep in the session) a ``fall_acknowledged`` event,
        which carries ``"test": True`` when the alarm was a test."""
        alarm = self.fall_alarm
        if alarm is None:
            raise ValueError("there is no suspected fall to acknowledge")
        self.fall_alarm = None
        t = self._last_t
        event = {"type": "fall_acknowledged", "t": t, "by": by, "fall_t": alarm["t"],
                 "after_s": round(t - alarm["t"], 3)}
        if alarm.get("test"):
            event["test"] = True
            log.info("the test fall alarm raised by %s was ended (\"I'm OK\") by %s after %.1f s",
                     alarm.get("by"), by, event["after_s"])
        self.bus.publish(event)
        if self.sessions is not None:
            self.sessions.note_event(event, t)
        return event

    def _test_fall_alarm(self, by: str) -> dict:
        """A test of the fall alarm: the same ``fall_suspected`` event and alarm as a real fall (buzzer,
        panel, Home Assistant), marked ``"test": True``; it ends with "I'm OK" like a real one. A
        session notes it as ``fall_alarm_test``, never as a fall."""
        if self.fall_alarm is not None:
            raise ValueError("a fall alarm is already on: press \"I'm OK\" to end it before testing the alarm")
        if self._walk_test_running():
            raise ValueError("a walk test is running: finish or cancel it before testing the fall alarm")
        t = self._last_t
        event = {"type": "fall_suspected", "t": t, "test": True, "by": by}
        self.fall_alarm = event
        log.info("a test fall alarm was raised by %s; it sounds until someone presses \"I'm OK\"", by)
        self.bus.publish(event)
        if self.sessions is not None:
            self.sessions.note_event({"type": "fall_alarm_test", "by": by}, t)
        return dict(event)

    def _do_command(self, name: str, kwargs: dict, future: Future) -> None:
        sessions = self.sessions
        try:
            if name == "acknowledge_fall":
                future.set_result(self._acknowledge_fall(kwargs.get("by", "unknown")))
                return
            if name == "test_fall_alarm":
                future.set_result(self._test_fall_alarm(kwargs.get("by", "unknown")))
                return
            if name == "set_checking":
                if kwargs["on"] and sessions is not None and sessions.current is not None:
                    raise ValueError("a session is running: stop it before testing the wiring")
                if kwargs["on"] and self.stair_tests is not None and self.stair_tests.running:
                    raise ValueError("a stair test is running: finish or cancel it before testing the wiring")
                self.checking_until = self._last_t + kwargs.get("max_s", 600.0) if kwargs["on"] else None
                future.set_result(None)
                return
            if sessions is None:
                raise RuntimeError("this rig keeps no sessions")
            if name == "start_session" and self._walk_test_running():
                raise ValueError("a walk test is running: finish or cancel it before starting a session")
            if name == "start_session" and self.stair_tests.running:
                raise ValueError("a stair test is running: finish or cancel it before starting a session")
            if name in ("start_stair_test", "cancel_stair_test"):
                result = self.stair_tests.command(name, self._last_t, kwargs, walk_test=self._walk_test_running(),
                                                  session=sessions.current is not None, alarm=self.fall_alarm,
                                                  occupied=self.detector.occupied)
            elif name == "start_session":
                result = sessions.start(self._last_t)
            elif name == "end_session":
                result = sessions.end(self._last_t, reason=kwargs.get("reason", "command"))
            elif name == "set_athlete":
                if kwargs["athlete"].id != sessions.athlete.id:
                    sessions.drill_chosen = False   # a coach's drill was for the athlete before
                sessions.athlete = kwargs["athlete"]
                result = None
                self._announce_athlete()
            elif name == "set_drill":
                keep_for = kwargs.get("keep_chosen_for")
                result = None
                if "changes" in kwargs:     # a coach's change of some fields, merged here, in order
                    sessions.set_drill(Drill(**{**sessions.drill.as_dict(), **kwargs["changes"]}), chosen=True)
                    result = sessions.drill.as_dict()
                elif not (keep_for is not None and sessions.drill_chosen and sessions.athlete.id == keep_for):
                    sessions.set_drill(kwargs["drill"], chosen=kwargs.get("chosen", False))
                self._announce_athlete()
            else:
                raise ValueError(f"unknown command {name!r}")
        except Exception as exc:  # a bad command must not stop the engine
            future.set_exception(exc)
        else:
            future.set_result(result)

    def _announce_athlete(self) -> None:
        """Tell the outputs who trains next and with which drill."""
        s = self.sessions
        self.bus.publish({"type": "athlete_changed", "t": self._last_t, "athlete": vars(s.athlete).copy(),
                          "drill": s.drill.as_dict(), "drill_chosen": s.drill_chosen})

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Feed what is queued, finish, publish the final summary, stop."""
        self._queue.put(_END)
        if self._thread.ident is None:  # never started (start-up failed): nothing to finish
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("the engine did not stop within %.0f s", timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        det, clock, bus = self.detector, self.clock, self.bus
        get, get_nowait, qsize = self._queue.get, self._queue.get_nowait, self._queue.qsize
        now = clock.now()
        next_tick = now + _TICK_EVERY_S
        next_summary = now + _SUMMARY_EVERY_S
        ended = False
        try:
            while not ended:
                now = clock.now()
                wait_s = min(det.next_deadline(), next_tick,
                             self.stair_tests.next_deadline() if self.stair_tests else next_tick) - now
                timeout = min(_MAX_IDLE_S, max(0.0, clock.real_delay(wait_s)) + _WAKE_AFTER_S)
                batch = []
                try:
                    batch.append(get(timeout=timeout))
                except queue.Empty:
                    pass
                # the time is read before the queue is drained, not after: a simulator moves its
                # virtual clock only once the edge it stamped is queued, so advancing to this time
                # decides nothing behind that edge's back (read after, a simulator catching up with
                # the wall clock after a late edge would have the edge moved to its time). Real pins
                # and the ADC sampler stamp, then queue: a sample queued after this read with an
                # earlier stamp is still late by that gap, and moved to the time decided (_feed)
                now = time_on_grid(clock.now())
                for _ in range(qsize()):        # all that is queued (no Empty raised: this thread alone takes)
                    batch.append(get_nowait())
                if batch:
                    self._in_use_until = now + _IDLE_AFTER_S   # an edge, a command, a busy ADC
                    if any(item is _WAKE for item in batch):
                        batch = [item for item in batch if item is not _WAKE]
                if batch and batch[-1] is _END:
                    batch.pop()
                    ended = True
                scans = self._take_scans()
                if batch or scans:
                    self._feed(batch, scans)
                if now > self._last_t:
                    self._last_t = now
                det.advance(self._last_t)
                if self.sessions is not None:
                    self.sessions.tick(self._last_t)
                    self.stair_tests.tick(self._last_t)
                if self.heartbeat is not None:
                    self.heartbeat()
                if now >= next_tick:
                    # the raw samples, the tick and (every second) the summary: one wake of the bus,
                    # the samples first (the rig check's walk test takes them in time order)
                    self.idle = idle = now >= self._in_use_until and self.fall_alarm is None and not (
                        self.sessions is not None and self.sessions.current is not None)
                    next_tick = now + (_IDLE_TICK_EVERY_S if idle else _TICK_EVERY_S)
                    events = [self._take_samples()] if self._out else []
                    events.append({"type": "tick", "t": now})
                    if now >= next_summary:
                        next_summary = now + _SUMMARY_EVERY_S
                        events.append({"type": "summary", "t": now, "summary": det.summary()})
                    bus.publish_all(events)
            self._finish()
        except Exception as exc:
            self.error = exc
            log.critical("the engine failed; the rig stops", exc_info=True)
            self.stop_event.set()

    def _take_samples(self) -> dict:
        """The ``samples`` event of what was fed since the last one."""
        out = self._out
        self.samples += len(out)
        self._out = []
        return {"type": "samples", "samples": out}

    def _finish(self) -> None:
        det = self.detector
        t_end = self._last_t
        # what is still on (and every force) once more at the end: the trace then
        # ends where the live run did, and a contact still held ends there in both
        closing = [(t_end, channel, value) for channel, value in self._values.items()
                   if value or channel.endswith(".force")]
        if closing:
            self._feed(closing)
        if self._out:
            self.bus.publish(self._take_samples())
        self._finishing = True   # a step confirmed by the finish does not start a session
        if self.stair_tests is not None:
            self.stair_tests.cancel(t_end, "the service stopped")
        det.finish(t_end)
        if self.sessions is not None:
            self.sessions.end(t_end, reason="the service stopped")
        if self.late_samples:
            log.info("%d samples arrived after later ones and were moved to their time", self.late_samples)
        self.final_summary = det.summary()
        self.bus.publish({"type": "summary", "t": t_end, "final": True, "summary": self.final_summary})
        self.bus.publish({"type": "stopped", "t": t_end})
