"""The HX711 path: its pure numbers, the driver against the pin-level mock chip, and the sampler.

The mock chip (rig/hardware/mockhx711.py) answers the driver's clock on
MockFactory pins and keeps the datasheet's timing: most tests give both a
clock that only moves when told (``StepTicks``), so that every pulse's length
is known and nothing depends on how busy the machine is.
"""

import threading
import time

import pytest

from rig.clock import PinFactoryClock
from rig.hardware import hx711_code as code
from rig.hardware.adc import AnalogSampler
from rig.hardware.hx711 import HX711, Hx711Dropped, Hx711NotReady
from rig.hardware.mockhx711 import MockHX711, mock_hx711
from rig.hardware.mockpi import PIN_HISTORY, RigMockFactory

DOUT, SCK = 5, 6


class StepTicks:
    """A clock for the factory's ticks and the driver's waits: each ticks() moves it ``step_s``;
    a sleep moves it by the time slept (no real waiting)."""

    def __init__(self, step_s=1e-6):
        self.t = 0.0
        self.step_s = step_s
        self.sleeps = 0

    def ticks(self):
        self.t += self.step_s
        return self.t

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.sleeps += 1
        self.t += seconds


def hold_clock_high(clock, chip, pulse, seconds):
    """The reading thread is held up ``seconds`` with PD_SCK high, at the ``pulse``-th pulse (1-based)
    of the next reading: the clock jumps just before the pin goes low again."""
    change = chip.sck._change_state
    falls = {"n": 0}

    def slow_change(value):
        if not value:
            falls["n"] += 1
            if falls["n"] == pulse:
                clock.t += seconds
        return change(value)
    chip.sck._change_state = slow_change


@pytest.fixture
def hx():
    """A mock HX711 at 80 Hz and the driver on it, on a StepTicks clock."""
    clock = StepTicks()
    factory = RigMockFactory(clock=clock)
    chip = mock_hx711(factory, DOUT, SCK, 80)
    driver = HX711(DOUT, SCK, 80, pin_factory=factory, sleep=clock.sleep, monotonic=clock.now)
    yield clock, chip, driver
    driver.close()
    factory.close()


# -- the pure numbers ----------------------------------------------------------------

@pytest.mark.parametrize("count, bits", [
    (0, "0" * 24),
    (1, "0" * 23 + "1"),
    (-1, "1" * 24),
    (0x7FFFFF, "0" + "1" * 23),                 # positive full scale
    (-0x800000, "1" + "0" * 23),                # negative full scale
    (1234567, format(1234567, "024b")),
    (-1234567, format((1 << 24) - 1234567, "024b")),
])
def test_24_bits_two_s_complement(count, bits):
    assert code.code_from_bits([int(b) for b in bits]) == count
    assert "".join(map(str, code.bits_from_code(count))) == bits


def test_readings_are_offset_binary_like_the_mcp3008_s_0_to_1():
    assert code.reading_from_code(0) == 0.5
    assert code.reading_from_code(code.MIN_CODE) == 0.0
    assert code.reading_from_code(code.MAX_CODE) == pytest.approx(1.0, abs=1e-6) and code.reading_from_code(
        code.MAX_CODE) < 1.0
    for count in (-8388608, -5, 0, 77, 8388607):
        assert code.code_from_reading(code.reading_from_code(count)) == count
    assert code.code_from_reading(1.5) == code.MAX_CODE and code.code_from_reading(-0.2) == code.MIN_CODE
    assert code.is_full_scale(code.MAX_CODE) and code.is_full_scale(code.MIN_CODE) and not code.is_full_scale(0)


def test_the_timing_rule():
    assert not code.pulse_too_long(20e-6) and not code.pulse_too_long(50e-6)
    assert code.pulse_too_long(51e-6) and code.pulse_too_long(1e-3)
    assert code.MAX_HIGH_S < code.POWER_DOWN_S
    with pytest.raises(ValueError):
        code.code_from_bits([0] * 23)
    with pytest.raises(ValueError):
        code.bits_from_code(1 << 23)


# -- the driver on the mock chip -----------------------------------------------------

@pytest.mark.parametrize("count", [1234567, -1234567, 0x7FFFFF, -0x800000, 0, -1, 1])
def test_values_read_right(hx, count):
    clock, chip, driver = hx
    chip.code = count
    assert driver.read_code() == count
    chip.code = -count - 1 if count >= 0 else -count - 1      # the next conversion, another value
    assert driver.read_code() == chip.code
    assert driver.dropped == 0 and chip.resets == 0 and chip.conversions == 2


def test_value_is_the_reading_a_force_channel_converts(hx):
    clock, chip, driver = hx
    chip.reading = 0.5 + 0.128 * 0.25              # a quarter of a 1 mV/V cell's capacity
    assert driver.value == pytest.approx(0.532, abs=1e-6)


def test_each_reading_is_a_new_conversion_at_the_chip_s_rate_without_spinning(hx):
    clock, chip, driver = hx
    driver.read_code()                              # after settling (four periods)
    t0 = clock.t
    for i in range(20):
        chip.code = i * 1000
        assert driver.read_code() == i * 1000
    elapsed = clock.t - t0
    assert elapsed == pytest.approx(20 / 80, rel=0.05)     # mock time: every conversion waited for
    assert chip.conversions == 21
    assert clock.sleeps <= 21 * 25                   # slept in slices, never spun on DOUT


def test_a_slow_clock_gives_a_dropped_reading_not_a_wrong_value(hx):
    clock, chip, driver = hx
    chip.code = 4242
    assert driver.read_code() == 4242
    # the reading thread is held up 70 us while PD_SCK is high in the middle of the next reading:
    # the chip powers down, and the bits clocked after it are not the conversion
    hold_clock_high(clock, chip, 12, 70e-6)
    with pytest.raises(Hx711Dropped, match=r"HX711 \(DOUT BCM 5, PD_SCK BCM 6\): a clock pulse was held high 7\d us"):
        driver.read_code()
    assert driver.dropped == 1 and chip.resets == 1
    # the chip settles again; the next reading is right
    assert driver.read_code() == 4242
    assert driver.dropped == 1 and driver.reads == 2


def test_without_the_timing_check_that_reading_would_be_wrong(hx):
    """The mock really resets: the same slow pulse, read bit by bit, gives ones after it."""
    clock, chip, driver = hx
    chip.code = 4242
    driver.read_code()
    hold_clock_high(clock, chip, 12, 70e-6)
    dout, sck = driver._dout, driver._sck
    while dout.state:
        clock.sleep(1e-3)
    bits = []
    for _ in range(24):
        sck.state = True
        sck.state = False
        bits.append(int(dout.state))
    assert code.code_from_bits(bits) != 4242 and bits[12:] == [1] * 12 and chip.resets == 1


def test_a_pulse_just_under_the_limit_is_kept(hx):
    clock, chip, driver = hx
    chip.code = -99
    driver.read_code()
    hold_clock_high(clock, chip, 5, 40e-6)
    assert driver.read_code() == -99 and driver.dropped == 0 and chip.resets == 0


def test_a_silent_chip_is_a_clear_error_after_a_bounded_wait():
    clock = StepTicks()
    factory = RigMockFactory(clock=clock)
    driver = HX711(DOUT, SCK, 10, pin_factory=factory, sleep=clock.sleep, monotonic=clock.now)
    try:
        factory.pin(DOUT).drive_high()               # no chip: DOUT pulled high
        with pytest.raises(Hx711NotReady, match=r"HX711 \(DOUT BCM 5, PD_SCK BCM 6\): no conversion ready in "
                                                r"0\.6\d s \(DOUT stays high\): check its power"):
            driver.read_code()
        assert clock.t < 1.0
    finally:
        driver.close()
        factory.close()


def test_the_mock_keeps_bounded_memory(hx):
    clock, chip, driver = hx
    for _ in range(40):
        driver.read_code()
    assert len(chip.sck.states) <= PIN_HISTORY and len(chip.dout.states) <= PIN_HISTORY
    assert not hasattr(chip, "history")


def test_the_mock_must_own_its_pins():
    factory = RigMockFactory()
    try:
        factory.pin(SCK)
        with pytest.raises(RuntimeError, match="must be made before its pins are opened"):
            MockHX711(factory, DOUT, SCK, 10)
    finally:
        factory.close()


# -- the sampler reads it at its rate ------------------------------------------------

def test_the_sampler_reads_an_hx711_at_its_rate_on_real_time():
    """Real time, real threads: each scan takes one new conversion (none used twice), in
    newtons, and the thread sleeps while DOUT is high (bounded DOUT reads per conversion)."""
    factory = RigMockFactory()
    chip = mock_hx711(factory, DOUT, SCK, 80)
    reads = {"dout": 0}
    refresh = chip.refresh

    def counting_refresh(t):
        reads["dout"] += 1
        refresh(t)
    chip.refresh = counting_refresh
    driver = HX711(DOUT, SCK, 80, pin_factory=factory)
    clock = PinFactoryClock(factory)
    stop = threading.Event()
    scans = []
    chip.reading = 0.5 + 0.1                         # 0.1 of the range above zero
    sampler = AnalogSampler([("rail.left.force", driver, 0.5, 1500.0)], 80, lambda t, scan, wake: scans.append(
        (t, scan)), clock, stop)
    try:
        sampler.start()
        end = time.monotonic() + 10
        while len(scans) < 30 and time.monotonic() < end:
            time.sleep(0.02)
    finally:
        stop.set()
        sampler.thread.join(5)
        driver.close()
        factory.close()
    assert len(scans) >= 30
    assert [name for _, scan in scans for name, _ in scan] == ["rail.left.force"] * len(scans)
    assert [n for _, scan in scans for _, n in scan] == pytest.approx([150.0] * len(scans), abs=0.01)
    # every reading used was a whole conversion; one dropped for a slow pulse is never used
    assert driver.reads == len(scans) and sampler.dropped == driver.dropped and sampler.errors == 0
    assert driver.reads <= chip.conversions <= driver.reads + driver.dropped
    assert sampler.period_s == 1 / 80
    assert reads["dout"] <= 60 * (chip.conversions + chip.resets + 4)


def test_a_stop_ends_the_wait_for_a_conversion_at_once():
    factory = RigMockFactory()
    stop = threading.Event()
    driver = HX711(DOUT, SCK, 10, pin_factory=factory, stop=stop)
    try:
        factory.pin(DOUT).drive_high()               # nothing converts
        threading.Timer(0.05, stop.set).start()
        with pytest.raises(Hx711NotReady, match="stopped while waiting for a conversion"):
            driver.read_code()
    finally:
        driver.close()
        factory.close()
