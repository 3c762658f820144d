"""Commands from MQTT (``<base>/<command>/set``): checked, then done through ``service.commands``.

Everything arriving here came off the network: a payload may be any bytes,
of any size, retained, or aimed at a command that does not exist. Each is
checked; a bad one is logged, reported on ``<base>/error`` as
``{"command", "payload" (truncated), "error"}`` and ignored. Nothing here
raises into paho or the service.

``service.commands`` waits (up to 3 s) for the engine, so commands never run
in paho's network thread: ``on_message`` hands them to ``CommandWorker``,
one named thread working through a small bounded queue.

Payloads:

==================  ======================================================
``session``         ``start`` or ``stop``
``fall``            ``acknowledge`` ("I'm OK"), or ``{"by": "Anna"}``
``test_alarm``      ``raise`` (a test fall alarm), or ``{"by": "Anna"}``
``athlete``         an athlete's name or id
``facing``          ``forward`` or ``backward``
``grip``            ``firm``, ``light``, ``hover`` or ``none``
``planned_flights`` a whole number from 0 (no plan) to 200
``added_load_kg``   a number of kg from 0 to 50
``purge``           ``purge``: remove the rig from Home Assistant
==================  ======================================================
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
from typing import Callable

from rig.commands import CommandError
from rig.mqtt.topics import COMMANDS
from rig.threads import named_thread
from rig.trace.header import FACINGS, GRIPS

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 512
SHOWN_PAYLOAD_CHARS = 100
QUEUE_SIZE = 32
BY_DEFAULT = "Home Assistant"


class Rejected(ValueError):
    """A command that cannot be done; the message is for people."""


def shown_payload(payload: bytes) -> str:
    """The payload as an error report may repeat it: text, truncated."""
    text = payload[: SHOWN_PAYLOAD_CHARS * 4].decode("utf-8", "replace")
    return text if len(text) <= SHOWN_PAYLOAD_CHARS else text[:SHOWN_PAYLOAD_CHARS] + "…"


def _text(payload: bytes) -> str:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Rejected(f"the payload is too long ({len(payload)} bytes; at most {MAX_PAYLOAD_BYTES})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("the payload is not UTF-8 text") from None
    text = text.strip()
    if any(ord(c) < 32 for c in text):
        raise Rejected("the payload holds control characters")
    return text


def _choice(text: str, choices: tuple[str, ...], what: str) -> str:
    value = text.lower()
    if value not in choices:
        raise Rejected(f"{what} must be one of {', '.join(choices)}, not {text[:40]!r}")
    return value


def _number(text: str, what: str, low: float, high: float, *, whole: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Rejected(f"{what} must be a number, not {text[:40]!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise Rejected(f"{what} must be from {low:g} to {high:g}, not {text[:40]!r}")
    if whole and not value.is_integer():
        raise Rejected(f"{what} must be a whole number, not {text[:40]!r}")
    return value


def _who(text: str, words: tuple[str, ...], what: str) -> str:
    """Who sends a command that is one of ``words`` ("Home Assistant") or ``{"by": "<who>"}``."""
    if text.lower() in words:
        return BY_DEFAULT
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and set(data) <= {"by"} and isinstance(data.get("by", BY_DEFAULT), str):
        by = " ".join(str(data.get("by", BY_DEFAULT)).split())[:40]
        if by:
            return by
    raise Rejected(f'send "{words[0]}", or {{"by": "<who>"}}, to {what}')


def plan(name: str, payload: bytes, commands, purge: Callable[[], None]) -> tuple[str, Callable[[], object]]:
    """Check a command; returns (a description for the log, the call that does it). Raises Rejected."""
    if name not in COMMANDS:
        raise Rejected(f"unknown command {name[:40]!r} (commands: {', '.join(COMMANDS)})")
    text = _text(payload)
    if name == "session":
        action = _choice(text, ("start", "stop"), "the session command")
        return (f"{action} session", commands.start_session if action == "start" else commands.stop_session)
    if name == "fall":
        by = _who(text, ("acknowledge", "ok", "press"), "acknowledge a suspected fall")
        return f"fall acknowledged by {by}", lambda: commands.acknowledge_fall(by)
    if name == "test_alarm":
        by = _who(text, ("raise",), "raise a test fall alarm")
        return f"test fall alarm raised by {by}", lambda: commands.test_fall_alarm(by)
    if name == "athlete":
        if not text:
            raise Rejected("name an athlete (their name or id)")
        return f"select athlete {text[:60]!r}", lambda: commands.select_athlete(text)
    if name == "facing":
        facing = _choice(text, FACINGS, "the drill's facing")
        return f"facing {facing}", lambda: commands.set_drill(facing=facing)
    if name == "grip":
        grip = _choice(text, GRIPS, "the target grip")
        return f"target grip {grip}", lambda: commands.set_drill(grip=grip)
    if name == "planned_flights":
        flights = int(_number(text, "planned flights", 0, 200, whole=True))
        if flights == 0:
            return "no planned flights", lambda: commands.set_drill(clear_planned=True)
        return f"{flights} planned flights", lambda: commands.set_drill(planned_flights=flights)
    if name == "added_load_kg":
        load = _number(text, "the added load in kg", 0, 50, whole=False)
        return f"added load {load:g} kg", lambda: commands.set_drill(added_load_kg=load)
    if name == "purge":
        if text.lower() != "purge":
            raise Rejected('send "purge" to remove the rig from Home Assistant')
        return "purge", purge
    raise Rejected(f"unknown command {name!r}")   # pragma: no cover (COMMANDS and the branches agree)


class CommandWorker:
    """Runs commands one by one in its own thread; reports failures through ``report(name, payload, error)``."""

    def __init__(self, commands, report: Callable[[str, bytes, str], None], purge: Callable[[], None],
                 name: str = "stairrig-mqtt-commands"):
        self.commands = commands
        self.report = report
        self.purge = purge
        self.done = 0
        self.failed = 0
        self._queue: queue.Queue = queue.Queue(QUEUE_SIZE)
        self._stop = threading.Event()
        self._thread = named_thread(self._run, name)

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, name: str, payload: bytes, retained: bool) -> None:
        """From paho's thread: never blocks."""
        if not payload:
            return   # an empty message clears a retained command (as the error below advises): no command
        if len(payload) > MAX_PAYLOAD_BYTES:
            self._reject(name, payload[:MAX_PAYLOAD_BYTES],
                         f"the payload is too long ({len(payload)} bytes; at most {MAX_PAYLOAD_BYTES})")
            return
        if retained:
            self._reject(name, payload, "a retained command is ignored (commands are never retained; clear it "
                                        "with an empty retained message)")
            return
        try:
            self._queue.put_nowait((name, payload))
        except queue.Full:
            self._reject(name, payload, "too many commands at once; this one was dropped")

    def close(self, timeout: float = 5.0) -> None:
        """Stop: the commands still queued are dropped (the service is stopping)."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread.is_alive():
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(timeout)

    def _reject(self, name: str, payload: bytes, error: str) -> None:
        self.failed += 1
        log.warning("MQTT command %s rejected: %s (payload %r)", name[:40], error, shown_payload(payload))
        try:
            self.report(name, payload, error)
        except Exception:
            log.exception("reporting an MQTT command error failed")

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self._stop.is_set():
                return
            name, payload = item
            try:
                what, call = plan(name, payload, self.commands, self.purge)
                call()
            except (Rejected, CommandError) as exc:
                self._reject(name, payload, str(exc))
            except Exception as exc:    # a bug must not end the worker: report it and go on
                log.exception("MQTT command %s failed", name)
                self._reject(name, payload, f"the command failed: {type(exc).__name__}")
            else:
                self.done += 1
                log.info("MQTT command: %s", what)
