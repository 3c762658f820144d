"""The mock Pi (rig/hardware/mockpi.py): gpiozero's own devices on it, read as on a real Pi,
and nothing in it that grows while a service runs for hours."""

from __future__ import annotations

import threading
import tracemalloc

import pytest
from gpiozero import MCP3008, Buzzer, Device, DigitalInputDevice, TonalBuzzer
from gpiozero.pins.mock import MockSPIClockPin

from rig.hardware.factory import load_pin_factory
from rig.hardware.inputs import EdgeInput
from rig.hardware.mockpi import PIN_HISTORY, MockHardwareSPI, MockMCP3008, RigMockFactory


@pytest.fixture
def factory():
    save = Device.pin_factory
    Device.pin_factory = f = RigMockFactory()
    try:
        yield f
    finally:
        f.close()
        Device.pin_factory = save


def test_gpiozeros_mcp3008_reads_the_mock_chip_over_hardware_spi(factory):
    chip = factory.mcp3008(0, 1)
    adcs = [MCP3008(channel=c, port=0, device=1, pin_factory=factory) for c in range(8)]
    for c in range(8):
        chip.values[c] = c / 7
    assert [round(a.raw_value) for a in adcs] == [round(c / 7 * 1023) for c in range(8)]
    assert isinstance(adcs[0]._spi, MockHardwareSPI)
    assert adcs[0]._spi is adcs[5]._spi                  # one shared interface per chip select, as on a Pi
    chip.values[3] = 1.7                                  # above Vref: the chip reads full scale
    chip.values[4] = -0.2
    assert adcs[3].raw_value == 1023 and adcs[4].raw_value == 0
    # the clock pin is never bit-banged: hardware SPI is a transfer
    assert not any(isinstance(p, MockSPIClockPin) for p in factory.pins.values())
    assert chip.transfers == 8 + 2


def test_differential_reads_are_in_plus_minus_in_minus(factory):
    chip = factory.mcp3008(0, 0)
    chip.values[0], chip.values[1] = 0.75, 0.25
    plus01 = MCP3008(channel=0, differential=True, pin_factory=factory)
    plus10 = MCP3008(channel=1, differential=True, pin_factory=factory)
    assert plus01.raw_value == round(0.5 * 1023)
    assert plus10.raw_value == 0                          # negative: the chip reads zero


def test_the_transfer_follows_the_datasheet_bit_by_bit():
    """Figure 6-1 of the MCP3008 datasheet with 8-bit words: 00000001 1CCCxxxx xxxxxxxx
    in, ???????? ?????0RR RRRRRRRR out; and the start bit one word earlier or later."""
    chip = MockMCP3008()
    chip.values[5] = 700 / 1023
    assert chip.transfer([0b00000001, 0b11010000, 0]) == [0, 0b10, 700 & 0xFF]
    assert chip.transfer([0, 0, 0b00000001, 0b11010000, 0]) == [0, 0, 0, 0b10, 700 & 0xFF]
    # a transfer cut short returns the bits that fitted
    assert chip.transfer([0b00000001, 0b11010000]) == [0, (700 >> 8) & 0b11]
    assert chip.transfer([0, 0, 0]) == [0, 0, 0]          # no start bit: nothing


def test_stairrig_run_on_mock_pins_gets_the_mock_pi(monkeypatch):
    save = Device.pin_factory
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    try:
        f = load_pin_factory(None)
        assert isinstance(f, RigMockFactory) and Device.pin_factory is f
        f.close()
    finally:
        Device.pin_factory = save


def test_no_mock_part_keeps_what_it_passes_through(factory):
    """Thousands of ADC reads, tread and touch edges, buzzer beeps and tones: every pin keeps
    at most its last states and the Python heap does not grow with the number of operations."""
    tread = DigitalInputDevice(17, pull_up=True, pin_factory=factory)
    touch = DigitalInputDevice(27, pull_up=None, active_state=True, pin_factory=factory)
    buzzer = Buzzer(22, pin_factory=factory)
    tone = TonalBuzzer(23, pin_factory=factory)
    adcs = [MCP3008(channel=c, pin_factory=factory) for c in (0, 1)]
    chip = factory.mcp3008(0, 0)

    def exercise(n: int) -> None:
        for i in range(n):
            chip.values[i % 2] = (i % 100) / 100
            for adc in adcs:
                adc.value
            for pin in (factory.pin(17), factory.pin(27)):
                pin.drive_low()
                pin.drive_high()
            buzzer.on()
            buzzer.off()
            tone.play(220.0 + i % 200)
            tone.stop()

    exercise(200)                     # warm up: caches, the first of everything
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        exercise(5000)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 64 * 1024, f"the mock grew by {grown} bytes over 5,000 rounds"
    assert all(len(pin.states) <= PIN_HISTORY for pin in factory.pins.values())
    assert tread.value in (0, 1) and touch.value in (0, 1)
    for device in (tread, touch, buzzer, tone, *adcs):
        device.close()


def test_a_virtual_clock_stamps_edges_with_its_time(factory):
    from rig.clock import VirtualClock
    clock = VirtualClock(speed=1.0)
    f = RigMockFactory(clock=clock)
    seen = []
    device = EdgeInput("tread.1", lambda ticks, channel, value: seen.append((ticks, value)), 5, pin_factory=f)
    clock.set(12.5)
    f.pin(5).drive_low()
    clock.set(13.25)
    f.pin(5).drive_high()
    assert seen == [(12.5, 1), (13.25, 0)]
    device.close()
    f.close()


def test_pins_of_one_factory_are_usable_from_many_threads(factory):
    """The engine, the sampler and pin callbacks run in their own threads: reads from two
    threads at once each get a whole answer."""
    chip = factory.mcp3008(0, 0)
    chip.values[0], chip.values[1] = 0.25, 0.75
    adcs = [MCP3008(channel=c, pin_factory=factory) for c in (0, 1)]
    wrong = []

    def read(adc, expected):
        for _ in range(2000):
            if adc.raw_value != expected:
                wrong.append(adc.raw_value)

    threads = [threading.Thread(target=read, args=(adcs[0], 256)), threading.Thread(target=read, args=(adcs[1], 767))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
