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


def differences(summary: dict, truth: dict) -> list[str]:
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
    return out
