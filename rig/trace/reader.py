"""Read a trace: validate every line, name the line of the first error.

A ``.gz`` file cut short by a power cut (a truncated last line or gzip
member) is read up to its last whole sample, with a warning in
``TraceFile.warnings``.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from rig.trace.header import TraceError, TraceHeader

_CHUNK = 1 << 20
MAX_T_S = 1e9  # about 31 years; beyond it a double no longer holds microseconds


def _iter_plain_lines(path: str, warnings: list[str]) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from fh


def _iter_gzip_lines(path: str, warnings: list[str]) -> Iterator[bytes]:
    """Lines of a (possibly multi-member, possibly truncated) gzip file.

    A stream cut short ends the iteration after the last decompressed byte;
    the partial last line is handed on without its newline, and the caller
    decides whether it still parses.
    """
    with open(path, "rb") as fh:
        decomp = zlib.decompressobj(wbits=31)
        in_member = False  # the current member has started but not ended
        pending = b""
        damaged = False
        while not damaged:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            out_parts = []
            data = chunk
            while data:
                in_member = True
                try:
                    out_parts.append(decomp.decompress(data))
                except zlib.error as exc:
                    if not (out_parts or pending or fh.tell() > len(chunk)):
                        raise TraceError(f"not a readable gzip file ({exc})", path=path) from None
                    warnings.append(f"the gzip data is damaged ({exc}); read up to the damage")
                    damaged = True
                    break
                data = b""
                if decomp.eof:
                    in_member = False
                    data = decomp.unused_data.lstrip(b"\0")  # padding after a member
                    decomp = zlib.decompressobj(wbits=31)
            lines = (pending + b"".join(out_parts)).split(b"\n")
            pending = lines.pop()
            for line in lines:
                yield line + b"\n"
        if in_member and not damaged:
            warnings.append("the gzip file ends early (cut short, perhaps by a power cut); "
                            "read up to its last whole line")
        if pending:
            yield pending


@dataclass
class TraceFile:
    """An opened trace: its header, then its samples one by one.

    Iterating yields ``(t_s, channel, value)`` tuples, validated against the
    spec: declared channel, 0/1 integer for switches and touch sensors, a
    finite number for forces, ``t`` never negative and never going back.
    """

    path: str
    header: TraceHeader
    size_bytes: int
    warnings: list[str] = field(default_factory=list)
    _lines: Iterator[bytes] | None = None
    _first_line_no: int = 1
    bytes_read: int = 0
    last_t: float | None = None
    first_t: float | None = None
    samples: int = 0

    def __iter__(self) -> Iterator[tuple[float, str, float]]:
        if self._lines is None:
            raise RuntimeError("a TraceFile can be iterated once")
        lines, self._lines = self._lines, None
        channels = self.header.layout.channels()
        analog = {ch: ch.endswith(".force") for ch in channels}
        loads = orjson.loads
        isfinite = math.isfinite
        last_t = -0.0
        first_t = None
        count = 0
        line_no = self._first_line_no
        path = self.path
        read = self.bytes_read
        for raw in lines:
            line_no += 1
            read += len(raw)
            if not raw.strip():
                continue
            try:
                obj = loads(raw)
            except orjson.JSONDecodeError as exc:
                if not raw.endswith(b"\n"):  # only ever the last line
                    self.warnings.append(
                        f"line {line_no} is cut short (the file ends mid-line); read up to line {line_no - 1}")
                    break
                raise TraceError(f"not valid JSON ({exc})", line_no, path) from None
            try:
                t = obj["t"]
                ch = obj["ch"]
                v = obj["v"]
            except (KeyError, TypeError):
                if not isinstance(obj, dict):
                    raise TraceError("a sample must be a JSON object", line_no, path) from None
                missing = [k for k in ("t", "ch", "v") if k not in obj]
                raise TraceError(f"a sample needs {', '.join(missing)}", line_no, path) from None
            try:
                is_analog = analog.get(ch)
            except TypeError:  # a list or an object is not a channel name
                is_analog = None
            if is_analog is None:
                raise TraceError(f"channel {ch!r} is not declared by the header", line_no, path)
            if t.__class__ is not float:
                if t.__class__ is not int:
                    raise TraceError(f"t must be a number of seconds, not {t!r}", line_no, path)
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
                    raise TraceError(f"{ch} needs a finite number of newtons, not {v!r}", line_no, path)
            elif v.__class__ is not int or (v != 0 and v != 1):
                raise TraceError(f"{ch} needs the integer 0 or 1, not {v!r}", line_no, path)
            last_t = t
            if first_t is None:
                first_t = t
            count += 1
            self.bytes_read = read
            yield t, ch, v
        self.bytes_read = read
        self.first_t = first_t
        self.last_t = last_t if count else None
        self.samples = count


def read_trace(path: str | os.PathLike) -> TraceFile:
    """Open a trace and read its header; iterate the result for the samples."""
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise TraceError(f"cannot open the trace: {exc.strerror}", path=path) from None
    warnings: list[str] = []
    opener = _iter_gzip_lines if path.endswith(".gz") else _iter_plain_lines
    try:
        lines = opener(path, warnings)
        line_no = 0
        header_obj = None
        for raw in lines:
            line_no += 1
            if raw.strip():
                try:
                    header_obj = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise TraceError(f"the header is not valid JSON ({exc})", line_no, path) from None
                break
    except OSError as exc:
        raise TraceError(f"cannot read the trace: {exc}", path=path) from None
    if header_obj is None:
        raise TraceError("the file is empty: a trace starts with its header line", path=path)
    try:
        header = TraceHeader.from_json(header_obj)
    except TraceError as exc:
        raise TraceError(str(exc), line_no, path) from None
    return TraceFile(path=path, header=header, size_bytes=size, warnings=warnings,
                     _lines=_guard_io(lines, path), _first_line_no=line_no)


def _guard_io(lines: Iterator[bytes], path: str) -> Iterator[bytes]:
    try:
        yield from lines
    except OSError as exc:
        raise TraceError(f"cannot read the trace: {exc}", path=path) from None
