"""How fast the history answers the panel's queries after ten years of daily sessions.

Creates 3,650 daily sessions (one a day, ending today) of one athlete with
about 10 flights and a few events each, through the store's own API, in a
temporary directory; then times (best of 5, in ms) the queries the panel
and the progression engine make, and prints the database's size.

    .venv/bin/python bench/history_queries.py [--sessions N] [--keep DIR]

Target: progress() over all sessions in < 50 ms (on a Raspberry Pi). "cold"
is the first call (or the first after a session ends); later calls are served
from the store's cache until the next significant commit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rig.history import HistoryStore, export_history_json, export_sessions_csv  # noqa: E402


def make_summary(rng: random.Random, flights: int) -> dict:
    steps = flights * 5
    active = flights * 6.0 + rng.uniform(0, 20)
    events = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["grab", "stall", "grab", "fall_suspected"])
        events.append({"t": round(rng.uniform(0, active), 3), "type": kind, "rail": "left"}
                      if kind == "grab" else {"t": round(rng.uniform(0, active), 3), "type": kind})
    return {
        "steps": steps, "steps_up": steps // 2, "steps_down": steps - steps // 2,
        "ascents": flights // 2, "descents": flights - flights // 2,
        "elevation_gain_m": round(flights // 2 * 5 * 0.17, 4), "active_s": round(active, 4),
        "duration_s": round(active + 30, 6), "cadence_spm": round(steps / active * 60, 2),
        "facing": {"forward": 0, "backward": flights},
        "rails": {side: {"contact_s": round(rng.uniform(0, active), 4), "light_s": round(rng.uniform(0, 20), 4),
                         "firm_s": round(rng.uniform(0, 10), 4), "peak_force_n": round(rng.uniform(0, 200), 3),
                         "impulse_ns": round(rng.uniform(0, 2000), 3)} for side in ("left", "right")},
        "reliance": {"contact_fraction": round(rng.random(), 4), "firm_fraction": round(rng.random() / 4, 4),
                     "light_fraction": round(rng.random() / 2, 4)},
        "events": sorted(events, key=lambda e: e["t"]),
    }


def make_flights(rng: random.Random, n: int) -> list[dict]:
    out, t = [], 0.0
    for i in range(n):
        d = rng.uniform(4, 8)
        out.append({"idx": i, "direction": "up" if i % 2 == 0 else "down", "t_start_s": round(t, 3),
                    "t_end_s": round(t + d, 3), "duration_s": round(d, 3), "steps": 5,
                    "cadence_spm": round(5 / d * 60, 2), "contact_s": round(d * 0.6, 3),
                    "light_s": round(d * 0.4, 3), "firm_s": round(d * 0.1, 3)})
        t += d + rng.uniform(1, 4)
    return out


def best_ms(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=3650)
    ap.add_argument("--keep", metavar="DIR", help="build the history in DIR and keep it")
    args = ap.parse_args(argv)
    data = args.keep or tempfile.mkdtemp(prefix="stairrig-bench-")
    rng = random.Random(1)
    try:
        store = HistoryStore.open(data)
        aid = store.ensure_default_athlete("Athlete", 70.0)
        today = dt.datetime.now(dt.timezone.utc).replace(hour=9, minute=0, second=0, microsecond=0)
        t0 = time.perf_counter()
        last = None
        for day in range(args.sessions):
            start = today - dt.timedelta(days=args.sessions - 1 - day)
            flights = rng.randint(8, 12)
            summary = make_summary(rng, flights)
            last = store.begin_session(athlete_id=aid, started_at=start.isoformat(),
                                       drill={"facing": "backward", "grip": "light", "planned_flights": 10},
                                       level=f"L{day // 365}", trace_path=None)
            store.end_session(last, ended_at=(start + dt.timedelta(minutes=15)).isoformat(),
                              duration_s=900.0, summary=summary, flights=make_flights(rng, flights),
                              events=summary["events"], energy_kcal=round(rng.uniform(20, 60), 1))
            if day % 7 == 0:
                store.set_notes(last, effort=rng.randint(3, 8), pain=rng.randint(0, 3), dizziness=False)
        store.flush()
        build_s = time.perf_counter() - t0
        store.close()

        t0 = time.perf_counter()
        store = HistoryStore.open(data)          # includes the integrity quick_check
        open_ms = (time.perf_counter() - t0) * 1000
        counts = store.counts()
        n = len(store.progress(aid))
        results = [
            ("open() (with quick_check)", open_ms),
            (f"progress(all: {n} rows), cold", best_ms(lambda: (store._progress_cache.clear(),
                                                                store.progress(aid)))),
            (f"progress(all: {n} rows), cached", best_ms(lambda: store.progress(aid))),
            ("progress(days=90)", best_ms(lambda: store.progress(aid, days=90))),
            ("outcomes(limit=20)", best_ms(lambda: store.outcomes(aid, limit=20))),
            ("sessions(limit=50)", best_ms(lambda: store.sessions(limit=50))),
            ("sessions(athlete_id, limit=50)", best_ms(lambda: store.sessions(athlete_id=aid, limit=50))),
            ("session(id) (latest)", best_ms(lambda: store.session(last))),
            ("session(id) (oldest)", best_ms(lambda: store.session(1))),
            ("export_sessions_csv (all)", best_ms(lambda: export_sessions_csv(store, io.StringIO()), 2)),
            ("export_history_json (all)", best_ms(lambda: export_history_json(store, io.StringIO()), 2)),
        ]
        store.close()
        size = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data)
                   if f.startswith("history.sqlite3"))
        print(f"{counts['sessions']} sessions, {counts['flights']} flights, {counts['events']} events; "
              f"built in {build_s:.1f} s through the store")
        for name, ms in results:
            print(f"  {name:<38} {ms:8.2f} ms")
        print(f"  {'database size':<38} {size / 1e6:8.2f} MB")
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
