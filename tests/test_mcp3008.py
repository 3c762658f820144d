"""rig.hardware.mcp3008.MCP3008 reads exactly as gpiozero's own MCP3008: the same words on
the wire, the same values, for every channel in both modes (issue 12 made it cheaper)."""

from __future__ import annotations

import random

import pytest
from gpiozero import MCP3008 as GpiozeroMCP3008

from rig.hardware.mcp3008 import MCP3008
from rig.hardware.mockpi import RigMockFactory


def _reads(cls, factory, channel: int, differential: bool, inputs: list[list[float]]):
    """What ``cls`` sends and reads on the mock chip, for each set of the chip's eight inputs."""
    chip = factory.mcp3008(0, 0)
    sent = []
    transfer = chip.transfer

    def recording(words, bits_per_word=8):
        sent.append(list(words))
        return transfer(words, bits_per_word)
    chip.transfer = recording
    device = cls(channel=channel, differential=differential, pin_factory=factory)
    try:
        values = []
        for volts in inputs:
            chip.values[:] = volts
            values.append((device.value, device.raw_value))
        return sent, values
    finally:
        device.close()
        chip.transfer = transfer


@pytest.mark.parametrize("differential", [False, True])
@pytest.mark.parametrize("channel", range(8))
def test_the_same_words_and_values_as_gpiozero(channel, differential):
    rng = random.Random(channel * 2 + differential)
    inputs = [[rng.random() for _ in range(8)] for _ in range(50)]
    inputs += [[0.0] * 8, [1.0] * 8, [1.0 if i % 2 else 0.0 for i in range(8)]]
    factory = RigMockFactory()
    ours = _reads(MCP3008, factory, channel, differential, inputs)
    theirs = _reads(GpiozeroMCP3008, factory, channel, differential, inputs)
    assert ours == theirs
    assert len(ours[0]) == 2 * len(inputs)          # value and raw_value: one transfer each
    assert len({code for _, code in ours[1]}) > 10  # the inputs really changed the answer


def test_it_is_gpiozero_s_device():
    """The rest of gpiozero's MCP3008 (its pins, its closing, its repr) is the same object."""
    factory = RigMockFactory()
    device = MCP3008(channel=3, pin_factory=factory)
    try:
        assert isinstance(device, GpiozeroMCP3008)
        assert device.channel == 3 and device.bits == 10 and not device.differential
    finally:
        device.close()
    assert device.closed
