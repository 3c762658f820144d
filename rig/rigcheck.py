"""The rig check: every channel live, the force channels' calibration, the guided walk test.

``RigCheck`` is a bus output (``samples`` and ``tick``) that the panel's
rig-check page calls from waitress's threads. It keeps the last couple of
seconds of each force channel's samples, so that:

- ``tare(channel)`` takes the zero from the last second with nothing on it,
- ``scale(channel, known_kg)`` the scale from the last second with a known
  mass hanging from it,

each saved in ``<data_dir>/calibration.json`` (``rig/calibration.py``) and
applied to the running ADC sampler at once, without a restart. Samples carry
newtons; the raw readings are recovered with the calibration that was in use
when they were sampled (the buffer is emptied when it changes). The walk test
(``rig/walktest.py``) is fed from the same samples, one walk at a time.

Every method checks its input and raises ``CommandError`` with a sentence
for people; nothing here can stop the rig.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque

from rig.calibration import (CalibrationError, calibration_path, read_calibration, save_channel, scale_from,
                             tare_offset, usable_entries)
from rig.commands import CommandError
from rig.config import AnalogWiring
from rig.settings import G_M_S2
from rig.walktest import WalkTest

log = logging.getLogger(__name__)

BUFFER_S = 2.0
"""Seconds of samples kept per force channel."""
WINDOW_S = 1.0
"""Tare and scale use the last this many seconds."""
GUARD_S = 0.1
"""After a calibration change, samples until this much later are dropped (they may be converted either way)."""
KNOWN_KG = (0.5, 300.0)


WALK_MAX_S = 600.0
"""A walk test holds back sessions and alarms for at most this long (an abandoned one must not)."""


class RigCheck:
    """See the module docstring. ``service``: the running Service (its config, live state,
    sensors, clock and athlete)."""

    TYPES = frozenset({"samples", "tick"})

    def __init__(self, service):
        self.service = service
        config = service.config
        self._lock = threading.Lock()           # the bus thread's state against the callers'
        self._commands = threading.Lock()       # one calibration at a time
        self._force = {ch: w for ch, w in config.wiring.items() if isinstance(w, AnalogWiring)}
        self._calibration = self._initial_calibration()
        self._buffers: dict[str, deque] = {ch: deque() for ch in self._force}
        self._valid_after = {ch: -math.inf for ch in self._force}
        self._walk: WalkTest | None = None
        self._starting = False   # start_walk waits for the engine
        self._checking = False   # the engine holds back sessions and alarms for our walk

    def _initial_calibration(self) -> dict[str, dict]:
        """What the running configuration holds, and whether it came from the calibration file."""
        config = self.service.config
        try:
            usable, _ = usable_entries(config, read_calibration(config.data_dir))
        except CalibrationError:
            usable = {}                          # already logged when the service applied it
        calibration = {}
        for ch, wire in self._force.items():
            entry = usable.get(ch)
            from_file = entry is not None and (entry.zero_offset, entry.scale_n) == (wire.zero_offset, wire.scale_n)
            calibration[ch] = {"zero_offset": wire.zero_offset, "scale_n": wire.scale_n,
                               "source": "file" if from_file else "config",
                               "updated_at": entry.updated_at if from_file else None}
        return calibration

    # -- the bus output ------------------------------------------------------------
    def __call__(self, event: dict) -> None:
        etype = event["type"]
        with self._lock:
            walk = self._walk
            if walk is not None and (walk.done or walk.cancelled):
                walk = None
            if etype == "samples":
                buffers, valid_after = self._buffers, self._valid_after
                for t, channel, value in event["samples"]:
                    buf = buffers.get(channel)
                    if buf is not None and t > valid_after[channel]:
                        buf.append((t, value))
                        horizon = t - BUFFER_S
                        while buf[0][0] < horizon:
                            buf.popleft()
                    if walk is not None:
                        walk.feed(t, channel, value)
            elif etype == "tick" and walk is not None:
                walk.advance(event["t"])
                self._keep_sampling()   # a rail pressed for a moment must not fall between idle reads
            if walk is not None and walk.done:
                bad = {ch: r["detail"] for ch, r in walk.results().items() if r["verdict"] != "ok"}
                log.info("walk test done: %s", "every channel works" if not bad else "; ".join(bad.values()))
            self._end_checking()

    def _end_checking(self) -> None:
        """Training counts again once no walk test runs (done, skipped to its end, or cancelled).
        Call with ``_lock`` held."""
        walk = self._walk
        if self._checking and (walk is None or walk.done or walk.cancelled):
            self._checking = False
            self.service.engine.command("set_checking", on=False)

    # -- channels --------------------------------------------------------------------
    def _on_threshold_n(self, channel: str) -> float:
        detection = self.service.config.detection
        if channel.startswith("tread."):
            return detection.resolve(self.service.sessions.athlete.weight_kg).tread_force_on_n
        return detection.rail_contact_on_n

    def channels(self) -> dict[str, dict]:
        """Each channel's last value (0/1, or newtons), when it was sampled (engine seconds), its
        kind and where it is wired, and whether it is on (a force: above its contact threshold)."""
        live = self.service.live.channels()
        with self._lock:
            calibration = {ch: dict(c) for ch, c in self._calibration.items()}
        out = {}
        for channel, wire in self.service.config.wiring.items():
            now = live.get(channel, {"value": None, "t_s": None})
            value = now["value"]
            entry = {"value": value, "t_s": now["t_s"]}
            if isinstance(wire, AnalogWiring):
                cal = calibration[channel]
                entry.update(kind="force", **({"hx711": vars(wire.hx711).copy()} if wire.hx711 else
                                              {"adc_channel": wire.adc_channel}),
                             on=value is not None and value >= self._on_threshold_n(channel),
                             reading=None if value is None else round(value / cal["scale_n"] + cal["zero_offset"], 5))
            else:
                entry.update(kind="digital", pin=wire.pin, on=bool(value))
            out[channel] = entry
        return out

    # -- calibration -----------------------------------------------------------------
    def calibration(self) -> dict[str, dict]:
        """Each force channel's zero and scale in use, and where they come from ("config" or "file")."""
        with self._lock:
            return {ch: dict(c) for ch, c in self._calibration.items()}

    def _force_channel(self, channel) -> str:
        if not self._force:
            raise CommandError("this rig has no force sensors to calibrate")
        names = ", ".join(self._force)
        if not isinstance(channel, str) or not channel.strip():
            raise CommandError(f"name a force channel to calibrate ({names})")
        if channel not in self._force:
            raise CommandError(f"{channel[:60]!r} is not a force channel of this rig (its force channels: {names})")
        return channel

    def _sampler(self):
        return getattr(getattr(self.service, "sensors", None), "sampler", None)

    def _keep_sampling(self) -> None:
        """The force channels at the full rate while a walk test runs (an idle rig's ADC reads at
        idle_sample_hz, and a rail pressed for a moment between two of those reads goes unseen)."""
        sampler = self._sampler()
        if sampler is not None:
            sampler.wake_up()

    def _raw_readings(self, channel: str) -> list[float]:
        """The last second's readings (0..1), with the calibration in use when they were sampled.
        An idle rig's ADC reads slowly: it is woken, and a second of full-rate readings awaited."""
        sampler = self._sampler()
        if sampler is not None and sampler.wake_up():
            self.service.stop_event.wait(self.service.clock.real_delay(WINDOW_S + 1.0))
        now = self.service.clock.now()
        with self._lock:
            cal = self._calibration[channel]
            zero, scale = cal["zero_offset"], cal["scale_n"]
            recent = [v for t, v in self._buffers[channel] if t >= now - WINDOW_S]
        return [v / scale + zero for v in recent]

    def _apply(self, channel: str, zero_offset: float, scale_n: float) -> dict:
        """Save in the calibration file, then convert the live samples with it."""
        try:
            entry = save_channel(self.service.config.data_dir, channel, zero_offset, scale_n)
        except CalibrationError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            path = calibration_path(self.service.config.data_dir)
            log.error("cannot save the calibration of %s in %s: %s", channel, path, exc)
            raise CommandError(f"cannot save the calibration in {path}: {exc.strerror or exc}; "
                               f"nothing was changed") from None
        sampler = getattr(getattr(self.service, "sensors", None), "sampler", None)
        changed_at = sampler.set_calibration(channel, entry.zero_offset, entry.scale_n) if sampler is not None \
            else self.service.clock.now()
        with self._lock:
            self._calibration[channel] = {"zero_offset": entry.zero_offset, "scale_n": entry.scale_n,
                                          "source": "file", "updated_at": entry.updated_at}
            self._buffers[channel].clear()
            self._valid_after[channel] = changed_at + GUARD_S
        log.info("%s calibrated from the rig check: zero_offset %.5g, scale_n %.5g (in use now)",
                 channel, entry.zero_offset, entry.scale_n)
        return {"channel": channel, **self.calibration()[channel]}

    def tare(self, channel) -> dict:
        """The zero from the last second with nothing on the sensor; saved and in use at once."""
        channel = self._force_channel(channel)
        with self._commands:
            try:
                zero = tare_offset(self._raw_readings(channel), hx711=self._force[channel].hx711 is not None)
            except CalibrationError as exc:
                raise CommandError(f"{channel}: {exc}") from None
            return self._apply(channel, zero, self._calibration[channel]["scale_n"])

    def scale(self, channel, known_kg) -> dict:
        """The scale from the last second with a known mass (kg) on the sensor, against the zero in
        use (tare first); saved and in use at once."""
        channel = self._force_channel(channel)
        low, high = KNOWN_KG
        if isinstance(known_kg, str):
            try:
                known_kg = float(known_kg.strip())
            except ValueError:
                raise CommandError(f"the known mass must be a number of kg from {low:g} to {high:g}, "
                                   f"not {known_kg[:20]!r}") from None
        if isinstance(known_kg, bool) or not isinstance(known_kg, (int, float)) or not math.isfinite(known_kg) \
                or not low <= known_kg <= high:
            raise CommandError(f"the known mass must be a number of kg from {low:g} to {high:g}, "
                               f"not {str(known_kg)[:20]}")
        with self._commands:
            zero = self._calibration[channel]["zero_offset"]
            try:
                scale_n = scale_from(self._raw_readings(channel), zero, known_kg * G_M_S2,
                                     hx711=self._force[channel].hx711 is not None)
            except CalibrationError as exc:
                raise CommandError(f"{channel}: {exc}") from None
            return self._apply(channel, zero, scale_n)

    # -- the walk test ---------------------------------------------------------------
    def start_walk(self) -> dict:
        """Start a guided walk test (one at a time); returns its first state."""
        service = self.service
        with self._lock:
            walk = self._walk
            if self._starting or (walk is not None and not walk.done and not walk.cancelled):
                raise CommandError("a walk test is already running: finish it or cancel it first")
            self._starting = True
        # while it runs, the engine starts no session and raises no alarm (at most WALK_MAX_S).
        # Waited for without the lock: the bus thread needs it for every sample.
        try:
            service.engine.command("set_checking", on=True, max_s=WALK_MAX_S).result(3.0)
        except Exception as exc:
            # commands run in order: this "off" lands after a late "on"
            service.engine.command("set_checking", on=False)
            with self._lock:
                self._starting = False
            if isinstance(exc, ValueError):
                raise CommandError(str(exc)) from None
            raise CommandError(f"the rig did not answer in time ({type(exc).__name__})") from None
        with self._lock:
            self._starting = False
            self._checking = True
            # LiveState runs before this output on the bus: what it holds, this has seen too
            initial = {ch: v["value"] for ch, v in service.live.channels().items()}
            self._walk = WalkTest(service.config.layout, service.config.detection,
                                  weight_kg=service.sessions.athlete.weight_kg, initial=initial,
                                  hx711_channels=frozenset(ch for ch, w in self._force.items() if w.hx711))
            state = self._walk.state()
        self._keep_sampling()
        log.info("walk test started (%d prompts)", state["steps"])
        return state

    def walk_state(self) -> dict:
        """The running walk test's prompt and results (or the last one's, once finished)."""
        with self._lock:
            if self._walk is None:
                raise CommandError("no walk test has been started")
            return self._walk.state()

    def skip_walk(self) -> dict:
        """Give up on the current prompt (a channel that never switches on): on to the next one."""
        with self._lock:
            walk = self._running_walk()
            walk.skip()
            self._end_checking()   # skipping the last prompt ends the walk
            return walk.state()

    def cancel_walk(self) -> dict:
        """Stop the running walk test; its results so far stay readable."""
        with self._lock:
            walk = self._running_walk()
            walk.cancel()
            state = walk.state()
            self._end_checking()
        log.info("walk test cancelled at prompt %d of %d", state["step"] + 1, state["steps"])
        return state

    def _running_walk(self) -> WalkTest:
        walk = self._walk
        if walk is None or walk.done or walk.cancelled:
            raise CommandError("no walk test is running")
        return walk
