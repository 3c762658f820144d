"""The whole service: sensors -> engine -> bus -> outputs, started and stopped together.

``Service`` is what ``stairrig run`` (real pins) and ``stairrig demo`` (the
simulated rig) both start; they differ only in the pin factory and clock
they hand it. Threads are named and stop on one shared Event.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

from rig.bus import EventBus
from rig.calibration import apply_calibration
from rig.commands import Commands
from rig.live import TYPES as LIVE_TYPES
from rig.live import LiveState
from rig.clock import PinFactoryClock
from rig.config import RigConfig, describe_rig
from rig.core import Detector
from rig.engine import Engine
from rig.hardware.factory import load_pin_factory
from rig.hardware.sensors import open_sensors
from rig.history import HistoryStore, HistoryUnavailable
from rig.history.backfill import backfill_gait
from rig.history.failures import unavailable
from rig.outputs.history import TYPES as HISTORY_TYPES
from rig.outputs.history import HistoryRecorder, recover_open_sessions
from rig.outputs.stairtests import TYPES as STAIR_TEST_TYPES, StairTestRecorder
from rig.outputs.session_traces import TYPES as SESSION_TRACE_TYPES
from rig.outputs.status import TYPES as STATUS_TYPES
from rig.outputs.status import StatusWriter
from rig.progression import first_level
from rig.outputs.session_traces import SessionTraceRecorder
from rig.recorder import TraceRecorder
from rig.rigcheck import RigCheck
from rig.sessions import Athlete, Drill, SessionManager
from rig.systemd_notify import Notifier
from rig.threads import named_thread
from rig.trace import TraceHeader

log = logging.getLogger(__name__)


class Service:
    def __init__(self, config: RigConfig, *, pin_factory=None, clock=None, source: str = "gpio",
                 stop: threading.Event | None = None, record: bool | None = None, notifier=None):
        # a calibration saved from the panel's rig check overrides the file's zero and scale
        config = apply_calibration(config)
        self.config = config
        self.stop_event = stop or threading.Event()
        self.notifier = notifier or Notifier()
        self.mock_rig = None          # the sensors' mock wires, when the pin factory is the mock Pi
        self.mock_control = None
        if pin_factory is None:
            pin_factory = load_pin_factory(config.pin_factory)
            self._attach_mock_rig(config, pin_factory)
        self.pin_factory = pin_factory
        self.clock = clock or PinFactoryClock(pin_factory)
        self.bus = EventBus()
        self.history_error: str | None = None if config.history.enabled else (
            "the history is off in the configuration ([history] enabled = false)")
        self.store = self._open_history(config) if config.history.enabled else None
        athlete = self._athlete(config)
        self.detector = Detector(config.layout, config.detection, athlete.weight_kg,
                                 added_load_kg=config.drill.added_load_kg or 0.0)
        self.sessions = SessionManager(
            config.layout, config.detection, self.bus.publish, athlete=athlete,
            drill=Drill(config.drill.facing, config.drill.grip, config.drill.planned_flights,
                        config.drill.added_load_kg),
            idle_end_s=config.history.idle_end_s)
        self.engine = Engine(self.detector, self.clock, self.bus, self.stop_event, sessions=self.sessions)
        # first on the bus: the outputs after it read a state that already holds their event
        self.live = LiveState(rig_id=config.rig_id, layout=config.layout, athlete=vars(athlete).copy(),
                              drill=self.sessions.drill.as_dict(), store=self.store,
                              stuck_after_s=config.mqtt.stuck_after_s)
        self.bus.subscribe("live", self.live, types=LIVE_TYPES)
        self.commands = Commands(self)
        self.rigcheck = RigCheck(self)
        self.bus.subscribe("rigcheck", self.rigcheck, types=RigCheck.TYPES)
        try:
            self.sensors = open_sensors(config, self.engine.sink, self.clock, self.stop_event,
                                        pin_factory=pin_factory, scan_sink=self.engine.sink_scan)
        except Exception:
            if self.store is not None:
                self.store.close()
            raise
        self.recorder: TraceRecorder | None = None
        self.session_traces: SessionTraceRecorder | None = None
        self.trace_error: str | None = None
        self.history: HistoryRecorder | None = None
        if config.record_traces if record is None else record:
            header = TraceHeader(layout=config.layout, weight_kg=athlete.weight_kg,
                                 athlete_name=athlete.name, drill_facing=config.drill.facing,
                                 drill_grip=config.drill.grip, drill_added_load_kg=config.drill.added_load_kg or 0.0,
                                 source=source)
            try:
                os.makedirs(config.data_dir, exist_ok=True)
                self.recorder = TraceRecorder(config.data_dir, header)
                self.bus.subscribe("trace-recorder", self.recorder, types={"samples", "tick", "stopped"})
                self.session_traces = SessionTraceRecorder(config.data_dir)
                self.bus.subscribe("session-traces", self.session_traces, types=SESSION_TRACE_TYPES)
            except OSError as exc:
                # the rig still counts; the trace is what is lost, and the log says so
                self.trace_error = (f"cannot record traces in {config.data_dir} ({exc.strerror or exc}); "
                                    "the rig runs without recording")
                log.error("%s", self.trace_error)

        self.status: StatusWriter | None = None
        try:
            os.makedirs(config.data_dir, exist_ok=True)
            self.status = StatusWriter(self, config.data_dir)
            self.bus.subscribe("status", self.status, types=STATUS_TYPES)
        except OSError as exc:
            log.error("cannot write the status file in %s: %s", config.data_dir, exc)
        if self.store is not None:
            self.history = HistoryRecorder(self.store, config.data_dir, trace_budget_mb=config.history.trace_budget_mb,
                                           run_trace_budget_mb=config.history.run_trace_budget_mb)
            self.bus.subscribe("history", self.history, types=HISTORY_TYPES)
            self.history.on_athlete_changed = self._athlete_changed
            self.history.on_request = lambda name: self.engine.command(name)
            self.bus.subscribe("stair-tests", StairTestRecorder(self.store), types=STAIR_TEST_TYPES)
        self.buzzer = None
        self.mqtt = None
        self.panel = None
        try:
            self._open_outputs(config, pin_factory)
        except Exception:
            self._close_outputs()
            self.sensors.close()
            for output in (self.recorder, self.session_traces):
                if output is not None:
                    output.close()
            if self.store is not None:
                self.store.close()
            raise

    def _attach_mock_rig(self, config: RigConfig, pin_factory) -> None:
        """On mock pins (``GPIOZERO_PIN_FACTORY=mock``): unloaded load cells read their zero, and
        ``STAIRRIG_MOCK_SOCKET`` lets another process drive the sensors (rig/sim/mockcontrol.py)."""
        from rig.hardware.mockpi import RigMockFactory
        if not isinstance(pin_factory, RigMockFactory):
            return
        from rig.sim.mockrig import SimulatedRig
        log.warning("mock pins: no hardware is read (GPIOZERO_PIN_FACTORY=mock)")
        self.mock_rig = SimulatedRig(config, factory=pin_factory)

    def _start_mock_control(self) -> None:
        from rig.sim.mockcontrol import ENV_VAR, MockRigControl
        path = os.environ.get(ENV_VAR)
        if self.mock_rig is None or not path:
            return
        try:
            self.mock_control = MockRigControl(self.mock_rig, path)
        except OSError as exc:
            log.error("mock pins: cannot bind the socket %s (%s); nothing drives the pins",
                      path, exc.strerror or exc)
            return
        self.mock_control.start()

    def _open_outputs(self, config: RigConfig, pin_factory) -> None:
        """The buzzer, the MQTT client and the panel, as the configuration asks."""
        if config.buzzer is not None:
            from rig.outputs.buzzer import TYPES as BUZZER_TYPES
            from rig.outputs.buzzer import BuzzerOutput
            self.buzzer = BuzzerOutput(config.buzzer, pin_factory)
            self.bus.subscribe("buzzer", self.buzzer, types=BUZZER_TYPES)
        if config.web.enabled:
            from web.server import PanelServer
            self.panel = PanelServer(self, config.web.host, config.web.port)   # binds now: a busy port fails here
        if config.mqtt.enabled and config.mqtt.host:
            from rig.mqtt import MqttOutput
            self.mqtt = MqttOutput(self)       # subscribes itself to the bus

    def _close_outputs(self) -> None:
        for output in (self.panel, self.mqtt, self.buzzer):
            if output is not None:
                try:
                    output.close()
                except Exception:
                    log.exception("closing %s failed", type(output).__name__)

    def _athlete_changed(self, athlete: dict, drill) -> None:
        """The selected athlete (or their level) changed: the next session is theirs, with their level's drill."""
        self.engine.command("set_athlete", athlete=Athlete(athlete["id"], athlete["name"], athlete["weight_kg"],
                                                           athlete["level"]))
        # the same athlete's new level or weight keeps a drill a coach chose for them
        self.engine.command("set_drill", drill=Drill(drill.facing, drill.grip, drill.planned_flights,
                                                     drill.added_load_kg), keep_chosen_for=athlete["id"])

    def _open_history(self, config: RigConfig):
        """The history store, with the sessions a crash left open closed; None when unavailable
        (``history_error`` says why)."""
        try:
            os.makedirs(config.data_dir, exist_ok=True)
            store = HistoryStore.open(config.data_dir)
        except (HistoryUnavailable, OSError) as exc:
            self.history_error = unavailable(str(exc))
            log.error("%s The rig counts live without keeping sessions.", self.history_error.rstrip(". ") + ".")
            return None
        recover_open_sessions(store, config.layout, config.detection)
        return store

    def _athlete(self, config: RigConfig) -> Athlete:
        """The selected athlete (the configuration's default one the first time)."""
        if self.store is not None:
            try:
                self.store.ensure_default_athlete(config.athlete.name, config.athlete.weight_kg)
                a = self.store.selected_athlete()
                if a is not None and a["level"] is None:
                    self.store.update_athlete(a["id"], level=first_level().key)
                    a = {**a, "level": first_level().key}
                if a is not None:
                    return Athlete(a["id"], a["name"], a["weight_kg"], a["level"] or first_level().key)
            except (HistoryUnavailable, ValueError) as exc:
                log.error("the history's athlete cannot be used (%s); counting for the configuration's", exc)
        return Athlete(None, config.athlete.name, config.athlete.weight_kg, first_level().key)

    def subscribe(self, name: str, listener: Callable[[dict], None], types=None) -> None:
        self.bus.subscribe(name, listener, types)

    def _heartbeat(self) -> None:
        """From the engine loop: the watchdog is fed only while every worker thread lives."""
        now = time.monotonic()
        if now >= self._next_watchdog and self.healthy():
            self._next_watchdog = now + self.notifier.watchdog_s / 3
            self.notifier.watchdog()

    def start(self) -> None:
        if self.notifier.watchdog_s:
            self._next_watchdog = 0.0
            self.engine.heartbeat = self._heartbeat
        self.bus.start()
        self.engine.start()
        now = self.clock.now()
        for t, channel, value in self.sensors.initial_samples(now):
            self.engine.sink(t, channel, value)
        self.sensors.start()
        self._start_mock_control()
        if self.mqtt is not None:
            self.mqtt.start()
        if self.panel is not None:
            self.panel.start()
            log.info("the panel is at %s", self.panel.url)
        if self.store is not None:
            named_thread(self._backfill, "stairrig-backfill").start()
        log.info("stairrig is running: %s; athlete %s (%g kg)", describe_rig(self.config),
                 self.sessions.athlete.name, self.sessions.athlete.weight_kg)
        self.notifier.ready(f"counting on {describe_rig(self.config)}")

    def _backfill(self) -> None:
        """Older sessions' gait figures from their kept traces (rig/history/backfill.py), while the rig counts."""
        try:
            backfill_gait(self.store, self.stop_event)
        except Exception as exc:        # the history closed or failed meanwhile: the rig counts on
            if not self.stop_event.is_set():
                log.warning("the gait figures of older sessions were not recomputed: %s", exc)

    def healthy(self) -> bool:
        """The engine, the bus and the sensor threads are all alive (the rig counts; a failing
        history or trace is told apart, by ``storage_health``: a restart would not mend a disk)."""
        return self.engine.is_alive() and self.bus.is_alive() and self.sensors.alive()

    def storage_health(self) -> dict:
        """Whether the history and the raw traces are being kept, and why not (cheap: attributes
        only, no disk access; the history's writer looks at its file every second)."""
        store = self.store
        if store is not None:
            history = store.health()
        else:
            history = {"path": None, "available": False, "failure": "not open",
                       "error": self.history_error or unavailable("the history could not be opened (see the log)")}
        history["waiting_sessions"] = self.history.waiting_sessions if self.history is not None else 0
        problems = [p for p in (self.trace_error, getattr(self.recorder, "problem", None),
                                getattr(self.session_traces, "problem", None)) if p]
        return {"history": history, "traces": {"ok": not problems, "problems": problems}}

    def stop(self) -> dict | None:
        """Stop the inputs, then the engine (which feeds what they sent and
        finishes), then the outputs; returns the final summary."""
        self.notifier.stopping()
        self.stop_event.set()
        if self.panel is not None:
            self.panel.close()           # event streams end; no command after this
        sampler = self.sensors.sampler
        if sampler is not None and sampler.thread.is_alive():
            sampler.thread.join(2.0)
        if self.mock_control is not None:
            self.mock_control.close()
        self.sensors.close()             # no pin callback after this
        self.engine.close()
        self.bus.close()
        if self.status is not None:
            self.status.write(self.clock.now())   # the last word: what it saw until the end
        if not self.bus.is_alive():      # normally closed already by the last events
            for output in (self.recorder, self.session_traces):
                if output is not None:
                    output.close()
        if self.mqtt is not None:
            self.mqtt.close()            # after the bus delivered session_ended: then "offline"
        if self.buzzer is not None:
            self.buzzer.close()
        if self.history is not None:
            self.history.close()
        if self.store is not None:
            self.store.close()
        summary = self.engine.final_summary
        log.info("stairrig stopped%s", f" ({summary['steps']} steps counted)" if summary else "")
        return summary
