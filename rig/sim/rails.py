"""Grip schedules -> clean handrail samples (touch edges, force samples).

Per rail, a grip level over time: ``none`` (no contact), ``hover`` (no
contact: hands just above the rail), ``light`` (touch on; 0.3 to 0.7 N with
a small wobble, well below the 1 N firm threshold and, on a force-only rail,
well above its 0.25 N contact threshold) and ``firm`` (touch on; 2 to 15 N,
scaled by body weight). A grab is a force spike on top: a rise of 1.5 times
the grab rise within 100 ms, held 300 ms, then back down.

While in contact the hand lifts now and then to slide along the rail
(a regrip of 0.15 to 0.45 s), far longer than the rail bridging time.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from rig.layout import RAIL_SIDES, RigLayout
from rig.sim.intervals import subtract, union
from rig.sim.treads import Sample, raised_cosine, t_us

GRIP_LEVELS = ("none", "hover", "light", "firm")
CONTACT_LEVELS = ("light", "firm")

RAMP_IN_S = 0.12
"""Force build-up after the hand touches the rail."""
RAMP_OUT_S = 0.10
"""Force release before the hand leaves the rail."""
BLEND_S = 0.30
"""Change between light and firm without letting go."""


@dataclass(frozen=True)
class GripSpan:
    """From ``t0_s`` to ``t1_s`` a rail is held at ``level``."""

    side: str
    t0_s: float
    t1_s: float
    level: str

    def __post_init__(self) -> None:
        if self.level not in GRIP_LEVELS:
            raise ValueError(f"grip level must be one of {', '.join(GRIP_LEVELS)}, not {self.level!r}")


@dataclass(frozen=True)
class Grab:
    """A grab on one rail: ``rise_n`` added within ``rise_s``, held, released."""

    side: str
    t_s: float
    rise_n: float
    rise_s: float = 0.100
    hold_s: float = 0.300
    fall_s: float = 0.200

    @property
    def t_end_s(self) -> float:
        return self.t_s + self.rise_s + self.hold_s + self.fall_s

    def force_n(self, t: float) -> float:
        dt = t - self.t_s
        if dt <= 0.0 or t >= self.t_end_s:
            return 0.0
        if dt < self.rise_s:
            return self.rise_n * raised_cosine(dt / self.rise_s)
        if dt < self.rise_s + self.hold_s:
            return self.rise_n
        return self.rise_n * raised_cosine((self.t_end_s - t) / self.fall_s)


@dataclass
class RailProfile:
    """One rail's clean signals: contact intervals and a force function."""

    side: str
    contact: list[tuple[float, float]]
    spans: list[GripSpan]
    grabs: list[Grab]
    light_n: float
    firm_n: float
    phases: tuple[float, float, float, float]

    def _level_n(self, level: str, t: float) -> float:
        p = self.phases
        if level == "firm":
            wob = 0.10 * math.sin(2 * math.pi * 0.8 * t + p[0]) + 0.05 * math.sin(2 * math.pi * 2.1 * t + p[1])
            return self.firm_n * (1.0 + wob)
        if level == "light":
            return self.light_n + 0.05 * math.sin(2 * math.pi * 0.7 * t + p[2]) \
                + 0.025 * math.sin(2 * math.pi * 1.9 * t + p[3])
        return 0.0

    def force_n(self, t: float, span_index: int, contact_index: int) -> float:
        """Noise-free force at ``t`` (N); the indices are hints from the caller's sweep."""
        grab = sum(g.force_n(t) for g in self.grabs)
        if contact_index < 0:
            return grab
        c0, c1 = self.contact[contact_index]
        if not c0 <= t <= c1:
            return grab
        level = "light"
        if span_index >= 0 and t <= self.spans[span_index].t1_s:
            level = self.spans[span_index].level
        if level not in CONTACT_LEVELS:
            level = "light"  # held only for a grab: the hand stays light around it
        base = self._level_n(level, t)
        # blend from the level of the previous span when the hand did not let go
        if span_index > 0:
            prev = self.spans[span_index - 1]
            start = self.spans[span_index].t0_s
            if prev.level in CONTACT_LEVELS and prev.level != level and start > c0 and t - start < BLEND_S:
                w = raised_cosine((t - start) / BLEND_S)
                base = (1 - w) * self._level_n(prev.level, t) + w * base
        env = min(raised_cosine((t - c0) / RAMP_IN_S), raised_cosine((c1 - t) / RAMP_OUT_S))
        return base * env + grab


def contact_intervals(spans: list[GripSpan], grabs: list[Grab], rng: random.Random, *,
                      regrip: bool = True) -> list[tuple[float, float]]:
    """When a hand is on the rail: spans held light or firm, around grabs, minus regrips."""
    held = union((s.t0_s, s.t1_s) for s in spans if s.level in CONTACT_LEVELS)
    grab_windows = [(g.t_s - 0.30, g.t_end_s + 0.30) for g in grabs]
    held = union(held + [(g.t_s - 0.05, g.t_end_s + 0.10) for g in grabs])
    if not regrip:
        return [(t_us(a), t_us(b)) for a, b in held]
    gaps: list[tuple[float, float]] = []
    for a, b in held:
        t = a + rng.uniform(2.5, 6.0)
        while t < b - 1.5:
            gap = (t, t + rng.uniform(0.15, 0.45))
            if not any(w0 < gap[1] and gap[0] < w1 for w0, w1 in grab_windows):
                gaps.append(gap)
            t = gap[1] + rng.uniform(2.5, 6.0)
    return [(t_us(a), t_us(b)) for a, b in subtract(held, union(gaps))]


def rail_profiles(layout: RigLayout, spans: list[GripSpan], grabs: list[Grab], rng: random.Random, *,
                  weight_kg: float, regrip: bool = True) -> dict[str, RailProfile]:
    profiles: dict[str, RailProfile] = {}
    for side in RAIL_SIDES:
        if side not in layout.rails:
            continue
        mine = sorted((s for s in spans if s.side == side), key=lambda s: s.t0_s)
        my_grabs = sorted((g for g in grabs if g.side == side), key=lambda g: g.t_s)
        force_only = layout.rail_has(side, "force") and not layout.rail_has(side, "touch")
        light = rng.uniform(0.50, 0.58) if force_only else rng.uniform(0.38, 0.55)
        firm = min(13.0, max(2.5, 0.10 * weight_kg * rng.uniform(0.8, 1.2)))
        phases = tuple(rng.uniform(0, 2 * math.pi) for _ in range(4))
        profiles[side] = RailProfile(side=side, contact=contact_intervals(mine, my_grabs, rng, regrip=regrip),
                                     spans=mine, grabs=my_grabs, light_n=light, firm_n=firm,
                                     phases=phases)  # type: ignore[arg-type]
    return profiles


def rail_samples(layout: RigLayout, profiles: dict[str, RailProfile], times: list[float]) -> list[Sample]:
    """Touch edges and force samples of every rail, noise-free."""
    out: list[Sample] = []
    for side, prof in profiles.items():
        if layout.rail_has(side, "touch"):
            ch = f"rail.{side}.touch"
            for a, b in prof.contact:
                out.append((a, ch, 1))
                out.append((b, ch, 0))
        if layout.rail_has(side, "force"):
            ch = f"rail.{side}.force"
            si = ci = -1
            starts = [s.t0_s for s in prof.spans]
            for t in times:
                while si + 1 < len(starts) and starts[si + 1] <= t:
                    si += 1
                while ci + 1 < len(prof.contact) and prof.contact[ci + 1][0] <= t:
                    ci += 1
                out.append((t, ch, max(0.0, float(prof.force_n(t, si, ci)))))
    return out
