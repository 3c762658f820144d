"""Commands from MQTT (``<base>/<command>/set``): checked, then done through ``service.commands``.

Everything arriving here came off the network: a payload may be any bytes,
of any size, retained, aimed at a command that does not exist, or one of
thousands a second. Each is checked as it arrives (in paho's network
thread: checking is cheap and touches nothing); a bad one is rejected:
logged, reported on ``<base>/error`` as ``{"command", "payload" (truncated),
"error"}``, and ignored. Nothing here raises into paho or the service.

A flood costs counters, not the log, the broker or the engine (throttle.py):
the first ``REPORTS_PER_WINDOW`` rejections of every ``REPORT_WINDOW_S`` are
logged and reported one by one, the rest counted and summarised in one line
and one error report when the window ends ("and 4,987 more rejected commands
in the last 10 s, ..."). Valid commands reach the engine at most
``COMMAND_BURST`` at once and ``COMMANDS_PER_S`` a second, through a queue of
``QUEUE_SIZE``; the excess is dropped and rejected (so counted). A flood of bad
payloads takes nothing from the valid commands' allowance.

``service.commands`` waits (up to 3 s) for the engine, so commands never run
in paho's network thread: ``submit`` hands them to ``CommandWorker``, one
named thread working through the bounded queue.

Payloads (text; trimmed of spaces, tabs and line ends; control characters
refused; numbers written plainly, like ``12`` or ``2.5``):

==================  ======================================================
``session``         ``start`` or ``stop``
``fall``            ``acknowledge`` ("I'm OK"), or ``{"by": "Anna"}``
``test_alarm``      ``raise`` (a test fall alarm), or ``{"by": "Anna"}``
``athlete``         an athlete's name (at most 100 characters) or id
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
import queue
import re
import threading
import time
from typing import Callable

from rig.commands import MAX_ADDED_LOAD_KG, MAX_NAME_CHARS, MAX_PLANNED_FLIGHTS, WHO_CHARS, CommandError
from rig.logsafe import UNSAFE, escaped
from rig.mqtt.throttle import RejectThrottle, Suppressed, TokenBucket
from rig.mqtt.topics import COMMANDS
from rig.threads import named_thread
from rig.trace.header import FACINGS, GRIPS

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 512
SHOWN_PAYLOAD_CHARS = 100
QUEUE_SIZE = 32
COMMANDS_PER_S = 10.0          # valid commands to the engine, steady...
COMMAND_BURST = 20             # ...after a burst of this many
REPORTS_PER_WINDOW = 5         # rejections logged and reported one by one in each window...
REPORT_WINDOW_S = 10.0         # ...of this long; the rest summarised at its end
BY_DEFAULT = "Home Assistant"
_TRIM = " \t\r\n"
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_NUMBER_CHARS = 16             # "200", "2.5", "12.000": a longer one is no value here


class Rejected(ValueError):
    """A command that cannot be done; the message is for people."""


def shown_payload(payload: bytes) -> str:
    """The payload as an error report may repeat it: text, truncated."""
    text = payload[: SHOWN_PAYLOAD_CHARS * 4].decode("utf-8", "replace")
    return text if len(text) <= SHOWN_PAYLOAD_CHARS else text[:SHOWN_PAYLOAD_CHARS] + "…"


def _refuse_controls(text: str, what: str) -> None:
    found = UNSAFE.search(text)
    if found is not None:
        raise Rejected(f"{what} holds a control character ({escaped(found.group())} at character "
                       f"{found.start() + 1}): send plain text")


def _text(payload: bytes) -> str:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Rejected(f"the payload is too long ({len(payload)} bytes; at most {MAX_PAYLOAD_BYTES})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("the payload is not UTF-8 text") from None
    text = text.strip(_TRIM)
    _refuse_controls(text, "the payload")
    return text


def _choice(text: str, choices: tuple[str, ...], what: str) -> str:
    value = text.lower()
    if value not in choices:
        raise Rejected(f"{what} must be one of {', '.join(choices)}, not {text[:40]!r}")
    return value


def _number(text: str, what: str, low: float, high: float, *, whole: bool) -> float:
    """A number written plainly (``12``, ``2.5``, ``-1``): no exponent, underscore, inner space,
    ``inf``, ``nan`` or digits of other scripts; from ``low`` to ``high``."""
    kind = "a whole number" if whole else "a number"
    if not _PLAIN_NUMBER.fullmatch(text):
        example = "like 12" if whole else "like 12 or 2.5"
        raise Rejected(f"{what} must be {kind} from {low:g} to {high:g}, written {example}, not {text[:40]!r}")
    if len(text) > _NUMBER_CHARS:
        raise Rejected(f"{what} must be {kind} from {low:g} to {high:g}, not a number of {len(text)} characters")
    value = float(text)
    if not low <= value <= high:
        raise Rejected(f"{what} must be {kind} from {low:g} to {high:g}, not {text}")
    if whole and not value.is_integer():
        raise Rejected(f"{what} must be a whole number from {low:g} to {high:g}, not {text}")
    return value


def _who(text: str, words: tuple[str, ...], what: str) -> str:
    """Who sends a command that is one of ``words`` ("Home Assistant") or ``{"by": "<who>"}``."""
    if text.lower() in words:
        return BY_DEFAULT
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and set(data) <= {"by"} and isinstance(data.get("by", BY_DEFAULT), str):
        by = data.get("by", BY_DEFAULT)
        _refuse_controls(by, '"by"')       # a JSON escape (\u001b) gets past the payload's own check
        by = " ".join(by.split())[:WHO_CHARS]
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
        if len(text) > MAX_NAME_CHARS:
            raise Rejected(f"an athlete's name is at most {MAX_NAME_CHARS} characters, not {len(text)}")
        return f"select athlete {text[:60]!r}", lambda: commands.select_athlete(text)
    if name == "facing":
        facing = _choice(text, FACINGS, "the drill's facing")
        return f"facing {facing}", lambda: commands.set_drill(facing=facing)
    if name == "grip":
        grip = _choice(text, GRIPS, "the target grip")
        return f"target grip {grip}", lambda: commands.set_drill(grip=grip)
    if name == "planned_flights":
        flights = int(_number(text, "planned flights", 0, MAX_PLANNED_FLIGHTS, whole=True))
        if flights == 0:
            return "no planned flights", lambda: commands.set_drill(clear_planned=True)
        return f"{flights} planned flights", lambda: commands.set_drill(planned_flights=flights)
    if name == "added_load_kg":
        load = _number(text, "the added load in kg", 0, MAX_ADDED_LOAD_KG, whole=False)
        return f"added load {load:g} kg", lambda: commands.set_drill(added_load_kg=load)
    if name == "purge":
        if text.lower() != "purge":
            raise Rejected('send "purge" to remove the rig from Home Assistant')
        return "purge", purge
    raise Rejected(f"unknown command {name!r}")   # pragma: no cover (COMMANDS and the branches agree)


class CommandWorker:
    """Checks commands as they arrive and runs the valid ones one by one in its own thread; reports
    rejections through ``report(name, payload, error)``, throttled (see the module's docstring)."""

    def __init__(self, commands, report: Callable[[str, bytes, str], None], purge: Callable[[], None],
                 name: str = "stairrig-mqtt-commands", *, clock: Callable[[], float] = time.monotonic):
        self.commands = commands
        self.report = report
        self.purge = purge
        self.done = 0
        self.failed = 0           # rejected, for any reason (each one, logged or not)
        self.dropped = 0          # valid, but over the rate or the queue's bound
        self._clock = clock
        self._counts = threading.Lock()
        self._throttle = RejectThrottle(REPORTS_PER_WINDOW, REPORT_WINDOW_S, known=COMMANDS)
        self._bucket = TokenBucket(COMMANDS_PER_S, COMMAND_BURST)
        self._queue: queue.Queue = queue.Queue(QUEUE_SIZE)
        self._woken = False       # a wake-up is in the queue: a window holds rejections back
        self._stop = threading.Event()
        self._thread = named_thread(self._run, name)

    @property
    def suppressed(self) -> int:
        """Rejections counted but not logged or reported one by one."""
        return self._throttle.suppressed_total

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, name: str, payload: bytes, retained: bool) -> None:
        """From paho's thread: checks, never blocks, never raises."""
        try:
            self._submit(name, payload, retained)
        except Exception:      # a bug must not reach paho: log it (throttled like any rejection)
            try:
                self._reject(name, payload[:MAX_PAYLOAD_BYTES], "the command could not be checked (a bug: see "
                             "the log)", bug=True)
            except Exception:
                log.exception("an MQTT command could not be checked nor reported")

    def _submit(self, name: str, payload: bytes, retained: bool) -> None:
        if not payload:
            return   # an empty message clears a retained command (as the error below advises): no command
        if retained:
            self._reject(name, payload[:MAX_PAYLOAD_BYTES], "a retained command is ignored (commands are never "
                         "retained; clear it with an empty retained message)")
            return
        try:
            what, call = plan(name, payload, self.commands, self.purge)
        except Rejected as exc:
            self._reject(name, payload[:MAX_PAYLOAD_BYTES], str(exc))
            return
        if not self._bucket.take(self._clock()):
            self._drop(name, payload, f"too many commands: at most {COMMAND_BURST} at once and "
                                      f"{COMMANDS_PER_S:g} a second; this one was dropped")
            return
        try:
            self._queue.put_nowait((name, payload, what, call))
        except queue.Full:
            self._drop(name, payload, f"too many commands waiting (at most {QUEUE_SIZE}); this one was dropped")

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

    def _drop(self, name: str, payload: bytes, error: str) -> None:
        with self._counts:
            self.dropped += 1
        self._reject(name, payload, error)

    def _reject(self, name: str, payload: bytes, error: str, *, bug: bool = False) -> None:
        with self._counts:
            self.failed += 1
        full, ended = self._throttle.note(self._clock(), name, error)
        if ended is not None:
            self._summarise(ended)
        if not full:
            if not self._woken:   # the worker, perhaps asleep with nothing to do, must say it at the window's end
                self._woken = True
                try:
                    self._queue.put_nowait(())
                except queue.Full:
                    pass          # it is busy, and looks again after each command
            return
        if bug:
            log.exception("MQTT command %r could not be checked", name[:40])
        else:
            log.warning("MQTT command %r rejected: %s (payload %r)", name[:40], error, shown_payload(payload))
        self._report(name, payload, error)

    def _summarise(self, held: Suppressed) -> None:
        log.warning("MQTT: %s", held.message())
        self._report(held.command, b"", held.message())

    def _report(self, name: str, payload: bytes, error: str) -> None:
        try:
            self.report(name, payload, error)
        except Exception:
            log.exception("reporting an MQTT command error failed")

    def _run(self) -> None:
        while True:
            try:   # asleep until a command comes, or a window holding rejections back ends
                item = self._queue.get(timeout=self._throttle.next_due(self._clock()))
            except queue.Empty:
                item = ()
            if item == ():
                self._woken = False
            ended = self._throttle.due(self._clock())
            if ended is not None:
                self._summarise(ended)
            if item is None or self._stop.is_set():
                return
            if not item:
                continue
            name, payload, what, call = item
            try:
                call()
            except (Rejected, CommandError) as exc:
                self._reject(name, payload, str(exc))
            except Exception as exc:    # a bug must not end the worker: report it and go on
                log.exception("MQTT command %s failed", name)
                self._reject(name, payload, f"the command failed: {type(exc).__name__}")
            else:
                with self._counts:
                    self.done += 1
                log.info("MQTT command: %s", what)
