"""The detection core: samples in, steps, flights, rail figures and events out.

Pure and streaming. It imports no hardware, network or storage library and
never reads a clock: every call carries its time ``t`` in seconds, the
trace's time base. Live use feeds it from the sensor queue and calls
``advance(now)`` when nothing comes; replay feeds it a trace file; both run
this same code.

The parts, each in its module: ``channels`` (raw samples to contact edges
and queued forces), ``contact`` (one debounced signal), ``timeline`` (late
transitions and forces back in time order), ``steps`` (steps, flights,
facing, stalls, falls), ``rails`` (rail figures and active time), ``grab``,
and ``summary``. This module wires them and applies the timeline.

Events are handed to ``on_event`` as plain dicts, each with ``type`` and
``t`` (the time the spec gives the event), plus ``at`` (the time at which
the core could tell, for latency figures).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from typing import Callable

from rig.core.channels import build_handlers, grab_event
from rig.core.contact import INF
from rig.core.gait import Gait
from rig.core.grab import GrabDetector
from rig.core.rails import Rail, RailFigures
from rig.core.steps import StepRules, Tread
from rig.core.summary import build_summary
from rig.core.timeline import EMPTY, FALL, OCCUPY, RAIL_OFF, RAIL_ON, STALL, Timeline
from rig.layout import RAIL_SIDES, RigLayout
from rig.settings import DEFAULT_WEIGHT_KG, DetectionSettings

EventSink = Callable[[dict], None]
Sample = tuple[float, str, float]


def _ignore(event: dict) -> None:
    pass


class Detector:
    """Streaming detector for one rig, one athlete and one set of settings.

    ``feed(t, channel, value)`` takes samples in time order (``t`` never
    going back); ``feed_many(samples)`` takes many at once, with the same
    result; ``advance(now)`` says that no sample earlier than ``now`` is
    still to come; ``finish(t_end)`` closes the stream (open contacts end at
    ``t_end``) and ``summary()`` gives the spec's replay summary, at any
    moment (live) or after finishing (final).
    """

    def __init__(self, layout: RigLayout, settings: DetectionSettings | None = None,
                 weight_kg: float = DEFAULT_WEIGHT_KG, on_event: EventSink = _ignore, added_load_kg: float = 0.0):
        self.layout = layout
        self.settings = settings = settings or DetectionSettings()
        self.thresholds = th = settings.resolve(weight_kg)
        self.on_event = on_event
        self.events: list[dict] = []     # grab, stall and fall_suspected, as the spec lists them
        self._now = 0.0                  # latest time fed or advanced to
        self._t_first: float | None = None
        self._t_last = 0.0
        self._finished = False

        self._timeline = timeline = Timeline()
        treads = [Tread(i) for i in range(1, layout.treads + 1)]
        self._gait = gait = Gait(treads=layout.treads, stepper=layout.kind == "stepper", split=layout.split,
                                 riser_m=layout.riser_m, mass_kg=weight_kg + added_load_kg,
                                 min_contact_s=settings.min_contact_s)
        for tread in treads:
            tread.tracker = timeline.tracker(settings.min_contact_s, settings.bridge_s, EMPTY, OCCUPY, tread)
            if gait.halves is not None:
                tread.halves = gait.halves[tread.index - 1]
        rails = []
        for side in RAIL_SIDES:
            if side not in layout.rails:
                continue
            rail = Rail(side, layout.rail_has(side, "touch"), layout.rail_has(side, "force"))
            rail.tracker = timeline.tracker(settings.rail_min_contact_s, settings.bridge_s, RAIL_OFF, RAIL_ON, rail)
            if rail.has_force:
                rail.grab = GrabDetector(th.grab_rise_n, settings.grab_window_s, settings.grab_floor_n)
            rails.append(rail)
        self._rails = {rail.side: rail for rail in rails}
        self._figures = RailFigures(rails, settings.firm_on_n, settings.firm_off_n, self._emit)
        self._steps = StepRules(treads, stepper=layout.kind == "stepper", split=layout.split, settings=settings,
                                figures=self._figures, timeline=timeline, emit=self._emit, record=self._record,
                                gait=gait)
        self._handlers = build_handlers(layout, treads, rails, th, timeline, self._record)
        self.channels = frozenset(self._handlers)
        # feed_many's fast path: the force channels of rails with a touch pad (the
        # force then only goes to the grab detector and the queue)
        self._fast_routes: dict[str, tuple | None] = {ch: None for ch in self._handlers}
        self._fast_routes.update({f"rail.{r.side}.force": (r, r.grab.record)
                                  for r in rails if r.has_force and r.has_touch})
        self._grabs = [r.grab for r in rails if r.grab is not None]

    # -- events ----------------------------------------------------------------
    def _emit(self, event: dict) -> None:
        self.on_event(event)

    def _record(self, event: dict) -> None:
        """One of the summary's events: kept (a copy: what outputs do with theirs stays theirs), and emitted."""
        self.events.append(dict(event))
        self.on_event(event)

    # -- input -------------------------------------------------------------
    def feed(self, t: float, channel: str, value: float) -> None:
        """One sample. Raises KeyError for a channel the rig does not have.

        ``t`` must not go back; a sample earlier than the time already fed or
        advanced to is taken at that time."""
        handler = self._handlers[channel]
        if t < self._now:
            t = self._now
        timeline = self._timeline
        if t >= timeline.next_deadline:
            timeline.expire(t)
        self._now = t
        if self._t_first is None:
            self._t_first = t
        self._t_last = t
        handler(t, value)
        self._release_due()

    def feed_many(self, samples: Iterable[Sample]) -> None:
        """``feed(t, channel, value)`` for each ``(t, channel, value)`` tuple, in
        order, with exactly the same result and events; faster. The tuples are
        kept a while (a rail's recent forces): pass tuples, not a reused list.

        The common sample, a force on a rail with a touch pad while no timer is
        due and no timeline item is to be applied, is taken here without a call
        per sample: the grab test (only at or above the grab floor), then the
        force queue, whose samples older than the watermark are applied at once
        (the body of ``RailFigures.apply_forces``, inlined). Any other sample
        goes to ``feed``, which does the same and more.
        """
        timeline = self._timeline
        forces = timeline.forces
        enqueue = forces.append
        dequeue = forces.popleft
        figures = self._figures
        firm_on_n = figures.firm_on_n
        firm_off_n = figures.firm_off_n
        floor_n = self.settings.grab_floor_n
        fast_route = self._fast_routes
        feed = self.feed
        now = self._now
        pending = timeline.pending_min
        gate = self._fast_gate()
        unsaved = False  # ``now`` (the time of the last sample) not yet in self._now and self._t_last
        try:
            for sample in samples:
                t, channel, v = sample
                route = fast_route[channel]  # KeyError for a channel the rig does not have, as feed
                if route is None or not now <= t < gate:
                    if unsaved:
                        self._now = self._t_last = now
                        unsaved = False
                    feed(t, channel, v)
                    now = self._now
                    pending = timeline.pending_min
                    gate = self._fast_gate()
                    continue
                now = t
                unsaved = True
                rail, record = route
                record(sample)
                if v >= floor_n and rail.grab.rises(t, v):
                    self._now = self._t_last = now
                    self._record(grab_event(rail, rail.grab.base_n, t, v))
                enqueue((t, rail, v))
                # what feed's _release would do: no timeline item is due before
                # ``now`` (the gate says so), so only queued forces older than the watermark
                limit = now if now < pending else pending
                while forces[0][0] < limit:  # ends at the latest at this sample (at ``now``)
                    ft, frail, fv = dequeue()
                    if frail.contact and figures.occupied_n:
                        frail.impulse_ns += frail.force_n * (ft - frail.t_impulse)
                        peak = frail.peak_force_n
                        if peak is None or fv > peak:
                            frail.peak_force_n = fv
                    frail.t_impulse = ft
                    frail.force_n = fv
                    if (fv < firm_off_n) if frail.firm else (fv > firm_on_n):
                        figures.firm_changed(ft, frail, now)
        finally:
            if unsaved:
                self._now = self._t_last = now
            for rail_grab in self._grabs:
                rail_grab.trim()

    def _fast_gate(self) -> float:
        """feed_many's fast path takes a sample at ``t`` only while ``t < gate``:
        before any tracker's timer runs out, and while no timeline item would be
        released (an item is released at ``t`` when it is earlier than both ``t``
        and the watermark). -INF before the first sample, which sets the start."""
        if self._t_first is None:
            return -INF
        timeline = self._timeline
        gate = timeline.next_deadline
        if timeline.heap:
            first = timeline.heap[0][0]
            if first < timeline.pending_min:
                gate = min(gate, math.nextafter(first, INF))  # t <= first
        return gate

    def advance(self, now: float) -> None:
        """No sample earlier than ``now`` is still to come: decide what can be."""
        if now < self._now:
            return
        self._now = now
        timeline = self._timeline
        if now >= timeline.next_deadline:
            timeline.expire(now)
        self._release_due()

    def next_deadline(self) -> float:
        """The earliest time at which ``advance`` could decide something new
        without a new sample (INF when nothing is waiting)."""
        timeline = self._timeline
        nxt = timeline.next_deadline
        if timeline.heap and timeline.pending_min == INF:
            nxt = min(nxt, timeline.heap[0][0])
        return nxt

    def finish(self, t_end: float | None = None) -> None:
        """The stream is over: open contacts end at ``t_end`` (default: the
        last sample); events that would need later time are dropped."""
        if self._finished:
            return
        t_end = self._t_last if t_end is None else max(t_end, self._t_last)
        self._timeline.finish(t_end)
        self._now = t_end
        self._release(final_t=t_end)
        self._figures.finish(t_end)
        self._finished = True

    # -- the ordered timeline ----------------------------------------------
    def _release_due(self) -> None:
        """``_release()`` when a timeline item or a queued force is earlier than the watermark."""
        timeline = self._timeline
        limit = self._now
        if timeline.pending_min < limit:
            limit = timeline.pending_min
        heap, forces = timeline.heap, timeline.forces
        if (heap and heap[0][0] < limit) or (forces and forces[0][0] < limit):
            self._release()

    def _release(self, final_t: float | None = None) -> None:
        """Apply timeline items and queued forces in time order, up to the watermark
        (with ``final_t``: every item up to and including ``final_t``). At equal
        times a timeline item goes before a force."""
        timeline = self._timeline
        heap, forces = timeline.heap, timeline.forces
        at = self._now
        if final_t is None:
            before = min(at, timeline.pending_min)   # items earlier than this
        else:
            before = math.nextafter(final_t, INF)     # items up to final_t
        apply_forces = self._figures.apply_forces
        while True:
            first = heap[0][0] if heap else INF
            if forces and forces[0][0] < before:
                apply_forces(forces, min(first, before), at)
            if first >= before:
                return
            _, kind, _, subject = heapq.heappop(heap)
            self._apply(first, kind, subject, final_t, at)

    def _apply(self, t: float, kind: int, subject, final_t: float | None, at: float) -> None:
        steps = self._steps
        if kind == OCCUPY:
            steps.on_occupy(t, subject, at)
        elif kind == EMPTY:
            steps.on_empty(t, subject, at)
        elif kind == RAIL_ON or kind == RAIL_OFF:
            self._figures.contact_changed(t, subject, kind == RAIL_ON, at)
        elif kind == STALL:
            if final_t is None or t <= final_t:
                steps.on_stall(t, subject, at)
        elif kind == FALL:
            t_empty, serial = subject
            if final_t is None or t <= final_t:
                steps.on_fall_check(t, t_empty, serial, at)

    # -- reading the state ----------------------------------------------------
    @property
    def now(self) -> float:
        """The latest time fed or advanced to (within ``feed_many``: of the sample being decided)."""
        return self._now

    @property
    def rails(self) -> dict[str, Rail]:
        """The rails with their running figures (read-only use)."""
        return self._rails

    @property
    def steps(self) -> int:
        return self._steps.steps

    @property
    def steps_up(self) -> int:
        return self._steps.steps_up

    @property
    def steps_down(self) -> int:
        return self._steps.steps_down

    @property
    def ascents(self) -> int:
        return self._steps.ascents

    @property
    def descents(self) -> int:
        return self._steps.descents

    @property
    def facing(self) -> dict[str, int]:
        return self._steps.facing

    @property
    def active_s(self) -> float:
        return self._figures.active_s

    @property
    def occupied(self) -> int:
        """How many treads are occupied, on the ordered timeline."""
        return self._figures.occupied_n

    def reliance_seconds(self) -> dict:
        """Active seconds so far with some rail in contact (``contact_s``), some rail
        firm (``firm_s``), and some rail in contact but none firm (``light_s``)."""
        return self._figures.reliance_seconds()

    @property
    def last_flight(self) -> dict | None:
        """The latest of the summary's ``gait.flights`` (the spec's flight), or None."""
        flights = self._gait.flights
        return dict(flights[-1]) if flights else None

    def summary(self) -> dict:
        """The spec's replay summary of everything decided so far."""
        return build_summary(self._steps, self._figures, self.events, self.layout.riser_m,
                             self._t_first, self._t_last, self._gait)
