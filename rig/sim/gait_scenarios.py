"""The gait scenarios: flights up and down by athletes who walk their own way.

Each is a flight scenario of :mod:`rig.sim.scenarios` walked by one of the
named athletes of :mod:`rig.sim.gait_params` (its ``gait`` keyword takes
another), so that the truth's ``gait`` figures show the case:

- ``asymmetric``: backward flights; the right leg stands 30 % longer than
  the left (dwell asymmetry about 0.26);
- ``partial``: forward flights; one step in three lands with the toes only
  on a split tread (whole-foot share about 2/3);
- ``loaded``: backward flights with a 10 kg weighted vest (the power counts
  body and vest);
- ``fast``: forward flights at 1.5 times 90 steps/min (135);
- ``slow``: backward flights at 0.6 times 60 steps/min (36).

They are registered in :data:`rig.sim.scenarios.SCENARIOS` by the package
(``rig/sim/__init__.py``), so that ``simulate()`` and ``stairrig simulate
--scenario`` find them.
"""

from __future__ import annotations

from collections.abc import Callable

from rig.layout import RigLayout
from rig.sim.gait_params import ATHLETES, AthleteGait
from rig.sim.result import SimResult
from rig.sim.scenarios import backward_flights, flight_rig, forward_flights

GAIT_SCENARIO_HELP = {
    "asymmetric": "backward flights, the right leg's stance 30 % longer than the left's",
    "partial": "forward flights, one step in three with the toes only on a split tread",
    "loaded": "backward flights with a 10 kg weighted vest (drill.added_load_kg)",
    "fast": "forward flights at 135 steps/min (1.5 times the usual 90)",
    "slow": "backward flights at 36 steps/min (0.6 times the usual 60)",
}


def _gait_scenario(name: str, base: Callable[..., SimResult]) -> Callable[..., SimResult]:
    def scenario(*, layout: RigLayout | None = None, seed: int = 0, noise: str = "typical",
                 weight_kg: float = 70.0, duration_s: float | None = None, gait: AthleteGait | None = None,
                 **kw) -> SimResult:
        return base(layout=layout or GAIT_LAYOUTS[name], seed=seed, noise=noise, weight_kg=weight_kg,
                    duration_s=duration_s, gait=gait or ATHLETES[name], name=kw.pop("name", None) or name, **kw)
    scenario.__name__ = name
    scenario.__doc__ = f"{GAIT_SCENARIO_HELP[name][0].upper()}{GAIT_SCENARIO_HELP[name][1:]}."
    return scenario


GAIT_LAYOUTS: dict[str, RigLayout] = {name: flight_rig() for name in GAIT_SCENARIO_HELP}

GAIT_SCENARIOS: dict[str, Callable[..., SimResult]] = {
    "asymmetric": _gait_scenario("asymmetric", backward_flights),
    "partial": _gait_scenario("partial", forward_flights),
    "loaded": _gait_scenario("loaded", backward_flights),
    "fast": _gait_scenario("fast", forward_flights),
    "slow": _gait_scenario("slow", backward_flights),
}
