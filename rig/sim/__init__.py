"""The simulator: a synthetic athlete on a configurable rig.

It writes a trace (header + samples, ``docs/trace-format.md``) and
its truth: the replay summary that the spec's definitions give on the
noise-free signals, computed from the script itself, not by a detector.

    from rig.sim import simulate, write_sim
    result = simulate("backward-flights", seed=3, noise="harsh")
    write_sim(result, "retro.jsonl.gz")   # and retro.truth.json beside it

Files: ``athlete`` (gait -> foot contacts), ``treads`` (contacts -> tread
samples), ``rails`` (grips -> rail samples), ``noise``, ``truth``,
``session`` (a scripted session), ``scenarios`` (the named ones),
``result`` (SimResult, write_sim), ``intervals`` (time-interval algebra),
``gait_params`` (how an athlete walks: legs, partial placements, added
load, cadence), ``gait_scenarios`` (the scenarios that show them),
``gait_truth`` (the truth's gait figures).
"""

from rig.sim.noise import NOISE_LEVELS, add_noise
from rig.sim.result import SimResult, truth_path, write_sim
from rig.sim.gait_params import ATHLETES, AthleteGait
from rig.sim.gait_scenarios import GAIT_LAYOUTS, GAIT_SCENARIOS
from rig.sim.scenarios import DEFAULT_LAYOUTS, SCENARIOS, simulate
from rig.sim.session import Session
from rig.sim.truth import compute_truth

# the gait scenarios join the others where simulate() looks (here, so that neither module imports the other
# back: rig.sim.gait_scenarios builds on rig.sim.scenarios)
SCENARIOS.update(GAIT_SCENARIOS)
DEFAULT_LAYOUTS.update(GAIT_LAYOUTS)

__all__ = ["ATHLETES", "AthleteGait", "SimResult", "SCENARIOS", "DEFAULT_LAYOUTS", "NOISE_LEVELS", "Session",
           "simulate", "write_sim", "truth_path", "add_noise", "compute_truth"]
