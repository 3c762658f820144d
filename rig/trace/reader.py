"""Read a trace: validate every line, name the line of the first error.

A ``.gz`` file cut short by a power cut (a truncated last line or gzip
member) is read up to its last whole sample, with a warning in
``TraceFile.warnings``.

The file is read in blocks of bytes (``BLOCK_BYTES`` at a time, split on
newlines; a gzip file inflated a block at a time), never a whole line or file
at once: a line longer than ``MAX_LINE_BYTES`` (64 KB) is an error naming
it, so ``/dev/zero`` or a gzip holding one line of gigabytes stops after a
block or two; each block's lines are parsed and checked in one loop, whose
well-formed line costs a parse, three key lookups, one channel lookup and a
few type tests, and become one batch of ``(t, channel, value)`` tuples
(``TraceFile.batches``). Anything unusual about a line (blank, not JSON, not
an object, a missing key, an undeclared channel) leaves the fast loop for
``_explain_line``, which skips the blank line or names what is wrong.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from rig.limits import MAX_TRACE_LINE_BYTES
from rig.trace.header import TraceError, TraceHeader, _shown

BLOCK_BYTES = 1 << 16   # about a thousand samples: a batch stays in the processor's caches
MAX_LINE_BYTES = MAX_TRACE_LINE_BYTES   # a longer line is an error; no read is larger
MAX_T_S = 1e9  # about 31 years; beyond it a double no longer holds microseconds

Sample = tuple[float, str, float]
# A block of lines, with or without their newlines; the flag is False when the
# block's last line is the end of a file that does not end with a newline (a
# line perhaps cut short); every other line is whole.
Block = tuple[list[bytes], bool]


def _plain_chunks(path: str, warnings: list[str], position: list[int]) -> Iterator[bytes]:
    """The file's bytes, a block at a time (never a whole line: a line may be endless)."""
    size = min(BLOCK_BYTES, MAX_LINE_BYTES)
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(size)
            if not chunk:
                break
            position[0] = fh.tell()
            yield chunk


def _gzip_chunks(path: str, warnings: list[str], position: list[int]) -> Iterator[bytes]:
    """The decompressed bytes of a (possibly multi-member, possibly truncated) gzip file, at
    most a block at a time whatever the compression ratio (a gzip bomb inflates a block at a time).

    A stream cut short or damaged ends the iteration after the last decompressed byte, with a
    warning; the reader decides whether the partial last line still parses.
    """
    size = min(BLOCK_BYTES, MAX_LINE_BYTES)
    with open(path, "rb") as fh:
        decomp = zlib.decompressobj(wbits=31)
        in_member = False  # the current member has started but not ended
        produced = False
        while True:
            chunk = fh.read(size)
            if not chunk:
                break
            position[0] = fh.tell()
            data = chunk
            while data:
                if not in_member:  # between members: skip the zero padding, wherever a read cut it
                    data = data.lstrip(b"\0")
                    if not data:
                        break
                in_member = True
                while True:   # at most ``size`` bytes out per call; drain what the input holds
                    try:
                        out = decomp.decompress(data, size)
                    except zlib.error as exc:
                        if not (produced or fh.tell() > len(chunk)):
                            raise TraceError(f"not a readable gzip file ({exc})", path=path) from None
                        warnings.append(f"the gzip data is damaged ({exc}); read up to the damage")
                        return
                    if out:
                        produced = True
                        yield out
                    data = decomp.unconsumed_tail
                    if decomp.eof or (not data and len(out) < size):
                        break
                if decomp.eof:
                    in_member = False
                    data = decomp.unused_data
                    decomp = zlib.decompressobj(wbits=31)
        if in_member:
            warnings.append("the gzip file ends early (cut short, perhaps by a power cut); "
                            "read up to its last whole line")


def _blocks(chunks: Iterator[bytes], path: str) -> Iterator[Block]:
    """Blocks of whole lines (without their newlines) from blocks of bytes; a line longer than
    ``MAX_LINE_BYTES`` is a :class:`TraceError` naming it, found before it is more than a block
    past the limit. The file's last line, without a newline, comes last, marked not whole."""
    pending = b""
    whole_lines = 0
    for chunk in chunks:
        lines = (pending + chunk if pending else chunk).split(b"\n")
        pending = lines.pop()
        if lines:
            # the lines after the first start in this chunk, no longer than it (at most the limit)
            if len(lines[0]) > MAX_LINE_BYTES:
                raise _too_long(whole_lines + 1, path)
            whole_lines += len(lines)
            yield lines, True
        elif len(pending) > MAX_LINE_BYTES:
            raise _too_long(whole_lines + 1, path)
    if pending:
        yield [pending], False


def _too_long(line_no: int, path: str) -> TraceError:
    return TraceError(f"the line is longer than {MAX_LINE_BYTES // 1024} KB: not a line of a trace (a sample "
                      f"is about 50 bytes, a header a few hundred); is this a trace file?", line_no, path)


@dataclass
class TraceFile:
    """An opened trace: its header, then its samples.

    Iterating yields ``(t_s, channel, value)`` tuples, validated against the
    spec: declared channel, 0/1 integer for switches and touch sensors, a
    finite number for forces, ``t`` never negative and never going back.
    ``batches()`` yields the same tuples in lists, a block of the file at a
    time (what replay feeds to ``Detector.feed_many``). A trace is read once.
    """

    path: str
    header: TraceHeader
    size_bytes: int
    warnings: list[str] = field(default_factory=list)
    _blocks: Iterator[Block] | None = None
    _first_line_no: int = 1
    _position: list[int] = field(default_factory=lambda: [0])
    last_t: float | None = None
    first_t: float | None = None
    samples: int = 0

    @property
    def bytes_read(self) -> int:
        """How far into the file (compressed, for a .gz) the samples read so far go."""
        return self._position[0]

    def __iter__(self) -> Iterator[Sample]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[Sample]]:
        """The samples, validated, in lists (one per block of the file; none empty)."""
        if self._blocks is None:
            raise RuntimeError("a TraceFile can be iterated once")
        blocks, self._blocks = self._blocks, None
        # per channel: True for a force (a finite number), False for a switch (0 or 1)
        analog = {ch: ch.endswith(".force") for ch in self.header.layout.channels()}
        line_no = self._first_line_no
        last_t = -0.0
        count = 0
        for lines, last_whole in blocks:
            batch, line_no, last_t, cut = self._check_block(lines, last_whole, line_no, last_t, analog)
            if batch:
                if self.first_t is None:
                    self.first_t = batch[0][0]
                count += len(batch)
                yield batch
            if cut:
                break
        self.last_t = last_t if count else None
        self.samples = count

    def _check_block(self, lines: list[bytes], last_whole: bool, lines_before: int, last_t: float,
                     analog: dict[str, bool]) -> tuple[list[Sample], int, float, bool]:
        """Validate one block of lines, the first of which is line ``lines_before + 1``:
        (samples, last line number, last t, cut short)."""
        loads = orjson.loads
        isfinite = math.isfinite
        path = self.path
        batch: list[Sample] = []
        keep = batch.append
        for line_no, raw in enumerate(lines, lines_before + 1):
            try:
                obj = loads(raw)
                t = obj["t"]
                ch = obj["ch"]
                v = obj["v"]
                is_analog = analog[ch]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                whole = last_whole or raw is not lines[-1]
                if self._explain_line(raw, whole, line_no, analog):
                    continue  # a blank line
                return batch, line_no - 1, last_t, True  # the last line, cut short
            if t.__class__ is not float:
                if t.__class__ is not int:
                    raise TraceError(f"t must be a number of seconds, not {_shown(t)}", line_no, path)
                t = float(t)
            if t < last_t or t > MAX_T_S:
                if t < 0:
                    raise TraceError(f"t is negative ({t})", line_no, path)
                if t > MAX_T_S:
                    raise TraceError(f"t is {t} s, more than {MAX_T_S:.0e} s: too large to keep "
                                     f"microseconds, not a trace's time", line_no, path)
                raise TraceError(f"t goes backwards ({t} after {last_t})", line_no, path)
            if is_analog:
                vc = v.__class__
                if vc is not float and vc is not int or not isfinite(v):
                    raise TraceError(f"{ch} needs a finite number of newtons, not {_shown(v)}", line_no, path)
            elif v.__class__ is not int or (v != 0 and v != 1):
                raise TraceError(f"{ch} needs the integer 0 or 1, not {_shown(v)}", line_no, path)
            last_t = t
            keep((t, ch, v))
        return batch, lines_before + len(lines), last_t, False

    def _explain_line(self, raw: bytes, whole: bool, line_no: int, analog: dict[str, bool]) -> bool:
        """A line the fast loop could not take: True for a blank line (skipped),
        False for a last line cut short (a warning; reading stops there), else
        raises the TraceError that names what is wrong."""
        path = self.path
        if not raw.strip():
            return True
        try:
            # with its newline, as the message's position counts it
            obj = orjson.loads(raw if not whole or raw.endswith(b"\n") else raw + b"\n")
        except orjson.JSONDecodeError as exc:
            if not whole:  # only ever the last line
                self.warnings.append(
                    f"line {line_no} is cut short (the file ends mid-line); read up to line {line_no - 1}")
                return False
            raise TraceError(f"not valid JSON ({exc})", line_no, path) from None
        if not isinstance(obj, dict):
            raise TraceError("a sample must be a JSON object", line_no, path)
        missing = [k for k in ("t", "ch", "v") if k not in obj]
        if missing:
            raise TraceError(f"a sample needs {', '.join(missing)}", line_no, path)
        ch = obj["ch"]
        try:
            declared = ch in analog
        except TypeError:  # a list or an object is not a channel name
            declared = False
        if not declared:
            raise TraceError(f"channel {_shown(ch)} is not declared by the header", line_no, path)
        raise TraceError(f"cannot read this sample ({raw[:80]!r})", line_no, path)  # not reached


def read_trace(path: str | os.PathLike) -> TraceFile:
    """Open a trace and read its header; iterate the result (or its ``batches()``) for the samples."""
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise TraceError(f"cannot open the trace: {exc.strerror}", path=path) from None
    warnings: list[str] = []
    position = [0]
    opener = _gzip_chunks if path.endswith(".gz") else _plain_chunks
    blocks = _guard_io(_blocks(opener(path, warnings, position), path), path)
    line_no = 0
    header_obj = None
    rest: Block | None = None
    for lines, last_whole in blocks:
        for k, raw in enumerate(lines):
            line_no += 1
            if raw.strip():
                whole = last_whole or k < len(lines) - 1
                try:
                    header_obj = orjson.loads(raw if not whole or raw.endswith(b"\n") else raw + b"\n")
                except orjson.JSONDecodeError as exc:
                    raise TraceError(f"the header is not valid JSON ({exc})", line_no, path) from None
                rest = (lines[k + 1:], last_whole)
                break
        if header_obj is not None:
            break
    if header_obj is None:
        raise TraceError("the file is empty: a trace starts with its header line", path=path)
    try:
        header = TraceHeader.from_json(header_obj)
    except TraceError as exc:
        raise TraceError(str(exc), line_no, path) from None
    return TraceFile(path=path, header=header, size_bytes=size, warnings=warnings,
                     _blocks=_chain(rest, blocks), _first_line_no=line_no, _position=position)


def _chain(first: Block | None, rest: Iterator[Block]) -> Iterator[Block]:
    if first is not None and first[0]:
        yield first
    yield from rest


def _guard_io(blocks: Iterator[Block], path: str) -> Iterator[Block]:
    try:
        yield from blocks
    except OSError as exc:
        raise TraceError(f"cannot read the trace: {exc}", path=path) from None
