"""The HX711's numbers, pure: its 24 bits to a reading, and its clock's timing rule.

The HX711 (Avia Semiconductor's 24-bit load-cell amplifier) sends each
conversion as 24 bits, most significant first, in two's complement, one bit
per PD_SCK pulse; a 25th pulse selects channel A at gain 128 for the next
conversion (26 and 27 pulses would select channel B, gain 32, or channel A,
gain 64: stairrig uses channel A, gain 128). Its datasheet's rules:

- DOUT high: no conversion ready; DOUT low: one is, clock it out;
- PD_SCK high for more than 60 us powers the chip down; back low, it resets
  and needs four conversion periods to settle. A pulse that long in the
  middle of a reading (the reading thread preempted while the clock is high)
  leaves the reading wrong: it must be dropped, never used.

A reading is the count as offset binary, ``(count + 2**23) / 2**24``: 0..1,
like gpiozero's ``MCP3008.value``, with 0 V between the inputs at 0.5. So a
force channel is converted the same way on either chip:
``newtons = (reading - zero_offset) * scale_n``.
"""

from __future__ import annotations

BITS = 24
HALF = 1 << (BITS - 1)            # 2**23
SPAN = 1 << BITS                  # 2**24
MAX_CODE = HALF - 1               # 0x7FFFFF: the chip's positive full scale
MIN_CODE = -HALF                  # 0x800000: its negative full scale
GAIN_128_PULSES = 1               # pulses after the 24 data bits: channel A, gain 128
POWER_DOWN_S = 60e-6
"""PD_SCK high longer than this powers the chip down (datasheet)."""
MAX_HIGH_S = 50e-6
"""A reading whose longest clock pulse was measured above this is dropped (a margin below 60 us:
the measurement is taken by the reading thread, between two pin writes)."""
SETTLE_PERIODS = 4
"""Conversion periods the chip needs after power-up or reset before its first reading (datasheet:
400 ms at 10 Hz, 50 ms at 80 Hz)."""


def code_from_bits(bits) -> int:
    """The signed count from the 24 bits as clocked out (most significant first, each 0 or 1)."""
    bits = list(bits)
    if len(bits) != BITS:
        raise ValueError(f"an HX711 reading has {BITS} bits, not {len(bits)}")
    raw = 0
    for bit in bits:
        raw = (raw << 1) | (1 if bit else 0)
    return raw - SPAN if raw & HALF else raw


def bits_from_code(code: int) -> list[int]:
    """The 24 bits the chip sends for a signed count (most significant first)."""
    if not MIN_CODE <= code <= MAX_CODE:
        raise ValueError(f"an HX711 count is {MIN_CODE} to {MAX_CODE}, not {code}")
    raw = code & (SPAN - 1)
    return [(raw >> (BITS - 1 - i)) & 1 for i in range(BITS)]


def reading_from_code(code: int) -> float:
    """The reading (0..1, 0.5 at 0 V) of a signed count."""
    return (code + HALF) / SPAN


def code_from_reading(reading: float) -> int:
    """The count nearest a reading, held at the chip's full scale (as the chip does)."""
    return max(MIN_CODE, min(MAX_CODE, round(reading * SPAN) - HALF))


def is_full_scale(code: int) -> bool:
    """The chip's output is at one end of its range: the input is beyond what it converts."""
    return code in (MAX_CODE, MIN_CODE)


def pulse_too_long(high_s: float) -> bool:
    """A clock pulse this long (seconds, as measured) may have reset the chip: drop the reading."""
    return high_s > MAX_HIGH_S


MIN_READY_TIMEOUT_S = 0.5
"""The shortest wait for a conversion before the chip is called silent (a busy CPU, a simulator's
clock that pauses, must not pass for a dead chip)."""


def ready_timeout_s(rate_hz: float, first: bool) -> float:
    """How long to wait for DOUT to go low before calling the chip silent: two conversion periods
    (the settling time too for the first reading, or after a reset), plus a margin for a busy CPU;
    at least ``MIN_READY_TIMEOUT_S``."""
    periods = SETTLE_PERIODS + 2 if first else 2
    return max(MIN_READY_TIMEOUT_S, periods / rate_hz + 0.05)
