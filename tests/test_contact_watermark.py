"""A contact tracker's ``pending_t`` (the watermark it holds back) is always what its phase says.

``pending_t`` is a plain attribute kept up to date at every change of phase
(the detector reads it for every tracker after every edge); here it is
checked, after every call, against its definition: the first edge of an
unconfirmed contact, the last release of a confirmed contact whose end is
not settled, else none (INF). And ``edge`` says whether anything changed.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rig.core.contact import CANDIDATE, CONFIRMED, INF, ContactTracker


def pending_by_definition(tr: ContactTracker) -> float:
    if tr.phase == CANDIDATE:
        return tr.t_start
    if tr.phase == CONFIRMED and not tr.raw_on:
        return tr.t_release
    return INF


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.001, 0.02, 0.05, 0.059, 0.06, 0.1, 0.2, 0.5]),
                          st.booleans(), st.booleans()), max_size=60),
       st.booleans())
def test_pending_follows_the_phase(steps, finish):
    reports = []
    tr = ContactTracker(0.1, 0.06, on_start=lambda t: reports.append(("start", t)),
                        on_end=lambda t: reports.append(("end", t)))
    t = 0.0
    for dt, on, expire_only in steps:
        t = round(t + dt, 6)
        tr.expire(t)
        assert tr.pending_t == pending_by_definition(tr)
        if not expire_only:
            before = (tr.phase, tr.raw_on, tr.deadline)
            changed = tr.edge(t, on)
            assert changed == (on != before[1])
            if not changed:
                assert (tr.phase, tr.raw_on, tr.deadline) == before
        assert tr.pending_t == pending_by_definition(tr)
    if finish:
        tr.finish(t + 0.01)
        assert tr.pending_t == INF == pending_by_definition(tr)
