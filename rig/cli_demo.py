"""``stairrig demo``: a simulated athlete on a simulated rig, through the whole service and its panel.

At its start it says how long it runs (simulated and on the wall clock), that
Ctrl+C stops it (with its summary), how to run a shorter one, and where its
data is; at its end, where its raw trace and its data are and what to run
next. A demo without ``--data-dir`` makes a new folder (``stairrig-demo-*`` in
the temporary directory) and keeps it: it says so, and how to remove it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading

from rig.cli_live import (MQTT_HELP, announce_outputs, config_with_network, print_live, run_until_stopped,
                          stop_on_signals, this_command)

MIN_FALL_DEMO_S = 60.0    # a demo with --fall: time to fall and come back
ATHLETE_HELP = {      # the simulated athletes of --athlete (rig.sim.gait_params.ATHLETES)
    "typical": "even legs, the whole foot on every tread, no vest, 60 steps/min",
    "asymmetric": "the right leg stands 30 %% longer than the left (leg asymmetry)",
    "partial": "one step in three with the toes only on the tread (whole-foot share about 2/3)",
    "loaded": "a 10 kg weighted vest (counted in the power)",
    "fast": "1.5 times the pace (about 90 steps/min)",
    "slow": "0.6 times the pace (about 36 steps/min)",
}
DEFAULT_DURATION_S = 600.0
SHORT_DURATION_S = 120.0  # the shorter demo the start lines and the README suggest


def _port(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535, not {text!r}")
    return int(text)


def add_parser(sub, number_types: dict) -> None:
    d = sub.add_parser("demo", help="a simulated athlete on a simulated rig, through the whole service")
    d.add_argument("--duration", type=number_types["duration"], default=DEFAULT_DURATION_S,
                   help=f"simulated seconds (default {DEFAULT_DURATION_S:g}: ten minutes to watch the panel; "
                        f"Ctrl+C stops it sooner)")
    d.add_argument("--speed", type=number_types["speed"], default=1.0,
                   help="faster than real time, e.g. 10 (default 1)")
    d.add_argument("--data-dir", help="where its traces, history and status go (default: a new folder "
                                      "stairrig-demo-* in the temporary directory, kept after the demo)")
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--config", help="the rig to simulate (default: the packaged rig.example.toml)")
    d.add_argument("--port", type=_port, help="the panel's port on 127.0.0.1 (default 8080; 0: any free port)")
    d.add_argument("--mqtt", metavar="URL", help=MQTT_HELP)
    d.add_argument("--fall", action="store_true",
                   help="the athlete falls once (both feet leave a middle tread: a suspected fall), on the first "
                        "climb after 60 simulated seconds (after a third of a demo under 3 minutes; earlier in one "
                        "too short to come back after it), and comes back a few seconds later; the alarm stays "
                        "until someone presses \"I'm OK\" (the panel or Home Assistant). Needs --duration 60 or more")
    d.add_argument("--athlete", choices=tuple(ATHLETE_HELP), default="typical",
                   help="how the simulated athlete walks, shown on the panel after each flight: "
                        + "; ".join(f"{name}: {what}" for name, what in ATHLETE_HELP.items())
                        + " (default typical)")
    d.set_defaults(func=cmd_demo)


def _wall(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def start_lines(duration_s: float, speed: float, data_dir: str, made: bool) -> list[str]:
    """How long it runs, how to stop it or run a shorter one, where its data goes."""
    lines = [f"  {duration_s:g} simulated seconds at speed x{speed:g}: about {_wall(duration_s / speed)}. "
             f"Ctrl+C stops it sooner (its summary is still printed)."]
    if duration_s / speed > SHORT_DURATION_S:    # longer than two minutes on the wall clock
        shorter = [f"a shorter one: --duration {SHORT_DURATION_S:g} (simulated seconds)"] * (duration_s > SHORT_DURATION_S)
        shorter += ["a faster one: --speed 10"] * (speed < 10)
        lines.append(f"  {'; '.join(shorter).capitalize()}")
    if made:
        lines.append(f"  its data (history, raw traces, status): {data_dir}, a new folder, kept after the demo "
                     "(--data-dir DIR picks the folder)")
    else:
        lines.append(f"  its data (history, raw traces, status): {data_dir}")
    return lines


def end_lines(service, data_dir: str, made: bool) -> list[str]:
    """Where the raw trace and the data are, and what to run next."""
    me = this_command()
    rows = []
    if service.recorder is not None:
        rows += [("its raw trace:", service.recorder.path), ("replay it:", f"{me} replay {service.recorder.path}")]
    if service.store is not None:
        rows.append(("its sessions:", f"{me} sessions list --data-dir {data_dir}"))
    rows.append(("its last status:", f"{me} status --data-dir {data_dir}"))
    lines = [f"{label:<17}{what}" for label, what in rows]
    lines.append(f"its data stays in {data_dir}" + (f" (remove it with: rm -r {data_dir})" if made else ""))
    return lines


def cmd_demo(args) -> int:
    from dataclasses import replace

    from rig.calibration import apply_calibration
    from rig.config import describe_rig
    from rig.hardware.sensors import SensorError
    from rig.report import format_summary
    from rig.service import Service
    from rig.sim import simulate
    from rig.sim.gait_params import athlete as named_athlete
    from rig.sim.mockrig import RigDriver, SimulatedRig
    from rig.sim.scenarios import demo_fall_after_s

    config = config_with_network(args, demo=True)
    if args.fall and args.duration < MIN_FALL_DEMO_S:
        print(f"stairrig demo: --fall needs a demo of at least {MIN_FALL_DEMO_S:g} simulated seconds "
              f"(--duration), time for the fall and for the athlete to come back", file=sys.stderr)
        return 2
    made = not args.data_dir
    data_dir = os.path.abspath(args.data_dir or tempfile.mkdtemp(prefix="stairrig-demo-"))
    config = replace(config, data_dir=data_dir)
    athlete_name = getattr(args, "athlete", "typical")
    gait = named_athlete(athlete_name)
    if gait.added_load_kg:      # the vest the athlete wears is the drill's added load, counted in the power
        config = replace(config, drill=replace(config.drill, added_load_kg=gait.added_load_kg))
    fall_after_s = demo_fall_after_s(args.duration) if args.fall else None
    # show a stall and a grab early in any demo, then now and then
    try:
        sim = simulate("demo", seed=args.seed, noise="typical", layout=config.layout,
                       weight_kg=config.athlete.weight_kg, duration_s=args.duration,
                       stall_every_s=min(120.0, max(30.0, 0.4 * args.duration)),
                       grab_every_s=min(150.0, max(40.0, 0.6 * args.duration)), fall_after_s=fall_after_s,
                       gait=gait)
    except ValueError as exc:  # a rig the demo cannot script, a demo too short for its fall
        print(f"stairrig demo: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    stop_on_signals(stop)
    # the simulated load cells read what the saved calibration expects, as real ones would
    rig = SimulatedRig(apply_calibration(config), speed=args.speed, virtual=True)
    try:
        service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim", stop=stop)
    except (SensorError, OSError) as exc:
        rig.close()
        print(f"stairrig demo: {exc}", file=sys.stderr)
        if isinstance(exc, OSError) and config.web.enabled:
            print(f"  (is port {config.web.port} taken? choose another with --port)", file=sys.stderr)
        return 1
    service.subscribe("console", print_live(), types={"step", "ascent", "descent", "grip", "grab", "stall",
                                                      "fall_suspected", "fall_acknowledged", "summary"})
    # the clock runs on to the demo's end, also on a rig whose last sample comes before it
    driver = RigDriver(rig, sim.samples, service.stop_event, end_s=args.duration)
    athlete = service.sessions.athlete
    print(f"stairrig demo: a simulated athlete on a simulated rig ({describe_rig(config)}; "
          f"athlete {athlete.name}, {athlete.weight_kg:g} kg)")
    for line in start_lines(args.duration, args.speed, data_dir, made):
        print(line)
    if athlete_name != "typical":
        print(f"  the athlete walks {athlete_name}: {ATHLETE_HELP[athlete_name].replace('%%', '%')}")
    fall_at_s = next((e["t"] for e in sim.events if e["type"] == "fall_suspected"), None)
    if fall_at_s is not None:
        print(f"  the athlete falls once, at {fall_at_s:.0f} s, and comes back a few seconds later; the alarm "
              f"stays until someone presses \"I'm OK\" (on the panel or in Home Assistant)")
    if service.recorder is not None:
        print(f"  recording the raw trace to {service.recorder.path}")
    announce_outputs(service)
    print("  each line: simulated seconds from the demo's start, then what happened", flush=True)
    try:
        service.start()
        if gait.added_load_kg:   # as a coach would set it: the vest is the sessions' drill too (their power)
            service.commands.set_drill(added_load_kg=gait.added_load_kg)
        driver.start()
        healthy = run_until_stopped(service, args.duration, rig.clock)
    finally:
        summary = service.stop()
        rig.close()
    if summary:
        print()
        print(format_summary(summary, title="demo summary", t_from="the demo's start (its trace's start)"))
    print()
    for line in end_lines(service, data_dir, made):
        print(line)
    return 0 if healthy else 1
