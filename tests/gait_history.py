"""A history with gait figures, written through the store's own API: for the exports', the
coach's report's and the progress pages' tests.

One session a day for ``days`` days up to ``end`` (a UTC time), the athlete climbing the ladder;
every third session stored without gait figures (as an old session whose trace is gone), the
others with the spec's ``gait`` (docs/trace-format.md), their ascents' power in the flights too;
some with notes of pain or dizziness.
"""

from __future__ import annotations

import datetime as dt

LEVELS = ["grip-firm", "grip-light", "grip-hover", "volume-4"]


def gait_for(n: int) -> dict | None:
    """Session ``n``'s gait figures (None: stored without them)."""
    if n % 3 == 2:
        return None
    up = 120.0 + 5 * n + 0.25
    return {"flights": [{"dir": "up", "t": 1.0, "duration_s": 6.0, "steps": 5, "power_w": up},
                        {"dir": "down", "t": 9.0, "duration_s": 6.5, "steps": 5, "power_w": None},
                        {"dir": "up", "t": 17.0, "duration_s": 6.2, "steps": 5, "power_w": up - 4.5}],
            "step_time_s": round(1.3 - 0.01 * n, 3), "step_time_cv": round(0.12 - 0.002 * n, 4),
            "dwell_s": round(1.1 - 0.01 * n, 3), "dwell_asymmetry": 0.21 if n % 5 == 0 else 0.06,
            "double_support_fraction": 0.42, "whole_foot_fraction": round(0.7 + 0.01 * n, 3)}


def note_for(n: int) -> dict | None:
    if n % 7 == 3:
        return {"effort": 6, "pain": 2, "dizziness": False, "text": f"left knee ached on day {n}"}
    if n % 9 == 5:
        return {"effort": 4, "pain": 0, "dizziness": True, "text": "light-headed at the top"}
    if n % 4 == 0:
        return {"effort": 5, "pain": 0, "dizziness": False, "text": "fine"}
    return None


def seed_gait_history(store, athlete_id: int, days: int, *, end: dt.datetime | None = None) -> list[int]:
    """``days`` ended sessions, one a day at 09:00 UTC, the last the day before ``end`` (default now);
    returns their ids, oldest first."""
    end = end or dt.datetime.now(dt.timezone.utc)
    first = (end - dt.timedelta(days=days)).replace(hour=9, minute=0, second=0, microsecond=0)
    ids = []
    for n in range(days):
        share = n / max(1, days - 1)
        level = LEVELS[min(len(LEVELS) - 1, int(share * len(LEVELS)))]
        contact, firm = round(0.95 - 0.7 * share, 3), round(0.5 * (1 - share) ** 2, 3)
        start = first + dt.timedelta(days=n)
        gait = gait_for(n)
        sid = store.begin_session(athlete_id=athlete_id, started_at=start.isoformat(),
                                  drill={"facing": "backward", "grip": "light" if n % 2 else "firm",
                                         "planned_flights": 3, "added_load_kg": 0.0},
                                  level=level, trace_path=None)
        powers = [f["power_w"] for f in gait["flights"]] if gait else [None, None, None]
        flights = [{"idx": i, "direction": d, "t_start_s": 8.0 * i, "t_end_s": 8.0 * i + 6.0, "duration_s": 6.0,
                    "steps": 5, "cadence_spm": 50.0, "contact_s": 6 * contact, "light_s": 6 * (contact - firm),
                    "firm_s": 6 * firm, "power_w": None if p is None else round(p, 1)}
                   for i, (d, p) in enumerate(zip(("up", "down", "up"), powers))]
        summary = {"steps": 15 + n, "steps_up": 10, "steps_down": 5 + n, "ascents": 2, "descents": 1,
                   "elevation_gain_m": 1.7, "active_s": 20.0 + n, "duration_s": 60.0, "cadence_spm": 45.0 + n,
                   "reliance": {"contact_fraction": contact, "firm_fraction": firm,
                                "light_fraction": round(contact - firm, 3)},
                   "events": [{"t": 4.0, "type": "grab", "rail": "left", "force_n": 90.0}] if n % 6 == 1 else []}
        if gait is not None:
            summary["gait"] = gait
        store.end_session(sid, ended_at=(start + dt.timedelta(minutes=1)).isoformat(), duration_s=60.0,
                          summary=summary, flights=flights, events=None, energy_kcal=2.0)
        note = note_for(n)
        if note:
            store.flush()
            store.set_notes(sid, **note)
        ids.append(sid)
    store.flush()
    return ids
