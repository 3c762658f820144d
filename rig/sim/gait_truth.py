"""The truth's ``gait`` figures (``docs/trace-format.md``, "Gait figures"), the plain way.

From the counted tread contacts of the noise-free signals, the steps that
:func:`rig.sim.truth.walk_timeline` found in them and the times it counted
each ascent and descent, all at once and offline: each flight is found by
walking back from its count over whole contacts, each dwell is its
contact's whole interval, double support is measured on the union of the
pairwise overlaps. It shares no code with ``rig/core/gait.py`` (which keeps
the same figures streaming): it is the answer that one is tested against.
"""

from __future__ import annotations

from statistics import median, pstdev

from rig.layout import RigLayout
from rig.settings import G_M_S2
from rig.sim.intervals import Interval, intersect, measure, union


def _r(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def _covered(intervals: list[Interval], t0: float, t1: float) -> bool:
    """``[t0, t1]`` lies within one interval of the normal list (no moment uncovered)."""
    return any(a <= t0 and t1 <= b for a, b in intervals)


def flights_of(steps: list[dict], record: dict, occupied: list[Interval]) -> list[tuple[str, float, list[int]]]:
    """Every flight: ``(dir, count time, the indices of its steps)``, in time order.

    A flight is the longest run of consecutive steps that ends with the last
    step before its count, every one in its direction, with some tread
    occupied at every moment from the run's first onset to the count.
    """
    out = []
    for t_count, direction, n_before in record["counts"]:
        first = n_before
        while first > 0:
            k = first - 1
            if steps[k]["direction"] != direction or not _covered(occupied, steps[k]["t"], t_count):
                break
            first = k
        out.append((direction, t_count, list(range(first, n_before))))
    return out


def double_support_s(contacts) -> float:
    """Time during which two or more treads are occupied."""
    by_tread: dict[int, list[Interval]] = {}
    for c in contacts:
        by_tread.setdefault(c.tread, []).append((c.t0, c.t1))
    treads = {i: union(ivs) for i, ivs in by_tread.items()}
    overlaps: list[Interval] = []
    keys = sorted(treads)
    for x, i in enumerate(keys):
        for j in keys[x + 1:]:
            overlaps += intersect(treads[i], treads[j])
    return measure(union(overlaps))


def gait_figures(layout: RigLayout, steps: list[dict], record: dict, contacts, *, mass_kg: float,
                 min_contact_s: float) -> dict:
    """The summary's ``gait`` of a trace whose steps and contacts are known."""
    stepper = layout.kind == "stepper"
    occupied = union((c.t0, c.t1) for c in contacts)
    active_s = measure(occupied)
    step_contacts = record["contacts"]
    flights: list[dict] = []
    step_times: list[float] = []
    cvs: list[float] = []
    dwells: list[float] = []
    asymmetries: list[float] = []
    for direction, t_count, run in ([] if stepper else flights_of(steps, record, occupied)):
        if not run:
            continue
        start = steps[run[0]]["t"]
        duration = t_count - start
        power = None
        if direction == "up" and duration > 0:
            height_m = (sum(record["rises"][k] for k in run) + 1) * layout.riser_m
            power = mass_kg * G_M_S2 * height_m / duration
        flights.append({"dir": direction, "t": _r(start), "duration_s": _r(duration), "steps": len(run),
                        "power_w": _r(power, 3)})
        onsets = [steps[k]["t"] for k in run]
        times = [b - a for a, b in zip(onsets, onsets[1:])]
        step_times += times
        if len(times) >= 3 and sum(times) > 0:
            cvs.append(pstdev(times) / (sum(times) / len(times)))
        flight_dwells = [step_contacts[k].t1 - step_contacts[k].t0 for k in run]
        dwells += flight_dwells
        if len(flight_dwells) >= 4:
            mean = sum(flight_dwells) / len(flight_dwells)
            odd, even = flight_dwells[0::2], flight_dwells[1::2]
            if mean > 0:
                asymmetries.append(abs(sum(odd) / len(odd) - sum(even) / len(even)) / mean)
    whole = None
    if layout.split and steps:
        need = min_contact_s - 1e-9
        whole_steps = sum(1 for c in step_contacts
                          if all(c.zone_on_s.get(zone, 0.0) >= need for zone in ("front", "back")))
        whole = whole_steps / len(steps)
    double = None
    if not stepper and layout.treads > 1 and active_s > 0:
        double = double_support_s(contacts) / active_s
    return {
        "flights": flights,
        "step_time_s": _r(median(step_times)) if step_times else None,
        "step_time_cv": _r(median(cvs)) if cvs else None,
        "dwell_s": _r(median(dwells)) if dwells else None,
        "dwell_asymmetry": _r(median(asymmetries)) if asymmetries else None,
        "double_support_fraction": _r(double),
        "whole_foot_fraction": _r(whole),
    }
