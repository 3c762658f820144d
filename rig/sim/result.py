"""What a simulation returns, and how it is written to disk."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from rig.trace import TraceHeader, TraceWriter


@dataclass
class SimResult:
    """A simulated session.

    ``samples``: the trace as the pins would have recorded it, noise and all,
    sorted by time; ``truth``: the spec's replay summary of the noise-free
    signals (the shape of ``shared/traces/*.truth.json``); ``steps``: the
    steps of that truth, ``{"t", "tread", "direction", "facing"}`` in time
    order (``t`` is the landing, the step's first raw edge).
    """

    header: TraceHeader
    samples: list[tuple[float, str, float]]
    truth: dict
    steps: list[dict]
    events: list[dict] = field(default_factory=list)
    """The truth's events ``{"t", "type", ...}`` in time order."""
    clean: list[tuple[float, str, float]] = field(default_factory=list)
    """The noise-free samples the truth was computed from."""
    foot_contacts: list = field(default_factory=list)
    """The script's foot contacts (``rig.sim.athlete.FootContact``), one per foot per tread."""
    scripted: dict = field(default_factory=dict)
    """What the script meant to do: ``{"events": {type: n}, ...}``."""


def truth_path(path: str | os.PathLike) -> Path:
    """``x.jsonl`` / ``x.jsonl.gz`` -> ``x.truth.json`` beside it."""
    p = Path(path)
    name = p.name
    for suffix in (".jsonl.gz", ".jsonl", ".gz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return p.with_name(name + ".truth.json")


def write_sim(result: SimResult, path: str | os.PathLike) -> None:
    """Write the trace (gzip when ``path`` ends in ``.gz``) and its truth beside it.

    The truth's ``name`` becomes the file's stem, as in ``shared/traces``.
    """
    tpath = truth_path(path)
    with TraceWriter(path, result.header, fsync=False) as writer:
        for t, ch, v in result.samples:
            writer.write(t, ch, v)
    truth = dict(result.truth)
    truth["name"] = tpath.name[: -len(".truth.json")]
    tpath.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
