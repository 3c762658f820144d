"""Plain-text views of a summary and of live events, for the terminal.

A summary carries text from outside (who pressed "I'm OK", a trace's warnings): every line
printed has its control characters escaped (rig/logsafe.py)."""

from __future__ import annotations

from collections import Counter

from rig.logsafe import escaped


def _num(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}{unit}"


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


def _gait_lines(gait: dict | None) -> list[str]:
    """The gait figures (docs/trace-format.md, "Gait figures"), when the summary has them."""
    if not gait:
        return []
    flights = gait["flights"]
    powers = [f["power_w"] for f in flights if f["power_w"] is not None]
    ups = [f["duration_s"] for f in flights if f["dir"] == "up"]
    return [
        "",
        f"gait             {len(flights)} flights; fastest ascent {_num(min(ups) if ups else None, ' s')}, "
        f"most power {_num(max(powers) if powers else None, ' W', 0)}",
        f"                 step time {_num(gait['step_time_s'], ' s', 2)} (variability {_pct(gait['step_time_cv'])}), "
        f"dwell {_num(gait['dwell_s'], ' s', 2)} (leg asymmetry {_pct(gait['dwell_asymmetry'])})",
        f"                 double support {_pct(gait['double_support_fraction'])}, "
        f"whole foot on {_pct(gait['whole_foot_fraction'])} of steps",
    ]


def format_summary(summary: dict, title: str | None = None, t_from: str | None = None) -> str:
    """The replay summary as a readable table; ``t_from`` says where its event times count from
    (``"the trace start"``, ``"the session start"``)."""
    s = summary
    lines = []
    if title:
        lines += [title, "=" * len(title)]
    facing = s["facing"]
    lines += [
        f"steps            {s['steps']}  (up {s['steps_up']}, down {s['steps_down']})",
        f"flights          {s['ascents']} up, {s['descents']} down",
        f"elevation gain   {_num(s['elevation_gain_m'], ' m', 2)}",
        f"active time      {_num(s['active_s'], ' s')} of {_num(s['duration_s'], ' s')}",
        f"cadence          {_num(s['cadence_spm'], ' steps/min')}",
        f"facing           forward {facing['forward']}, backward {facing['backward']}, unknown {facing['unknown']}",
    ]
    rel = s["reliance"]
    lines.append(f"handrail use     contact {_pct(rel['contact_fraction'])}, light {_pct(rel['light_fraction'])},"
                 f" firm {_pct(rel['firm_fraction'])} of active time")
    if s["rails"]:
        lines.append("")
        lines.append("rail     contact    light     firm   peak force   impulse")
        for side, r in s["rails"].items():
            lines.append(f"{side:<6} {_num(r['contact_s'], ' s'):>9} {_num(r['light_s'], ' s'):>8} "
                         f"{_num(r['firm_s'], ' s'):>8} {_num(r['peak_force_n'], ' N'):>12} "
                         f"{_num(r['impulse_ns'], ' N s'):>9}")
    lines += _gait_lines(s.get("gait"))
    counts = Counter(e["type"] for e in s["events"])
    lines.append("")
    lines.append("events           " + (", ".join(f"{n} {t.replace('_', ' ')}" for t, n in sorted(counts.items()))
                                        or "none")
                 + (f"  (t: seconds from {t_from})" if t_from and s["events"] else ""))
    for e in s["events"]:
        detail = ", ".join(f"{k} {v}" for k, v in e.items() if k not in ("t", "type"))
        lines.append(f"  {e['t']:9.3f} s  {e['type'].replace('_', ' ')}" + (f"  ({detail})" if detail else ""))
    for warning in s.get("warnings", []):
        lines.append(f"warning: {warning}")
    return "\n".join(escaped(line) for line in lines)


def format_live_event(event: dict) -> str | None:
    """One line for an event as it happens (control characters escaped), or None for events not shown."""
    line = _live_line(event)
    return None if line is None else escaped(line)


def _live_line(event: dict) -> str | None:
    etype = event["type"]
    t = f"{event['t']:8.2f} s"
    if etype == "step":
        direction = event["direction"] or "level?"
        return (f"{t}  step {event['steps']:>4}  {direction:<6} tread {event['tread']}"
                f"  facing {event['facing']}")
    if etype in ("ascent", "descent"):
        return f"{t}  flight {'up' if etype == 'ascent' else 'down'} done ({event.get(etype + 's')})"
    if etype == "grip":
        force = event.get("force_n")
        return f"{t}  {event['rail']} rail: {event['grip']}" + (f" ({force:.1f} N)" if force is not None else "")
    if etype == "grab":
        return f"{t}  ! GRAB on the {event['rail']} rail ({event['force_n']:.0f} N)"
    if etype == "stall":
        return f"{t}  ! stall on tread {event['tread']}"
    if etype == "fall_suspected":
        return f"{t}  !!! SUSPECTED FALL (last step on tread {event['tread']})"
    if etype == "summary" and not event.get("final"):
        s = event["summary"]
        rel = s["reliance"]
        steps = f"{s['steps']} step{'s' if s['steps'] != 1 else ''}"
        return (f"{t}  -- {steps}, {s['ascents']} up / {s['descents']} down flights, "
                f"rails: contact {_pct(rel['contact_fraction'])}, light {_pct(rel['light_fraction'])},"
                f" firm {_pct(rel['firm_fraction'])}")
    return None
