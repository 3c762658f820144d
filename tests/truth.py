"""Compare a replay summary with a truth file, with the tolerances of shared/traces/README.md."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

EXACT = ("steps", "steps_up", "steps_down", "ascents", "descents")


def shared_dir() -> Path:
    """``shared/`` beside the repository (as in CI), or STAIRRIG_SHARED."""
    candidates = [os.environ.get("STAIRRIG_SHARED"), Path(__file__).resolve().parents[2] / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "spec" / "trace-format.md").exists():
            return Path(candidate)
    raise FileNotFoundError(f"shared/ not found (looked in {[str(c) for c in candidates if c]}); "
                            "set STAIRRIG_SHARED to its path")


def differences(summary: dict, truth: dict, *, force_treads: float = 0.0) -> list[str]:
    """Every way ``summary`` is outside the truth's tolerances (empty: it matches)."""
    out = []
    for key in EXACT:
        if summary[key] != truth[key]:
            out.append(f"{key}: {summary[key]} != {truth[key]}")
    if abs(summary["elevation_gain_m"] - truth["elevation_gain_m"]) > 0.001:
        out.append(f"elevation_gain_m: {summary['elevation_gain_m']} != {truth['elevation_gain_m']}")
    active = truth["active_s"]
    if abs(summary["active_s"] - active) > 0.03 * active:
        out.append(f"active_s: {summary['active_s']} vs {active}")
    for side in ("forward", "backward"):
        if abs(summary["facing"][side] - truth["facing"][side]) > 0.05 * truth["steps"]:
            out.append(f"facing.{side}: {summary['facing'][side]} vs {truth['facing'][side]}")
    counts = Counter(e["type"] for e in summary["events"])
    for etype, n in truth["events"].items():
        if counts.get(etype, 0) != n:
            out.append(f"events.{etype}: {counts.get(etype, 0)} != {n}")
    if set(summary["rails"]) != set(truth["rails"]):
        out.append(f"rails: {sorted(summary['rails'])} != {sorted(truth['rails'])}")
    for side, figures in truth["rails"].items():
        got_rail = summary["rails"].get(side, {})
        for key, want in figures.items():
            got = got_rail.get(key)
            if want is None or got is None:
                if (want is None) != (got is None):
                    out.append(f"rails.{side}.{key}: {got} vs {want} (null where there is no sensor)")
                continue
            tol = {"peak_force_n": max(1.0, 0.05 * want), "impulse_ns": max(1.0, 0.10 * want)}.get(
                key, max(0.3, 0.03 * active))
            if abs(got - want) > tol:
                out.append(f"rails.{side}.{key}: {got} vs {want} (tolerance {tol:.3g})")
    for key, want in truth["reliance"].items():
        got = summary["reliance"][key]
        if (want is None) != (got is None) or (want is not None and abs(got - want) > 0.03):
            out.append(f"reliance.{key}: {got} vs {want}")
    out += gait_differences(summary.get("gait"), truth.get("gait"), force_treads=force_treads)
    return out


# shared/traces/README.md: each figure's tolerance (force treads: one sample period more on time figures)
GAIT_TOLERANCES = {"step_time_s": 0.015, "step_time_cv": 0.015, "dwell_s": 0.025, "dwell_asymmetry": 0.025,
                   "double_support_fraction": 0.02, "whole_foot_fraction": 0.03}
_GAIT_TIMES = ("step_time_s", "dwell_s")


def gait_differences(got: dict | None, want: dict | None, *, force_treads: float = 0.0) -> list[str]:
    """Every way the summary's ``gait`` is outside the README's tolerances of the truth's
    (``force_treads``: the sample period of force treads, added to the time tolerances)."""
    if want is None:
        return []
    if got is None:
        return ["gait: missing"]
    out = []
    flights, wanted = got["flights"], want["flights"]
    if len(flights) != len(wanted):
        out.append(f"gait.flights: {len(flights)} != {len(wanted)}")
    for k, (f, w) in enumerate(zip(flights, wanted)):
        if (f["dir"], f["steps"]) != (w["dir"], w["steps"]):
            out.append(f"gait.flights[{k}]: {f['dir']} {f['steps']} steps != {w['dir']} {w['steps']} steps")
        if abs(f["t"] - w["t"]) > 0.02 + force_treads:
            out.append(f"gait.flights[{k}].t: {f['t']} vs {w['t']}")
        if abs(f["duration_s"] - w["duration_s"]) > 0.03 + force_treads:
            out.append(f"gait.flights[{k}].duration_s: {f['duration_s']} vs {w['duration_s']}")
        if (f["power_w"] is None) != (w["power_w"] is None) or (
                w["power_w"] is not None and abs(f["power_w"] - w["power_w"]) > 0.03 * w["power_w"]):
            out.append(f"gait.flights[{k}].power_w: {f['power_w']} vs {w['power_w']}")
    for key, tol in GAIT_TOLERANCES.items():
        g, w = got.get(key), want.get(key)
        if (g is None) != (w is None):
            out.append(f"gait.{key}: {g} vs {w} (null where there is nothing to measure)")
        elif w is not None and abs(g - w) > tol + (force_treads if key in _GAIT_TIMES else 0.0):
            out.append(f"gait.{key}: {g} vs {w} (tolerance {tol})")
    return out
