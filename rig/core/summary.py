"""The spec's replay summary (``docs/trace-format.md``, "Replay summary") from the detector's figures."""

from __future__ import annotations

from rig.core.gait import Gait
from rig.core.rails import RailFigures
from rig.core.steps import StepRules


def build_summary(steps: StepRules, figures: RailFigures, events: list[dict], riser_m: float,
                  t_first: float | None, t_last: float, gait: Gait) -> dict:
    """The summary of everything decided so far (``events``: the spec's events, in any order)."""
    active = figures.active_s
    rails = {}
    for rail in figures.rails:
        force = rail.has_force
        rails[rail.side] = {
            "contact_s": round(rail.contact_s, 4),
            "light_s": round(rail.light_s, 4) if force else None,
            "firm_s": round(rail.firm_s, 4) if force else None,
            "peak_force_n": (round(rail.peak_force_n, 3) if rail.peak_force_n is not None else 0.0)
            if force else None,
            "impulse_ns": round(rail.impulse_ns, 3) if force else None,
        }
    has_force = bool(figures.force_rails)
    if active > 0:
        reliance = {
            "contact_fraction": round(figures.any_contact_s / active, 4),
            "firm_fraction": round(figures.any_firm_s / active, 4) if has_force else None,
            "light_fraction": round(figures.light_only_s / active, 4) if has_force else None,
        }
    else:
        reliance = {"contact_fraction": None, "firm_fraction": None, "light_fraction": None}
    duration = (t_last - t_first) if t_first is not None else 0.0
    return {
        "steps": steps.steps,
        "steps_up": steps.steps_up,
        "steps_down": steps.steps_down,
        "ascents": steps.ascents,
        "descents": steps.descents,
        "elevation_gain_m": round(steps.levels_up * riser_m, 4),
        "active_s": round(active, 4),
        "duration_s": round(duration, 6),
        "cadence_spm": round(steps.steps / active * 60.0, 2) if active > 0 else None,
        "facing": dict(steps.facing),
        "rails": rails,
        "reliance": reliance,
        "events": [{k: v for k, v in e.items() if k != "at"} for e in sorted(events, key=lambda e: e["t"])],
        "gait": gait.summary(),
    }
