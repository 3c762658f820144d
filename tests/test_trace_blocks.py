"""Reading a trace a block at a time changes nothing a reader can see.

The reader takes the file in blocks of lines and checks each block in one
loop. Lines and gzip members cut by block boundaries, blank lines, CRLF,
the header after blank lines, a last line without its newline (whole or cut
short), and errors far into the file must read exactly as a line-by-line
reading of the spec says: the same samples, the same warnings, the line
numbers of the file. ``BLOCK_BYTES`` is made tiny here so that every case
crosses many boundaries.
"""

from __future__ import annotations

import gzip
import json

import pytest

from rig.replay import replay
from rig.sim import simulate, write_sim
from rig.trace import TraceError, read_trace
from rig.trace import reader as reader_module

HEADER = {"format": "stairrig-trace", "version": 1,
          "rig": {"kind": "flight", "treads": 2, "riser_m": 0.17, "rails": {"left": ["touch", "force"]}}}


def sample_lines(n: int) -> list[bytes]:
    out = []
    for k in range(n):
        t = k * 0.01
        if k % 3:
            out.append(json.dumps({"t": round(t, 6), "ch": "rail.left.force", "v": round(0.1 * (k % 17), 2)}))
        else:
            out.append(json.dumps({"t": round(t, 6), "ch": f"tread.{1 + k % 2}", "v": k % 2}))
    return [line.encode() for line in out]


def expected_samples(lines: list[bytes]) -> list[tuple]:
    out = []
    for raw in lines:
        if raw.strip():
            obj = json.loads(raw)
            out.append((float(obj["t"]), obj["ch"], obj["v"]))
    return out


@pytest.fixture(params=[7, 64, 1000, 1 << 16])
def block_bytes(request, monkeypatch):
    monkeypatch.setattr(reader_module, "BLOCK_BYTES", request.param)
    return request.param


def write(path, data: bytes):
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["t.jsonl", "t.jsonl.gz"])
def test_samples_warnings_and_batches_as_line_by_line(tmp_path, block_bytes, name):
    lines = sample_lines(300)
    lines[40] = b""                               # blank lines are skipped
    lines[41] = b"   \t"
    lines[90] = lines[90] + b"\r"                 # CRLF
    data = b"\n\n" + json.dumps(HEADER).encode() + b"\n" + b"\n".join(lines)   # no final newline
    path = write(tmp_path / name, data)
    trace = read_trace(path)
    batches = list(trace.batches())
    assert all(batches)
    assert [s for b in batches for s in b] == expected_samples(lines)
    assert trace.warnings == []
    assert trace.samples == len(expected_samples(lines))
    assert list(read_trace(path)) == expected_samples(lines)


@pytest.mark.parametrize("name", ["t.jsonl", "t.jsonl.gz"])
def test_a_last_line_cut_short_is_dropped_with_a_warning(tmp_path, block_bytes, name):
    lines = sample_lines(120)
    data = json.dumps(HEADER).encode() + b"\n" + b"\n".join(lines) + b"\n" + b'{"t": 9.0, "ch": "rail.le'
    trace = read_trace(write(tmp_path / name, data))
    assert list(trace) == expected_samples(lines)
    assert trace.warnings == ["line 122 is cut short (the file ends mid-line); read up to line 121"]


def test_a_gzip_cut_mid_member_reads_to_its_last_whole_line(tmp_path, block_bytes):
    lines = sample_lines(3000)
    data = json.dumps(HEADER).encode() + b"\n" + b"\n".join(lines) + b"\n"
    packed = gzip.compress(data)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    trace = read_trace(path)
    got = list(trace)
    assert 0 < len(got) < len(lines)
    assert got == expected_samples(lines)[: len(got)]
    assert any("ends early" in w for w in trace.warnings)


def test_gzip_members_and_padding_across_blocks(tmp_path, block_bytes):
    lines = sample_lines(200)
    head = json.dumps(HEADER).encode() + b"\n"
    body = b"\n".join(lines) + b"\n"
    members = [head + body[:1000], body[1000:2500], body[2500:]]
    packed = b"".join(gzip.compress(m) + b"\0" * 3 for m in members)
    path = tmp_path / "members.jsonl.gz"
    path.write_bytes(packed)
    trace = read_trace(path)
    assert list(trace) == expected_samples(lines)
    assert trace.warnings == []


@pytest.mark.parametrize("name", ["t.jsonl", "t.jsonl.gz"])
@pytest.mark.parametrize("bad, words", [
    (b'{"t": 1.0, "ch": "tread.7", "v": 1}', "channel 'tread.7' is not declared"),
    (b'{"t": 1.0, "ch": ', "not valid JSON (unexpected end of data: line 2 column 1"),
    (b'[1]', "a sample must be a JSON object"),
    (b'{"t": 1.0, "v": 1}', "a sample needs ch"),
    (b'{"t": 0.5, "ch": "tread.1", "v": 1}', "t goes backwards"),
    (b'{"t": 2.0, "ch": "tread.1", "v": 1.0}', "tread.1 needs the integer 0 or 1, not 1.0"),
    (b'{"t": 2.0, "ch": "rail.left.force", "v": "3"}', "rail.left.force needs a finite number of newtons"),
])
def test_errors_name_the_line_of_the_file_past_many_blocks(tmp_path, block_bytes, name, bad, words):
    lines = sample_lines(150)              # t from 0 to 1.49
    lines[149] = bad                       # line 151 of the file (the header is line 1)
    data = json.dumps(HEADER).encode() + b"\n" + b"\n".join(lines) + b"\n" + b"\n".join(sample_lines(5))
    with pytest.raises(TraceError) as err:
        list(read_trace(write(tmp_path / name, data)))
    assert err.value.line == 151
    assert words in str(err.value)


def test_the_header_alone_without_a_newline(tmp_path, block_bytes):
    trace = read_trace(write(tmp_path / "h.jsonl", json.dumps(HEADER).encode()))
    assert list(trace) == [] and trace.samples == 0 and trace.first_t is None and trace.last_t is None


def test_a_trace_is_read_once(tmp_path):
    trace = read_trace(write(tmp_path / "h.jsonl", json.dumps(HEADER).encode() + b"\n"))
    list(trace.batches())
    with pytest.raises(RuntimeError):
        list(trace.batches())


def test_a_damaged_first_block_is_not_a_gzip_file(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    with pytest.raises(TraceError) as err:
        read_trace(path)
    assert "not a readable gzip file" in str(err.value)


def test_replay_reports_progress_by_the_bytes_of_the_file(tmp_path, block_bytes):
    sim = simulate("forward-flights", seed=2, noise="typical")
    for name in ("s.jsonl", "s.jsonl.gz"):
        path = tmp_path / name
        write_sim(sim, path)
        calls: list[tuple[int, int]] = []
        summary = replay(path, progress=lambda done, total, calls=calls: calls.append((done, total)),
                         progress_every=500)
        assert summary == replay(path)
        size = path.stat().st_size
        assert len(calls) >= (3 if block_bytes < size // 3 else 1) and calls[-1] == (size, size)
        assert all(0 < d <= size and t == size for d, t in calls)
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)
