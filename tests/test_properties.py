"""Property: sensor noise within the spec's limits never changes the steps or their directions.

Hypothesis draws a clean walk on a flight (step-over-step up and down, with
double support, leaving and re-entering the flight at either end) and then
noise within the limits of the issue: bounce under 10 ms at any edge,
dropouts under 60 ms inside a stance, and stray taps under 100 ms placed at
least 250 ms from any contact on the same tread. The detector's steps, with
their treads and directions, must be the same as for the clean walk.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.core import Detector
from rig.layout import RigLayout
from tests.truth import gait_differences

MARGIN_S = 0.250


@st.composite
def clean_walks(draw):
    n = draw(st.integers(2, 6))
    split = draw(st.booleans())
    layout = RigLayout(treads=n, riser_m=0.17, split=split)
    t = draw(st.floats(0.3, 1.0))
    contacts: list[tuple[int, float, float]] = []   # (tread, on, off)
    position = 0     # 0 floor, n + 1 top landing
    for _ in range(draw(st.integers(1, 4))):
        going_up = position == 0
        path = list(range(1, n + 1)) if going_up else list(range(n, 0, -1))
        lands = []
        for tread in path:
            stance = draw(st.floats(0.45, 1.2))
            lands.append([tread, t, t + stance])
            t += draw(st.floats(0.3, 0.8))          # the next foot lands while this one stands
        for i in range(len(lands) - 1):              # double support: leave after the next lands
            lands[i][2] = max(lands[i][2], lands[i + 1][1] + draw(st.floats(0.05, 0.3)))
        if len(lands) > 1:                           # the last tread is left last (stepping off)
            lands[-1][2] = max(lands[-1][2], lands[-2][2] + draw(st.floats(0.05, 0.3)))
        contacts += [tuple(c) for c in lands]
        position = n + 1 if going_up else 0
        t = lands[-1][2] + draw(st.floats(0.6, 3.0))   # off the flight, then back on
    return layout, contacts


def _channels(layout: RigLayout, tread: int) -> list[str]:
    return list(layout.tread_channels(tread))


def clean_samples(layout, contacts):
    out = []
    for tread, on, off in contacts:
        for k, ch in enumerate(_channels(layout, tread)):
            lag = 0.06 * k                     # the second half lands later (forefoot first)
            out += [(on + lag, ch, 1), (off, ch, 0)]
    return out


@st.composite
def noisy(draw, walk):
    layout, contacts = walk
    samples = clean_samples(layout, contacts)
    extra = []
    for tread, on, off in contacts:
        ch = _channels(layout, tread)[0]
        if draw(st.booleans()):      # bounce after the landing edge: toggles within 10 ms
            k = draw(st.integers(1, 3))
            times = sorted(draw(st.lists(st.floats(0.0005, 0.0095), min_size=2 * k, max_size=2 * k, unique=True)))
            for i, dt in enumerate(times):
                extra.append((on + dt, ch, 0 if i % 2 == 0 else 1))
        if draw(st.booleans()):      # bounce at the release: on-off toggles within 10 ms after it
            k = draw(st.integers(1, 3))
            times = sorted(draw(st.lists(st.floats(0.0005, 0.0095), min_size=2 * k, max_size=2 * k, unique=True)))
            for i, dt in enumerate(times):
                extra.append((off + dt, ch, 1 if i % 2 == 0 else 0))
        if draw(st.booleans()) and off - on > 0.2:   # a dropout under a rolling foot
            start = draw(st.floats(on + 0.07, off - 0.1))
            length = draw(st.floats(0.001, 0.0595))
            extra += [(start, ch, 0), (start + length, ch, 1)]
    # stray taps on free stretches of a tread, 250 ms or more from its contacts
    for tread in range(1, layout.treads + 1):
        busy = sorted((on, off + 0.01) for tr, on, off in contacts if tr == tread)
        free, last = [], 0.0
        for on, off in busy:
            free.append((last, on))
            last = off
        free.append((last, last + 5.0))
        for lo, hi in free:
            lo = lo + MARGIN_S if lo > 0 else 0.0
            hi -= MARGIN_S + 0.1
            if hi > lo and draw(st.booleans()):
                start = draw(st.floats(lo, hi))
                length = draw(st.floats(0.001, 0.0995))
                ch = draw(st.sampled_from(_channels(layout, tread)))
                extra += [(start, ch, 1), (start + length, ch, 0)]
    return layout, _normalise(samples + extra)


def _normalise(samples):
    """Sort, and drop samples that repeat a channel's current value (the pin did not change)."""
    state: dict[str, int] = {}
    out = []
    for t, ch, v in sorted(samples, key=lambda s: (s[0], s[1])):
        if state.get(ch, 0) != v:
            state[ch] = v
            out.append((round(t, 6), ch, v))
    return out


def steps_of(layout, samples):
    steps = []
    det = Detector(layout, on_event=lambda e: steps.append((e["tread"], e["direction"]))
                   if e["type"] == "step" else None)
    for t, ch, v in samples:
        det.feed(t, ch, v)
    det.finish()
    return steps, det.summary()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_noise_never_changes_steps_or_directions(data):
    walk = data.draw(clean_walks())
    layout, contacts = walk
    clean_steps, clean = steps_of(layout, _normalise(clean_samples(layout, contacts)))
    assert len(clean_steps) == len(contacts)               # the clean walk itself is counted right
    _, noisy_samples = data.draw(noisy(walk))
    noisy_steps, summary = steps_of(layout, noisy_samples)
    assert noisy_steps == clean_steps
    for key in ("steps", "steps_up", "steps_down", "ascents", "descents", "elevation_gain_m"):
        assert summary[key] == clean[key], key


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_noise_moves_no_flight_and_keeps_the_gait_figures_within_the_tolerances(data):
    """The gait figures (flights, step times, steadiness, dwell, asymmetry, double support,
    whole-foot placement) of a noisy walk are those of its clean walk, within the tolerances
    of shared/traces/README.md."""
    walk = data.draw(clean_walks())
    layout, contacts = walk
    _, clean = steps_of(layout, _normalise(clean_samples(layout, contacts)))
    _, noisy_samples = data.draw(noisy(walk))
    _, summary = steps_of(layout, noisy_samples)
    gait, clean_gait = summary["gait"], clean["gait"]
    assert len(clean_gait["flights"]) == clean["ascents"] + clean["descents"]
    assert [(f["dir"], f["steps"], f["t"]) for f in gait["flights"]] == \
        [(f["dir"], f["steps"], f["t"]) for f in clean_gait["flights"]]   # an onset is a first edge: never moved
    assert gait_differences(gait, clean_gait) == []
