"""Detection settings: every number in the trace spec's table of defaults.

Each field is a setting of the ``[detection]`` table of the configuration
file, with the spec's default. Thresholds that scale with body weight are
resolved for one athlete by :meth:`DetectionSettings.resolve`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

G_M_S2 = 9.80665
DEFAULT_WEIGHT_KG = 70.0


@dataclass(frozen=True)
class DetectionSettings:
    # Tread contacts (switch or force)
    min_contact_s: float = 0.100
    """A merged contact counts only if it lasts at least this long."""
    bridge_s: float = 0.060
    """A release shorter than this does not end a contact."""
    tread_force_on_min_n: float = 20.0
    """Force treads: the on threshold is at least this many newtons..."""
    tread_force_on_bw: float = 0.05
    """...or this fraction of body weight, whichever is larger."""
    tread_force_off_ratio: float = 0.5
    """Force treads: the off threshold as a fraction of the on threshold."""
    # Rails
    rail_contact_on_n: float = 0.25
    """Force-only rails are in contact from this force (N)..."""
    rail_contact_off_n: float = 0.15
    """...until the force falls below this (N)."""
    rail_min_contact_s: float = 0.050
    """Rail contacts shorter than this are ignored."""
    firm_on_n: float = 1.0
    """A rail in contact is firm above this force (N)..."""
    firm_off_n: float = 0.8
    """...and light again below this (N)."""
    grab_rise_min_n: float = 50.0
    """A grab is a rise of at least this many newtons..."""
    grab_rise_bw: float = 0.10
    """...or this fraction of body weight, whichever is larger..."""
    grab_window_s: float = 0.250
    """...within this time..."""
    grab_floor_n: float = 8.0
    """...from a force below this floor (N); the rail re-arms below it."""
    # Events
    stall_s: float = 3.0
    """A tread occupied with no new step for this long is a stall."""
    fall_wait_s: float = 1.0
    """Treads empty from a middle tread and nobody back within this: a suspected fall."""
    facing_simultaneity_s: float = 0.015
    """Both tread halves closing within this of each other: facing unknown."""

    def resolve(self, weight_kg: float = DEFAULT_WEIGHT_KG) -> "Thresholds":
        weight_n = weight_kg * G_M_S2
        tread_on = max(self.tread_force_on_min_n, self.tread_force_on_bw * weight_n)
        return Thresholds(
            settings=self,
            weight_kg=weight_kg,
            tread_force_on_n=tread_on,
            tread_force_off_n=tread_on * self.tread_force_off_ratio,
            grab_rise_n=max(self.grab_rise_min_n, self.grab_rise_bw * weight_n),
        )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class Thresholds:
    """Detection settings resolved for one athlete's body weight."""

    settings: DetectionSettings
    weight_kg: float
    tread_force_on_n: float
    tread_force_off_n: float
    grab_rise_n: float
