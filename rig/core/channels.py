"""From raw samples to contact edges and queued forces: one handler per channel.

A tread's raw signal is its switch, both halves of a split tread combined
("either half on"), or its force with hysteresis; a rail's is its touch pad,
or without one its force. Raw changes go to the contact trackers (whose
confirmed transitions go onto the timeline); rail forces go to the grab
detector at once (a grab's time is its sample) and onto the timeline's force
queue, to be applied in time order.

``build_handlers`` returns ``{channel: handler(t, value)}``; the detector
calls the handler after expiring the trackers' timers up to ``t``.
"""

from __future__ import annotations

from typing import Callable

from rig.core.contact import IDLE, ContactTracker
from rig.core.rails import Rail
from rig.core.steps import Tread
from rig.core.timeline import Timeline
from rig.layout import RigLayout
from rig.settings import Thresholds

Handler = Callable[[float, float], None]
EventSink = Callable[[dict], None]


def build_handlers(layout: RigLayout, treads: list[Tread], rails: list[Rail], thresholds: Thresholds,
                   timeline: Timeline, record: EventSink) -> dict[str, Handler]:
    settings = thresholds.settings
    refresh = timeline.refresh
    handlers: dict[str, Handler] = {}
    for tread in treads:
        i = tread.index
        if layout.tread_sensor == "force":
            handlers[f"tread.{i}.force"] = force_contact(tread.tracker, thresholds.tread_force_on_n,
                                                         thresholds.tread_force_off_n, refresh)
        elif layout.split:
            handlers[f"tread.{i}.front"] = split_half(tread, "front", refresh)
            handlers[f"tread.{i}.back"] = split_half(tread, "back", refresh)
        else:
            handlers[f"tread.{i}"] = switch(tread.tracker, refresh)
    for rail in rails:
        if rail.has_touch:
            handlers[f"rail.{rail.side}.touch"] = switch(rail.tracker, refresh)
        if rail.has_force:
            contact = None if rail.has_touch else force_contact(
                rail.tracker, settings.rail_contact_on_n, settings.rail_contact_off_n, refresh)
            handlers[f"rail.{rail.side}.force"] = rail_force(rail, contact, timeline, record)
    return handlers


def switch(tracker: ContactTracker, refresh: Callable[[], None]) -> Handler:
    """A tread switch or a rail's touch pad: every raw change goes to its tracker."""
    def on_switch(t: float, v: float) -> None:
        if tracker.edge(t, bool(v)):
            refresh()
    return on_switch


def split_half(tread: Tread, half: str, refresh: Callable[[], None]) -> Handler:
    """One half of a split tread; the tread is on while either half is. The
    half that opens a contact, and when the other half first joins, give the
    step its facing."""
    tracker = tread.tracker
    front = half == "front"
    halves = tread.halves

    def on_half(t: float, v: float) -> None:
        on = bool(v)
        if front:
            if tread.front_on == on:
                return
            tread.front_on = on
        else:
            if tread.back_on == on:
                return
            tread.back_on = on
        if halves is not None:
            halves.edge(front, t, on)
        if on:
            if tracker.phase == IDLE:  # this half opens a new contact
                tread.first_half = half
                tread.t_first = t
                tread.other_t = None
            elif half != tread.first_half and tread.other_t is None:
                tread.other_t = t
        if tracker.edge(t, tread.front_on or tread.back_on):
            refresh()
    return on_half


def force_contact(tracker: ContactTracker, on_n: float, off_n: float, refresh: Callable[[], None]) -> Handler:
    """Raw contact from a force: on when it reaches ``on_n``, off when it falls below ``off_n``."""
    on = False

    def on_force(t: float, v: float) -> None:
        nonlocal on
        if (v < off_n) if on else (v >= on_n):
            on = not on
            if tracker.edge(t, on):
                refresh()
    return on_force


def rail_force(rail: Rail, contact: Handler | None, timeline: Timeline, record: EventSink) -> Handler:
    """A rail's force: grabs at once, the raw contact of a rail without a touch
    pad, and the force itself onto the queue."""
    grab = rail.grab
    forces = timeline.forces

    def on_force(t: float, v: float) -> None:
        if grab.sample(t, v):
            record(grab_event(rail, grab.base_n, t, v))
        if contact is not None:
            contact(t, v)
        # Always through the queue: a transition at this same time may still
        # come (from a later line with the same t), and at equal times it goes
        # first: a force holds from its sample on, a contact ends at its release.
        forces.append((t, rail, v))
    return on_force


def grab_event(rail: Rail, base_n: float, t: float, v: float) -> dict:
    return {"type": "grab", "t": t, "at": t, "rail": rail.side,
            "force_n": round(v, 2), "rise_n": round(v - base_n, 2)}
