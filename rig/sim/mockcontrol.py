"""Drive a mock rig's sensors from another process: a Unix datagram socket.

``stairrig run`` under ``GPIOZERO_PIN_FACTORY=mock`` reads no hardware; with
``STAIRRIG_MOCK_SOCKET=PATH`` it also binds a datagram socket at PATH, and
each datagram, one line of UTF-8 ``<channel> <value>``, puts that value on
the channel's mock wire as the sensor would (``tread.1.front 1`` presses a
tread switch, ``tread.1.front 0`` releases it, ``rail.left.force 12.5`` loads
a rail with 12.5 N). The service counts it exactly as it counts real pins.
It is how the installed service is tested, and a way to try the panel or
Home Assistant without a rig::

    python3 -c 'import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); \\
                s.sendto(b"tread.1.front 1", "/tmp/rig.sock")'

A bad datagram is logged (the first of each kind, then one in a hundred)
and dropped.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import stat
import threading

from rig.threads import named_thread

log = logging.getLogger(__name__)

ENV_VAR = "STAIRRIG_MOCK_SOCKET"
MAX_DATAGRAM_BYTES = 256
_LOG_EVERY = 100


def parse_command(data: bytes, channels) -> tuple[str, float]:
    """``(channel, value)`` from one datagram; ValueError with a sentence when it is not one."""
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    parts = text.split()
    if len(parts) != 2:
        raise ValueError(f"expected '<channel> <value>', not {text[:60]!r}")
    channel, raw = parts
    if channel not in channels:
        raise ValueError(f"no channel {channel[:40]!r} (channels: {', '.join(sorted(channels))})")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"the value must be a number, not {raw[:20]!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"the value must be finite, not {raw[:20]!r}")
    return channel, value


class MockRigControl:
    """The socket and its thread (``stairrig-mock-control``); ``close()`` removes the socket file."""

    def __init__(self, rig, path: str):
        self.rig = rig
        self.path = path
        self.received = 0
        self.rejected = 0
        self._stop = threading.Event()
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)      # a socket left by a killed run; anything else at the path is refused
        except FileNotFoundError:
            pass
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._sock.bind(path)    # fails (EADDRINUSE) on a file that is not a socket: it is not ours
            os.chmod(path, 0o600)
            self._inode = os.lstat(path).st_ino
        except OSError:
            self._sock.close()
            raise
        self._sock.settimeout(0.2)
        self._thread = named_thread(self._run, "stairrig-mock-control")

    def start(self) -> None:
        self._thread.start()
        log.info("mock pins: driven from the socket %s ('<channel> <value>' per datagram)", self.path)

    def _run(self) -> None:
        channels = self.rig.config.wiring
        while not self._stop.is_set():
            try:
                data = self._sock.recv(MAX_DATAGRAM_BYTES)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                channel, value = parse_command(data, channels)
            except ValueError as exc:
                self.rejected += 1
                if self.rejected == 1 or self.rejected % _LOG_EVERY == 0:
                    log.warning("mock pins: a datagram was dropped (%s); %d so far", exc, self.rejected)
                continue
            self.received += 1
            self.rig.set_sample(channel, value)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1.0)
        self._sock.close()
        try:
            if os.lstat(self.path).st_ino == self._inode:   # only the socket this run bound
                os.unlink(self.path)
        except OSError:
            pass
