"""A mock Raspberry Pi as gpiozero sees one: pins, and an MCP3008 on hardware SPI.

``RigMockFactory`` is what ``GPIOZERO_PIN_FACTORY=mock`` gives stairrig (and
what the demo and the tests drive). It is gpiozero's ``MockFactory`` with
the differences that matter for a service that runs for days:

- every pin keeps only its last 64 states (``MockPin`` keeps every one, so a
  long run grows without bound);
- the MCP3008 is read over *hardware* SPI, as on a Pi: a ``transfer()`` of
  three words answered by ``MockMCP3008`` (the chip's protocol, datasheet
  figure 6-1), instead of gpiozero's mock, which bit-bangs a clock pin and
  keeps every edge of it (thousands a second at 50 Hz on two channels);
- its ticks can come from a simulator's ``VirtualClock``, so that a pin
  driven by a script carries the script's time, however late the thread
  that drives it runs.

gpiozero's own ``MCP3008`` class reads through it unchanged: the real path
(``MCP3008(channel, port, device)`` on lgpio's hardware SPI) is the same code.
An HX711 on two of its pins is played by ``rig.hardware.mockhx711``, which
answers the driver's clock bit by bit.
"""

from __future__ import annotations

from collections import deque
from time import monotonic

from gpiozero.mixins import SharedMixin
from gpiozero.pins import SPI
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin, PinState
from gpiozero.pins.pi import spi_port_device

PIN_HISTORY = 64          # states each mock pin keeps (gpiozero's assert_states reads them)
MCP3008_CHANNELS = 8
MCP3008_MAX_CODE = 1023   # 10 bits


class BoundedMockPin(MockPin):
    """A MockPin that keeps its last ``PIN_HISTORY`` states and stamps them with its factory's ticks."""

    def _change_state(self, value):
        if self._state != value:
            t = self._factory.ticks()
            self._state = value
            self.states.append(PinState(t - self._last_change, value))
            self._last_change = t
            return True
        return False

    def clear_states(self):
        self._last_change = self._factory.ticks()
        self.states = deque([PinState(0.0, self._state)], maxlen=PIN_HISTORY)


class BoundedMockPWMPin(BoundedMockPin, MockPWMPin):
    """The same for a pin that can do PWM (every pin of a Pi can, through lgpio). Without a
    frequency its state is a bool, as lgpio's is."""

    def _set_state(self, value):
        if self._frequency is None and self._function == "output" and value in (0, 1):
            assert 0 <= value <= 1
            self._change_state(bool(value))
        else:
            super()._set_state(value)


class MockMCP3008:
    """The MCP3008's side of one SPI chip select: eight inputs, answered per transfer.

    ``values[channel]`` is the input as a fraction of Vref (0..1), set by
    whoever plays the sensor. A transfer carries, most significant bit
    first: leading zeros, the start bit, SGL/DIFF, D2 D1 D0; the chip then
    samples for one clock, sends a null bit and the 10-bit result (B9..B0).
    Differential reads return IN+ minus IN- (zero when negative).
    """

    def __init__(self):
        self.values = [0.0] * MCP3008_CHANNELS
        self.transfers = 0
        self._plans: dict[tuple, tuple] = {}     # (words, bits per word) -> _plan()

    def code(self, config: int) -> int:
        """The 10-bit result for the 4 configuration bits SGL/DIFF D2 D1 D0."""
        channel = config & 0b111
        if config & 0b1000:
            volts = self.values[channel]
        else:
            pair = channel & 0b110
            plus, minus = (pair, pair + 1) if not channel & 1 else (pair + 1, pair)
            volts = self.values[plus] - self.values[minus]
        return round(min(1.0, max(0.0, volts)) * MCP3008_MAX_CODE)

    def transfer(self, words: list[int], bits_per_word: int = 8) -> list[int]:
        self.transfers += 1
        key = (tuple(words), bits_per_word)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(words, bits_per_word)
            if len(self._plans) < 64:           # a driver sends a handful of commands: keep theirs
                self._plans[key] = plan
        config, shift, word_shifts, mask = plan
        if config is None:
            return [0] * len(word_shifts)
        code = self.code(config)
        answer = code << shift if shift >= 0 else code >> -shift
        return [(answer >> s) & mask for s in word_shifts]

    @staticmethod
    def _plan(words: list[int], bits_per_word: int) -> tuple:
        """What a command asks (its 4 configuration bits, or None: no start bit in time) and where
        the answer's bits go: the answer is ``code << shift`` (``>>`` when negative), cut into words."""
        n = len(words) * bits_per_word
        mask = (1 << bits_per_word) - 1
        word_shifts = tuple(bits_per_word * i for i in range(len(words) - 1, -1, -1))
        sent = 0
        for word in words:
            sent = (sent << bits_per_word) | (word & mask)
        start = n - sent.bit_length()          # index of the start bit, counted from the first bit sent
        if not (sent and start + 4 < n):
            return None, 0, word_shifts, mask
        config = (sent >> (n - start - 5)) & 0b1111
        last = start + 16                      # B0's index: start, 4 config bits, sample, null, B9..B0
        return config, n - 1 - last, word_shifts, mask


class MockHardwareSPI(SPI):
    """A hardware SPI interface (``/dev/spidevP.D``) on the mock Pi: it reserves the
    bus's pins as gpiozero's ``LocalPiHardwareSPI`` does and hands each transfer to the
    factory's ``MockMCP3008`` on that chip select."""

    def __init__(self, clock_pin, mosi_pin, miso_pin, select_pin, *, pin_factory):
        self._port, self._device = spi_port_device(clock_pin, mosi_pin, miso_pin, select_pin)
        self._chip = None
        super().__init__(pin_factory=pin_factory)
        pins = {clock_pin, select_pin} | {p for p in (mosi_pin, miso_pin) if p is not None}
        self.pin_factory.reserve_pins(self, *pins)
        self._chip = pin_factory.mcp3008(self._port, self._device)
        self._mode = 0
        self._lsb_first = False
        self._select_high = False
        self._bits_per_word = 8

    def _conflicts_with(self, other):
        if isinstance(other, MockHardwareSPI):
            return (self._port, self._device) == (other._port, other._device)
        return True

    def close(self):
        if self._chip is not None:
            self._chip = None
            self.pin_factory.release_all(self)
        super().close()

    @property
    def closed(self):
        return self._chip is None

    def __repr__(self):
        return "SPI(closed)" if self._chip is None else f"SPI(port={self._port}, device={self._device}) (mock)"

    def transfer(self, data):
        chip = self._chip
        if chip is None:
            self._check_open()
        return chip.transfer(data, self._bits_per_word)

    def _get_clock_mode(self):
        return self._mode

    def _set_clock_mode(self, value):
        self._mode = int(value)

    def _get_lsb_first(self):
        return self._lsb_first

    def _set_lsb_first(self, value):
        self._lsb_first = bool(value)

    def _get_select_high(self):
        return self._select_high

    def _set_select_high(self, value):
        self._select_high = bool(value)

    def _get_bits_per_word(self):
        return self._bits_per_word

    def _set_bits_per_word(self, value):
        self._bits_per_word = int(value)


class MockHardwareSPIShared(SharedMixin, MockHardwareSPI):
    @classmethod
    def _shared_key(cls, clock_pin, mosi_pin, miso_pin, select_pin, pin_factory):
        # per factory too: a test (or a demo after a run) may make a second mock Pi in one process
        return (id(pin_factory), clock_pin, select_pin)


class RigMockFactory(MockFactory):
    """gpiozero's MockFactory with bounded pins, hardware SPI and, optionally, a virtual clock.

    ``clock``: anything with ``ticks()`` (a ``VirtualClock``); without one,
    ticks are the real monotonic clock, as gpiozero's.
    """

    def __init__(self, clock=None, revision=None):
        super().__init__(revision=revision, pin_class=BoundedMockPWMPin)
        self.clock = clock
        self._chips: dict[tuple[int, int], MockMCP3008] = {}
        if clock is not None:
            self.ticks = clock.ticks     # an instance attribute: one call less per edge

    def ticks(self):
        return monotonic()

    @staticmethod
    def ticks_diff(later, earlier):
        return later - earlier

    def pin(self, name, pin_class=None, **kwargs):
        # gpiozero's mock SPI and PWM pin classes keep every state: ours keep the last few
        if pin_class is not None and not issubclass(pin_class, BoundedMockPin):
            pin_class = BoundedMockPWMPin if issubclass(pin_class, MockPWMPin) else BoundedMockPin
        return super().pin(name, pin_class=pin_class or BoundedMockPWMPin, **kwargs)

    def mcp3008(self, port: int = 0, device: int = 0) -> MockMCP3008:
        """The mock MCP3008 on SPI ``port``.``device`` (made on first use, reading 0 V)."""
        chip = self._chips.get((port, device))
        if chip is None:
            chip = self._chips[(port, device)] = MockMCP3008()
        return chip

    def _get_spi_class(self, shared, hardware):
        if hardware:
            return MockHardwareSPIShared if shared else MockHardwareSPI
        return super()._get_spi_class(shared, hardware)
