"""The detection core: samples in, steps, flights, rail figures and events out.

Pure and streaming. It imports no hardware, network or storage library and
never reads a clock: every call carries its time ``t`` in seconds, the
trace's time base. Live use feeds it from the sensor queue and calls
``advance(now)`` when nothing comes; replay feeds it a trace file; both run
this same code.

How it keeps the spec's order. Contacts are known late (a step is confirmed
up to ``min_contact_s + bridge_s`` after its first edge, a release
``bridge_s`` after it happened), but every decision is taken at the
contacts' own edge times, in time order (emptyings before occupyings at
equal times). So confirmed transitions go to a timeline (a heap), force
samples to a queue, and both are applied in time order once no tracker can
still report anything earlier (the watermark). Rail forces, contacts and
tread occupancy are integrated piecewise between those moments.

Events are handed to ``on_event`` as plain dicts, each with ``type`` and
``t`` (the time the spec gives the event), plus ``at`` (the time at which
the core could tell, for latency figures).
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Callable

from rig.core.contact import INF, ContactTracker
from rig.core.grab import GrabDetector
from rig.layout import RAIL_SIDES, RigLayout
from rig.settings import DEFAULT_WEIGHT_KG, DetectionSettings

# Timeline item kinds, in their order at equal times.
_EMPTY, _OCCUPY, _RAIL_OFF, _RAIL_ON, _STALL, _FALL = range(6)

EventSink = Callable[[dict], None]


def _ignore(event: dict) -> None:
    pass


class _Tread:
    __slots__ = ("index", "tracker", "front_on", "back_on", "first_half", "t_first", "other_t")

    def __init__(self, index: int):
        self.index = index
        self.tracker: ContactTracker
        self.front_on = False
        self.back_on = False
        self.first_half: str | None = None   # the half whose switch closed first
        self.t_first = 0.0
        self.other_t: float | None = None    # when the other half first closed


class _Rail:
    __slots__ = ("side", "has_touch", "has_force", "tracker", "contact", "force_n",
                 "firm", "grab", "contact_s", "light_s", "firm_s",
                 "peak_force_n", "impulse_ns", "t_impulse", "grip")

    def __init__(self, side: str, has_touch: bool, has_force: bool):
        self.side = side
        self.has_touch = has_touch
        self.has_force = has_force
        self.tracker: ContactTracker
        self.contact = False      # in contact, on the ordered timeline
        self.force_n = 0.0        # force on the ordered timeline (held between samples)
        self.firm = False         # force above the firm threshold (hysteresis)
        self.grab: GrabDetector | None = None
        self.contact_s = 0.0
        self.light_s = 0.0
        self.firm_s = 0.0
        self.peak_force_n: float | None = None
        self.impulse_ns = 0.0
        self.t_impulse = 0.0
        self.grip = "none"


class Detector:
    """Streaming detector for one rig, one athlete and one set of settings.

    ``feed(t, channel, value)`` takes samples in time order (``t`` never
    going back); ``advance(now)`` says that no sample earlier than ``now``
    is still to come; ``finish(t_end)`` closes the stream (open contacts
    end at ``t_end``) and ``summary()`` gives the spec's replay summary,
    at any moment (live) or after finishing (final).
    """

    def __init__(self, layout: RigLayout, settings: DetectionSettings | None = None,
                 weight_kg: float = DEFAULT_WEIGHT_KG, on_event: EventSink = _ignore):
        self.layout = layout
        self.settings = settings = settings or DetectionSettings()
        self.thresholds = th = settings.resolve(weight_kg)
        self.on_event = on_event
        n = layout.treads
        self._n = n
        self._stepper = layout.kind == "stepper"
        self._split = layout.split

        # ordered timeline
        self._heap: list[tuple[float, int, int, object]] = []
        self._seq = 0
        self._fifo: deque[tuple[float, _Rail, float]] = deque()
        self._now = 0.0           # latest time fed or advanced to
        self._pending_min = INF   # earliest time a tracker may still report
        self._next_deadline = INF
        self._trackers: list[ContactTracker] = []
        self._t_first: float | None = None
        self._t_last = 0.0
        self._finished = False

        # treads and steps
        self._treads = [_Tread(i) for i in range(1, n + 1)]
        for tread in self._treads:
            tread.tracker = self._tracker(settings.min_contact_s, settings.bridge_s,
                                          _EMPTY, _OCCUPY, tread)
        self._occupied: list[int] = []   # occupied treads, in the order of their steps
        self._empty_ref: int | None = 0  # reference level when nothing is occupied
        self._started = False
        self._last_step_tread: int | None = None
        self._last_step_dir: str | None = None
        self._step_serial = 0
        self.steps = 0
        self.steps_up = 0
        self.steps_down = 0
        self.ascents = 0
        self.descents = 0
        self._levels_up = 0              # risers climbed by up steps and ascents
        self.facing = {"forward": 0, "backward": 0, "unknown": 0}

        # rails
        self._rails: dict[str, _Rail] = {}
        for side in RAIL_SIDES:
            if side not in layout.rails:
                continue
            rail = _Rail(side, layout.rail_has(side, "touch"), layout.rail_has(side, "force"))
            rail.tracker = self._tracker(settings.rail_min_contact_s, settings.bridge_s,
                                         _RAIL_OFF, _RAIL_ON, rail)
            if rail.has_force:
                rail.grab = GrabDetector(th.grab_rise_n, settings.grab_window_s, settings.grab_floor_n)
            self._rails[side] = rail
        self._rail_list = list(self._rails.values())
        self._force_rails = [r for r in self._rail_list if r.has_force]

        # time integrals (on the ordered timeline)
        self._t_int = 0.0
        self._occupied_n = 0
        self.active_s = 0.0
        self._any_contact_s = 0.0
        self._any_firm_s = 0.0
        self._light_only_s = 0.0
        self.events: list[dict] = []     # grab, stall and fall_suspected, as the spec lists them

        self._handlers = self._build_handlers()
        self.channels = frozenset(self._handlers)

    # -- set-up ------------------------------------------------------------
    def _tracker(self, min_s: float, bridge_s: float, end_kind: int, start_kind: int,
                 subject: object) -> ContactTracker:
        tracker = ContactTracker(
            min_s, bridge_s,
            on_start=lambda t: self._push(t, start_kind, subject),
            on_end=lambda t: self._push(t, end_kind, subject))
        self._trackers.append(tracker)
        return tracker

    def _build_handlers(self) -> dict[str, Callable[[float, float], None]]:
        handlers: dict[str, Callable[[float, float], None]] = {}
        layout = self.layout
        for tread in self._treads:
            i = tread.index
            if layout.tread_sensor == "force":
                handlers[f"tread.{i}.force"] = self._make_force_tread(tread)
            elif layout.split:
                handlers[f"tread.{i}.front"] = self._make_half(tread, "front")
                handlers[f"tread.{i}.back"] = self._make_half(tread, "back")
            else:
                handlers[f"tread.{i}"] = self._make_switch(tread.tracker)
        for rail in self._rail_list:
            if rail.has_touch:
                handlers[f"rail.{rail.side}.touch"] = self._make_switch(rail.tracker)
            if rail.has_force:
                handlers[f"rail.{rail.side}.force"] = self._make_rail_force(rail)
        return handlers

    def _make_switch(self, tracker: ContactTracker) -> Callable[[float, float], None]:
        """A tread switch or a rail's touch pad: every raw change goes to its tracker."""
        def on_switch(t: float, v: float) -> None:
            tracker.edge(t, bool(v))
            self._refresh_pending()
        return on_switch

    def _make_half(self, tread: _Tread, half: str) -> Callable[[float, float], None]:
        tracker = tread.tracker
        attr = f"{half}_on"

        def on_half(t: float, v: float) -> None:
            on = bool(v)
            if getattr(tread, attr) == on:
                return
            setattr(tread, attr, on)
            if on:
                if tracker.phase == 0:  # IDLE: this half opens a new contact
                    tread.first_half = half
                    tread.t_first = t
                    tread.other_t = None
                elif half != tread.first_half and tread.other_t is None:
                    tread.other_t = t
            tracker.edge(t, tread.front_on or tread.back_on)
            self._refresh_pending()
        return on_half

    def _force_contact(self, tracker: ContactTracker, on_n: float, off_n: float) -> Callable[[float, float], None]:
        """Raw contact from a force: on when it reaches ``on_n``, off when it falls below ``off_n``."""
        on = False

        def on_force(t: float, v: float) -> None:
            nonlocal on
            if (v < off_n) if on else (v >= on_n):
                on = not on
                tracker.edge(t, on)
                self._refresh_pending()
        return on_force

    def _make_force_tread(self, tread: _Tread) -> Callable[[float, float], None]:
        return self._force_contact(tread.tracker, self.thresholds.tread_force_on_n,
                                   self.thresholds.tread_force_off_n)

    def _make_rail_force(self, rail: _Rail) -> Callable[[float, float], None]:
        grab = rail.grab
        contact = None if rail.has_touch else self._force_contact(
            rail.tracker, self.settings.rail_contact_on_n, self.settings.rail_contact_off_n)
        fifo = self._fifo

        def on_force(t: float, v: float) -> None:
            if grab.sample(t, v):
                self._event({"type": "grab", "t": t, "at": t, "rail": rail.side,
                             "force_n": round(v, 2), "rise_n": round(v - grab.base_n, 2)})
            if contact is not None:
                contact(t, v)
            # Always through the queue: a transition at this same time may still
            # come (from a later line with the same t), and at equal times it goes
            # first: a force holds from its sample on, a contact ends at its release.
            fifo.append((t, rail, v))
        return on_force

    # -- input -------------------------------------------------------------
    def feed(self, t: float, channel: str, value: float) -> None:
        """One sample. Raises KeyError for a channel the rig does not have.

        ``t`` must not go back; a sample earlier than the time already fed or
        advanced to is taken at that time."""
        handler = self._handlers[channel]
        if t < self._now:
            t = self._now
        if t >= self._next_deadline:
            self._expire(t)
        self._now = t
        if self._t_first is None:
            self._t_first = t
        self._t_last = t
        handler(t, value)
        if self._heap or self._fifo:
            self._release()

    def advance(self, now: float) -> None:
        """No sample earlier than ``now`` is still to come: decide what can be."""
        if now < self._now:
            return
        self._now = now
        if now >= self._next_deadline:
            self._expire(now)
        if self._heap or self._fifo:
            self._release()

    def next_deadline(self) -> float:
        """The earliest time at which ``advance`` could decide something new
        without a new sample (INF when nothing is waiting)."""
        nxt = self._next_deadline
        if self._heap and self._pending_min == INF:
            nxt = min(nxt, self._heap[0][0])
        return nxt

    def finish(self, t_end: float | None = None) -> None:
        """The stream is over: open contacts end at ``t_end`` (default: the
        last sample); events that would need later time are dropped."""
        if self._finished:
            return
        t_end = self._t_last if t_end is None else max(t_end, self._t_last)
        self._expire(t_end)
        for tracker in self._trackers:
            tracker.finish(t_end)
        self._pending_min = INF
        self._next_deadline = INF
        self._now = t_end
        self._release(final_t=t_end)
        self._integrate(t_end)
        self._flush_impulse(t_end)
        self._finished = True

    # -- timers and the ordered timeline ----------------------------------
    def _expire(self, now: float) -> None:
        for tracker in self._trackers:
            if tracker.deadline <= now:
                tracker.expire(now)
        self._refresh_pending()

    def _refresh_pending(self) -> None:
        pending = INF
        deadline = INF
        for tracker in self._trackers:
            p = tracker.pending_t
            if p < pending:
                pending = p
            d = tracker.deadline
            if d < deadline:
                deadline = d
        self._pending_min = pending
        self._next_deadline = deadline

    def _push(self, t: float, kind: int, subject: object) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, kind, self._seq, subject))

    def _release(self, final_t: float | None = None) -> None:
        """Apply timeline items and queued forces in time order, up to the watermark."""
        heap, fifo = self._heap, self._fifo
        if final_t is None:
            limit = min(self._now, self._pending_min)
            inclusive = False
        else:
            limit = final_t
            inclusive = True
        while heap or fifo:
            if heap and (not fifo or heap[0][0] <= fifo[0][0]):
                t = heap[0][0]
                if t > limit or (t == limit and not inclusive):
                    break
                _, kind, _, subject = heapq.heappop(heap)
                self._apply(t, kind, subject, final_t)
            else:
                t, rail, v = fifo[0]
                if t > limit or (t == limit and not inclusive):
                    break
                fifo.popleft()
                self._apply_force(t, rail, v)

    def _apply(self, t: float, kind: int, subject, final_t: float | None) -> None:
        if kind == _OCCUPY:
            self._on_occupy(t, subject)
        elif kind == _EMPTY:
            self._on_empty(t, subject)
        elif kind == _RAIL_ON or kind == _RAIL_OFF:
            self._on_rail(t, subject, kind == _RAIL_ON)
        elif kind == _STALL:
            if final_t is None or t <= final_t:
                self._on_stall(t, subject)
        elif kind == _FALL:
            t_empty, serial = subject
            if final_t is None or t <= final_t:
                self._on_fall_check(t, t_empty, serial)

    # -- integration -------------------------------------------------------
    def _integrate(self, t: float) -> None:
        """Add the time from the last change to ``t`` to the time figures."""
        dt = t - self._t_int
        self._t_int = t
        if dt <= 0 or not self._occupied_n:
            return
        self.active_s += dt
        any_contact = any_firm = False
        for rail in self._rail_list:
            if rail.contact:
                any_contact = True
                rail.contact_s += dt
                if rail.has_force:
                    if rail.firm:
                        rail.firm_s += dt
                        any_firm = True
                    else:
                        rail.light_s += dt
        if any_contact:
            self._any_contact_s += dt
            if any_firm:
                self._any_firm_s += dt
            else:
                self._light_only_s += dt

    def _flush_impulse(self, t: float) -> None:
        active = self._occupied_n > 0
        for rail in self._force_rails:
            if active and rail.contact:
                rail.impulse_ns += rail.force_n * (t - rail.t_impulse)
            rail.t_impulse = t

    def _counting_changed(self, t: float, change: Callable[[], None]) -> None:
        """Apply a change of active time or of a rail's contact at ``t``."""
        self._integrate(t)
        self._flush_impulse(t)
        change()
        if self._occupied_n:
            for rail in self._force_rails:
                if rail.contact and (rail.peak_force_n is None or rail.force_n > rail.peak_force_n):
                    rail.peak_force_n = rail.force_n

    def _apply_force(self, t: float, rail: _Rail, v: float) -> None:
        counting = rail.contact and self._occupied_n
        if counting:
            rail.impulse_ns += rail.force_n * (t - rail.t_impulse)
            if rail.peak_force_n is None or v > rail.peak_force_n:
                rail.peak_force_n = v
        rail.t_impulse = t
        rail.force_n = v
        s = self.settings
        # hysteresis: firm above firm_on_n, light again below firm_off_n
        if (v < s.firm_off_n) if rail.firm else (v > s.firm_on_n):
            self._integrate(t)
            rail.firm = not rail.firm
            self._update_grip(t, rail)

    # -- treads, steps and flights -------------------------------------------
    def _on_occupy(self, t: float, tread: _Tread) -> None:
        i = tread.index
        n = self._n
        if self._occupied:
            ref: int | None = self._occupied[-1]
        elif not self._started:
            ref = n + 1 if (i == n and n > 1 and not self._stepper) else 0
        else:
            ref = self._empty_ref
        self._started = True
        self._counting_changed(t, lambda: self._occupy(i))

        if self._stepper:
            direction: str | None = "up"
            self._levels_up += 1
        elif ref is None:
            direction = None
        elif i > ref:
            direction = "up"
            self._levels_up += i - ref
        else:
            direction = "down"
        self.steps += 1
        if direction == "up":
            self.steps_up += 1
        elif direction == "down":
            self.steps_down += 1
        facing = self._facing(tread, direction)
        self.facing[facing] += 1
        self._last_step_tread = i
        self._last_step_dir = direction
        self._step_serial += 1
        self._push(t + self.settings.stall_s, _STALL, self._step_serial)
        self.on_event({"type": "step", "t": t, "at": self._now, "tread": i,
                       "direction": direction, "facing": facing, "steps": self.steps})

    def _occupy(self, i: int) -> None:
        self._occupied.append(i)
        self._occupied_n += 1

    def _facing(self, tread: _Tread, direction: str | None) -> str:
        if not self._split or direction is None or tread.first_half is None:
            return "unknown"
        other = tread.other_t
        if other is not None and other - tread.t_first <= self.settings.facing_simultaneity_s:
            return "unknown"
        front_first = tread.first_half == "front"
        if direction == "up":
            return "backward" if front_first else "forward"
        return "forward" if front_first else "backward"

    def _on_empty(self, t: float, tread: _Tread) -> None:
        i = tread.index
        self._counting_changed(t, lambda: self._vacate(i))
        if self._occupied_n:
            self.on_event({"type": "vacated", "t": t, "at": self._now, "tread": i, "occupied": self._occupied_n})
            return
        self._on_all_empty(t, i)
        self.on_event({"type": "vacated", "t": t, "at": self._now, "tread": i, "occupied": 0})

    def _on_all_empty(self, t: float, i: int) -> None:
        n = self._n
        if n == 1 or i == 1:
            self._empty_ref = 0
        elif i == n:
            self._empty_ref = n + 1
        else:
            self._empty_ref = None
        if self._stepper or n < 2:
            return
        if i == n and self._last_step_dir == "up":
            self.ascents += 1
            self._levels_up += 1
            self.on_event({"type": "ascent", "t": t, "at": self._now, "ascents": self.ascents})
        elif i == 1 and self._last_step_dir == "down":
            self.descents += 1
            self.on_event({"type": "descent", "t": t, "at": self._now, "descents": self.descents})
        last = self._last_step_tread
        if last is not None and 1 < last < n:
            self._push(t + self.settings.fall_wait_s, _FALL, (t, self._step_serial))

    def _vacate(self, i: int) -> None:
        self._occupied.remove(i)
        self._occupied_n -= 1

    def _on_stall(self, t: float, serial: int) -> None:
        if serial != self._step_serial or not self._occupied_n:
            return
        self._event({"type": "stall", "t": t, "at": self._now,
                     "tread": self._last_step_tread, "stall_s": self.settings.stall_s})

    def _on_fall_check(self, t: float, t_empty: float, serial: int) -> None:
        if serial != self._step_serial:
            return  # somebody stepped back on within the fall wait
        self._event({"type": "fall_suspected", "t": t_empty, "at": self._now,
                     "tread": self._last_step_tread})

    # -- rails ---------------------------------------------------------------
    def _on_rail(self, t: float, rail: _Rail, on: bool) -> None:
        def change() -> None:
            rail.contact = on
        self._counting_changed(t, change)
        self._update_grip(t, rail)

    def _update_grip(self, t: float, rail: _Rail) -> None:
        grip = self._grip_of(rail)
        if grip != rail.grip:
            rail.grip = grip
            self.on_event({"type": "grip", "t": t, "at": self._now, "rail": rail.side,
                           "grip": grip, "force_n": round(rail.force_n, 2) if rail.has_force else None})

    @staticmethod
    def _grip_of(rail: _Rail) -> str:
        if not rail.contact:
            return "none"
        if not rail.has_force:
            return "touch"
        return "firm" if rail.firm else "light"

    def _event(self, event: dict) -> None:
        self.events.append(dict(event))  # a copy: what outputs do with theirs stays theirs
        self.on_event(event)

    # -- reading the state ----------------------------------------------------
    @property
    def rails(self) -> dict[str, _Rail]:
        """The rails with their running figures (read-only use)."""
        return self._rails

    def reliance_seconds(self) -> dict:
        """Active seconds so far with some rail in contact (``contact_s``), some rail
        firm (``firm_s``), and some rail in contact but none firm (``light_s``)."""
        return {"contact_s": self._any_contact_s, "light_s": self._light_only_s, "firm_s": self._any_firm_s}

    @property
    def occupied(self) -> int:
        """How many treads are occupied, on the ordered timeline."""
        return self._occupied_n

    def summary(self) -> dict:
        """The spec's replay summary of everything decided so far."""
        s = self
        active = s.active_s
        events = sorted(s.events, key=lambda e: e["t"])
        rails = {}
        for side, rail in s._rails.items():
            rails[side] = {
                "contact_s": round(rail.contact_s, 4),
                "light_s": round(rail.light_s, 4) if rail.has_force else None,
                "firm_s": round(rail.firm_s, 4) if rail.has_force else None,
                "peak_force_n": (round(rail.peak_force_n, 3) if rail.peak_force_n is not None else 0.0)
                if rail.has_force else None,
                "impulse_ns": round(rail.impulse_ns, 3) if rail.has_force else None,
            }
        has_force = bool(s._force_rails)
        if active > 0:
            reliance = {
                "contact_fraction": round(s._any_contact_s / active, 4),
                "firm_fraction": round(s._any_firm_s / active, 4) if has_force else None,
                "light_fraction": round(s._light_only_s / active, 4) if has_force else None,
            }
        else:
            reliance = {"contact_fraction": None, "firm_fraction": None, "light_fraction": None}
        duration = (s._t_last - s._t_first) if s._t_first is not None else 0.0
        return {
            "steps": s.steps,
            "steps_up": s.steps_up,
            "steps_down": s.steps_down,
            "ascents": s.ascents,
            "descents": s.descents,
            "elevation_gain_m": round(s._levels_up * s.layout.riser_m, 4),
            "active_s": round(active, 4),
            "duration_s": round(duration, 6),
            "cadence_spm": round(s.steps / active * 60.0, 2) if active > 0 else None,
            "facing": dict(s.facing),
            "rails": rails,
            "reliance": reliance,
            "events": [{k: v for k, v in e.items() if k != "at"} for e in events],
        }
