"""The core's per-contact whole-foot verdict (the ``placement`` event behind the panel's
"whole foot" cue): judged as the summary's ``gait.whole_foot_fraction`` is, once per
contact on a split tread, and no part of the summary."""

from __future__ import annotations

import pytest

from rig.core import Detector
from rig.layout import RigLayout


def feed(layout: RigLayout, samples) -> tuple[Detector, list[dict]]:
    events: list[dict] = []
    det = Detector(layout, on_event=events.append)
    for t, ch, v in sorted(samples):
        det.feed(t, ch, v)
    det.finish()
    return det, [e for e in events if e["type"] == "placement"]


def contact(tread: int, on: float, off: float, halves=("front", "back")) -> list:
    return [(on, f"tread.{tread}.{h}", 1) for h in halves] + [(off, f"tread.{tread}.{h}", 0) for h in halves]


SPLIT = RigLayout(treads=4, riser_m=0.17, split=True)


def test_a_whole_foot_step_and_a_partial_one_each_get_their_verdict_when_the_tread_empties():
    # forward up: the back (riser side) half lands first; the second step only on the back half
    samples = (contact(1, 1.0, 1.8, halves=("back",)) + [(1.03, "tread.1.front", 1), (1.8, "tread.1.front", 0)]
               + contact(2, 1.5, 2.3, halves=("back",)))
    det, placements = feed(SPLIT, samples)
    assert [(p["tread"], p["whole_foot"], p["half"]) for p in placements] == [(1, True, None), (2, False, "back")]
    first, second = placements
    assert first["t"] == pytest.approx(1.8) and first["step_t"] == pytest.approx(1.0)
    assert first["front_s"] == pytest.approx(0.77) and first["back_s"] == pytest.approx(0.8)
    assert second["t"] == pytest.approx(2.3) and second["step_t"] == pytest.approx(1.5)
    assert second["front_s"] == 0.0 and second["back_s"] == pytest.approx(0.8)
    # the step's direction and facing, as its step event gave them
    assert [(p["direction"], p["facing"]) for p in placements] == [("up", "forward"), ("up", "forward")]
    # no part of the summary: its events are grab, stall and fall only
    assert not any(e["type"] == "placement" for e in det.summary()["events"])
    assert all(p["at"] >= p["t"] for p in placements)
    assert det.summary()["gait"]["whole_foot_fraction"] == 0.5


def test_a_backward_step_on_the_front_half_only_is_partial_and_facing_backward():
    # backward up: the front (nosing side) half lands first (the spec's facing table)
    _, placements = feed(SPLIT, contact(1, 1.0, 1.7, halves=("front",)))
    assert len(placements) == 1
    p = placements[0]
    assert (p["whole_foot"], p["half"], p["direction"], p["facing"]) == (False, "front", "up", "backward")


def test_a_half_on_for_less_than_the_minimum_contact_is_partial():
    samples = [(1.0, "tread.1.back", 1), (1.05, "tread.1.front", 1), (1.12, "tread.1.front", 0),
               (1.7, "tread.1.back", 0)]                 # the front half on for 70 ms only
    _, placements = feed(SPLIT, samples)
    assert [(p["whole_foot"], p["half"]) for p in placements] == [(False, "back")]
    assert placements[0]["front_s"] == pytest.approx(0.07)


def test_treads_that_are_not_split_give_no_verdict():
    whole = RigLayout(treads=4, riser_m=0.17)
    _, placements = feed(whole, [(1.0, "tread.1", 1), (1.8, "tread.1", 0), (1.5, "tread.2", 1), (2.3, "tread.2", 0)])
    assert placements == []


def test_the_verdict_comes_before_its_treads_vacated_event_and_once_per_contact():
    events: list[dict] = []
    det = Detector(SPLIT, on_event=events.append)
    for t, ch, v in sorted(contact(1, 1.0, 1.8) + contact(2, 1.5, 2.6)):
        det.feed(t, ch, v)
    det.finish()
    kinds = [(e["type"], e.get("tread")) for e in events if e["type"] in ("placement", "vacated")]
    assert kinds == [("placement", 1), ("vacated", 1), ("placement", 2), ("vacated", 2)]
