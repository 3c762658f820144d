"""The truth of a simulated session: the spec's replay summary, from clean signals.

This applies the definitions of ``docs/trace-format.md`` ("Replay
summary") to the NOISE-FREE samples the script produced, offline and in the
plainest way (whole intervals, no streaming, no noise handling beyond what
the definitions say). It shares no code with the detector in ``rig/core``:
it is the independent answer a detector is tested against.

The result has the shape of ``shared/traces/*.truth.json``: ``events`` is a
count per type there; :func:`compute_truth` also returns the steps and the
events themselves, in time order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from rig.layout import RAIL_SIDES, RigLayout
from rig.settings import DetectionSettings
from rig.sim.gait_truth import gait_figures
from rig.sim.intervals import (Interval, at_least, bridge, edges_to_intervals, hysteresis, intersect,
                               measure, subtract, union)

EVENT_TYPES = ("grab", "stall", "fall_suspected")


@dataclass(frozen=True)
class TreadContact:
    """A counted (merged) contact of one tread: it is occupied from ``t0`` to ``t1``."""

    tread: int
    t0: float
    t1: float
    first_close: dict  # zone -> first closing time within the contact (split treads)
    zone_on_s: dict = field(default_factory=dict)  # zone -> its raw on-time within the contact (split treads)


def _split_channels(samples) -> tuple[dict[str, list], dict[str, list], float, float]:
    binary: dict[str, list] = defaultdict(list)
    analog: dict[str, list] = defaultdict(list)
    first = last = None
    for t, ch, v in samples:
        if first is None:
            first = t
        last = t
        (analog if ch.endswith(".force") else binary)[ch].append((t, v))
    return binary, analog, (first or 0.0), (last or 0.0)


def tread_contacts(layout: RigLayout, binary: dict, analog: dict, end_s: float,
                   thresholds) -> list[TreadContact]:
    """Counted contacts of every tread (spec: Contacts)."""
    s = thresholds.settings
    out: list[TreadContact] = []
    for i in range(1, layout.treads + 1):
        chans = layout.tread_channels(i)
        if layout.tread_sensor == "force":
            raw = hysteresis(analog.get(chans[0], []), thresholds.tread_force_on_n,
                             thresholds.tread_force_off_n, end_s)
            per_zone: dict[str, list[Interval]] = {}
        else:
            per_zone = {ch.rsplit(".", 1)[-1]: edges_to_intervals(binary.get(ch, []), end_s) for ch in chans}
            raw = union(iv for ivs in per_zone.values() for iv in ivs)
        for a, b in at_least(bridge(raw, s.bridge_s), s.min_contact_s):
            first: dict[str, float] = {}
            on_s: dict[str, float] = {}
            if layout.split:
                for zone, ivs in per_zone.items():
                    starts = [x for x, _ in ivs if a <= x <= b]
                    if starts:
                        first[zone] = min(starts)
                    on_s[zone] = measure(intersect(ivs, [(a, b)]))
            out.append(TreadContact(i, a, b, first, on_s))
    return out


def _facing(layout: RigLayout, contact: TreadContact, direction: str | None, simultaneity_s: float) -> str:
    if direction is None or not layout.split or not contact.first_close:
        return "unknown"
    fc = contact.first_close
    if "front" in fc and "back" in fc:
        if abs(fc["front"] - fc["back"]) <= simultaneity_s:
            return "unknown"
        first = "front" if fc["front"] < fc["back"] else "back"
    else:
        first = next(iter(fc))
    if direction == "up":
        return "forward" if first == "back" else "backward"
    return "forward" if first == "front" else "backward"


def walk_timeline(layout: RigLayout, contacts: list[TreadContact], end_s: float, settings: DetectionSettings,
                  record: dict | None = None):
    """Steps, directions, flights, elevation, stalls and suspected falls (spec definitions).

    ``record``, when given, gets what the gait figures need besides: ``contacts``
    (each step's TreadContact), ``rises`` (each step's level difference, up
    steps) and ``counts`` (each ascent or descent: ``(t, "up"|"down", steps so far)``).
    """
    step_contacts: list[TreadContact] = []
    rises: list[int] = []
    counts: list[tuple[float, str, int]] = []
    if record is not None:
        record.update(contacts=step_contacts, rises=rises, counts=counts)
    n = layout.treads
    stepper = layout.kind == "stepper"
    edges = []
    for c in contacts:
        edges.append((c.t0, 1, c.tread, c))
        edges.append((c.t1, 0, c.tread, c))
    edges.sort(key=lambda e: (e[0], e[1], e[2]))  # an emptying before an occupying at equal times

    steps: list[dict] = []
    events: list[dict] = []
    occupied: dict[int, float] = {}  # tread -> time of the step that occupied it
    ascents = descents = 0
    elevation_risers = 0
    last_step: dict | None = None
    last_emptied: int | None = None
    stall_due: float | None = None
    fall_from: float | None = None

    def timers(now: float) -> None:
        nonlocal stall_due, fall_from
        if stall_due is not None and stall_due < now:
            events.append({"t": stall_due, "type": "stall"})
            stall_due = None
        if fall_from is not None and fall_from + settings.fall_wait_s < now:
            events.append({"t": fall_from, "type": "fall_suspected"})
            fall_from = None

    for t, kind, tread, contact in edges:
        timers(t)
        if kind == 0:  # emptying
            occupied.pop(tread, None)
            if occupied:
                continue
            stall_due = None
            last_emptied = tread
            if stepper or last_step is None:
                continue
            if n > 1 and tread == n and last_step["direction"] == "up":
                ascents += 1
                counts.append((t, "up", len(steps)))
            if n > 1 and tread == 1 and last_step["direction"] == "down":
                descents += 1
                counts.append((t, "down", len(steps)))
            if 1 < last_step["tread"] < n:
                fall_from = t
            continue
        # occupying: a step
        fall_from = None
        if stepper:
            direction = "up"
            risers = 1
        else:
            if occupied:
                ref: int | None = max(occupied.items(), key=lambda kv: kv[1])[0]
            elif last_emptied is None:  # the start of the trace
                ref = n + 1 if (tread == n and n > 1) else 0
            elif last_emptied == 1 or n == 1:
                ref = 0
            elif last_emptied == n:
                ref = n + 1
            else:
                ref = None
            if ref is None or tread == ref:
                direction, risers = None, 0
            elif tread > ref:
                direction, risers = "up", tread - ref
            else:
                direction, risers = "down", 0
        elevation_risers += risers if direction == "up" else 0
        step = {"t": t, "tread": tread, "direction": direction,
                "facing": _facing(layout, contact, direction, settings.facing_simultaneity_s)}
        steps.append(step)
        step_contacts.append(contact)
        rises.append(risers if direction == "up" else 0)
        last_step = step
        occupied[tread] = t
        stall_due = t + settings.stall_s
    # the end of the trace: only what is decided by then
    if stall_due is not None and stall_due <= end_s:
        events.append({"t": stall_due, "type": "stall"})
    if fall_from is not None and fall_from + settings.fall_wait_s <= end_s:
        events.append({"t": fall_from, "type": "fall_suspected"})
    return steps, events, ascents, descents, elevation_risers + ascents


def grab_events(side: str, force: list[tuple[float, float]], thresholds) -> list[dict]:
    """Grabs on one rail (spec: Events, grab), from its force samples."""
    s = thresholds.settings
    rise = thresholds.grab_rise_n
    out: list[dict] = []
    # a channel is 0 until its first sample: the rail starts armed, from 0 N
    armed = bool(force)
    window: list[tuple[float, float]] = [(force[0][0], 0.0)] if force else []  # below the floor since arming
    for t, f in force:
        if not armed:
            if f < s.grab_floor_n:
                armed = True
                window = [(t, f)]
            continue
        window = [(tw, fw) for tw, fw in window if t - tw <= s.grab_window_s]
        if window and f - min(fw for _, fw in window) >= rise:
            out.append({"t": t, "type": "grab", "rail": side})
            armed = False
            window = []
        elif f < s.grab_floor_n:
            window.append((t, f))
    return out


def _held(force: list[tuple[float, float]], end_s: float):
    """Each force sample with the interval during which it holds."""
    for k, (t, f) in enumerate(force):
        t_next = force[k + 1][0] if k + 1 < len(force) else end_s
        yield t, t_next, f


def rail_figures(layout: RigLayout, side: str, binary: dict, analog: dict, active: list[Interval],
                 end_s: float, thresholds) -> tuple[dict, list[Interval], list[Interval] | None]:
    """One rail's summary figures, with its in-contact and firm intervals over active time."""
    s = thresholds.settings
    force = analog.get(f"rail.{side}.force", [])
    has_force = layout.rail_has(side, "force")
    if layout.rail_has(side, "touch"):
        raw = edges_to_intervals(binary.get(f"rail.{side}.touch", []), end_s)
    else:
        raw = hysteresis(force, s.rail_contact_on_n, s.rail_contact_off_n, end_s)
    contact = at_least(bridge(raw, s.bridge_s), s.rail_min_contact_s)
    in_contact = intersect(contact, active)
    figures = {"contact_s": round(measure(in_contact), 3), "light_s": None, "firm_s": None,
               "peak_force_n": None, "impulse_ns": None}
    if not has_force:
        return figures, in_contact, None
    firm_raw = hysteresis(force, s.firm_on_n, s.firm_off_n, end_s, strict_on=True)
    firm = intersect(union(firm_raw), in_contact)
    peak = 0.0
    impulse = 0.0
    j = 0
    for t0, t1, f in _held(force, end_s):
        while j < len(in_contact) and in_contact[j][1] <= t0:
            j += 1
        k = j
        while k < len(in_contact) and in_contact[k][0] < t1:
            overlap = min(t1, in_contact[k][1]) - max(t0, in_contact[k][0])
            if overlap > 0:
                impulse += f * overlap
                peak = max(peak, f)
            k += 1
    figures.update(light_s=round(max(0.0, measure(in_contact) - measure(firm)), 3), firm_s=round(measure(firm), 3),
                   peak_force_n=round(peak, 2), impulse_ns=round(impulse, 2))
    return figures, in_contact, firm


def compute_truth(samples, layout: RigLayout, *, weight_kg: float, name: str = "sim",
                  settings: DetectionSettings | None = None,
                  added_load_kg: float = 0.0) -> tuple[dict, list[dict], list[dict]]:
    """The replay summary of a noise-free trace: ``(truth, steps, events)``.

    ``samples`` are ``(t_s, channel, value)`` in time order. ``truth`` has the
    shape of the shared truth files (``events`` as a count per type);
    ``steps`` are ``{"t", "tread", "direction", "facing"}`` and ``events``
    ``{"t", "type", ...}``, both in time order. ``added_load_kg`` (the header's
    ``drill.added_load_kg``) counts in the power of the ``gait`` figures.
    """
    settings = settings or DetectionSettings()
    th = settings.resolve(weight_kg)
    binary, analog, first_t, last_t = _split_channels(samples)
    contacts = tread_contacts(layout, binary, analog, last_t, th)
    record: dict = {}
    steps, events, ascents, descents, risers = walk_timeline(layout, contacts, last_t, settings, record)
    active = union((c.t0, c.t1) for c in contacts)
    active_s = measure(active)

    rails: dict[str, dict] = {}
    any_contact: list[Interval] = []
    any_firm: list[Interval] = []
    force_rails = False
    for side in RAIL_SIDES:
        if side not in layout.rails:
            continue
        figures, in_contact, firm = rail_figures(layout, side, binary, analog, active, last_t, th)
        rails[side] = figures
        any_contact = union(any_contact + in_contact)
        if firm is not None:
            force_rails = True
            any_firm = union(any_firm + firm)
        events.extend(grab_events(side, analog.get(f"rail.{side}.force", []), th))
    events.sort(key=lambda e: e["t"])

    if active_s > 0:
        contact_fraction = round(measure(any_contact) / active_s, 4)
        firm_fraction = round(measure(any_firm) / active_s, 4) if force_rails else None
        light_fraction = round(measure(subtract(any_contact, any_firm)) / active_s, 4) if force_rails else None
    else:
        contact_fraction = light_fraction = firm_fraction = None

    facing = {"forward": 0, "backward": 0, "unknown": 0}
    for st in steps:
        facing[st["facing"]] += 1
    truth = {
        "steps": len(steps),
        "steps_up": sum(1 for st in steps if st["direction"] == "up"),
        "steps_down": sum(1 for st in steps if st["direction"] == "down"),
        "ascents": ascents,
        "descents": descents,
        "elevation_gain_m": round(risers * layout.riser_m, 4),
        "active_s": round(active_s, 4),
        "facing": facing,
        "rails": rails,
        "events": {kind: sum(1 for e in events if e["type"] == kind) for kind in EVENT_TYPES},
        "gait": gait_figures(layout, steps, record, contacts, mass_kg=weight_kg + added_load_kg,
                             min_contact_s=settings.min_contact_s),
        "reliance": {"contact_fraction": contact_fraction, "light_fraction": light_fraction,
                     "firm_fraction": firm_fraction},
        "duration_s": round(last_t - first_t, 3),
        "name": name,
    }
    return truth, steps, events
