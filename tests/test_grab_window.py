"""The grab detector decides exactly as the spec's sliding window, however it is fed.

``GrabDetector`` looks at its window only when a sample reaches the grab
floor, and forgets old samples now and then. Here it is compared, grab by
grab (with the base it rose from), with ``WindowReference``: the straight
reading of the rule, a monotonic deque updated at every sample (the
detector's previous implementation). Both ways of feeding it are checked:
``sample()`` per sample (the live path) and ``record()`` plus ``rises()``
at or above the floor (``Detector.feed_many``), mixed at random, with
windows long and short, a floor at or below zero, equal times and enough
samples for many trims.
"""

from __future__ import annotations

import random
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.core.grab import TRIM_AT, GrabDetector


class WindowReference:
    def __init__(self, rise_n: float, window_s: float, floor_n: float):
        self.rise_n, self.window_s, self.floor_n = rise_n, window_s, floor_n
        self.armed = True
        self.base_n = 0.0
        self.low = deque([[0.0, 0.0, float("inf")]])   # [t_from, value, t_until], 0 N from t = 0
        self.last_is_back = True

    def sample(self, t: float, force_n: float) -> bool:
        low = self.low
        if self.last_is_back:
            low[-1][2] = t
        horizon = t - self.window_s
        while low and low[0][2] < horizon:
            low.popleft()
        if force_n < self.floor_n:
            self.armed = True
            while low and low[-1][1] >= force_n:
                low.pop()
            low.append([t, force_n, float("inf")])
            self.last_is_back = True
            return False
        self.last_is_back = False
        if self.armed and low and force_n - low[0][1] >= self.rise_n:
            self.base_n = low[0][1]
            self.armed = False
            return True
        return False


def feed_both(samples, rise_n, window_s, floor_n, batch_share: float, seed: int):
    ref = WindowReference(rise_n, window_s, floor_n)
    grab = GrabDetector(rise_n, window_s, floor_n)
    rng = random.Random(seed)
    for k, (t, v) in enumerate(samples):
        expected = ref.sample(t, v)
        if rng.random() < batch_share:       # as Detector.feed_many does
            grab.record((t, "rail.left.force", v))
            got = v >= floor_n and grab.rises(t, v)
        else:                                # as Detector.feed does
            got = grab.sample(t, v)
        assert got == expected, (k, t, v)
        if got:
            assert grab.base_n == ref.base_n
        if rng.random() < 0.01:
            grab.trim()                      # what feed_many does after each batch
    return grab


forces = st.sampled_from([-2.0, -0.5, 0.0, 0.3, 0.7, 0.99, 1.0, 1.5, 2.9, 3.0, 3.1, 6.0, 7.99, 8.0, 30.0, 70.0])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.0, 0.01, 0.02, 0.1, 0.25, 0.3, 1.0]), forces), max_size=300),
       st.sampled_from([(3.0, 0.25, 1.0), (50.0, 0.25, 8.0), (1.0, 0.0, 0.5), (2.0, 1.0, 0.0), (0.5, 0.05, -1.0)]),
       st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_grabs_as_the_sliding_window_decides(steps, thresholds, batch_share, seed):
    t = 0.0
    samples = []
    for dt, v in steps:
        t = round(t + dt, 6)
        samples.append((t, v))
    feed_both(samples, *thresholds, batch_share, seed)


@pytest.mark.parametrize("batch_share", [0.0, 0.5, 1.0])
def test_long_runs_trim_without_changing_a_decision(batch_share):
    rng = random.Random(7)
    samples = []
    t = 0.0
    for _ in range(30 * TRIM_AT):
        t = round(t + rng.choice([0.0, 0.01, 0.02, 0.02, 0.05]), 6)
        level = rng.random()
        v = rng.uniform(-0.1, 0.9) if level < 0.7 else rng.uniform(0.9, 12.0) if level < 0.97 else 60.0
        samples.append((t, v))
    grab = feed_both(samples, 3.0, 0.25, 1.0, batch_share, seed=1)
    grab.trim()
    assert len(grab.recent) <= TRIM_AT + 1   # memory stays bounded


def test_a_rail_held_above_the_floor_is_not_walked_again_and_again():
    grab = GrabDetector(50.0, 0.25, 8.0)
    t = 0.0
    for _ in range(2000):
        t += 0.01
        grab.record((t, 20.0))
        assert not grab.rises(t, 20.0)
    # everything before the newest sample is known to hold no low value
    assert grab._walked == len(grab.recent) - 1
