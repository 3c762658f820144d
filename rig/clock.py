"""Clocks for the live path: the pin factory's ticks, or a simulator's virtual time.

The detection core never reads a clock; the engine and the samplers do,
through one of these, so that a simulated athlete can run faster than real
time without shrinking every duration (MockFactory's ticks are the real
clock).
"""

from __future__ import annotations

import threading


class PinFactoryClock:
    """Seconds since start, from a gpiozero pin factory's ``ticks()``.

    Pin callbacks carry ticks from the same source (on a Pi, lgpio's edge
    timestamps come from the kernel's CLOCK_MONOTONIC, as does
    ``ticks()``), so ``from_ticks`` puts edges and samples on one time base.
    """

    speed = 1.0

    def __init__(self, factory):
        self._factory = factory
        self._t0 = factory.ticks()

    def now(self) -> float:
        return self._factory.ticks_diff(self._factory.ticks(), self._t0)

    def from_ticks(self, ticks: float) -> float:
        return self._factory.ticks_diff(ticks, self._t0)

    def real_delay(self, dt_s: float) -> float:
        """Real seconds to wait for ``dt_s`` seconds of this clock to pass."""
        return dt_s


class VirtualClock:
    """Virtual seconds, moved forward by the simulator that drives the pins.

    The simulator sets the time before each edge it drives, so every edge
    carries the exact time it was scripted for, whatever the speed; other
    threads read ``now()`` and wait ``real_delay(dt)``, which is ``dt`` divided
    by the speed.
    """

    def __init__(self, speed: float = 1.0):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._t = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._t

    def ticks(self) -> float:
        return self._t

    def set(self, t_s: float) -> None:
        with self._lock:
            if t_s > self._t:
                self._t = t_s

    def from_ticks(self, ticks: float) -> float:
        return ticks

    def real_delay(self, dt_s: float) -> float:
        return dt_s / self.speed
