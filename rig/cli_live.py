"""What ``stairrig run`` and ``stairrig demo`` share: the configuration with its network settings,
the live lines on the console, stopping on a signal, and how the user ran stairrig.

``rig.cli`` (run) and ``rig.cli_demo`` (demo) import this module; it imports neither.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from rig.cli_common import load_config_or_exit

log = logging.getLogger("stairrig")


def alarm_line(event: dict) -> str | None:
    """The fall alarm's lines that ``format_live_event`` does not give: a test alarm and "I'm OK"."""
    t = f"{event['t']:8.2f} s"
    if event["type"] == "fall_suspected" and event.get("test"):
        return f"{t}  !!! TEST of the fall alarm, raised by {event.get('by')} (not a fall)"
    if event["type"] == "fall_acknowledged":
        what = "the test fall alarm" if event.get("test") else "the fall alarm"
        return f"{t}  {what} ended: {event.get('by')} said \"I'm OK\" after {event.get('after_s', 0):.0f} s"
    return None


def print_live(min_summary_gap_s: float = 10.0):
    from rig.report import format_live_event
    last = {"summary": -1e9}

    def printer(event: dict) -> None:
        if event["type"] == "summary":
            if event["t"] - last["summary"] < min_summary_gap_s or not event["summary"]["steps"]:
                return
            last["summary"] = event["t"]
        line = alarm_line(event) or format_live_event(event)
        if line:
            print(line, flush=True)
    return printer


def stop_on_signals(stop: threading.Event) -> None:
    """Ctrl-C and systemd's SIGTERM set the stop event; installed before anything starts."""
    def on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def run_until_stopped(service, duration_s: float | None, clock) -> bool:
    """Wait for a signal, the duration, or a dead worker; False if a worker died. A signal sets the
    stop event and ends the wait at once; the checks run every 5 s (a tenth of a second with a
    duration): a wake-up of this thread costs an idle rig more than the check itself (issue 12),
    and systemd's watchdog hears from the engine itself."""
    stop = service.stop_event
    every_s = 5.0 if duration_s is None else 0.1
    while not stop.is_set():
        if duration_s is not None and clock.now() >= duration_s:
            break
        stop.wait(every_s)
        if not service.healthy():
            log.error("a worker thread died; stopping")
            return False
    return service.engine.error is None


def config_with_network(args, *, demo: bool):
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


def announce_outputs(service) -> None:
    if service.panel is not None:
        print(f"  the panel: {service.panel.url}")
    mqtt = service.config.mqtt
    if service.mqtt is not None:
        print(f"  MQTT: {'mqtts' if mqtt.tls else 'mqtt'}://{mqtt.host}:{mqtt.effective_port}, "
              f"topics under {service.mqtt.base_topic}/")


def this_command() -> str:
    """How the user ran stairrig, to suggest the next command."""
    exe = sys.argv[0]
    if os.path.basename(exe) == "stairrig":
        return os.path.abspath(exe) if os.sep in exe else exe
    return f"{os.path.basename(sys.executable)} -m rig"


MQTT_HELP = ("publish to this MQTT broker: mqtt://[user@]host[:port] or mqtts://... (overrides "
              "STAIRRIG_MQTT_URL and [mqtt]). No password here: every user of the machine can read a command "
              "line. Give it in [mqtt] password_file or password_env, or give the whole URL, password "
              "included, in the environment: STAIRRIG_MQTT_URL='mqtt://user:password@host'")
