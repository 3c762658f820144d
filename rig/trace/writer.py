"""Write a trace: JSON Lines, gzip when the name ends in ``.gz``.

The gzip stream is sync-flushed and the file fsync'd at least once a second
(``flush_every_s``), so a power cut loses at most the last second: the
reader reads everything up to the last flush.

A trace file deleted while it is written (``rm``, a clean-up script) is
noticed at the next flush (its link count is 0) and put back whole: the
writer still holds the deleted file open, copies what it wrote so far
(through ``/proc/self/fd``) to a new file at the same path and goes on
writing there, so nothing is lost; ``restored`` counts it, and the caller
logs it. When it cannot be put back (no ``/proc``, a full disk, the folder
gone), ``flush`` raises ``TraceLost`` (an ``OSError``) naming the file.
"""

from __future__ import annotations

import gzip
import os
import time
import zlib
from typing import Callable

import orjson

from rig.trace.header import TraceHeader
from rig.trace.resolution import force_on_grid

COMPRESS_LEVEL = 3
"""gzip's level for traces: 3 compresses a walking trace to 11 % (6: 9 %) for a third of the CPU
(bench/live_parts.py, docs/benchmarks.md): a trace is written all day, and read rarely."""

_FORCE_TEXTS = 4096
_FORCE_TEXT: dict[float, str] = {}      # a force's text in a trace (see write_samples); at most _FORCE_TEXTS


class TraceLost(OSError):
    """The trace file was deleted while it was written and could not be put back."""


class TraceWriter:
    """Append samples to a trace file.

    ``write(t_s, channel, value)`` takes samples in time order; switch and
    touch values are written as the integers 0 and 1, forces as numbers.
    ``maybe_flush()`` may be called from a quiet loop so that a second
    without samples still ends on disk.
    """

    def __init__(self, path: str | os.PathLike, header: TraceHeader, *,
                 flush_every_s: float = 1.0, fsync: bool = True,
                 clock: Callable[[], float] = time.monotonic):
        self.path = os.fspath(path)
        self._clock = clock
        self._flush_every_s = flush_every_s
        self._fsync = fsync
        self._raw = open(self.path, "wb")
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=COMPRESS_LEVEL, mtime=0) \
            if self.path.endswith(".gz") else None
        self._out = self._gz if self._gz is not None else self._raw
        self._buf: list[str] = []
        self._last_flush = clock()
        self._last_t = 0.0
        self._t_text: str | None = None    # the text of _last_t's time, once written
        self.samples = 0
        self.restored = 0       # times the file was deleted under the writer and put back whole
        self.lost = False       # deleted and could not be put back: nothing more is tried
        self._out.write(orjson.dumps(header.to_json()) + b"\n")
        self.flush()

    def write(self, t_s: float, channel: str, value: float) -> None:
        self.write_samples(((t_s, channel, value),))

    def write_samples(self, samples) -> None:
        """``(t_s, channel, value)`` samples in order: a force to 0.1 mN (as the engine feeds its
        detector, rig/trace/resolution.py), a switch as 0 or 1; a force that is no number is left out.

        Formatting numbers is most of a trace's cost (issue 12), so it is done once where it can:
        one scan's force channels share their time's text, and a force's text is kept in
        ``_FORCE_TEXT`` (shared: the run's trace and the session's write the same forces)."""
        buf = self._buf
        last_t = self._last_t
        t_text = self._t_text
        force_text = _FORCE_TEXT
        written = 0
        for t_s, channel, value in samples:
            if t_s != last_t or t_text is None:
                if t_s < last_t:
                    t_s = last_t    # never write time going backwards
                last_t = t_s
                t_text = f"{t_s:.6f}"
            if channel[-6:] == ".force":
                text = force_text.get(value)
                if text is None:
                    if value - value != 0.0:          # inf or nan (for a finite float, x - x is 0)
                        continue
                    text = repr(force_on_grid(float(value)))
                    if len(force_text) >= _FORCE_TEXTS:
                        force_text.clear()
                    force_text[value] = text
            else:
                text = "1" if value else "0"
            buf.append(f'{{"t": {t_text}, "ch": "{channel}", "v": {text}}}\n')
            written += 1
            if len(buf) >= 512:
                self._drain()
        self._last_t = last_t
        self._t_text = t_text
        self.samples += written
        self.maybe_flush()

    def maybe_flush(self) -> None:
        if self._clock() - self._last_flush >= self._flush_every_s:
            self.flush()

    def _drain(self) -> None:
        if self._buf:
            self._out.write("".join(self._buf).encode())
            self._buf.clear()

    def flush(self) -> None:
        """Everything written so far reaches the disk, readable after a power cut."""
        self._drain()
        if self._gz is not None:
            self._gz.flush(zlib.Z_SYNC_FLUSH)
        self._raw.flush()
        if not self.lost and os.fstat(self._raw.fileno()).st_nlink == 0:
            self._restore()
        self._sync()
        self._last_flush = self._clock()

    def _restore(self) -> None:
        """The file was deleted: copy what the deleted file holds to a new one at its path."""
        old = self._raw
        tmp = f"{self.path}.restoring"
        try:
            with open(f"/proc/self/fd/{old.fileno()}", "rb") as src:
                new = open(tmp, "wb")
                try:
                    while chunk := src.read(1 << 16):
                        new.write(chunk)
                    new.flush()
                    os.replace(tmp, self.path)
                except BaseException:
                    new.close()
                    try:
                        os.remove(tmp)
                    except OSError:
                        pass
                    raise
        except OSError as exc:
            self.lost = True
            raise TraceLost(exc.errno, f"the trace {self.path} was deleted while it was recorded and cannot "
                                       f"be put back ({exc.strerror or exc})") from exc
        if self._gz is not None:
            self._gz.fileobj = new      # the gzip stream goes on where it was, in the new file
        if self._out is old:
            self._out = new
        self._raw = new
        old.close()
        self.restored += 1

    def _sync(self) -> None:
        self._raw.flush()
        if self._fsync:
            try:
                os.fsync(self._raw.fileno())
            except OSError:  # a file system without fsync (a pipe, some FUSE mounts)
                pass

    def close(self) -> None:
        if self._raw.closed:
            return
        self._drain()
        if self._gz is not None:
            self._gz.close()
        self._raw.flush()
        if not self.lost and os.fstat(self._raw.fileno()).st_nlink == 0:
            self._restore()
        self._sync()
        self._raw.close()

    def __enter__(self) -> "TraceWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
