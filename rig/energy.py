"""An energy estimate for a session, in kilocalories (sources in docs/history.md, "Energy").

Up: the work of lifting body and load, ``m g h``, over the muscles' efficiency
of climbing (16 to 26 %; 20 % taken), 4184 J per kcal (Al Kandari et al. 2016;
the ACSM stepping equation), which gives about 0.13 kcal per 17 cm step at
70 kg, inside the 0.11 to 0.15 measured (Teh and Aziz 2002). Down: about
0.05 kcal per step at 70 kg (Bassett et al. 1997), scaled by mass. Backward:
17 to 20 % more relative effort than forward (Flynn et al. 1994; Hooper et
al. 2004): x 1.18. A net estimate (above rest), good to perhaps 25 %.
"""

from __future__ import annotations

from rig.layout import RigLayout
from rig.settings import G_M_S2

CLIMB_EFFICIENCY = 0.20
J_PER_KCAL = 4184.0
DOWN_KCAL_PER_STEP_70KG = 0.05
BACKWARD_FACTOR = 1.18


def energy_kcal(summary: dict, layout: RigLayout, weight_kg: float, added_load_kg: float = 0.0,
                facing: str | None = None) -> float:
    mass_kg = weight_kg + (added_load_kg or 0.0)
    up_kcal = mass_kg * G_M_S2 * summary["elevation_gain_m"] / CLIMB_EFFICIENCY / J_PER_KCAL
    down_kcal = summary["steps_down"] * DOWN_KCAL_PER_STEP_70KG * mass_kg / 70.0
    factor = BACKWARD_FACTOR if facing == "backward" else 1.0
    return round((up_kcal + down_kcal) * factor, 2)
