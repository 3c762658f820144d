"""Fuzzing the trace reader: whatever a file holds, a TraceError naming its line, or samples.

Hypothesis writes trace files (plain and gzip, cut short or not) from
generated headers and lines: good samples, wrongly typed ones, JSON that is
no sample, bytes that are no JSON, blank lines, lines past the length limit
(made small here, so that long lines are cheap). The reader raises only
:class:`TraceError`, naming a line of the file; a line past the limit is
always found, and the line it names is the first that long; what it reads
is what the file's good lines say.
"""

from __future__ import annotations

import gzip
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.trace import TraceError, read_trace
from rig.trace import reader as reader_module

FUZZ = settings(max_examples=int(os.environ.get("STAIRRIG_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
LIMIT = 300   # MAX_LINE_BYTES for these tests
CHANNELS = ["tread.1", "tread.2", "rail.left.touch", "rail.left.force"]
HEADER = {"format": "stairrig-trace", "version": 1,
          "rig": {"kind": "flight", "treads": 2, "riser_m": 0.17, "rails": {"left": ["touch", "force"]}}}

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


@st.composite
def headers(draw) -> dict:
    header = json.loads(json.dumps(HEADER))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["top", "rig", "athlete", "drill"]))
        key = draw(st.sampled_from({
            "top": ["format", "version", "rig", "athlete", "drill", "source", "extra"],
            "rig": ["kind", "treads", "riser_m", "tread_sensor", "tread_zones", "rails"],
            "athlete": ["weight_kg", "name"],
            "drill": ["facing", "grip"]}[where]))
        value = draw(json_values | st.sampled_from([0, 1, 2, 64, 65, 10**9, 2**64 - 1, 0.5, 0.17, 1e300, 70, 20,
                                                    300, 301, "stepper", "force", ["front", "back"],
                                                    {"left": ["force"]}, {"right": ["touch", "touch"]}]))
        if where == "top":
            header[key] = value
        else:
            block = header.setdefault(where, {})
            if isinstance(block, dict):
                block[key] = value
    return header


def samples() -> st.SearchStrategy[bytes]:
    good = st.builds(lambda t, ch, v: json.dumps({"t": t, "ch": ch, "v": v}).encode(),
                     st.floats(0, 100), st.sampled_from(CHANNELS), st.sampled_from([0, 1]) | st.floats(-10, 10))
    odd = st.builds(lambda obj: json.dumps(obj).encode(),
                    st.fixed_dictionaries({}, optional={"t": json_values, "ch": json_values | st.sampled_from(CHANNELS),
                                                        "v": json_values}) | json_values)
    raw = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" "))
    long = st.integers(LIMIT - 2, LIMIT + 3).map(lambda n: b" " * (n - 40) + b'{"t": 1.0, "ch": "tread.1", "v": 1}    ')
    return st.one_of(good, good, good, odd, raw, st.just(b""), st.just(b"   "), long)


@pytest.fixture(autouse=True)
def small_limits(monkeypatch):
    monkeypatch.setattr(reader_module, "MAX_LINE_BYTES", LIMIT)
    monkeypatch.setattr(reader_module, "BLOCK_BYTES", 97)   # lines and members cut everywhere


def write(path, header_line: bytes, lines: list[bytes], *, newline_at_end: bool, cut: int | None) -> bytes:
    data = b"\n".join([header_line, *lines]) + (b"\n" if newline_at_end else b"")
    if str(path).endswith(".gz"):
        packed = gzip.compress(data)
        path.write_bytes(packed[:cut] if cut is not None else packed)
    else:
        path.write_bytes(data)
    return data


def read_all(path):
    trace = read_trace(path)
    return trace, list(trace)


@FUZZ
@given(header=headers(), lines=st.lists(samples(), max_size=30), gz=st.booleans(), newline_at_end=st.booleans(),
       cut=st.none() | st.integers(10, 400))
def test_the_reader_raises_only_trace_errors_naming_a_line(tmp_path_factory, header, lines, gz, newline_at_end, cut):
    path = tmp_path_factory.mktemp("fuzz") / ("t.jsonl.gz" if gz else "t.jsonl")
    data = write(path, json.dumps(header).encode(), lines, newline_at_end=newline_at_end, cut=cut if gz else None)
    file_lines = data.split(b"\n")
    try:
        trace, got = read_all(path)
    except TraceError as exc:
        message = str(exc)
        assert message.startswith(str(path)) and len(message) < 500, message
        if exc.line is not None:
            assert 1 <= exc.line <= len(file_lines), (exc.line, len(file_lines))
        if "longer than" in message:
            assert len(file_lines[exc.line - 1]) > LIMIT
            assert all(len(line) <= LIMIT for line in file_lines[:exc.line - 1])
        return
    if not (gz and cut is not None):   # a whole file: every line was within the limit, and each good one read
        assert all(len(line) <= LIMIT for line in file_lines)
        read = sum(1 for line in lines if line.strip())
        if trace.warnings:   # only a last line without its newline may be taken for one cut short
            assert not newline_at_end and "cut short" in trace.warnings[0], trace.warnings
            read -= 1
        assert len(got) == read
    assert trace.samples == len(got)


@FUZZ
@given(header=headers())
def test_any_header_is_read_or_refused_at_its_line(tmp_path_factory, header):
    path = tmp_path_factory.mktemp("fuzz") / "t.jsonl"
    write(path, json.dumps(header).encode(), [b'{"t": 0.5, "ch": "tread.1", "v": 1}'], newline_at_end=True, cut=None)
    try:
        trace = read_trace(path)
    except TraceError as exc:
        assert exc.line == 1 and exc.path == str(path), str(exc)
        assert len(str(exc)) < 500
        return
    assert 1 <= trace.header.layout.treads <= 64 and 20 <= trace.header.weight_kg <= 300


@FUZZ
@given(raw=st.binary(max_size=600), gz=st.booleans())
def test_any_bytes(tmp_path_factory, raw, gz):
    path = tmp_path_factory.mktemp("fuzz") / ("t.jsonl.gz" if gz else "t.jsonl")
    path.write_bytes(raw)
    try:
        read_all(path)
    except TraceError as exc:
        assert str(exc).startswith(str(path))
