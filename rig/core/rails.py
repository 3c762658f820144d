"""Handrail figures and active time, on the ordered timeline.

Each rail is in contact or not (its debounced touch pad, or its force), firm
or light (force hysteresis), and holds its last force between samples.
Over active time (at least one tread occupied) this integrates each rail's
contact, light and firm seconds, its impulse and peak force, and the shares
of active time with some rail in contact, some firm, some in contact and
none firm. Everything here is applied in time order (see ``timeline.py``)
and emits ``grip`` events when a rail's grip changes.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from rig.core.contact import ContactTracker
from rig.core.grab import GrabDetector

EventSink = Callable[[dict], None]


class Rail:
    """One instrumented rail: its sensors, its state on the ordered timeline and its figures."""

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

    def grip_now(self) -> str:
        if not self.contact:
            return "none"
        if not self.has_force:
            return "touch"
        return "firm" if self.firm else "light"


class RailFigures:
    """The rails and the time figures: active time and the reliance shares.

    ``occupied_n`` is the number of occupied treads (the step rules change it
    through :meth:`occupancy_changed`); time is active while it is above 0.
    """

    def __init__(self, rails: list[Rail], firm_on_n: float, firm_off_n: float, emit: EventSink):
        self.rails = rails
        self.force_rails = [r for r in rails if r.has_force]
        self.firm_on_n = firm_on_n
        self.firm_off_n = firm_off_n
        self.emit = emit
        self.occupied_n = 0
        self.t_int = 0.0
        self.active_s = 0.0
        self.any_contact_s = 0.0
        self.any_firm_s = 0.0
        self.light_only_s = 0.0

    # -- integration ---------------------------------------------------------
    def integrate(self, t: float) -> None:
        """Add the time from the last change to ``t`` to the time figures."""
        dt = t - self.t_int
        self.t_int = t
        if dt <= 0 or not self.occupied_n:
            return
        self.active_s += dt
        any_contact = any_firm = False
        for rail in self.rails:
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
            self.any_contact_s += dt
            if any_firm:
                self.any_firm_s += dt
            else:
                self.light_only_s += dt

    def flush_impulse(self, t: float) -> None:
        active = self.occupied_n > 0
        for rail in self.force_rails:
            if active and rail.contact:
                rail.impulse_ns += rail.force_n * (t - rail.t_impulse)
            rail.t_impulse = t

    def _before_counting_change(self, t: float) -> None:
        self.integrate(t)
        self.flush_impulse(t)

    def _after_counting_change(self) -> None:
        if self.occupied_n:
            for rail in self.force_rails:
                if rail.contact and (rail.peak_force_n is None or rail.force_n > rail.peak_force_n):
                    rail.peak_force_n = rail.force_n

    # -- changes on the ordered timeline ---------------------------------------
    def occupancy_changed(self, t: float, delta: int) -> None:
        """``delta`` treads became occupied (1) or empty (-1) at ``t``."""
        self._before_counting_change(t)
        self.occupied_n += delta
        self._after_counting_change()

    def contact_changed(self, t: float, rail: Rail, on: bool, at: float) -> None:
        """A rail's debounced contact began (``on``) or ended at ``t``."""
        self._before_counting_change(t)
        rail.contact = on
        self._after_counting_change()
        self.update_grip(t, rail, at)

    def apply_forces(self, forces: deque, before: float, at: float) -> None:
        """Apply the queued force samples ``(t, rail, force_n)`` earlier than
        ``before``, in order. ``Detector.feed_many`` inlines this loop's body
        for speed: keep the two the same."""
        firm_on_n = self.firm_on_n
        firm_off_n = self.firm_off_n
        while forces and forces[0][0] < before:
            t, rail, v = forces.popleft()
            if rail.contact and self.occupied_n:
                rail.impulse_ns += rail.force_n * (t - rail.t_impulse)
                peak = rail.peak_force_n
                if peak is None or v > peak:
                    rail.peak_force_n = v
            rail.t_impulse = t
            rail.force_n = v
            if (v < firm_off_n) if rail.firm else (v > firm_on_n):
                self.firm_changed(t, rail, at)

    def firm_changed(self, t: float, rail: Rail, at: float) -> None:
        """The force (already applied) crossed the firm threshold (hysteresis): firm <-> light."""
        self.integrate(t)
        rail.firm = not rail.firm
        self.update_grip(t, rail, at)

    def update_grip(self, t: float, rail: Rail, at: float) -> None:
        grip = rail.grip_now()
        if grip != rail.grip:
            rail.grip = grip
            self.emit({"type": "grip", "t": t, "at": at, "rail": rail.side,
                       "grip": grip, "force_n": round(rail.force_n, 2) if rail.has_force else None})

    def finish(self, t_end: float) -> None:
        self.integrate(t_end)
        self.flush_impulse(t_end)

    # -- reading -------------------------------------------------------------
    def reliance_seconds(self) -> dict:
        """Active seconds so far with some rail in contact (``contact_s``), some rail
        firm (``firm_s``), and some rail in contact but none firm (``light_s``)."""
        return {"contact_s": self.any_contact_s, "light_s": self.light_only_s, "firm_s": self.any_firm_s}
