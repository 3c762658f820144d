"""A real Service whose rail load cells are HX711s: the pin-level mock chips answer the driver's
clock on MockFactory pins; the rig check's tare and known-mass calibration and the guided walk
test work through them as through the MCP3008 (tests/test_rigcheck.py does the same there).
Waits have generous upper bounds; nothing asserts how fast."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rig.config import AnalogWiring, Hx711Wiring
from rig.layout import RigLayout
from rig.walktest import WalkTest
from tests import test_rigcheck as rigcheck
from tests.rigs import config_for
from tests.test_walktest import Person, verdicts

G = 9.80665
TRUE_ZERO = {"rail.left.force": 0.5012, "rail.right.force": 0.4993}   # a cell's zero balance, as readings
TRUE_SCALE = {"rail.left.force": 1532.0, "rail.right.force": 3830.0}  # 20 kg and 50 kg cells at 1 mV/V, gain 128
PINS = {"rail.left.force": (13, 16), "rail.right.force": (19, 20)}   # (DOUT, PD_SCK)


def hx711_config(data_dir: str):
    config = config_for(rigcheck.LAYOUT, data_dir)
    wiring = dict(config.wiring)
    for channel, (dout, sck) in PINS.items():
        # the configuration's zero and scale are placeholders, as before a calibration
        wiring[channel] = AnalogWiring(channel, None, 0.5, 1000.0, Hx711Wiring(dout=dout, sck=sck, rate_hz=80))
    return replace(config, wiring=wiring)


class Hx711Rig(rigcheck.Rig):
    def load(self, channel, force_n):
        """A real force on a cell: its HX711 converts what the true cell gives."""
        self.sim.hx711s[channel].reading = TRUE_ZERO[channel] + force_n / TRUE_SCALE[channel]


@pytest.fixture
def rig(tmp_path, monkeypatch):
    monkeypatch.setattr(rigcheck, "TRUE_ZERO", TRUE_ZERO)     # Rig's settle() and the walk's tare read these
    monkeypatch.setattr(rigcheck, "TRUE_SCALE", TRUE_SCALE)
    r = Hx711Rig(hx711_config(str(tmp_path)))
    yield r
    r.close()


def test_the_service_samples_the_hx711s_at_their_rate(rig):
    sampler = rig.service.sensors.sampler
    assert sampler.period_s == 1 / 80
    assert [type(d).__name__ for d in rig.service.sensors.adcs] == ["HX711", "HX711"]
    rig.load("rail.left.force", 0.0)
    rig.settle(0.5)
    chips = rig.sim.hx711s
    assert all(chip.conversions >= 10 for chip in chips.values())
    assert sampler.errors == 0


def test_tare_then_a_known_mass_through_the_hx711(rig):
    ch = "rail.left.force"
    rig.load(ch, 50.0)
    assert abs(rig.force(ch) - 50.0) > 5.0            # the placeholders are wrong
    rig.load(ch, 0.0)
    rig.settle()
    tared = rig.check.tare(ch)
    assert tared["zero_offset"] == pytest.approx(TRUE_ZERO[ch], abs=1e-5)
    rig.load(ch, 12.5 * G)
    rig.settle()
    scaled = rig.check.scale(ch, 12.5)
    assert scaled["scale_n"] == pytest.approx(TRUE_SCALE[ch], rel=0.001)
    for truth_n in (0.5, 1.2, 30.0, 120.0):            # 24 bits: the 1 N light/firm boundary is well resolved
        rig.load(ch, truth_n)
        assert rig.force(ch) == pytest.approx(truth_n, abs=0.01)
    assert rig.check.channels()[ch]["reading"] == pytest.approx(TRUE_ZERO[ch] + 120.0 / TRUE_SCALE[ch], abs=1e-5)


def test_a_walk_test_with_hx711_rails(rig):
    rigcheck.tare_rails(rig)
    rig.check.start_walk()
    pins = [rig.config.wiring[f"tread.{i}"].pin for i in (1, 2, 3)]
    state = rigcheck.walk_through(rig, [lambda p=p: rigcheck.press(rig, p) for p in pins]
                                  + [lambda: rigcheck.rail_left(rig), lambda: rigcheck.rail_right(rig)])
    assert state["done"]
    assert {ch: r["verdict"] for ch, r in state["results"].items()} == {ch: "ok" for ch in rigcheck.LAYOUT.channels()}


def test_swapped_hx711_force_treads_are_named_with_their_pins():
    """The walk test's advice names what to swap in the configuration: an HX711's pins."""
    layout = RigLayout(treads=2, tread_sensor="force")
    walk = WalkTest(layout, hx711_channels=frozenset(layout.channels()))
    person = Person(walk)
    person.press("tread.2.force", on=700.0, off=1.0)
    person.press("tread.1.force", on=700.0, off=1.0)
    assert verdicts(walk) == {"tread.1.force": "swapped", "tread.2.force": "swapped"}
    assert walk.state()["results"]["tread.1.force"]["detail"].endswith(
        "Swap their wires, or their hx711 dout and sck pins in the configuration.")


# -- the calibration's judgement of an HX711's readings (pure) ---------------------

def test_an_hx711_tare_and_scale_are_judged_by_its_own_resolution():
    from rig.calibration import CalibrationError, scale_from, tare_offset
    zero = 0.5012
    steady = [zero + (i % 3 - 1) * 2e-6 for i in range(80)]           # a few counts of noise
    assert tare_offset(steady, hx711=True) == pytest.approx(zero, abs=1e-6)
    # 12.5 kg on a 50 kg cell at 1 mV/V moves the reading 0.032: less than 20 MCP3008 steps, plenty here
    loaded = [zero + 12.5 * G / 3830.0] * 80
    assert scale_from(loaded, zero, 12.5 * G, hx711=True) == pytest.approx(3830.0, rel=1e-4)
    with pytest.raises(CalibrationError, match="at least 41943 counts of the HX711"):
        scale_from([zero + 0.001] * 80, zero, 1.0 * G, hx711=True)
    with pytest.raises(CalibrationError, match="the HX711 reads its full scale with no load: a signal wire"):
        tare_offset([0.0] * 80, hx711=True)
    with pytest.raises(CalibrationError, match="the HX711 reads its full scale: the load is beyond"):
        scale_from([1.0 - 1 / (1 << 24)] * 80, zero, 100 * G, hx711=True)
    with pytest.raises(CalibrationError, match="vary too much .* counts of the HX711"):
        tare_offset([zero + (i % 2) * 0.004 for i in range(80)], hx711=True)


def test_the_rig_check_refuses_a_mass_too_light_for_an_hx711(rig):
    from rig.commands import CommandError
    ch = "rail.right.force"
    rig.load(ch, 0.0)
    rig.settle()
    rig.check.tare(ch)
    rig.load(ch, 0.5 * G)                               # 0.5 kg on a 50 kg cell: 0.0013 of the range
    rig.settle()
    with pytest.raises(CommandError, match=r"rail.right.force: the load moved the reading by only 0\.0013 .*"
                                           r"counts of the HX711"):
        rig.check.scale(ch, 0.5)
