"""Foot contacts -> clean tread samples, for switch, split or force treads.

Switch channels are written as edges (1 on closing, 0 on opening), each
channel the union of the feet on it. Force treads carry a smooth load: each
foot's share rises and falls as a raised cosine over its load-transfer time
(so in double support one foot unloads while the other loads), the sum is
capped at body weight, and it is sampled at the analog rate for the whole
trace.
"""

from __future__ import annotations

import math
from collections import defaultdict

from rig.layout import RigLayout
from rig.settings import G_M_S2
from rig.sim.athlete import FootContact
from rig.sim.intervals import union

Sample = tuple[float, str, float]


def t_us(t: float) -> float:
    """Round a time to the microsecond, as the trace stores it."""
    return round(t, 6)


def grid(end_s: float, rate_hz: float) -> list[float]:
    """Sampling times from 0 to ``end_s`` at ``rate_hz``."""
    n = int(math.floor(end_s * rate_hz + 1e-9))
    return [t_us(k / rate_hz) for k in range(n + 1)]


def raised_cosine(x: float) -> float:
    """0 at x <= 0, 1 at x >= 1, smooth in between."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    return 0.5 - 0.5 * math.cos(math.pi * x)


def channel_intervals(layout: RigLayout, contacts: list[FootContact]) -> dict[str, list[tuple[float, float]]]:
    """The on-intervals of every switch channel (union of the feet on it)."""
    raw: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for c in contacts:
        if layout.split:
            for zone, (a, b) in c.zone_intervals().items():
                raw[f"tread.{c.tread}.{zone}"].append((t_us(a), t_us(b)))
        else:
            raw[f"tread.{c.tread}"].append((t_us(c.t_on_s), t_us(c.t_off_s)))
    return {ch: union(ivs) for ch, ivs in raw.items()}


def switch_samples(layout: RigLayout, contacts: list[FootContact]) -> list[Sample]:
    out: list[Sample] = []
    for ch, ivs in channel_intervals(layout, contacts).items():
        for a, b in ivs:
            out.append((a, ch, 1))
            out.append((b, ch, 0))
    return out


def foot_load(c: FootContact, t: float) -> float:
    """Share of body weight (0..1) that one foot puts on its tread at ``t``."""
    if t < c.t_on_s or t > c.t_off_s:
        return 0.0
    return c.load_share * min(raised_cosine((t - c.t_on_s) / c.rise_s),
                              raised_cosine((c.t_off_s - t) / c.fall_s))


def force_samples(layout: RigLayout, contacts: list[FootContact], times: list[float], *,
                  weight_kg: float, phase: float = 0.0) -> list[Sample]:
    """Load on each force tread at every grid time (N), noise-free."""
    weight_n = weight_kg * G_M_S2
    if not times:
        return []
    rate = (len(times) - 1) / times[-1] if times[-1] > 0 else 50.0
    shares: dict[int, list[float]] = {i: [0.0] * len(times) for i in range(1, layout.treads + 1)}
    for c in contacts:
        row = shares[c.tread]
        k0 = max(0, int(math.floor(c.t_on_s * rate)))
        k1 = min(len(times) - 1, int(math.ceil(c.t_off_s * rate)))
        for k in range(k0, k1 + 1):
            row[k] += foot_load(c, times[k])
    out: list[Sample] = []
    for i, row in shares.items():
        ch = f"tread.{i}.force"
        for k, t in enumerate(times):
            s = min(1.0, row[k])
            if s > 0.0:
                # a little sway of the load while standing
                s *= 1.0 + 0.03 * math.sin(2 * math.pi * 1.3 * t + phase + i)
            out.append((t, ch, max(0.0, float(s * weight_n))))
    return out


def tread_samples(layout: RigLayout, contacts: list[FootContact], times: list[float], *,
                  weight_kg: float, phase: float = 0.0) -> list[Sample]:
    """Clean samples of every tread channel."""
    if layout.tread_sensor == "force":
        return force_samples(layout, contacts, times, weight_kg=weight_kg, phase=phase)
    return switch_samples(layout, contacts)
