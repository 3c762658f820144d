"""A buzzer on a GPIO pin: short cues for rigs without a tablet, and the fall alarm.

A bus output. Each cue is a short pattern, distinct by its rhythm (an active
buzzer can only switch on and off) and, on a passive piezo (``kind =
"tonal"``), by its tones too:

=========  =====================================  ===========================
cue        when                                   pattern
=========  =====================================  ===========================
grab       a grab (a sudden pull on a rail)       three quick beeps, high
stall      a stall on a tread                     two long beeps, low
too_fast   the session's cadence above the limit  one long beep, falling
           (at most once per 10 s)
firm_grip  a grip firmer than the drill's target  two short beeps
           (at most once per 10 s)
flight     a flight done (up or down)             one short chirp, rising
fall       a suspected fall (or a test of the     an alarm, repeated until
           fall alarm, ``"test": True``)          ``fall_acknowledged``
=========  =====================================  ===========================

The cues the configuration leaves out of ``[buzzer] cues`` stay silent.
Patterns play on one thread, ``stairrig-buzzer``: the bus only hands it a
pattern and returns. The alarm interrupts whatever plays and silences the
other cues until it is acknowledged. A device that fails (or cannot be
opened) is logged and the buzzer goes quiet; the bus and the rig go on.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from gpiozero import Buzzer, TonalBuzzer
from gpiozero.tones import Tone

from rig.config import BuzzerConfig
from rig.progression import ProgressionSettings
from rig.threads import named_thread

log = logging.getLogger(__name__)

TYPES = {"grab", "stall", "session_update", "grip", "ascent", "descent", "fall_suspected",
         "fall_acknowledged", "athlete_changed", "session_started", "session_ended"}

# (note or None for a rest, seconds): an active buzzer sounds every note the same
PATTERNS: dict[str, tuple[tuple[str | None, float], ...]] = {
    "grab": (("E6", 0.08), (None, 0.06), ("E6", 0.08), (None, 0.06), ("E6", 0.08)),
    "stall": (("C5", 0.35), (None, 0.25), ("C5", 0.35)),
    "too_fast": (("A5", 0.3), ("E5", 0.3)),
    "firm_grip": (("G5", 0.08), (None, 0.25), ("G5", 0.08)),
    "flight": (("C6", 0.05), ("E6", 0.05), ("G6", 0.08)),
    "fall": (("A6", 0.3), ("E6", 0.3), (None, 0.15)),     # one round of the alarm
}
GAP_S = 0.2
"""Silence after a cue, so that two in a row are heard as two."""
REPEAT_EVERY_S = 10.0
"""too_fast and firm_grip sound at most this often (engine seconds)."""
MIN_STEPS_FOR_CADENCE = 4
"""A session's first steps give no cadence worth judging."""
MAX_PENDING = 3
"""Cues waiting their turn; more are dropped (the rig is shouting already)."""
TONAL_MID = Tone("A5")
TONAL_OCTAVES = 2        # A3 (220 Hz) to A7 (3520 Hz): every note above fits


class BuzzerOutput:
    """See the module docstring. ``config``: the ``[buzzer]`` table; ``pin_factory``: gpiozero's."""

    def __init__(self, config: BuzzerConfig, pin_factory=None, *,
                 progression: ProgressionSettings | None = None):
        self.config = config
        self.pin_factory = pin_factory
        self.cues = frozenset(config.cues)
        self.default_cadence_limit_spm = (progression or ProgressionSettings()).control_band_spm[1]
        self.cadence_limit_spm = self.default_cadence_limit_spm
        self.tonal = config.kind == "tonal"
        self.errors = 0
        self._failing = False
        self._grip_target = "light"
        self._in_session = False
        self._last_sounded: dict[str, float] = {}
        self._cond = threading.Condition()
        self._pending: deque[str] = deque()
        self._alarm = False
        self._closing = False
        self._epoch = 0            # bumped when the alarm starts or stops, or on close: the playing pattern stops
        self._busy = False
        self.device = self._open()
        self._thread = named_thread(self._run, "stairrig-buzzer")
        self._thread.start()

    def _open(self):
        cfg = self.config
        try:
            if self.tonal:
                return TonalBuzzer(cfg.pin, mid_tone=TONAL_MID, octaves=TONAL_OCTAVES, pin_factory=self.pin_factory)
            return Buzzer(cfg.pin, active_high=cfg.active_high, initial_value=False, pin_factory=self.pin_factory)
        except Exception as exc:   # a buzzer is a nicety: the rig counts without it
            why = str(exc) or type(exc).__name__
            if self.tonal:
                why += "; a tonal buzzer needs a pin that can do PWM"
            log.error("the %s on BCM %d cannot be opened (%s); the rig runs without it",
                      "tonal buzzer" if self.tonal else "buzzer", cfg.pin, why)
            return None

    # -- the bus output (never blocks, never touches the device) -------------------
    def __call__(self, event: dict) -> None:
        handler = getattr(self, "_on_" + event["type"], None)
        if handler is not None:
            handler(event)

    def _on_grab(self, event: dict) -> None:
        self.cue("grab")

    def _on_stall(self, event: dict) -> None:
        self.cue("stall")

    def _on_ascent(self, event: dict) -> None:
        self.cue("flight")

    _on_descent = _on_ascent

    def _drill(self, drill: dict) -> None:
        """The drill in force: its grip target, and its cadence limit when it names one
        (the live document's ``cadence_limit_spm``), else the control band's top."""
        self._grip_target = drill.get("grip", self._grip_target)
        limit = drill.get("cadence_limit_spm")
        valid = isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit > 0
        self.cadence_limit_spm = float(limit) if valid else self.default_cadence_limit_spm

    def _on_athlete_changed(self, event: dict) -> None:
        self._drill(event["drill"])

    def _on_session_started(self, event: dict) -> None:
        self._in_session = True
        self._drill(event["drill"])

    def _on_session_ended(self, event: dict) -> None:
        self._in_session = False

    def _on_session_update(self, event: dict) -> None:
        summary = event.get("summary") or {}
        cadence = summary.get("cadence_spm")
        if cadence is None or summary.get("steps", 0) < MIN_STEPS_FOR_CADENCE or cadence <= self.cadence_limit_spm:
            return
        self._cue_at_most_every("too_fast", event["t"])

    def _on_grip(self, event: dict) -> None:
        """A grip firmer than the drill asks: "firm" on a light drill, any contact on hover or none."""
        if not self._in_session:
            return
        grip, target = event["grip"], self._grip_target
        if (target == "light" and grip == "firm") or (target in ("hover", "none") and grip != "none"):
            self._cue_at_most_every("firm_grip", event["t"])

    def _on_fall_suspected(self, event: dict) -> None:
        if "fall" not in self.cues:
            return
        with self._cond:
            if not self._alarm:
                self._alarm = True
                self._pending.clear()
                self._epoch += 1
                self._cond.notify_all()

    def _on_fall_acknowledged(self, event: dict) -> None:
        with self._cond:
            if self._alarm:
                self._alarm = False
                self._epoch += 1
                self._cond.notify_all()

    def _cue_at_most_every(self, cue: str, t: float) -> None:
        last = self._last_sounded.get(cue)
        if cue not in self.cues or (last is not None and t - last < REPEAT_EVERY_S):
            return
        self._last_sounded[cue] = t
        self.cue(cue)

    def cue(self, name: str) -> bool:
        """Sound a cue (unless it is switched off, the alarm sounds, or too many wait); True if queued."""
        if name not in self.cues:
            return False
        with self._cond:
            if self._alarm or self._closing or len(self._pending) >= MAX_PENDING:
                return False
            self._pending.append(name)
            self._cond.notify_all()
            return True

    @property
    def alarm(self) -> bool:
        return self._alarm

    def wait_idle(self, timeout: float) -> bool:
        """Until nothing plays or waits (the alarm never ends by itself); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy and not self._pending and not self._alarm, timeout)

    # -- the player thread -------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closing or self._alarm or self._pending)
                if self._closing:
                    break
                name = "fall" if self._alarm else self._pending.popleft()
                epoch = self._epoch
                self._busy = True
            self._play(PATTERNS[name], epoch, GAP_S if name != "fall" else 0.0)
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        self._quiet()

    def _play(self, pattern, epoch: int, gap_s: float) -> None:
        """One pattern; stops early when the alarm starts or ends, or on close."""
        for note, seconds in (*pattern, (None, gap_s)):
            if note is None:
                self._quiet()
            else:
                self._sound(note)
            with self._cond:
                if self._cond.wait_for(lambda: self._epoch != epoch, seconds):
                    break
        self._quiet()

    def _device_call(self, action) -> None:
        device = self.device
        if device is None:
            return
        try:
            action(device)
        except Exception as exc:   # a failing pin must not stop the player, let alone the bus
            self.errors += 1
            if not self._failing:
                log.error("the buzzer on BCM %d failed: %s", self.config.pin, exc)
            self._failing = True
        else:
            self._failing = False

    def _sound(self, note: str) -> None:
        self._device_call((lambda d: d.play(Tone(note))) if self.tonal else (lambda d: d.on()))

    def _quiet(self) -> None:
        self._device_call((lambda d: d.stop()) if self.tonal else (lambda d: d.off()))

    def close(self) -> None:
        """Silence the buzzer (the alarm too), stop the thread, release the pin."""
        with self._cond:
            self._closing = True
            self._alarm = False
            self._pending.clear()
            self._epoch += 1
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        device, self.device = self.device, None
        if device is not None:
            try:
                if self.tonal:
                    device.stop()
                else:
                    device.off()
            except Exception:
                log.debug("silencing the buzzer failed", exc_info=True)
            try:
                device.close()
            except Exception:
                log.debug("closing the buzzer failed", exc_info=True)
