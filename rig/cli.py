"""The ``stairrig`` command line: replay, simulate, demo, run, check-config."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import tempfile
import threading

from rig import __version__
from rig import cli_history, cli_status, logsafe
from rig.cli_common import load_config_or_exit
from rig.limits import WEIGHT_KG

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


MIN_FALL_DEMO_S = 60.0   # a demo with --fall: time to fall and come back

_DURATION = _number(1.0, 86400.0, "a duration in seconds")
_SPEED = _number(0.01, 1000.0, "a speed")
_WEIGHT = _number(*WEIGHT_KG, "a body weight in kg")   # the configuration's bounds


def _PORT(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535, not {text!r}")
    return int(text)


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
        print(format_summary(summary, title=os.path.basename(args.trace)))
    return 0


# -- simulate -------------------------------------------------------------
def cmd_simulate(args) -> int:
    from rig.sim import SCENARIOS, simulate, write_sim

    if args.scenario not in SCENARIOS:
        print(f"stairrig simulate: unknown scenario {args.scenario!r}; choose one of: "
              f"{', '.join(sorted(SCENARIOS))}", file=sys.stderr)
        return 1
    layout = load_config_or_exit(args.config).layout if args.config else None
    try:
        result = simulate(args.scenario, seed=args.seed, noise=args.noise, layout=layout,
                          weight_kg=args.weight_kg, duration_s=args.duration)
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


# -- demo and run ---------------------------------------------------------
def _alarm_line(event: dict) -> str | None:
    """The fall alarm's lines that ``format_live_event`` does not give: a test alarm and "I'm OK"."""
    t = f"{event['t']:8.2f} s"
    if event["type"] == "fall_suspected" and event.get("test"):
        return f"{t}  !!! TEST of the fall alarm, raised by {event.get('by')} (not a fall)"
    if event["type"] == "fall_acknowledged":
        what = "the test fall alarm" if event.get("test") else "the fall alarm"
        return f"{t}  {what} ended: {event.get('by')} said \"I'm OK\" after {event.get('after_s', 0):.0f} s"
    return None


def _print_live(min_summary_gap_s: float = 10.0):
    from rig.report import format_live_event
    last = {"summary": -1e9}

    def printer(event: dict) -> None:
        if event["type"] == "summary":
            if event["t"] - last["summary"] < min_summary_gap_s or not event["summary"]["steps"]:
                return
            last["summary"] = event["t"]
        line = _alarm_line(event) or format_live_event(event)
        if line:
            print(line, flush=True)
    return printer


def _stop_on_signals(stop: threading.Event) -> None:
    """Ctrl-C and systemd's SIGTERM set the stop event; installed before anything starts."""
    def on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def _run_until_stopped(service, duration_s: float | None, clock) -> bool:
    """Wait for a signal, the duration, or a dead worker; False if a worker died. A signal sets the
    stop event and ends the wait at once; the checks run every second (a tenth with a duration)."""
    stop = service.stop_event
    every_s = 1.0 if duration_s is None else 0.1
    while not stop.is_set():
        if duration_s is not None and clock.now() >= duration_s:
            break
        stop.wait(every_s)
        if not service.healthy():
            log.error("a worker thread died; stopping")
            return False
    return service.engine.error is None


def _config_with_network(args, *, demo: bool):
    """The configuration file, with MQTT from STAIRRIG_MQTT_URL, then ``--mqtt`` (which wins), and
    the demo's panel on 127.0.0.1; a bad URL ends the command with exit status 2."""
    from dataclasses import replace

    from rig.config import ConfigError
    from rig.mqtt.url import apply_mqtt_url, mqtt_url_from_env
    config = load_config_or_exit(args.config)
    try:
        config = mqtt_url_from_env(config, os.environ)
        if args.mqtt:
            config = apply_mqtt_url(config, args.mqtt, "--mqtt", allow_password=False)
    except ConfigError as exc:
        print(f"stairrig {'demo' if demo else 'run'}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if demo:
        web = replace(config.web, host="127.0.0.1")
        if args.port is not None:
            web = replace(web, port=args.port)
        config = replace(config, web=web)
    return config


def _announce_outputs(service) -> None:
    if service.panel is not None:
        print(f"  the panel: {service.panel.url}")
    mqtt = service.config.mqtt
    if service.mqtt is not None:
        print(f"  MQTT: {'mqtts' if mqtt.tls else 'mqtt'}://{mqtt.host}:{mqtt.effective_port}, "
              f"topics under {service.mqtt.base_topic}/")


def cmd_demo(args) -> int:
    from dataclasses import replace

    from rig.hardware.sensors import SensorError
    from rig.report import format_summary
    from rig.config import describe_rig
    from rig.service import Service
    from rig.sim import simulate
    from rig.sim.mockrig import RigDriver, SimulatedRig
    from rig.sim.scenarios import demo_fall_after_s

    config = _config_with_network(args, demo=True)
    if args.fall and args.duration < MIN_FALL_DEMO_S:
        print(f"stairrig demo: --fall needs a demo of at least {MIN_FALL_DEMO_S:g} simulated seconds "
              f"(--duration), time for the fall and for the athlete to come back", file=sys.stderr)
        return 2
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="stairrig-demo-")
    config = replace(config, data_dir=os.path.abspath(data_dir))
    fall_after_s = demo_fall_after_s(args.duration) if args.fall else None
    # show a stall and a grab early in any demo, then now and then
    try:
        sim = simulate("demo", seed=args.seed, noise="typical", layout=config.layout,
                       weight_kg=config.athlete.weight_kg, duration_s=args.duration,
                       stall_every_s=min(120.0, max(30.0, 0.4 * args.duration)),
                       grab_every_s=min(150.0, max(40.0, 0.6 * args.duration)), fall_after_s=fall_after_s)
    except ValueError as exc:  # a rig the demo cannot script, a demo too short for its fall
        print(f"stairrig demo: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    _stop_on_signals(stop)
    from rig.calibration import apply_calibration
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
    service.subscribe("console", _print_live(), types={"step", "ascent", "descent", "grip", "grab", "stall",
                                                       "fall_suspected", "fall_acknowledged", "summary"})
    # the clock runs on to the demo's end, also on a rig whose last sample comes before it
    driver = RigDriver(rig, sim.samples, service.stop_event, end_s=args.duration)
    athlete = service.sessions.athlete
    print(f"stairrig demo: a simulated athlete on a simulated rig ({describe_rig(config)}; "
          f"athlete {athlete.name}, {athlete.weight_kg:g} kg)")
    print(f"  speed x{args.speed:g}, {args.duration:g} s of simulated time; Ctrl-C stops")
    fall_at_s = next((e["t"] for e in sim.events if e["type"] == "fall_suspected"), None)
    if fall_at_s is not None:
        print(f"  the athlete falls once, at {fall_at_s:.0f} s, and comes back a few seconds later; the alarm "
              f"stays until someone presses \"I'm OK\" (on the panel or in Home Assistant)")
    if service.recorder is not None:
        print(f"  recording the raw trace to {service.recorder.path}")
    _announce_outputs(service)
    try:
        service.start()
        driver.start()
        healthy = _run_until_stopped(service, args.duration, rig.clock)
    finally:
        summary = service.stop()
        rig.close()
    if summary:
        print()
        print(format_summary(summary, title="demo summary"))
    if service.recorder is not None:
        print(f"\nreplay it:  {_this_command()} replay {service.recorder.path}")
    if service.store is not None:
        print(f"its sessions:  {_this_command()} sessions list --data-dir {config.data_dir}")
    return 0 if healthy else 1


def _this_command() -> str:
    """How the user ran stairrig, to suggest the next command."""
    exe = sys.argv[0]
    if os.path.basename(exe) == "stairrig":
        return os.path.abspath(exe) if os.sep in exe else exe
    return f"{os.path.basename(sys.executable)} -m rig"


def cmd_run(args) -> int:
    from rig.config import ConfigError, check_web_host
    from rig.hardware.factory import PinFactoryError
    from rig.hardware.sensors import SensorError
    from rig.service import Service

    config = _config_with_network(args, demo=False)
    try:
        check_web_host(config)     # before anything starts: waitress would fail with a traceback
    except ConfigError as exc:
        print(f"stairrig run: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        service = Service(config, stop=stop)
    except (SensorError, PinFactoryError, OSError) as exc:
        print(f"stairrig run: {exc}", file=sys.stderr)
        return 1
    if service.panel is not None:
        log.info("the panel: %s", service.panel.url)
    service.subscribe("console", _print_live(60.0), types={"grab", "stall", "fall_suspected", "fall_acknowledged",
                                                           "summary"})
    try:
        service.start()
        healthy = _run_until_stopped(service, None, service.clock)
    finally:
        service.stop()
    return 0 if healthy else 1  # non-zero so that systemd's Restart=on-failure restarts it


def cmd_check_config(args) -> int:
    from rig.config import check_config_main
    return check_config_main(args.file)


# -- parser ---------------------------------------------------------------
_MQTT_HELP = ("publish to this MQTT broker: mqtt://[user@]host[:port] or mqtts://... (overrides "
              "STAIRRIG_MQTT_URL and [mqtt]). No password here: every user of the machine can read a command "
              "line. Give it in [mqtt] password_file or password_env, or give the whole URL, password "
              "included, in the environment: STAIRRIG_MQTT_URL='mqtt://user:password@host'")


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

    s = sub.add_parser("simulate", help="write a synthetic trace and its truth")
    s.add_argument("--out", required=True, help="the trace to write (.jsonl or .jsonl.gz)")
    s.add_argument("--scenario", default="mixed", help="what the simulated athlete does (default: mixed)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--noise", choices=("none", "typical", "harsh"), default="typical")
    s.add_argument("--weight-kg", type=_WEIGHT, default=70.0)
    s.add_argument("--duration", type=_DURATION, help="seconds, for scenarios that take one")
    s.add_argument("--config", help="simulate the rig of this configuration file")
    s.set_defaults(func=cmd_simulate)

    d = sub.add_parser("demo", help="a simulated athlete on a simulated rig, through the whole service")
    d.add_argument("--duration", type=_DURATION, default=600.0, help="simulated seconds (default 600: ten minutes to watch the panel)")
    d.add_argument("--speed", type=_SPEED, default=1.0, help="faster than real time, e.g. 5 (default 1)")
    d.add_argument("--data-dir", help="where its traces, history and status go (default: a new temporary folder)")
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--config", help="the rig to simulate (default: the packaged rig.example.toml)")
    d.add_argument("--port", type=_PORT, help="the panel's port on 127.0.0.1 (default 8080; 0: any free port)")
    d.add_argument("--mqtt", metavar="URL", help=_MQTT_HELP)
    d.add_argument("--fall", action="store_true",
                   help="the athlete falls once (both feet leave a middle tread: a suspected fall), on the first "
                        "climb after 60 simulated seconds (after a third of a demo under 3 minutes; earlier in one "
                        "too short to come back after it), and comes back a few seconds later; the alarm stays "
                        "until someone presses \"I'm OK\" (the panel or Home Assistant). Needs --duration 60 or more")
    d.set_defaults(func=cmd_demo)

    u = sub.add_parser("run", help="run the rig on real GPIO pins")
    u.add_argument("--config", required=True, help="the rig's configuration file")
    u.add_argument("--mqtt", metavar="URL", help=_MQTT_HELP)
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
