"""Trace files: the reader names the bad line; a trace cut short stays readable."""

import gzip
import os
import json
import subprocess
import sys

import pytest

from rig.layout import RigLayout
from rig.replay import replay
from rig.trace import TraceError, TraceHeader, TraceWriter, read_trace

HEADER = {"format": "stairrig-trace", "version": 1,
          "rig": {"kind": "flight", "treads": 2, "riser_m": 0.17,
                  "rails": {"left": ["touch", "force"]}}}


def write_lines(path, lines):
    path.write_text("".join((json.dumps(x) if not isinstance(x, str) else x) + "\n" for x in lines))
    return path


def error_for(tmp_path, lines) -> TraceError:
    path = write_lines(tmp_path / "t.jsonl", lines)
    with pytest.raises(TraceError) as info:
        for _ in read_trace(path):
            pass
    return info.value


@pytest.mark.parametrize("bad, line, words", [
    ('{"t": 0.1, "ch": "tread.1", ', 3, "not valid JSON"),
    ({"t": 0.1, "ch": "tread.3", "v": 1}, 3, "'tread.3' is not declared"),
    ({"t": 0.1, "ch": "rail.right.touch", "v": 1}, 3, "'rail.right.touch' is not declared"),
    ({"t": 0.1, "ch": "tread.1", "v": 0.5}, 3, "needs the integer 0 or 1"),
    ({"t": 0.1, "ch": "tread.1", "v": True}, 3, "needs the integer 0 or 1"),
    ({"t": 0.1, "ch": "rail.left.force", "v": "3"}, 3, "finite number of newtons"),
    ({"t": -0.1, "ch": "tread.1", "v": 1}, 3, "negative"),
    ({"t": 0.01, "ch": "tread.1", "v": 1}, 3, "goes backwards"),
    ({"t": "0.3", "ch": "tread.1", "v": 1}, 3, "must be a number"),
    ({"ch": "tread.1", "v": 1}, 3, "needs t"),
    ({"t": 0.1, "ch": ["tread", 1], "v": 1}, 3, "is not declared"),
    ({"t": 1e12, "ch": "tread.1", "v": 1}, 3, "too large to keep microseconds"),
    ([1, 2, 3], 3, "must be a JSON object"),
])
def test_bad_sample_names_the_line(tmp_path, bad, line, words):
    good = {"t": 0.05, "ch": "tread.1", "v": 0}
    err = error_for(tmp_path, [HEADER, good, bad, {"t": 9.0, "ch": "tread.1", "v": 0}])
    assert err.line == line
    assert f"t.jsonl:{line}:" in str(err)
    assert words in str(err)


def test_force_value_nan_is_rejected(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(HEADER) + '\n{"t": 0.1, "ch": "rail.left.force", "v": NaN}\n'
                    '{"t": 0.2, "ch": "tread.1", "v": 1}\n')
    with pytest.raises(TraceError) as info:
        list(read_trace(path))
    assert info.value.line == 2


@pytest.mark.parametrize("header, words", [
    ({"format": "something-else", "version": 1}, "not a stairrig trace"),
    ({**HEADER, "version": 2}, "version 2 is not supported"),
    ({**HEADER, "rig": {"kind": "flight", "treads": 0, "riser_m": 0.17}}, "rig.treads"),
    ({**HEADER, "rig": {"kind": "escalator", "treads": 3, "riser_m": 0.17}}, "rig.kind"),
    ({**HEADER, "rig": {"kind": "flight", "riser_m": 0.17}}, "rig.treads is required"),
    ({**HEADER, "athlete": {"weight_kg": -3}}, "weight_kg"),
])
def test_bad_header(tmp_path, header, words):
    with pytest.raises(TraceError) as info:
        read_trace(write_lines(tmp_path / "t.jsonl", [header]))
    assert words in str(info.value)
    assert info.value.line == 1


def test_empty_file_and_missing_file(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(TraceError, match="empty"):
        read_trace(tmp_path / "empty.jsonl")
    with pytest.raises(TraceError, match="cannot open"):
        read_trace(tmp_path / "nope.jsonl")


def test_unknown_keys_are_ignored_and_blank_lines_skipped(tmp_path):
    header = {**HEADER, "future": {"x": 1}, "rig": {**HEADER["rig"], "colour": "red"}}
    path = write_lines(tmp_path / "t.jsonl", [header, "", {"t": 0.1, "ch": "tread.1", "v": 1, "note": "x"},
                                              "   ", {"t": 0.5, "ch": "tread.1", "v": 0}])
    assert [s[0] for s in read_trace(path)] == [0.1, 0.5]
    assert replay(path)["steps"] == 1


def test_not_gzip_file_named_gz(tmp_path):
    path = tmp_path / "t.jsonl.gz"
    path.write_text(json.dumps(HEADER) + "\n")
    with pytest.raises(TraceError, match="gzip"):
        read_trace(path)


def _walk(writer, n_steps=40):
    t = 0.5
    for k in range(n_steps):
        tread = 1 + k % 2
        writer.write(t, f"tread.{tread}", 1)
        writer.write(t + 0.4, "rail.left.force", 0.5 + k * 0.01)
        writer.write(t + 0.8, f"tread.{tread}", 0)
        t += 1.0


def test_gzip_round_trip(tmp_path):
    header = TraceHeader(layout=RigLayout(treads=2, rails={"left": ("force",)}), weight_kg=80.0)
    path = tmp_path / "w.jsonl.gz"
    with TraceWriter(path, header) as w:
        _walk(w)
    trace = read_trace(path)
    samples = list(trace)
    assert len(samples) == 120 and trace.warnings == []
    assert trace.header.weight_kg == 80.0
    with gzip.open(path, "rt") as fh:
        assert json.loads(fh.readline())["format"] == "stairrig-trace"


def test_power_cut_leaves_the_trace_readable_up_to_the_last_flush(tmp_path):
    """Copy the file while the writer is still open, as a power cut would leave it,
    and cut it at every length past the last flush: each copy reads up to that flush."""
    header = TraceHeader(layout=RigLayout(treads=2, rails={"left": ("force",)}))
    path = tmp_path / "live.jsonl.gz"
    writer = TraceWriter(path, header)
    _walk(writer, 20)
    writer.flush()                      # what the once-a-second flush does
    flushed = path.stat().st_size
    _walk(writer, 5)                    # more samples, not yet flushed
    writer._drain()
    writer._gz.flush()                  # some of them reached the file, unsynced
    snapshot = path.read_bytes()
    writer.close()
    for cut in sorted({flushed, flushed + 7, len(snapshot) - 3, len(snapshot)}):
        cut_path = tmp_path / f"cut{cut}.jsonl.gz"
        cut_path.write_bytes(snapshot[:cut])
        trace = read_trace(cut_path)
        samples = list(trace)
        assert len(samples) >= 60, cut           # everything flushed is there
        assert trace.warnings, cut               # and the reader says the file ends early
        assert all(a[0] <= b[0] for a, b in zip(samples, samples[1:]))
    # a cut inside the flushed part (damage, not a power cut): what decodes, and a warning
    half = tmp_path / "half.jsonl.gz"
    half.write_bytes(snapshot[: flushed // 2])
    trace = read_trace(half)
    assert len(list(trace)) < 60 and trace.warnings


def test_truncated_plain_last_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(HEADER) + '\n{"t": 0.1, "ch": "tread.1", "v": 1}\n{"t": 0.9, "ch": "tr')
    trace = read_trace(path)
    assert len(list(trace)) == 1
    assert "cut short" in trace.warnings[0]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "rig", *args], capture_output=True, text=True, timeout=120)


def test_cli_replay_json_and_table(tmp_path):
    from tests.truth import differences, shared_dir
    trace = shared_dir() / "traces" / "public-08-n6-backward-harsh-firm.jsonl"
    done = run_cli("replay", str(trace), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    truth = json.loads(trace.with_name(trace.name.replace(".jsonl", ".truth.json")).read_text())
    assert differences(summary, truth) == []
    table = run_cli("replay", str(trace))
    assert table.returncode == 0 and f"steps            {truth['steps']}" in table.stdout


def test_cli_replay_bad_file_exits_1_with_the_line(tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", [HEADER, {"t": 0.1, "ch": "tread.1", "v": 1},
                                                {"t": 0.2, "ch": "tread.9", "v": 1}])
    done = run_cli("replay", str(path))
    assert done.returncode == 1
    assert "bad.jsonl:3:" in done.stderr and "tread.9" in done.stderr
    assert "Traceback" not in done.stderr


def test_replay_with_other_settings_from_a_config(tmp_path):
    from rig.config import example_config_path
    from tests.truth import shared_dir
    trace = shared_dir() / "traces" / "public-04-n4-backward-harsh-firm.jsonl"
    config = tmp_path / "rig.toml"
    text = open(example_config_path()).read().replace("stall_s = 3.0", "stall_s = 60.0")
    assert "stall_s = 60.0" in text
    config.write_text(text)
    default = json.loads(run_cli("replay", str(trace), "--json").stdout)
    relaxed = json.loads(run_cli("replay", str(trace), "--json", "--config", str(config)).stdout)
    assert [e["type"] for e in default["events"]].count("stall") == 1
    assert [e["type"] for e in relaxed["events"]].count("stall") == 0
    assert relaxed["steps"] == default["steps"]


# -- a trace deleted while it is written ---------------------------------------------------

def test_a_trace_deleted_while_it_is_written_is_put_back_whole(tmp_path):
    header = TraceHeader(layout=RigLayout(treads=2, rails={"left": ("force",)}))
    path = tmp_path / "live.jsonl.gz"
    writer = TraceWriter(path, header)
    _walk(writer, 20)
    writer.flush()
    path.unlink()                       # rm while the rig records
    _walk(writer, 10)
    writer.flush()                      # the next once-a-second flush notices and puts it back
    assert path.exists() and writer.restored == 1
    path.unlink()                       # again, just before the end: close puts it back too
    writer.close()
    assert writer.restored == 2
    trace = read_trace(path)
    samples = list(trace)
    assert len(samples) == 30 * 3 and trace.warnings == []      # every sample, before and after
    assert not list(tmp_path.glob("*.restoring"))


def test_a_trace_that_cannot_be_put_back_says_which_file(tmp_path):
    from rig.trace.writer import TraceLost
    header = TraceHeader(layout=RigLayout(treads=2, rails={"left": ("force",)}))
    folder = tmp_path / "traces"
    folder.mkdir()
    path = folder / "live.jsonl.gz"
    writer = TraceWriter(path, header)
    _walk(writer, 3)
    path.unlink()
    folder.rmdir()                      # the whole folder went: nowhere to put it back
    with pytest.raises(TraceLost) as caught:
        writer.flush()
    assert str(path) in str(caught.value) and "deleted" in str(caught.value)


def test_the_recorders_log_a_deleted_trace_once_and_show_a_lost_one(tmp_path, caplog):
    import logging
    from rig.outputs.session_traces import SessionTraceRecorder, session_trace_path
    layout = RigLayout(treads=2, rails={"left": ("force",)})
    rec = SessionTraceRecorder(str(tmp_path))
    rec({"type": "session_started", "key": "k1", "athlete": {"weight_kg": 70.0, "name": "A"},
         "drill": {"facing": "backward", "grip": "light"}, "started_at": "2026-01-01T00:00:00+00:00",
         "layout": layout.to_header(), "samples": [(0.1, "tread.1", 1)]})
    path = session_trace_path(str(tmp_path), "k1")
    rec._writer._flush_every_s = 0.0            # every event flushes, as each half second does
    with caplog.at_level(logging.WARNING):
        for i in range(3):
            if i == 0:
                os.remove(path)
            rec({"type": "session_samples", "key": "k1", "samples": [(0.2 + i, "tread.1", i % 2)]})
            rec({"type": "tick", "t": 1.0 + i})
    put_back = [r for r in caplog.records if "deleted while it was recorded" in r.getMessage()]
    assert len(put_back) == 1 and rec.problem is None
    rec({"type": "session_ended", "key": "k1"})
    assert len(list(read_trace(path))) == 4
    # a session whose folder disappears: the trace is lost, logged once, and kept as the problem
    rec({"type": "session_started", "key": "k2", "athlete": {"weight_kg": 70.0, "name": "A"},
         "drill": {"facing": "backward", "grip": "light"}, "started_at": "2026-01-01T00:01:00+00:00",
         "layout": layout.to_header(), "samples": []})
    path2 = session_trace_path(str(tmp_path), "k2")
    rec._writer._flush_every_s = 0.0
    caplog.clear()
    os.remove(path2)
    os.rename(os.path.dirname(path2), str(tmp_path / "moved"))
    with caplog.at_level(logging.ERROR):
        for i in range(3):
            rec({"type": "session_samples", "key": "k2", "samples": [(0.2 + i, "tread.1", 1)]})
    assert rec.problem is not None and path2 in rec.problem
    assert len([r for r in caplog.records if path2 in r.getMessage()]) == 1
