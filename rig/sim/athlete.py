"""The synthetic athlete: foot placements in time -> clean foot contacts.

A :class:`Walker` moves two feet between levels (0 the floor, 1..N the
treads, N+1 the top landing), one foot at a time, feet alternating. Each
placement lands at ``interval_s`` after the previous one; the moving foot
lifts a double-support time after the other foot landed (stance : swing
about 60 : 40, Beaulieu et al. 2008), so stance phases
overlap. Only contacts on treads are recorded, as :class:`FootContact`.

A :class:`Stepper` presses two pedals in turn; each pedal's switch closes at
the bottom of its stroke for about half a press.

Facing shows in which half of a split tread loads first (forefoot first,
Riener et al. 2002; see the spec's facing table); the other half follows
40 to 120 ms later, except for an occasional flat-foot landing where both
close within 5 ms.

The athlete's own gait (:mod:`rig.sim.gait_params`): legs whose stances
differ (``leg_factors``) and steps that land on one half of a split tread
only (``partial_share``: ``FootContact.only_zone``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# The spec's facing table, read backwards: (direction, facing) -> half loaded first.
FIRST_ZONE = {
    ("up", "forward"): "back",
    ("up", "backward"): "front",
    ("down", "forward"): "front",
    ("down", "backward"): "back",
}
OTHER_ZONE = {"front": "back", "back": "front"}

STANCE_FRACTION = 0.60
"""Stance share of a stride; double support is (2 * 0.60 - 1) = 0.2 of a step interval."""
ZONE_LAG_S = (0.040, 0.120)
"""Delay of the second half of a split tread (well beyond the 15 ms simultaneity)."""
FLAT_LAG_S = 0.005
"""Both halves within this on a flat-foot landing (facing unknown)."""


@dataclass(frozen=True)
class FootContact:
    """One foot on one tread (or pedal), noise-free.

    ``first_zone`` is the half that closes first at ``t_on_s`` (None when the
    tread is not split or the foot lands flat); the other half closes
    ``on_lag_s`` later and opens ``off_lead_s`` before ``t_off_s`` (the first
    half is the last to leave: forefoot first on, last off).
    ``rise_s``/``fall_s``: load transfer times, for force treads.
    ``direction``: what the script meant (up, down, or None for a foot
    joining an occupied tread); the truth does not use it.
    """

    tread: int
    foot: str
    t_on_s: float
    t_off_s: float
    first_zone: str | None = None
    on_lag_s: float = 0.0
    off_lead_s: float = 0.0
    rise_s: float = 0.08
    fall_s: float = 0.08
    direction: str | None = None
    load_share: float = 1.0
    only_zone: str | None = None
    """A partial placement: the foot loads this half of a split tread only, for its whole stance."""

    def zone_intervals(self) -> dict[str, tuple[float, float]]:
        """Closed interval of each half of a split tread (one half only for a partial placement)."""
        if self.only_zone is not None:
            return {self.only_zone: (self.t_on_s, self.t_off_s)}
        first = self.first_zone or "front"
        other = OTHER_ZONE[first]
        return {first: (self.t_on_s, self.t_off_s),
                other: (self.t_on_s + self.on_lag_s, self.t_off_s - self.off_lead_s)}


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


class Walker:
    """Two feet on a flight of ``n_treads``; call :meth:`place` foot by foot."""

    def __init__(self, n_treads: int, rng: random.Random, *, t_s: float = 1.0, level: int = 0,
                 split: bool = True, flat_p: float = 0.05, jitter: float = 0.03,
                 leg_factors: dict[str, float] | None = None, partial_share: float = 0.0,
                 partial_part: str = "toes", gait_rng: random.Random | None = None):
        self.n = n_treads
        self.rng = rng
        self.leg_factors = leg_factors or {"R": 1.0, "L": 1.0}
        """Each foot's standing stretches the other's placement interval by its factor (gait_params)."""
        self.partial_share = partial_share
        self.partial_part = partial_part
        self.gait_rng = gait_rng or random.Random(0)
        """Draws for the athlete's own gait (partial placements): the walk's own draws stay the same."""
        self.now = t_s
        """Earliest time the next foot may lift."""
        self.split = split
        self.flat_p = flat_p
        self.jitter = jitter
        self.level = {"R": level, "L": level}
        self.since = {"R": t_s - 10.0, "L": t_s - 10.0}
        self._landing: dict[str, dict] = {"R": {}, "L": {}}
        self.next_foot = "R"
        self.contacts: list[FootContact] = []
        self.landings: list[tuple[float, str, int]] = []
        """Every placement: (landing time, foot, level)."""

    # -- helpers ----------------------------------------------------------
    def on_tread(self, level: int) -> bool:
        return 1 <= level <= self.n

    def feet_levels(self) -> tuple[int, int]:
        return self.level["R"], self.level["L"]

    def _zone(self, direction: str | None, facing: str) -> tuple[str | None, float, float]:
        if not self.split:
            return None, 0.0, 0.0
        if direction is None or self.rng.random() < self.flat_p:
            return None, self.rng.uniform(0.0, FLAT_LAG_S), self.rng.uniform(0.0, FLAT_LAG_S)
        zone = FIRST_ZONE[(direction, facing)]
        return zone, self.rng.uniform(*ZONE_LAG_S), self.rng.uniform(0.030, 0.100)

    def _partial(self, direction: str | None, facing: str) -> str | None:
        """The one half a partial placement loads (None: the whole foot); only steps, on split treads."""
        if not self.split or direction is None or not self.partial_share:
            return None
        if self.gait_rng.random() >= self.partial_share:
            return None
        toes = FIRST_ZONE[(direction, facing)]
        part = self.partial_part
        if part == "either":
            part = "toes" if self.gait_rng.random() < 0.5 else "heel"
        return toes if part == "toes" else OTHER_ZONE[toes]

    def _leave(self, foot: str, t_lift: float, fall_s: float) -> None:
        level = self.level[foot]
        if self.on_tread(level):
            info = self._landing[foot]
            stance = t_lift - self.since[foot]
            on_lag, off_lead = info["on_lag"], info["off_lead"]
            if on_lag + off_lead > 0.5 * stance:  # a very short stance: keep the halves sane
                scale = 0.5 * stance / (on_lag + off_lead)
                on_lag, off_lead = on_lag * scale, off_lead * scale
            rise = info["rise"]
            fall = fall_s
            if rise + fall > 0.8 * stance:
                scale = 0.8 * stance / (rise + fall)
                rise, fall = rise * scale, fall * scale
            self.contacts.append(FootContact(
                tread=level, foot=foot, t_on_s=self.since[foot], t_off_s=t_lift,
                first_zone=info["zone"], on_lag_s=on_lag, off_lead_s=off_lead,
                rise_s=rise, fall_s=fall, direction=info["direction"], only_zone=info.get("only")))

    # -- moves ------------------------------------------------------------
    def place(self, level: int, interval_s: float, *, facing: str = "forward",
              direction: str | None = None, pause_s: float = 0.0) -> float:
        """Move the next foot to ``level``; returns its landing time.

        The foot lifts at ``now + pause_s`` and swings for the swing share of
        ``interval_s`` (jittered); the next foot may lift after the double
        support that follows this landing.
        """
        foot = self.next_foot
        other = "L" if foot == "R" else "R"
        interval = interval_s * _clip(1.0 + self.rng.gauss(0.0, self.jitter), 0.85, 1.15) * self.leg_factors[other]
        ds = (2 * STANCE_FRACTION - 1.0) * interval
        t_lift = self.now + pause_s
        t_land = t_lift + interval - ds
        fall_s = _clip(t_lift - self.since[other], 0.06, 0.20)
        self._leave(foot, t_lift, fall_s)
        zone, on_lag, off_lead = self._zone(direction, facing)
        only = self._partial(direction, facing)
        if only is not None:
            zone = only
        self._landing[foot] = {"zone": zone, "on_lag": on_lag, "off_lead": off_lead,
                               "rise": _clip(ds, 0.06, 0.20), "direction": direction, "only": only}
        self.level[foot] = level
        self.since[foot] = t_land
        self.next_foot = other
        self.now = t_land + ds
        self.landings.append((t_land, foot, level))
        return t_land

    def wait(self, seconds: float) -> None:
        self.now += seconds

    def finish(self, t_s: float | None = None) -> float:
        """Close any stance still on a tread (at ``t_s`` or now); returns the time."""
        t = self.now if t_s is None else t_s
        for foot in ("R", "L"):
            if self.on_tread(self.level[foot]):
                self._leave(foot, t, 0.1)
                self.level[foot] = -1
        return t


class Stepper:
    """A step machine: pedals 1 (left) and 2 (right) pressed in turn."""

    def __init__(self, rng: random.Random, *, t_s: float = 1.0, split: bool = False,
                 jitter: float = 0.03, dwell_fraction: float = 0.5):
        self.rng = rng
        self.now = t_s
        self.split = split
        self.jitter = jitter
        self.dwell_fraction = dwell_fraction
        self.next_pedal = 1
        self.contacts: list[FootContact] = []
        self.landings: list[tuple[float, str, int]] = []

    def press(self, interval_s: float, *, hold_s: float = 0.0) -> float:
        """One press: the pedal's switch closes at the bottom of the stroke.

        ``hold_s`` keeps the pedal down that much longer (standing still).
        """
        interval = interval_s * _clip(1.0 + self.rng.gauss(0.0, self.jitter), 0.85, 1.15)
        dwell = self.dwell_fraction * interval + hold_s
        pedal = self.next_pedal
        t_on = self.now
        lag = self.rng.uniform(0.0, FLAT_LAG_S) if self.split else 0.0
        self.contacts.append(FootContact(
            tread=pedal, foot="L" if pedal == 1 else "R", t_on_s=t_on, t_off_s=t_on + dwell,
            first_zone=None, on_lag_s=lag, off_lead_s=lag if self.split else 0.0,
            rise_s=_clip(0.15 * interval, 0.05, 0.15), fall_s=_clip(0.15 * interval, 0.05, 0.15),
            direction="up"))
        self.landings.append((t_on, "L" if pedal == 1 else "R", pedal))
        self.next_pedal = 2 if pedal == 1 else 1
        self.now = t_on + interval + hold_s
        return t_on

    def wait(self, seconds: float) -> None:
        self.now += seconds

    def finish(self, t_s: float | None = None) -> float:
        return self.now if t_s is None else t_s
