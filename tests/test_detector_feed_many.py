"""``Detector.feed_many`` gives exactly what ``feed`` gives, sample by sample.

Replay feeds the detector a block of the trace at a time through
``feed_many``, whose common case (a rail's force while nothing is due) is
taken in one loop; the live path calls ``feed`` per sample. The two must
agree on everything: the summary, every emitted event with its ``at``, and
the deadlines the live engine sleeps on. Checked on simulated sessions of
every rig the simulator has, chopped into batches of every size, with
``advance`` between batches as the live engine would, and on random samples
built to hit the corners (equal times, forces around the grab floor and the
firm threshold, switches bouncing).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.core import Detector
from rig.layout import RigLayout
from rig.settings import DetectionSettings
from rig.sim import simulate

SCENARIOS = ["mixed", "grab", "fall", "stall", "stepper", "force-treads", "step-ups", "grip-progression"]
SENSITIVE = DetectionSettings(grab_rise_min_n=0.6, grab_rise_bw=0.0, grab_floor_n=0.4, grab_window_s=0.3,
                              firm_on_n=0.5, firm_off_n=0.3)


def run_per_sample(layout, samples, settings=None, weight_kg=70.0, advance_every=None):
    events: list[dict] = []
    det = Detector(layout, settings, weight_kg, on_event=events.append)
    deadlines = []
    for k, (t, ch, v) in enumerate(samples):
        det.feed(t, ch, v)
        if advance_every and k % advance_every == advance_every - 1:
            det.advance(t + 0.003)
            deadlines.append(det.next_deadline())
    det.finish()
    return det.summary(), events, deadlines


def run_batched(layout, samples, sizes, settings=None, weight_kg=70.0, advance_every=None):
    """``feed_many`` in batches of the sizes drawn from ``sizes``; with ``advance_every``,
    batches end where the per-sample run advances, and advance there too."""
    events: list[dict] = []
    det = Detector(layout, settings, weight_kg, on_event=events.append)
    deadlines = []
    k = 0
    while k < len(samples):
        size = next(sizes)
        if advance_every:
            size = min(size, advance_every - k % advance_every)
        batch = samples[k:k + size]
        det.feed_many(batch)
        k += len(batch)
        if advance_every and k % advance_every == 0:
            det.advance(batch[-1][0] + 0.003)
            deadlines.append(det.next_deadline())
    det.finish()
    return det.summary(), events, deadlines


def batch_sizes(seed: int):
    rng = random.Random(seed)
    while True:
        yield rng.choice([1, 2, 3, 7, 50, 1000, 100_000])


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("noise", ["typical", "harsh"])
def test_feed_many_is_feed_on_simulated_sessions(scenario, noise):
    sim = simulate(scenario, seed=3, noise=noise)
    samples = [tuple(s) for s in sim.samples]
    for cfg in (None, SENSITIVE):
        expected = run_per_sample(sim.header.layout, samples, cfg)
        assert run_batched(sim.header.layout, samples, batch_sizes(1), cfg) == expected
        whole = run_batched(sim.header.layout, samples, iter([len(samples)]), cfg)
        assert whole == expected


@pytest.mark.parametrize("scenario", ["mixed", "grab"])
def test_feed_many_with_advance_between_batches(scenario):
    sim = simulate(scenario, seed=5, noise="harsh")
    samples = [tuple(s) for s in sim.samples]
    expected = run_per_sample(sim.header.layout, samples, advance_every=37)
    assert expected[2]  # the deadlines are compared too
    assert run_batched(sim.header.layout, samples, batch_sizes(2), advance_every=37) == expected


def test_sensitive_settings_exercise_grabs_and_grip_changes():
    """The settings above make the corner cases happen (else the comparisons prove little)."""
    sim = simulate("mixed", seed=3, noise="harsh")
    summary, events, _ = run_per_sample(sim.header.layout, [tuple(s) for s in sim.samples], SENSITIVE)
    assert sum(e["type"] == "grab" for e in summary["events"]) >= 10
    assert sum(e["type"] == "grip" for e in events) >= 100


def test_unknown_channel_raises_keyerror_and_keeps_the_state():
    layout = RigLayout(treads=2, rails={"left": ("touch", "force")})
    good = [(0.0, "rail.left.force", 0.2), (0.02, "rail.left.force", 0.3), (0.03, "tread.1", 1)]
    det = Detector(layout)
    with pytest.raises(KeyError):
        det.feed_many(good + [(0.04, "tread.9", 1), (0.05, "tread.1", 0)])
    ref = Detector(layout)
    for s in good:
        ref.feed(*s)
    with pytest.raises(KeyError):
        ref.feed(0.04, "tread.9", 1)
    for d in (det, ref):
        d.feed_many([(0.5, "tread.1", 0), (0.6, "rail.left.force", 0.1)])
        d.finish()
    assert det.summary() == ref.summary()
    assert det._now == ref._now and det._t_last == ref._t_last


def test_samples_going_back_are_taken_at_the_time_already_reached():
    layout = RigLayout(treads=1, rails={"left": ("touch", "force")})
    samples = [(1.0, "rail.left.force", 0.5), (0.5, "rail.left.force", 9.0), (1.2, "rail.left.force", 0.1)]
    assert run_batched(layout, samples, iter([3])) == run_per_sample(layout, samples)


# -- random samples aimed at the corners --------------------------------------------
RIG = RigLayout(treads=3, split=True, rails={"left": ("touch", "force"), "right": ("force",)})
CHANNELS = [c for c in RIG.channels() if not c.endswith(".force")]


@st.composite
def corner_samples(draw):
    samples = []
    t = 0.0
    for _ in range(draw(st.integers(1, 160))):
        t += draw(st.sampled_from([0.0, 0.0, 0.001, 0.01, 0.02, 0.05, 0.3, 1.2]))
        t = round(t, 6)
        kind = draw(st.integers(0, 9))
        if kind < 6:
            side = "left" if kind < 4 else "right"
            v = draw(st.sampled_from([0.0, 0.2, 0.31, 0.49, 0.51, 0.99, 1.0, 1.01, 3.5, 4.0, 60.0, 80.0, -1.0]))
            samples.append((t, f"rail.{side}.force", v))
        else:
            samples.append((t, draw(st.sampled_from(CHANNELS)), draw(st.integers(0, 1))))
    return samples


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corner_samples(), st.integers(0, 1000), st.sampled_from([None, 5]))
def test_feed_many_is_feed_on_random_samples(samples, seed, advance_every):
    for cfg in (None, SENSITIVE):
        expected = run_per_sample(RIG, samples, cfg, advance_every=advance_every)
        assert run_batched(RIG, samples, batch_sizes(seed), cfg, advance_every=advance_every) == expected
