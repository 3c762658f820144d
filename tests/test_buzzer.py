"""The buzzer on gpiozero's MockFactory: what each cue does to the pin, the fall alarm,
switched-off cues, and a failing device. Only the pins are mocked."""

import logging
import threading
import time

import pytest
from gpiozero import Buzzer
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin
from gpiozero.tones import Tone

from rig.bus import EventBus
from rig.config import BUZZER_CUES, BuzzerConfig
from rig.layout import RigLayout
from rig.outputs.buzzer import (MIN_STEPS_FOR_CADENCE, PATTERNS, REPEAT_EVERY_S, TYPES, BuzzerOutput)
from rig.progression import ProgressionSettings
from rig.service import Service
from rig.sim import simulate
from rig.sim.mockrig import RigDriver, SimulatedRig
from tests.rigs import config_for

PIN = 18
WAIT_S = 10.0
LIMIT_SPM = ProgressionSettings().control_band_spm[1]


class TonePin(MockPWMPin):
    """A PWM pin that remembers every frequency it was set to (a passive piezo's tones)."""

    def __init__(self, factory, info):
        super().__init__(factory, info)
        self.tones = []

    def _set_frequency(self, value):
        super()._set_frequency(value)
        if value is not None:
            self.tones.append(round(value, 1))


class BreakablePin(MockPin):
    """A pin whose driver fails once ``broken`` is set (a loose wire on a GPIO expander, say)."""
    broken = False

    def _set_state(self, value):
        if BreakablePin.broken:
            raise OSError("GPIO write failed")
        super()._set_state(value)


def wait_until(predicate, what):
    end = time.monotonic() + WAIT_S
    while time.monotonic() < end:
        if predicate():
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


def make(factory, **kwargs):
    out = BuzzerOutput(BuzzerConfig(pin=PIN, **kwargs), factory)
    pin = factory.pin(PIN)
    pin.clear_states()
    return out, pin


def pulses(pin, on=True):
    """How many times the pin went to its sounding state."""
    return sum(1 for s in list(pin.states)[1:] if bool(s.state) == on)


def session(out, grip="light"):
    out({"type": "session_started", "t": 0.0, "key": "k", "drill": {"facing": "backward", "grip": grip}})


def update(t, cadence_spm, steps=20):
    return {"type": "session_update", "t": t, "key": "k", "summary": {"steps": steps, "cadence_spm": cadence_spm}}


CUE_EVENTS = {
    "grab": [{"type": "grab", "t": 5.0, "rail": "left", "force_n": 120.0}],
    "stall": [{"type": "stall", "t": 5.0, "tread": 3, "stall_s": 3.0}],
    "too_fast": [update(5.0, LIMIT_SPM + 30)],
    "firm_grip": [{"type": "grip", "t": 5.0, "rail": "left", "grip": "firm", "force_n": 12.0}],
    "flight": [{"type": "ascent", "t": 5.0, "ascents": 1}],
}
DOCUMENTED_BEEPS = {"grab": 3, "stall": 2, "too_fast": 1, "firm_grip": 2, "flight": 1}


@pytest.mark.parametrize("cue", sorted(CUE_EVENTS))
def test_each_cue_beeps_its_pattern(factory, cue):
    out, pin = make(factory)
    try:
        session(out)
        for event in CUE_EVENTS[cue]:
            out(event)
        assert out.wait_idle(WAIT_S)
        assert pulses(pin) == DOCUMENTED_BEEPS[cue]
        assert pin.state is False                      # silent after the pattern
        pin.assert_states([False, True, False])
    finally:
        out.close()


@pytest.mark.parametrize("cue", sorted(CUE_EVENTS))
def test_each_cue_plays_its_tones_on_a_passive_piezo(cue):
    factory = MockFactory(pin_class=TonePin)
    try:
        out = BuzzerOutput(BuzzerConfig(pin=PIN, kind="tonal"), factory)
        pin = factory.pin(PIN)
        pin.tones.clear()
        session(out)
        for event in CUE_EVENTS[cue]:
            out(event)
        assert out.wait_idle(WAIT_S)
        out.close()
        notes = [note for note, _ in PATTERNS[cue] if note is not None]
        assert pin.tones == [round(Tone(n).frequency, 1) for n in notes]
        assert pin.frequency is None and pin.state == 0   # silent, released
    finally:
        factory.reset()


def test_the_cues_are_told_apart_by_rhythm_and_by_tone():
    def rhythm(pattern):     # what an active buzzer can do: on/off runs
        runs = []
        for note, seconds in pattern:
            on = note is not None
            if runs and runs[-1][0] == on:
                runs[-1] = (on, runs[-1][1] + seconds)
            else:
                runs.append((on, round(seconds, 3)))
        return tuple(runs)

    assert set(PATTERNS) == set(BUZZER_CUES)
    rhythms = {cue: rhythm(p) for cue, p in PATTERNS.items()}
    assert len(set(rhythms.values())) == len(rhythms)
    tunes = {cue: tuple(n for n, _ in p) for cue, p in PATTERNS.items()}
    assert len(set(tunes.values())) == len(tunes)


def test_switched_off_cues_stay_silent(factory):
    out, pin = make(factory, cues=("flight",))
    try:
        session(out, grip="hover")
        for events in CUE_EVENTS.values():
            for event in events:
                if event["type"] != "ascent":
                    out(event)
        out({"type": "grip", "t": 30.0, "rail": "right", "grip": "touch", "force_n": None})
        out({"type": "fall_suspected", "t": 40.0, "tread": 3})
        assert out.wait_idle(WAIT_S) and not out.alarm
        assert pin.states[-1].state is False and pulses(pin) == 0
        out({"type": "descent", "t": 50.0, "descents": 1})      # the one cue left on
        assert out.wait_idle(WAIT_S)
        assert pulses(pin) == 1
    finally:
        out.close()


def test_too_fast_at_most_every_ten_seconds_and_only_above_the_limit(factory):
    out, pin = make(factory)
    try:
        session(out)
        for event in (update(10.0, LIMIT_SPM - 5),                          # within the limit
                      update(11.0, LIMIT_SPM + 40, steps=MIN_STEPS_FOR_CADENCE - 1),   # too few steps to judge
                      update(12.0, None)):
            out(event)
        assert out.wait_idle(WAIT_S) and pulses(pin) == 0
        out(update(20.0, LIMIT_SPM + 10))
        out(update(20.0 + REPEAT_EVERY_S / 2, LIMIT_SPM + 10))            # too soon again
        assert out.wait_idle(WAIT_S) and pulses(pin) == 1
        out(update(20.0 + REPEAT_EVERY_S + 0.1, LIMIT_SPM + 10))
        assert out.wait_idle(WAIT_S) and pulses(pin) == 2
    finally:
        out.close()


def test_a_drill_that_names_its_cadence_limit_is_held_to_it(factory):
    out, pin = make(factory)
    try:
        out({"type": "session_started", "t": 0.0, "key": "k",
             "drill": {"facing": "backward", "grip": "light", "cadence_limit_spm": LIMIT_SPM - 30}})
        out(update(5.0, LIMIT_SPM - 20))              # within the control band, above this drill's limit
        assert out.wait_idle(WAIT_S) and pulses(pin) == 1
    finally:
        out.close()


def grip(t, level, rail="left"):
    return {"type": "grip", "t": t, "rail": rail, "grip": level, "force_n": None}


def test_a_grip_firmer_than_the_drill_asks(factory):
    out, pin = make(factory)
    try:
        out(grip(1.0, "firm"))                        # no session: nobody is training
        session(out, grip="light")
        out(grip(2.0, "light"))                       # as the drill asks
        out(grip(3.0, "touch"))
        assert out.wait_idle(WAIT_S) and pulses(pin) == 0
        out(grip(4.0, "firm"))                        # firmer than light: two short beeps
        out(grip(6.0, "firm", rail="right"))          # within 10 s: quiet
        assert out.wait_idle(WAIT_S) and pulses(pin) == 2
        out({"type": "athlete_changed", "t": 7.0, "athlete": {}, "drill": {"facing": "backward", "grip": "hover"}})
        out(grip(20.0, "touch"))                      # hands should hover: any contact is too much
        assert out.wait_idle(WAIT_S) and pulses(pin) == 4
        out({"type": "athlete_changed", "t": 21.0, "athlete": {}, "drill": {"facing": "backward", "grip": "firm"}})
        out(grip(40.0, "firm"))                       # a firm grip is the drill
        out({"type": "session_ended", "t": 41.0, "key": "k"})
        session(out, grip="none")
        out(grip(60.0, "none"))
        assert out.wait_idle(WAIT_S) and pulses(pin) == 4
    finally:
        out.close()


def test_the_fall_alarm_repeats_until_acknowledged(factory):
    out, pin = make(factory)
    try:
        out({"type": "fall_suspected", "t": 5.0, "tread": 2})
        wait_until(lambda: pulses(pin) >= 4, "four rounds of the alarm")
        assert out.alarm
        assert not out.cue("grab")                    # nothing else while it sounds
        assert not out.wait_idle(0.2)                 # it does not stop by itself
        out({"type": "fall_acknowledged", "t": 9.0, "by": "coach", "fall_t": 5.0, "after_s": 4.0})
        assert out.wait_idle(WAIT_S) and not out.alarm
        heard = len(pin.states)
        threading.Event().wait(0.8)                   # longer than a round: no new one starts
        assert len(pin.states) == heard and pin.state is False
        out({"type": "grab", "t": 10.0, "rail": "left", "force_n": 90.0})
        assert out.wait_idle(WAIT_S) and pulses(pin) >= 4 + 3   # the cues are back
    finally:
        out.close()


def test_close_silences_the_alarm_and_releases_the_pin(factory):
    out, pin = make(factory)
    out({"type": "fall_suspected", "t": 5.0, "tread": 2})
    wait_until(lambda: pin.state is True, "the alarm sounding")
    out.close()
    assert pin.state is False
    assert not out._thread.is_alive()
    assert out.device is None
    again = Buzzer(PIN, pin_factory=factory)          # the pin is free for another device
    again.close()
    out({"type": "grab", "t": 6.0})                  # events after close change nothing
    assert pin.state is False


def test_an_active_low_buzzer_rests_high(factory):
    out, pin = make(factory, active_high=False)
    try:
        assert pin.state is True
        out({"type": "stall", "t": 1.0, "tread": 1, "stall_s": 3.0})
        assert out.wait_idle(WAIT_S)
        assert pulses(pin, on=False) == 2 and pin.state is True
    finally:
        out.close()


def test_a_failing_device_never_breaks_the_bus(caplog):
    factory = MockFactory(pin_class=BreakablePin)
    bus = EventBus(name="test-bus")
    seen = []
    try:
        out = BuzzerOutput(BuzzerConfig(pin=PIN), factory)
        bus.subscribe("buzzer", out, types=TYPES)
        bus.subscribe("after", seen.append)
        bus.start()
        BreakablePin.broken = True
        for i in range(3):
            bus.publish({"type": "grab", "t": float(i), "rail": "left", "force_n": 90.0})
        wait_until(lambda: out.errors > 0, "the buzzer to fail")
        bus.publish({"type": "fall_suspected", "t": 4.0, "tread": 2})
        wait_until(lambda: out.errors > 3, "the alarm to fail too")
        bus.publish({"type": "fall_acknowledged", "t": 5.0, "by": "x", "fall_t": 4.0, "after_s": 1.0})
        wait_until(lambda: len(seen) == 5, "the bus to hand every event on")
        assert out.wait_idle(WAIT_S)
        assert out._thread.is_alive() and bus.is_alive()
        failures = [r for r in caplog.records if "buzzer on BCM 18 failed" in r.getMessage()]
        assert len(failures) == 1                     # logged once per failure streak, not per beep
        BreakablePin.broken = False                   # the wire fixed: it beeps again
        pin = factory.pin(PIN)
        pin.clear_states()
        bus.publish({"type": "ascent", "t": 9.0, "ascents": 1})
        wait_until(lambda: pulses(pin) == 1, "a beep from the repaired buzzer")
        out.close()
    finally:
        BreakablePin.broken = False
        bus.close()
        factory.reset()


def test_a_buzzer_that_cannot_be_opened_is_logged_and_the_rig_goes_on(factory, caplog):
    out = BuzzerOutput(BuzzerConfig(pin=PIN, kind="tonal"), factory)   # a plain MockPin: no PWM
    try:
        assert out.device is None
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any("BCM 18 cannot be opened" in m and "PWM" in m for m in errors)
        out({"type": "fall_suspected", "t": 1.0, "tread": 1})
        out({"type": "fall_acknowledged", "t": 2.0, "by": "x", "fall_t": 1.0, "after_s": 1.0})
        out({"type": "grab", "t": 3.0})
        assert out.wait_idle(WAIT_S)
    finally:
        out.close()


def test_a_suspected_fall_on_the_simulated_rig_sounds_until_the_coach_acknowledges_it(tmp_path):
    layout = RigLayout(treads=5, rails={"left": ("touch",)})
    config = config_for(layout, str(tmp_path), buzzer={"pin": 27})
    sim = simulate("fall", seed=1, layout=layout)
    rig = SimulatedRig(config, speed=20.0)
    try:
        service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")
        pin = rig.factory.pin(27)
        service.start()
        driver = RigDriver(rig, sim.samples, service.stop_event)
        driver.start()
        wait_until(lambda: service.buzzer.alarm, "the fall alarm")
        wait_until(lambda: pulses(pin) >= 2, "the alarm repeating")
        assert service.buzzer.alarm
        service.commands.acknowledge_fall("coach")
        wait_until(lambda: not service.buzzer.alarm, "the alarm to stop")
        assert service.live.snapshot()["alarm"] is None
        assert driver.done.wait(60)
        service.stop()
        assert pin.state is False and not service.buzzer._thread.is_alive()
    finally:
        rig.close()
