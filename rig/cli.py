"""The ``stairrig`` command line: replay, simulate, run, check-config; the demo (``rig.cli_demo``), the
history (``rig.cli_history``) and status (``rig.cli_status``) in their own modules."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading

from rig import __version__
from rig import cli_demo, cli_history, cli_status, logsafe
from rig.cli_common import load_config_or_exit
from rig.cli_live import MQTT_HELP, config_with_network, print_live, run_until_stopped, stop_on_signals
from rig.limits import WEIGHT_KG
from rig.sim.gait_params import ATHLETES as _ATHLETES
from rig.sim.gait_scenarios import GAIT_SCENARIO_HELP
from rig.sim.scenarios import SCENARIOS as _SCENARIOS

ATHLETE_NAMES = tuple(_ATHLETES)
SCENARIO_NAMES = tuple(_SCENARIOS)   # the gait scenarios among them (rig/sim/__init__.py registers them)

_print_live = print_live   # its name before rig/cli_live.py

log = logging.getLogger("stairrig")


# -- argument types --------------------------------------------------------
def _number(low: float, high: float, what: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (low <= value <= high):  # also refuses nan
            raise argparse.ArgumentTypeError(f"{what} must be between {low:g} and {high:g}, not {text}")
        return value
    parse.__name__ = what
    return parse


_DURATION = _number(1.0, 86400.0, "a duration in seconds")
_SPEED = _number(0.01, 1000.0, "a speed")
_WEIGHT = _number(*WEIGHT_KG, "a body weight in kg")   # the configuration's bounds


# -- replay ---------------------------------------------------------------
def cmd_replay(args) -> int:
    from rig.replay import replay
    from rig.report import format_summary
    from rig.trace import TraceError

    settings = None
    weight = args.weight_kg
    if args.config:
        config = load_config_or_exit(args.config)
        settings = config.detection
    show_progress = not args.no_progress and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if total:
            sys.stderr.write(f"\rreplaying {os.path.basename(args.trace)}: {100 * done / total:5.1f} %")
            sys.stderr.flush()
    try:
        summary = replay(args.trace, settings, weight_kg=weight, progress=progress if show_progress else None)
    except TraceError as exc:
        if show_progress:
            sys.stderr.write("\n")
        print(f"stairrig replay: {exc}", file=sys.stderr)
        return 1
    if show_progress:
        sys.stderr.write("\r" + " " * 60 + "\r")
    for warning in summary.get("warnings", []):
        print(f"stairrig replay: warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(format_summary(summary, title=os.path.basename(args.trace), t_from="the trace start"))
    return 0


# -- simulate -------------------------------------------------------------
def cmd_simulate(args) -> int:
    from rig.sim import ATHLETES, SCENARIOS, simulate, write_sim

    if args.scenario not in SCENARIOS:
        print(f"stairrig simulate: unknown scenario {args.scenario!r}; choose one of: "
              f"{', '.join(sorted(SCENARIOS))}", file=sys.stderr)
        return 1
    layout = load_config_or_exit(args.config).layout if args.config else None
    try:
        options = {} if args.athlete is None else {"gait": ATHLETES[args.athlete]}
        result = simulate(args.scenario, seed=args.seed, noise=args.noise, layout=layout,
                          weight_kg=args.weight_kg, duration_s=args.duration, **options)
    except ValueError as exc:  # a scenario that does not fit the rig (a flight on a stepper...)
        print(f"stairrig simulate: {exc}", file=sys.stderr)
        return 1
    try:
        write_sim(result, args.out)
    except (OSError, ValueError) as exc:
        print(f"stairrig simulate: cannot write {args.out!r}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 1
    truth = result.truth
    print(f"wrote {args.out}: {len(result.samples)} samples, {truth['steps']} steps, "
          f"{truth['ascents']} flights up, {truth['descents']} down (truth beside it)")
    return 0


# -- run ------------------------------------------------------------------
def cmd_run(args) -> int:
    from rig.config import ConfigError, check_web_host
    from rig.hardware.factory import PinFactoryError
    from rig.hardware.sensors import SensorError
    from rig.service import Service

    config = config_with_network(args, demo=False)
    try:
        check_web_host(config)     # before anything starts: waitress would fail with a traceback
    except ConfigError as exc:
        print(f"stairrig run: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    stop_on_signals(stop)
    try:
        service = Service(config, stop=stop)
    except (SensorError, PinFactoryError, OSError) as exc:
        print(f"stairrig run: {exc}", file=sys.stderr)
        return 1
    if service.panel is not None:
        log.info("the panel: %s", service.panel.url)
    service.subscribe("console", print_live(60.0), types={"grab", "stall", "fall_suspected", "fall_acknowledged",
                                                          "summary"})
    try:
        service.start()
        healthy = run_until_stopped(service, None, service.clock)
    finally:
        service.stop()
    return 0 if healthy else 1  # non-zero so that systemd's Restart=on-failure restarts it


def cmd_check_config(args) -> int:
    from rig.config import check_config_main
    return check_config_main(args.file)


# -- parser ---------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stairrig", description="Instrumented stair training on a Raspberry Pi.")
    p.add_argument("--version", action="version", version=f"stairrig {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("replay", help="summarise a recorded trace")
    r.add_argument("trace", help="a trace file (.jsonl or .jsonl.gz)")
    r.add_argument("--json", action="store_true", help="print the spec's summary as JSON")
    r.add_argument("--config", help="take the detection settings from this configuration file")
    r.add_argument("--weight-kg", type=_WEIGHT, help="body weight for weight-scaled thresholds (default: the trace's)")
    r.add_argument("--no-progress", action="store_true", help="no progress line on long files")
    r.set_defaults(func=cmd_replay)

    s = sub.add_parser("simulate", help="write a synthetic trace and its truth",
                       description="Write a synthetic trace and its truth (the spec's summary of its noise-free "
                                   "signals, gait figures included) beside it.",
                       epilog="gait scenarios: " + "; ".join(f"{name}: {what}" for name, what in
                                                             GAIT_SCENARIO_HELP.items()))
    s.add_argument("--out", required=True, help="the trace to write (.jsonl or .jsonl.gz)")
    s.add_argument("--scenario", default="mixed",
                   help="what the simulated athlete does (default: mixed): " + ", ".join(SCENARIO_NAMES))
    s.add_argument("--athlete", choices=tuple(ATHLETE_NAMES),
                   help="how the athlete walks in any scenario (default: the scenario's own): "
                        + ", ".join(ATHLETE_NAMES) + "; see the demo's --athlete")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--noise", choices=("none", "typical", "harsh"), default="typical")
    s.add_argument("--weight-kg", type=_WEIGHT, default=70.0)
    s.add_argument("--duration", type=_DURATION, help="seconds, for scenarios that take one")
    s.add_argument("--config", help="simulate the rig of this configuration file")
    s.set_defaults(func=cmd_simulate)

    cli_demo.add_parser(sub, {"duration": _DURATION, "speed": _SPEED})

    u = sub.add_parser("run", help="run the rig on real GPIO pins")
    u.add_argument("--config", required=True, help="the rig's configuration file")
    u.add_argument("--mqtt", metavar="URL", help=MQTT_HELP)
    u.set_defaults(func=cmd_run)

    cli_history.add_parsers(sub, {"weight": _WEIGHT})
    cli_status.add_parser(sub)

    c = sub.add_parser("check-config", help="validate a configuration file")
    c.add_argument("file")
    c.set_defaults(func=cmd_check_config)
    return p


_SYSLOG_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


class _JournalFormatter(logging.Formatter):
    """``<priority>message``: journald reads the level from the prefix and adds the time itself."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _SYSLOG_PRIORITY.get(record.levelno, 6)
        text = f"{record.name}: {super().format(record)}"
        # every line: a traceback's lines keep the level of the message they belong to
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def _setup_logging(level: int) -> None:
    handler = logging.StreamHandler()
    if os.environ.get("JOURNAL_STREAM"):      # stderr goes to journald (systemd sets this)
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logsafe.install(handler)      # user text (names, notes, payloads) logged with control characters escaped
    logging.basicConfig(level=level, handlers=[handler])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
