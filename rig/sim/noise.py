"""Sensor noise that leaves the truth unchanged.

:func:`add_noise` takes clean samples and returns what real pins would have
said, seeded and reproducible:

- **bounce**: after a real edge, a few extra toggles within ``bounce_s``
  (10 ms), ending in the real state; the real edge keeps its time, so the
  first closing of each tread half (facing) is exact;
- **dropouts**: mid-stance, a switch opens for up to ``dropout_s`` (45 ms,
  under the 60 ms bridging time) under a rolling foot;
- **taps**: stray toe taps of up to ``tap_s`` (70 ms, under the 100 ms
  minimum contact), at least ``tap_gap_s`` (250 ms) from any real contact
  on the same tread and from each other; on force treads a short load bump;
- **rail touch**: bounce, brief dropouts (< 50 ms) and, if asked, stray
  brushes of up to ``brush_s``;
- **force**: gaussian noise on every force sample (``force_sd_n`` on rails,
  ``tread_force_sd_n`` on force treads), clipped at 0, never NaN.

The noise is placed so that no definition of the spec changes its answer:
bounce windows shrink near other edges, so that no gap crosses the bridging
time, no contact crosses the minimum and no emptying passes an occupying.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import defaultdict

from rig.layout import RigLayout
from rig.settings import DEFAULT_WEIGHT_KG, DetectionSettings
from rig.sim.intervals import Interval, bridge, distance, edges_to_intervals, subtract, union
from rig.sim.treads import Sample, raised_cosine, t_us

NOISE_LEVELS: dict[str, dict | None] = {
    "none": None,
    "typical": dict(bounce_p=0.5, bounce_pairs=1, dropout_p=0.10, dropouts_max=1, tap_rate_hz=1 / 40,
                    force_sd_n=0.05, tread_force_sd_n=1.5, rail_bounce_p=0.3, rail_dropout_p=0.05,
                    brush_rate_hz=0.0),
    "harsh": dict(bounce_p=1.0, bounce_pairs=3, dropout_p=0.5, dropouts_max=2, tap_rate_hz=1 / 8,
                  force_sd_n=0.08, tread_force_sd_n=4.0, rail_bounce_p=0.8, rail_dropout_p=0.25,
                  brush_rate_hz=1 / 30),
}
"""Keyword arguments of :func:`add_noise` for each named level (None: no noise at all)."""

_MIN_TOGGLE_S = 0.0002  # bounce toggles at least this far apart (the trace keeps microseconds)


def noise_kwargs(level: str) -> dict | None:
    if level not in NOISE_LEVELS:
        raise ValueError(f"noise must be one of {', '.join(NOISE_LEVELS)}, not {level!r}")
    params = NOISE_LEVELS[level]
    return None if params is None else dict(params)


def _bounce_times(rng: random.Random, t: float, w: float, pairs: int) -> list[float]:
    """An even number of distinct toggle times in (t, t + w)."""
    if w < 3 * _MIN_TOGGLE_S or pairs <= 0:
        return []
    m = rng.randint(1, pairs)
    times = sorted(t_us(t + rng.uniform(_MIN_TOGGLE_S, w - _MIN_TOGGLE_S)) for _ in range(2 * m))
    out: list[float] = []
    for x in times:
        if x > t and (not out or x - out[-1] >= _MIN_TOGGLE_S) and x < t + w:
            out.append(x)
    if len(out) % 2:
        out.pop()
    return out


def _place_short(rng: random.Random, count: int, lo: float, hi: float, length_max: float,
                 avoid: list[Interval], gap_s: float) -> list[Interval]:
    """Up to ``count`` short intervals in [lo, hi], ``gap_s`` from ``avoid`` and from each other."""
    placed: list[Interval] = []
    for _ in range(count):
        if hi - lo < length_max:
            break
        t0 = rng.uniform(lo, hi - length_max)
        length = rng.uniform(min(0.010, length_max), length_max)
        iv = (t_us(t0), t_us(t0 + length))
        reach = t0 + length_max  # bounce may stretch it up to its maximum length
        if distance(iv[0], reach, avoid) < gap_s:
            continue
        if placed and distance(iv[0], reach, union(placed)) < gap_s + length_max:
            continue
        placed.append(iv)
    return sorted(placed)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, int(round(rng.gauss(mean, math.sqrt(mean)))))
    k, p, limit = 0, 1.0, math.exp(-mean)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class _Group:
    """Channels whose union is one contact (a tread's halves, or one rail's touch)."""

    def __init__(self, channels: list[str], clean: dict[str, list[Interval]], bridge_s: float, min_s: float):
        self.channels = channels
        self.clean = {ch: clean.get(ch, []) for ch in channels}
        self.raw = union(iv for ch in channels for iv in self.clean[ch])
        self.contacts = bridge(self.raw, bridge_s)
        self.bridge_s = bridge_s
        self.min_s = min_s
        self.ons = sorted(a for a, _ in self.raw)
        self.short = [c for c in self.contacts if c[1] - c[0] < min_s]


def add_noise(clean_samples, layout: RigLayout, rng: random.Random | int, *,
              bounce_s: float = 0.010, dropout_s: float = 0.045, tap_s: float = 0.070,
              bounce_p: float = 0.5, bounce_pairs: int = 1,
              dropout_p: float = 0.10, dropouts_max: int = 1,
              tap_rate_hz: float = 1 / 40, tap_gap_s: float = 0.250,
              rail_bounce_p: float = 0.3, rail_dropout_s: float = 0.040, rail_dropout_p: float = 0.05,
              brush_s: float = 0.030, brush_rate_hz: float = 0.0,
              force_sd_n: float = 0.05, tread_force_sd_n: float = 1.5,
              weight_kg: float = DEFAULT_WEIGHT_KG, settings: DetectionSettings | None = None) -> list[Sample]:
    """A noisy copy of ``clean_samples`` (sorted ``(t_s, channel, value)``) with the same truth.

    ``rng`` is a :class:`random.Random` (or an int seed). Rates are per
    second of trace and per tread (taps) or per rail (brushes); ``*_p`` are
    probabilities per edge (bounce) or per contact (dropouts).
    """
    if not isinstance(rng, random.Random):
        rng = random.Random(rng)
    settings = settings or DetectionSettings()
    th = settings.resolve(weight_kg)
    samples = list(clean_samples)
    if not samples:
        return []
    first_t, last_t = samples[0][0], samples[-1][0]

    binary_edges: dict[str, list[tuple[float, int]]] = defaultdict(list)
    analog: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for t, ch, v in samples:
        if ch.endswith(".force"):
            analog[ch].append((t, v))
        else:
            binary_edges[ch].append((t, int(v)))
    clean = {ch: edges_to_intervals(edges, last_t) for ch, edges in binary_edges.items()}

    groups: list[tuple[_Group, str]] = []
    if layout.tread_sensor == "switch":
        for i in range(1, layout.treads + 1):
            groups.append((_Group(list(layout.tread_channels(i)), clean, settings.bridge_s,
                                  settings.min_contact_s), "tread"))
    for side in layout.rails:
        if layout.rail_has(side, "touch"):
            groups.append((_Group([f"rail.{side}.touch"], clean, settings.bridge_s,
                                  settings.rail_min_contact_s), "rail"))
    tread_groups = [g for g, kind in groups if kind == "tread"]
    # Times a tread's emptying must not pass (release bounce delays an emptying by its window):
    # the edges of the other treads (order of emptyings and occupyings), and the moments
    # where a stall falls due or a fall wait runs out.
    all_ons = [a for g in tread_groups for a in g.ons]
    timers = [a + settings.stall_s for a in all_ons] + [a - settings.fall_wait_s for a in all_ons]
    sensitive: dict[int, list[float]] = {}
    for k, g in enumerate(tread_groups):
        others = [x for j, h in enumerate(tread_groups) if j != k for iv in h.raw for x in iv]
        sensitive[id(g)] = sorted(others + timers)

    out: list[Sample] = []
    for group, kind in groups:
        is_tread = kind == "tread"
        p_bounce = bounce_p if is_tread else rail_bounce_p
        p_drop = dropout_p if is_tread else rail_dropout_p
        max_drop = dropout_s if is_tread else rail_dropout_s
        short_max = tap_s if is_tread else brush_s
        rate = tap_rate_hz if is_tread else brush_rate_hz
        # stray taps or brushes, whole-group, then given to one channel (or both halves)
        extra = _place_short(rng, _poisson(rng, rate * (last_t - first_t)), first_t + tap_gap_s,
                             last_t - tap_gap_s, short_max, group.raw, tap_gap_s)
        extra_by_ch: dict[str, list[Interval]] = defaultdict(list)
        for iv in extra:
            if len(group.channels) > 1 and rng.random() < 0.25:
                for ch in group.channels:
                    extra_by_ch[ch].append(iv)
            else:
                extra_by_ch[rng.choice(group.channels)].append(iv)
        for ch in group.channels:
            ivs = group.clean[ch]
            drops: list[Interval] = []
            for a, b in ivs:
                if b - a < 0.30 or rng.random() >= p_drop:
                    continue
                for _ in range(rng.randint(1, max(1, dropouts_max if is_tread else 1))):
                    d = rng.uniform(0.005, max_drop)
                    lo, hi = a + 0.06, b - 0.06 - d
                    if hi <= lo:
                        break
                    t0 = rng.uniform(lo, hi)
                    iv = (t_us(t0), t_us(t0 + d))
                    if drops and distance(iv[0], iv[1], drops) < 0.06:
                        continue
                    drops = union(drops + [iv])
            noisy = union(subtract(ivs, drops) + extra_by_ch.get(ch, []))
            out.extend(_edges_with_bounce(ch, noisy, group, rng, p_bounce, bounce_s, bounce_pairs,
                                          last_t, sensitive.get(id(group)) if is_tread else None,
                                          set(extra_by_ch.get(ch, [])), short_max))

    for ch, series in analog.items():
        is_tread = ch.startswith("tread.")
        sd = tread_force_sd_n if is_tread else force_sd_n
        values = [v for _, v in series]
        times = [t for t, _ in series]
        if is_tread and tap_rate_hz > 0 and len(times) > 2:
            dt = (times[-1] - times[0]) / (len(times) - 1)
            width = min(tap_s, settings.min_contact_s - 2 * dt - 0.005)
            if width >= 2 * dt:
                loaded = _loaded_intervals(series)
                bumps = _place_short(rng, _poisson(rng, tap_rate_hz * (last_t - first_t)),
                                     first_t + tap_gap_s, last_t - tap_gap_s, width, loaded, tap_gap_s)
                for b0, b1 in bumps:
                    peak = rng.uniform(1.5, 4.0) * th.tread_force_on_n
                    k0 = bisect.bisect_left(times, b0)
                    k1 = bisect.bisect_right(times, b1)
                    for k in range(k0, k1):
                        x = (times[k] - b0) / (b1 - b0)
                        values[k] += peak * raised_cosine(2 * x) * raised_cosine(2 * (1 - x))
        for k, t in enumerate(times):
            v = values[k] + (rng.gauss(0.0, sd) if sd > 0 else 0.0)
            if not math.isfinite(v) or v < 0.0:
                v = 0.0
            out.append((t, ch, v))

    out.sort(key=lambda s: s[0])
    return out


def _loaded_intervals(series: list[tuple[float, float]]) -> list[Interval]:
    """When a force tread carries any real load (clean signal)."""
    out: list[Interval] = []
    since = None
    prev_t = None
    for t, v in series:
        if v > 0.0 and since is None:
            since = prev_t if prev_t is not None else t
        elif v <= 0.0 and since is not None:
            out.append((since, t))
            since = None
        prev_t = t
    if since is not None:
        out.append((since, series[-1][0]))
    return out


def _edges_with_bounce(ch: str, intervals: list[Interval], group: _Group, rng: random.Random,
                       p: float, bounce_s: float, pairs: int, last_t: float,
                       sensitive: list[float] | None, extras: set, extra_max_s: float) -> list[Sample]:
    """Edges of ``intervals`` on ``ch``, each followed by bounce when the margins allow it."""
    edges: list[tuple[float, int]] = []
    for a, b in intervals:
        edges.append((a, 1))
        edges.append((b, 0))
    out: list[Sample] = []
    for k, (t, v) in enumerate(edges):
        out.append((t, ch, v))
        if p <= 0 or rng.random() >= p:
            continue
        t_next = edges[k + 1][0] if k + 1 < len(edges) else last_t
        w = min(bounce_s, (t_next - t) / 3.0, last_t - t)
        if v == 0:  # a release: keep gaps, contact spans and the order of tread edges as they were
            interval = intervals[k // 2]
            if interval not in extras:
                j = bisect.bisect_right(group.ons, t)
                if j < len(group.ons):
                    gap = group.ons[j] - t
                    if gap >= group.bridge_s:
                        w = min(w, (gap - group.bridge_s) / 2.0)
                for c0, c1 in group.short:
                    if c0 <= t <= c1:
                        w = min(w, (group.min_s - (c1 - c0)) / 2.0)
                if sensitive is not None:
                    j = bisect.bisect_left(sensitive, t)
                    if j < len(sensitive):
                        w = min(w, (sensitive[j] - t) / 2.0)
            else:  # a tap or brush: its whole span, bounce included, stays within the maximum
                w = min(w, extra_max_s - (interval[1] - interval[0]))
        for x in _bounce_times(rng, t, w, pairs):
            v = 1 - v
            out.append((x, ch, v))
    return out
