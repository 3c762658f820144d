"""How a simulated athlete walks: leg asymmetry, partial foot placements, added load and cadence.

An :class:`AthleteGait` goes with a :class:`rig.sim.session.Session` (and so
with every scenario, through its keyword ``gait``); :data:`ATHLETES` names the
cases the simulator and ``stairrig demo --athlete`` offer. The default,
``AthleteGait()``, changes nothing: every scenario writes the same trace and
the same truth as before these parameters existed (no random draw is spent
on them unless a parameter asks for one, and those come from a random stream
of their own, so that the same seed walks at the same times with or without
partial placements).

Every number here is an engineering choice for a visible case, not a
published figure; ``docs/simulator.md`` says so and gives the published
ranges it was chosen against (``shared/docs/research.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

PARTIAL_PARTS = ("toes", "heel", "either")
LEG_BIAS_RANGE = (-0.6, 1.5)
"""The right leg's stance, longer (or, negative, shorter) than the left's by this fraction."""


@dataclass(frozen=True)
class AthleteGait:
    """The athlete's own way of walking, on top of a scenario's script.

    ``leg_bias``: the right leg's stance (its time on a tread) is longer than
    the left's by this fraction (0.3: 30 % longer; negative: shorter), as a
    weaker or painful leg would make it. The two legs' paces differ with it,
    the mean step interval stays the scenario's.
    ``partial_share``: the share of steps (placements that are a step, not a
    foot joining the other on its tread) that land on one half of a split
    tread only, so that they are not whole-foot by the spec's definition;
    ``partial_part`` says which half: ``toes`` (the half a foot loads first,
    forefoot first: the heel hangs over the nosing or short of the riser),
    ``heel`` (the other half) or ``either`` (one or the other at random).
    ``added_load_kg``: a weighted vest: in the trace header
    (``drill.added_load_kg``), in the truth's power (body + load), and on force
    treads (the tread carries body and vest).
    ``cadence_factor``: every cadence of the script times this (1.5: a
    faster climber, 0.6: a slower one).
    """

    leg_bias: float = 0.0
    partial_share: float = 0.0
    partial_part: str = "toes"
    added_load_kg: float = 0.0
    cadence_factor: float = 1.0

    def __post_init__(self) -> None:
        low, high = LEG_BIAS_RANGE
        if not low <= self.leg_bias <= high:
            raise ValueError(f"leg_bias must be from {low:g} to {high:g}, not {self.leg_bias!r}")
        if not 0.0 <= self.partial_share <= 1.0:
            raise ValueError(f"partial_share must be from 0 to 1, not {self.partial_share!r}")
        if self.partial_part not in PARTIAL_PARTS:
            raise ValueError(f"partial_part must be one of {', '.join(PARTIAL_PARTS)}, not {self.partial_part!r}")
        if not 0.0 <= self.added_load_kg <= 100.0:
            raise ValueError(f"added_load_kg must be from 0 to 100, not {self.added_load_kg!r}")
        if not 0.25 <= self.cadence_factor <= 4.0:
            raise ValueError(f"cadence_factor must be from 0.25 to 4, not {self.cadence_factor!r}")

    def with_(self, **changes) -> AthleteGait:
        return replace(self, **changes)


TYPICAL = AthleteGait()

ATHLETES: dict[str, AthleteGait] = {
    "typical": TYPICAL,
    # the right leg stands 30 % longer than the left: a dwell asymmetry of about 0.26, beyond the
    # 5 to 15 % that steep stairs show in healthy adults (Stacoff et al. 2005)
    "asymmetric": AthleteGait(leg_bias=0.30),
    # one step in three with the toes only on the tread
    "partial": AthleteGait(partial_share=1 / 3),
    # a 10 kg weighted vest
    "loaded": AthleteGait(added_load_kg=10.0),
    # half as fast again, and 0.6 times the pace
    "fast": AthleteGait(cadence_factor=1.5),
    "slow": AthleteGait(cadence_factor=0.6),
}
"""The named athletes of ``stairrig demo --athlete`` and of the gait scenarios."""


def athlete(name: str) -> AthleteGait:
    """The named athlete; ValueError naming the choices when there is none of that name."""
    try:
        return ATHLETES[name]
    except KeyError:
        raise ValueError(f"unknown athlete {name!r}; one of {', '.join(ATHLETES)}") from None


def leg_factors(leg_bias: float, double_support_fraction: float) -> dict[str, float]:
    """How much each foot's standing stretches the other foot's placement interval.

    In :class:`rig.sim.athlete.Walker` the placement of one foot takes the
    interval times the factor of the foot that stands; a foot's stance is
    then ``d * i_own + i_other`` (``d`` the double-support share of an
    interval: it stands through its own double support and the other foot's
    whole placement). Solving for a stance ratio right : left of ``1 + leg_bias``
    gives the factors' ratio ``(r - d) / (1 - d r)``; they are scaled so that
    their mean is 1 (the cadence stays the script's). ``leg_bias`` 0 gives
    exactly 1.0 for both (the walk is unchanged).
    """
    if leg_bias == 0.0:
        return {"R": 1.0, "L": 1.0}
    r, d = 1.0 + leg_bias, double_support_fraction
    ratio = (r - d) / (1.0 - d * r)
    if ratio <= 0:
        raise ValueError(f"leg_bias {leg_bias:g} is beyond what a walk with a double support of {d:g} allows")
    mean = (ratio + 1.0) / 2.0
    return {"R": ratio / mean, "L": 1.0 / mean}
