"""The rig check on a real Service over the mock rig: MockFactory pins and the mock MCP3008.

The mock ADC plays the real hardware: its "true" zero and scale differ from
the configuration's placeholders, as a real cell's do, and the rig check
must find them. Waits have generous upper bounds; nothing asserts how fast.
"""

import json
import threading
import time
from dataclasses import replace

import pytest

from rig.calibration import calibration_path
from rig.commands import CommandError
from rig.config import DigitalWiring
from rig.layout import RigLayout
from rig.service import Service
from rig.sim.mockrig import SimulatedRig
from tests.rigs import config_for

WAIT_S = 10.0
G = 9.80665
TRUE_ZERO = {"rail.left.force": 0.061, "rail.right.force": 0.034}     # what the cells really read unloaded
TRUE_SCALE = {"rail.left.force": 150.0, "rail.right.force": 260.0}    # and their newtons per unit
LAYOUT = RigLayout(treads=3, rails={"left": ("touch", "force"), "right": ("force",)})


def wait_until(predicate, what, timeout=WAIT_S):
    end = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        pause.wait(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Rig:
    """A running Service on the mock rig, with the true hardware behind the ADC."""

    def __init__(self, config):
        self.config = config
        self.sim = SimulatedRig(config)
        self.service = Service(config, pin_factory=self.sim.factory, clock=self.sim.clock, source="sim")
        self.check = self.service.rigcheck
        for channel in TRUE_ZERO:
            self.load(channel, 0.0)
        self.service.start()

    def load(self, channel, force_n):
        """Put a real force on a cell: the ADC reads what the true hardware gives."""
        wire = self.config.wiring[channel]
        self.sim.adc.values[wire.adc_channel] = TRUE_ZERO[channel] + force_n / TRUE_SCALE[channel]

    def settle(self, seconds=1.3):
        """Let the rig sample a steady load for a while (engine time)."""
        end = self.service.clock.now() + seconds
        wait_until(lambda: self.service.clock.now() >= end and self.sampled_after(end), "samples")

    def sampled_after(self, t):
        return all((self.service.live.channels()[ch]["t_s"] or 0) >= t for ch in TRUE_ZERO)

    def force(self, channel):
        """The force the service measures now (after a fresh sample)."""
        since = self.service.clock.now() + 0.1
        wait_until(lambda: self.sampled_after(since), "a fresh sample")
        return self.service.live.channels()[channel]["value"]

    def pin(self, channel_or_pin):
        pin = channel_or_pin if isinstance(channel_or_pin, int) else self.config.wiring[channel_or_pin].pin
        return self.sim.factory.pin(pin)

    def close(self):
        self.service.stop()
        self.sim.close()


@pytest.fixture
def rig(tmp_path):
    r = Rig(config_for(LAYOUT, str(tmp_path)))
    yield r
    r.close()


# -- calibration -------------------------------------------------------------------

def test_tare_then_a_known_weight_gives_true_forces_live_and_after_a_restart(rig, tmp_path):
    ch = "rail.left.force"
    rig.load(ch, 50.0)
    assert abs(rig.force(ch) - 50.0) > 5.0            # the configuration's placeholders are wrong
    rig.load(ch, 0.0)
    rig.settle()
    tared = rig.check.tare(ch)
    assert tared["channel"] == ch and tared["source"] == "file" and tared["updated_at"]
    assert tared["zero_offset"] == pytest.approx(TRUE_ZERO[ch], abs=1 / 1023)
    rig.load(ch, 12.5 * G)                            # a 12.5 kg bucket hanging from the rail
    rig.settle()
    scaled = rig.check.scale(ch, 12.5)
    assert scaled["zero_offset"] == tared["zero_offset"]
    assert scaled["scale_n"] == pytest.approx(TRUE_SCALE[ch], rel=0.01)
    # in use at once, no restart; 1 % of these is more than the 10-bit ADC's step (0.15 N here)
    for truth_n in (30.0, 60.0, 120.0):
        rig.load(ch, truth_n)
        assert rig.force(ch) == pytest.approx(truth_n, rel=0.01)
    assert rig.check.calibration()[ch] == {k: scaled[k] for k in ("zero_offset", "scale_n", "source", "updated_at")}
    assert rig.check.calibration()["rail.right.force"]["source"] == "config"
    saved = json.load(open(calibration_path(str(tmp_path))))["channels"][ch]
    assert (saved["zero_offset"], saved["scale_n"]) == (scaled["zero_offset"], scaled["scale_n"])
    rig.close()

    again = Rig(rig.config)                           # the same configuration file, a new service
    try:
        assert again.service.config.wiring[ch].scale_n == scaled["scale_n"]
        assert again.check.calibration()[ch]["source"] == "file"
        again.load(ch, 80.0)
        assert again.force(ch) == pytest.approx(80.0, rel=0.01)
    finally:
        again.close()
    rig.close = lambda: None                          # closed already


def test_tare_is_refused_while_someone_touches_the_rail(rig):
    ch = "rail.right.force"
    stop = threading.Event()

    def hand():                                       # a hand resting on and off the rail
        n = 0
        while not stop.wait(0.03):
            n += 1
            rig.load(ch, 15.0 * (n % 2))

    touching = threading.Thread(target=hand, name="test-hand", daemon=True)
    touching.start()
    try:
        rig.settle()
        with pytest.raises(CommandError, match="rail.right.force: the readings vary too much"):
            rig.check.tare(ch)
    finally:
        stop.set()
        touching.join()
    assert rig.check.calibration()[ch]["source"] == "config"   # nothing saved, nothing changed


def test_scale_refuses_a_mass_too_light_to_tell_from_zero(rig):
    ch = "rail.left.force"
    rig.settle()
    rig.check.tare(ch)
    rig.load(ch, 0.5)                                 # 0.5 N: a few ADC steps
    rig.settle()
    with pytest.raises(CommandError, match="too little to tell from zero"):
        rig.check.scale(ch, 0.5)
    assert rig.check.calibration()[ch]["scale_n"] == 200.0


@pytest.mark.parametrize("channel, words", [
    ("tread.1", "'tread.1' is not a force channel of this rig"),
    ("rail.middle.force", "not a force channel"),
    ("", "name a force channel"),
    (None, "name a force channel"),
    (7, "name a force channel"),
])
def test_tare_of_a_wrong_channel_is_a_clear_error(rig, channel, words):
    with pytest.raises(CommandError, match=words):
        rig.check.tare(channel)


@pytest.mark.parametrize("kg", [0.2, 301, -5, float("nan"), float("inf"), True, "heavy", None, [10]])
def test_scale_with_a_wrong_mass_is_a_clear_error(rig, kg):
    with pytest.raises(CommandError, match="the known mass must be a number of kg from 0.5 to 300"):
        rig.check.scale("rail.left.force", kg)


def test_a_mass_as_text_is_read(rig):
    ch = "rail.right.force"
    rig.settle()
    rig.check.tare(ch)
    rig.load(ch, 8.0 * G)
    rig.settle()
    assert rig.check.scale(ch, " 8.0 ")["scale_n"] == pytest.approx(TRUE_SCALE[ch], rel=0.01)


def test_too_few_readings_right_after_a_change_is_a_clear_error(rig):
    ch = "rail.left.force"
    rig.settle()
    rig.check.tare(ch)
    with pytest.raises(CommandError, match="only .* readings"):   # the buffer starts again after a change
        rig.check.tare(ch)


def test_a_rig_without_force_sensors_has_nothing_to_calibrate(tmp_path):
    config = config_for(RigLayout(treads=2), str(tmp_path))
    sim = SimulatedRig(config)
    service = Service(config, pin_factory=sim.factory, clock=sim.clock, source="sim")
    try:
        assert service.rigcheck.calibration() == {}
        with pytest.raises(CommandError, match="no force sensors"):
            service.rigcheck.tare("rail.left.force")
    finally:
        service.stop()
        sim.close()


# -- channels ----------------------------------------------------------------------

def test_channels_show_kind_wiring_and_state(rig):
    rig.load("rail.left.force", 30.0)
    rig.pin("tread.2").drive_low()                    # a mat closing to ground: on
    rig.pin("rail.left.touch").drive_high()           # a TTP223 driving high: on
    rig.settle(0.3)
    wait_until(lambda: rig.check.channels()["tread.2"]["on"], "tread.2 on")
    channels = rig.check.channels()
    assert set(channels) == set(LAYOUT.channels())
    assert channels["tread.2"] == {"value": 1, "t_s": channels["tread.2"]["t_s"], "kind": "digital",
                                   "pin": rig.config.wiring["tread.2"].pin, "on": True}
    assert channels["tread.1"]["on"] is False and channels["tread.1"]["kind"] == "digital"
    assert channels["rail.left.touch"]["on"] is True
    left = channels["rail.left.force"]
    assert left["kind"] == "force" and left["adc_channel"] == rig.config.wiring["rail.left.force"].adc_channel
    assert left["on"] is True and left["value"] > 0
    # the raw reading, back from the newtons with the calibration in use
    assert left["reading"] == pytest.approx(TRUE_ZERO["rail.left.force"] + 30.0 / 150.0, abs=1 / 1023)
    # unloaded, but its true zero is above the configuration's: it reads a few newtons, "on"...
    assert channels["rail.right.force"]["on"] is True
    rig.check.tare("rail.right.force")
    wait_until(lambda: rig.check.channels()["rail.right.force"]["t_s"] > rig.service.clock.now() - 0.05
               and rig.check.channels()["rail.right.force"]["value"] < 0.2, "the tared zero in use")
    assert rig.check.channels()["rail.right.force"]["on"] is False   # ...until it is tared


# -- the walk test -------------------------------------------------------------------

def press(rig, pin, active_low=True, hold_s=0.15):
    pin = rig.pin(pin)
    (pin.drive_low if active_low else pin.drive_high)()
    threading.Event().wait(hold_s)
    (pin.drive_high if active_low else pin.drive_low)()


def walk_through(rig, actions, first=0):
    """Do each prompt's action (from prompt ``first``), then wait for the walk test to move on."""
    for i, action in enumerate(actions, start=first):
        assert rig.check.walk_state()["step"] == i
        action()
        wait_until(lambda: rig.check.walk_state()["step"] > i, f"the walk test to leave prompt {i}")
    return rig.check.walk_state()


def rail_left(rig):
    rig.load("rail.left.force", 20.0)
    press(rig, "rail.left.touch", active_low=False)
    rig.load("rail.left.force", 0.0)


def rail_right(rig):
    rig.load("rail.right.force", 25.0)
    threading.Event().wait(0.15)
    rig.load("rail.right.force", 0.0)


def tare_rails(rig):
    """Calibrate before the walk (the docs' order): an untared cell may read a few newtons unloaded."""
    rig.settle()
    for channel in TRUE_ZERO:
        rig.check.tare(channel)
    rig.settle(0.3)


def test_a_walk_test_through_real_pins(rig):
    tare_rails(rig)
    state = rig.check.start_walk()
    assert state["step"] == 0 and state["expect"] == ["tread.1"] and not state["done"]
    pins = [rig.config.wiring[f"tread.{i}"].pin for i in (1, 2, 3)]
    state = walk_through(rig, [lambda p=p: press(rig, p) for p in pins]
                         + [lambda: rail_left(rig), lambda: rail_right(rig)])
    assert state["done"]
    assert {ch: r["verdict"] for ch, r in state["results"].items()} == {ch: "ok" for ch in LAYOUT.channels()}
    # walking the rig to test it is no training: no session, no alarm
    assert rig.service.sessions.current is None and rig.service.store.sessions() == []
    assert rig.service.engine.fall_alarm is None
    with pytest.raises(CommandError, match="no walk test is running"):
        rig.check.cancel_walk()
    assert rig.check.start_walk()["step"] == 0       # a finished walk can be done again


def test_a_walk_test_keeps_the_adc_at_full_rate_so_a_moment_on_a_rail_is_seen(tmp_path):
    """An idle rig's ADC reads at idle_sample_hz (here every 2 s); a walk test keeps it at the full
    rate however long the athlete takes between prompts, so a 0.15 s press on a force-only rail
    does not fall between two idle reads."""
    r = Rig(config_for(LAYOUT, str(tmp_path), adc={"sample_hz": 50, "idle_sample_hz": 0.5, "idle_after_s": 1.0}))
    try:
        tare_rails(r)
        r.check.start_walk()
        pins = [r.config.wiring[f"tread.{i}"].pin for i in (1, 2, 3)]
        walk_through(r, [lambda p=p: press(r, p) for p in pins] + [lambda: rail_left(r)])
        sampler = r.service.sensors.sampler
        end = r.service.clock.now() + 2.5                  # the athlete reads the next prompt
        wait_until(lambda: r.service.clock.now() >= end, "a pause longer than idle_after_s")
        assert not sampler.idle                            # without the walk test it would be
        state = walk_through(r, [lambda: rail_right(r)], first=4)
        assert state["done"] and state["results"]["rail.right.force"]["verdict"] == "ok"
    finally:
        r.close()


def test_a_walk_test_names_two_pins_swapped_in_the_configuration(tmp_path):
    right = config_for(LAYOUT, str(tmp_path))
    physical = [right.wiring[f"tread.{i}"].pin for i in (1, 2, 3)]   # the mats, bottom to top
    wiring = dict(right.wiring)
    wiring["tread.2"] = DigitalWiring("tread.2", physical[2], True, None)   # the file has 2 and 3 the wrong way
    wiring["tread.3"] = DigitalWiring("tread.3", physical[1], True, None)
    rig = Rig(replace(right, wiring=wiring))
    try:
        tare_rails(rig)
        rig.check.start_walk()
        state = walk_through(rig, [lambda p=p: press(rig, p) for p in physical]
                             + [lambda: rail_left(rig), lambda: rail_right(rig)])
        verdicts = {ch: r["verdict"] for ch, r in state["results"].items()}
        assert verdicts == {"tread.1": "ok", "tread.2": "swapped", "tread.3": "swapped", "rail.left.touch": "ok",
                            "rail.left.force": "ok", "rail.right.force": "ok"}
        assert state["results"]["tread.3"]["detail"].startswith("tread.2 and tread.3 are swapped")
    finally:
        rig.close()


def test_a_dead_channel_is_skipped_and_named(rig):
    rig.check.start_walk()
    press(rig, "tread.1")
    wait_until(lambda: rig.check.walk_state()["step"] == 1, "prompt 2")
    state = rig.check.skip_walk()                     # tread 2's mat never closes
    assert state["step"] == 2
    assert state["results"]["tread.2"]["verdict"] == "dead"
    assert state["results"]["tread.2"]["detail"].startswith("tread.2 never switched on")


def test_one_walk_at_a_time_and_cancel(rig):
    with pytest.raises(CommandError, match="no walk test has been started"):
        rig.check.walk_state()
    with pytest.raises(CommandError, match="no walk test is running"):
        rig.check.skip_walk()
    rig.check.start_walk()
    with pytest.raises(CommandError, match="already running"):
        rig.check.start_walk()
    state = rig.check.cancel_walk()
    assert state["cancelled"] and not state["done"]
    press(rig, "tread.1")                             # no longer listened to: a step of training
    wait_until(lambda: rig.service.sessions.current is not None, "the step to start a session")
    assert rig.check.walk_state()["results"]["tread.1"]["verdict"] == "untested"
    with pytest.raises(CommandError, match="a session is running"):
        rig.check.start_walk()
    rig.service.commands.stop_session()
    assert rig.check.start_walk()["step"] == 0


def test_training_counts_again_after_a_walk_skipped_to_its_end(rig):
    """Skipping every prompt (a dead last channel) ends the walk: sessions and alarms come back."""
    rig.check.start_walk()
    with pytest.raises(CommandError, match="a walk test is running"):
        rig.service.commands.start_session()
    while not rig.check.walk_state()["done"]:
        rig.check.skip_walk()
    assert rig.service.engine.command("start_session").result(5)["key"]    # in order after the "off"
    rig.service.commands.stop_session()
    press(rig, rig.config.wiring["tread.1"].pin)
    wait_until(lambda: rig.service.sessions.current is not None, "a step to start a session")


def test_a_cancelled_walk_gives_training_back(rig):
    rig.check.start_walk()
    rig.check.cancel_walk()
    assert rig.service.engine.command("start_session").result(5)["key"]
