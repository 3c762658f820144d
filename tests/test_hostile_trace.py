"""Hostile traces: bounded memory, an error naming the file and line, a non-zero exit.

``replay /dev/zero`` took 17 GB in a minute; a gzip holding one 2 GB line
took 5.1 GB and then exited 0; a header of a billion treads hung. Each now
stops within a block or two of the 64 KB line limit, or at the header. The
peak memory of a ``stairrig replay`` child (its own ``ru_maxrss``) is
compared with the same command on a small good trace: a memory bound, not a
time bound. The child also runs under an address-space limit, so a
regression fails fast instead of taking the machine.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from rig.limits import MAX_TRACE_LINE_BYTES
from rig.trace import TraceError, read_trace

HEADER = {"format": "stairrig-trace", "version": 1,
          "rig": {"kind": "flight", "treads": 2, "riser_m": 0.17, "rails": {"left": ["touch", "force"]}}}
GOOD = [{"t": 0.05, "ch": "tread.1", "v": 1}, {"t": 0.5, "ch": "tread.1", "v": 0}]
MEMORY_MARGIN_KB = 48 * 1024   # the reader holds at most about two 64 KB blocks; imports vary a little

# Runs ``stairrig replay PATH`` in this child and prints its exit status and its peak memory (KB).
CHILD = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))   # a regression fails, not the machine
from rig.cli import main
try:
    status = main(["replay", "--no-progress", sys.argv[1]])
except MemoryError:
    status = "MemoryError"
print(f"\n{status} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
"""


def replay_child(path) -> tuple[str, int, str]:
    """(exit status, peak memory in KB, stderr) of ``stairrig replay path`` in a child process."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120)
    status, peak_kb = done.stdout.split("\n")[-2].split()
    return status, int(peak_kb), done.stderr


def lines_file(path, lines: list, *, tail: bytes = b"") -> str:
    """Each item a line: JSON for an object, bytes as they are; then ``tail`` without a newline."""
    path.write_bytes(b"".join(((json.dumps(x).encode() if not isinstance(x, bytes) else x) + b"\n") for x in lines)
                     + tail)
    return str(path)


@pytest.fixture(scope="module")
def baseline_kb(tmp_path_factory) -> int:
    path = lines_file(tmp_path_factory.mktemp("good") / "good.jsonl", [HEADER, *GOOD])
    status, peak_kb, stderr = replay_child(path)
    assert status == "0", stderr
    return peak_kb


def gzip_of_one_huge_line(path, gigabytes: float = 2.0) -> str:
    """A header, two samples, then one line of ``gigabytes`` GB: gzip members of 8 MB of 'a'
    repeated (a multi-member gzip is their concatenation), about 2 MB on disk."""
    member_mb = 8
    member = gzip.compress(b"a" * (member_mb << 20), compresslevel=9)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(b"".join(json.dumps(x).encode() + b"\n" for x in [HEADER, *GOOD])))
        for _ in range(int(gigabytes * 1024 / member_mb)):
            fh.write(member)
        fh.write(gzip.compress(b"\n"))
    return str(path)


def test_replay_of_dev_zero_stops_at_line_1(baseline_kb):
    status, peak_kb, stderr = replay_child("/dev/zero")
    assert status == "1", stderr
    assert stderr.strip() == ("stairrig replay: /dev/zero:1: the line is longer than 64 KB: not a line of a trace "
                              "(a sample is about 50 bytes, a header a few hundred); is this a trace file?")
    assert peak_kb < baseline_kb + MEMORY_MARGIN_KB, (peak_kb, baseline_kb)


def test_a_gzip_of_one_2_gb_line(tmp_path, baseline_kb):
    path = gzip_of_one_huge_line(tmp_path / "bomb.jsonl.gz")
    status, peak_kb, stderr = replay_child(path)
    assert status == "1", stderr
    assert f"stairrig replay: {path}:4: the line is longer than 64 KB" in stderr, stderr
    assert "warning" not in stderr and "Traceback" not in stderr
    assert peak_kb < baseline_kb + MEMORY_MARGIN_KB, (peak_kb, baseline_kb)


def test_a_header_of_a_billion_treads(tmp_path, baseline_kb):
    header = {**HEADER, "rig": {**HEADER["rig"], "treads": 1_000_000_000}}
    path = lines_file(tmp_path / "treads.jsonl", [header, *GOOD])
    status, peak_kb, stderr = replay_child(path)
    assert status == "1", stderr
    assert stderr.strip() == (f"stairrig replay: {path}:1: header: rig.treads must be a whole number "
                              f"from 1 to 64, not 1000000000")
    assert peak_kb < baseline_kb + MEMORY_MARGIN_KB, (peak_kb, baseline_kb)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_a_line_of_exactly_the_limit_is_read_one_byte_more_is_not(tmp_path, suffix):
    sample = json.dumps({"t": 0.2, "ch": "rail.left.force", "v": 1.5}).encode()
    exact = sample + b" " * (MAX_TRACE_LINE_BYTES - len(sample))
    assert len(exact) == MAX_TRACE_LINE_BYTES
    for line, ok in ((exact, True), (exact + b" ", False)):
        data = b"".join(x + b"\n" for x in (json.dumps(HEADER).encode(), b"", json.dumps(GOOD[0]).encode(), line,
                                            json.dumps(GOOD[1]).encode()))
        path = tmp_path / f"t{suffix}"
        path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
        if ok:
            assert [s[0] for s in read_trace(path)] == [0.05, 0.2, 0.5]
        else:
            with pytest.raises(TraceError) as info:
                list(read_trace(path))
            assert info.value.line == 4 and str(info.value).startswith(f"{path}:4: the line is longer than 64 KB")


def test_a_long_last_line_without_a_newline(tmp_path):
    path = lines_file(tmp_path / "t.jsonl", [HEADER, *GOOD], tail=b"x" * (3 * MAX_TRACE_LINE_BYTES))
    with pytest.raises(TraceError) as info:
        list(read_trace(path))
    assert info.value.line == 4


@pytest.mark.parametrize("blank_lines", [0, 3])
def test_a_header_too_long_names_its_line(tmp_path, blank_lines):
    header = {**HEADER, "athlete": {"name": "x" * (100 * 1024), "weight_kg": 70}}
    path = lines_file(tmp_path / "t.jsonl", [b""] * blank_lines + [header, *GOOD])
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.line == blank_lines + 1 and "longer than 64 KB" in str(info.value)


@pytest.mark.parametrize("rig, athlete, words", [
    ({"treads": 65}, {}, "rig.treads must be a whole number from 1 to 64, not 65"),
    ({"treads": 0}, {}, "rig.treads must be a whole number from 1 to 64, not 0"),
    ({"treads": 1e300}, {}, "rig.treads must be a whole number from 1 to 64, not 1e+300"),
    ({"treads": 10**18}, {}, "rig.treads must be a whole number from 1 to 64, not a whole number of more than"),
    ({"riser_m": 7.5}, {}, "rig.riser_m must be a height in metres above 0 and at most 0.5, not 7.5"),
    ({}, {"weight_kg": 1e9}, "athlete.weight_kg must be a body weight from 20 to 300 kg, not 1000000000.0"),
    ({}, {"weight_kg": 5}, "athlete.weight_kg must be a body weight from 20 to 300 kg, not 5"),
    ({}, {"weight_kg": "70"}, "athlete.weight_kg must be a body weight from 20 to 300 kg, not '70'"),
])
def test_the_header_keeps_the_configurations_bounds(tmp_path, rig, athlete, words):
    header = {**HEADER, "rig": {**HEADER["rig"], **rig}, "athlete": {"weight_kg": 70, **athlete}}
    path = lines_file(tmp_path / "t.jsonl", [header, *GOOD])
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert str(info.value).startswith(f"{path}:1: header: {words}"), str(info.value)


def test_a_damaged_gzip_after_a_huge_member_still_stops_at_the_line(tmp_path):
    # one member inflating to 32 MB of 'a' with no newline, then garbage: the line limit comes first
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(json.dumps(HEADER).encode() + b"\n") + gzip.compress(b"a" * (32 << 20))
                     + b"\x1f\x8b garbage")
    with pytest.raises(TraceError) as info:
        list(read_trace(path))
    assert info.value.line == 2 and "longer than 64 KB" in str(info.value)


@pytest.mark.parametrize("where", ["format", "version", "kind", "tread_sensor", "rails", "facing", "grip"])
def test_a_long_value_in_the_header_gives_a_short_message(tmp_path, where):
    long = "x" * 50_000
    header = json.loads(json.dumps(HEADER))
    if where in ("format", "version"):
        header[where] = long
    elif where in ("facing", "grip"):
        header["drill"] = {where: long}
    else:
        header["rig"][where] = long if where != "rails" else {long: ["touch"]}
    path = lines_file(tmp_path / "t.jsonl", [header, *GOOD])
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.line == 1 and len(str(info.value)) < 400 + len(str(path)), str(info.value)[:500]


@pytest.mark.parametrize("sample", [
    {"t": "x" * 50_000, "ch": "tread.1", "v": 1},
    {"t": 0.2, "ch": "x" * 50_000, "v": 1},
    {"t": 0.2, "ch": "tread.1", "v": ["x" * 50_000]},
    {"t": 0.2, "ch": "rail.left.force", "v": {"x": "x" * 50_000}},
])
def test_a_long_value_in_a_sample_gives_a_short_message(tmp_path, sample):
    path = lines_file(tmp_path / "t.jsonl", [HEADER, GOOD[0], sample])
    with pytest.raises(TraceError) as info:
        list(read_trace(path))
    assert info.value.line == 3 and len(str(info.value)) < 400 + len(str(path)), str(info.value)[:500]
