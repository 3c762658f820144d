"""Every sample trace in shared/traces replays to its truth, within the README's tolerances."""

import json

import pytest

from rig.replay import replay
from tests.truth import differences, shared_dir

TRACES = sorted((shared_dir() / "traces").glob("*.truth.json"))


def test_there_are_sample_traces():
    assert len(TRACES) >= 8


@pytest.mark.parametrize("truth_path", TRACES, ids=lambda p: p.name.removesuffix(".truth.json"))
def test_sample_trace_matches_truth(truth_path):
    truth = json.loads(truth_path.read_text())
    summary = replay(str(truth_path).replace(".truth.json", ".jsonl"))
    assert differences(summary, truth) == []
    assert abs(summary["duration_s"] - truth["duration_s"]) < 0.001


def test_required_summary_keys():
    summary = replay(str(TRACES[0]).replace(".truth.json", ".jsonl"))
    for key in ("steps", "steps_up", "steps_down", "ascents", "descents", "elevation_gain_m", "active_s",
                "duration_s", "cadence_spm", "facing", "rails", "reliance", "events"):
        assert key in summary
    assert summary["cadence_spm"] == pytest.approx(summary["steps"] / summary["active_s"] * 60, rel=1e-3)
    assert [e["t"] for e in summary["events"]] == sorted(e["t"] for e in summary["events"])
