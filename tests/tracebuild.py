"""Hand-built sample sequences for the detection core, and ways to run them.

A sequence is a list of ``(t, channel, value)`` samples, exactly what a trace
file holds after its header. The builders below return small lists that
``trace(...)`` merges into one time-ordered sequence (stable: at equal times
the order in which the parts were given is kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rig.core.detector import Detector
from rig.layout import RigLayout
from rig.settings import DetectionSettings

Sample = tuple[float, str, float]


# -- rigs ------------------------------------------------------------------
def flight(n: int = 3, *, split: bool = False, sensor: str = "switch",
           rails: dict[str, tuple[str, ...]] | None = None, riser_m: float = 0.17) -> RigLayout:
    return RigLayout(kind="flight", treads=n, riser_m=riser_m, tread_sensor=sensor,
                     split=split, rails=dict(rails or {}))


def stepper(riser_m: float = 0.2) -> RigLayout:
    return RigLayout(kind="stepper", treads=2, riser_m=riser_m)


# -- switch and touch channels ------------------------------------------------
def contact(ch: str, t_on: float, t_off: float | None = None) -> list[Sample]:
    """The switch closes at ``t_on`` and opens at ``t_off`` (None: stays closed)."""
    out: list[Sample] = [(t_on, ch, 1)]
    if t_off is not None:
        out.append((t_off, ch, 0))
    return out


def bounce(ch: str, t_on: float, t_off: float | None, gaps: list[tuple[float, float]]) -> list[Sample]:
    """A contact from ``t_on`` to ``t_off`` whose switch drops out for each
    ``(start, length)`` gap."""
    out: list[Sample] = [(t_on, ch, 1)]
    for start, length in gaps:
        out += [(start, ch, 0), (start + length, ch, 1)]
    if t_off is not None:
        out.append((t_off, ch, 0))
    return out


def tread(i: int, t_on: float, t_off: float | None = None) -> list[Sample]:
    return contact(f"tread.{i}", t_on, t_off)


def split_step(i: int, t_on: float, t_off: float, first: str = "back", lag: float = 0.1) -> list[Sample]:
    """A foot on split tread ``i``: the ``first`` half closes at ``t_on``, the
    other ``lag`` later; both open at ``t_off`` (the first one 1 ms earlier)."""
    other = "front" if first == "back" else "back"
    return [(t_on, f"tread.{i}.{first}", 1), (t_on + lag, f"tread.{i}.{other}", 1),
            (t_off - 0.001, f"tread.{i}.{first}", 0), (t_off, f"tread.{i}.{other}", 0)]


def idle(ch: str, t: float) -> list[Sample]:
    """A sample that changes nothing (the channel is already 0): it only
    moves the end of the trace to ``t``."""
    return [(t, ch, 0)]


# -- force channels ---------------------------------------------------------------
def points(ch: str, *tv: tuple[float, float]) -> list[Sample]:
    """Force samples at the given ``(t, newtons)``; the force holds in between."""
    return [(t, ch, v) for t, v in tv]


def hold(ch: str, t0: float, t1: float, value: float, rate: float = 100.0) -> list[Sample]:
    """The same force sampled at ``rate`` from ``t0`` up to (not including) ``t1``."""
    n = max(1, round((t1 - t0) * rate))
    return [(t0 + k / rate, ch, value) for k in range(n)]


def ramp(ch: str, t0: float, t1: float, f0: float, f1: float, rate: float = 100.0) -> list[Sample]:
    """A force going linearly from ``f0`` at ``t0`` to ``f1`` at ``t1`` (both included)."""
    n = round((t1 - t0) * rate)
    return [(t0 + k / rate, ch, f0 + (f1 - f0) * k / n) for k in range(n + 1)]


def trace(*parts: list[Sample]) -> list[Sample]:
    samples = [s for part in parts for s in part]
    return sorted(samples, key=lambda s: s[0])


# -- running ----------------------------------------------------------------------------
@dataclass
class Run:
    detector: Detector
    summary: dict
    emitted: list[dict] = field(default_factory=list)   # everything on_event saw

    def events(self, kind: str) -> list[dict]:
        """Summary events of one type."""
        return [e for e in self.summary["events"] if e["type"] == kind]

    def times(self, kind: str) -> list[float]:
        return [e["t"] for e in self.events(kind)]

    def emitted_of(self, kind: str) -> list[dict]:
        return [e for e in self.emitted if e["type"] == kind]


def replay(layout: RigLayout, samples: list[Sample], settings: DetectionSettings | None = None,
           weight_kg: float = 70.0) -> Run:
    """Feed every sample, then finish: a one-shot replay."""
    emitted: list[dict] = []
    det = Detector(layout, settings or DetectionSettings(), weight_kg=weight_kg, on_event=emitted.append)
    for t, ch, v in samples:
        det.feed(t, ch, v)
    det.finish()
    return Run(det, det.summary(), emitted)


def live(layout: RigLayout, samples: list[Sample], settings: DetectionSettings | None = None,
         weight_kg: float = 70.0, tick: float = 0.007) -> Run:
    """Feed the samples as a live rig would: ``advance`` every ``tick``
    seconds of silence between samples, then finish."""
    emitted: list[dict] = []
    det = Detector(layout, settings or DetectionSettings(), weight_kg=weight_kg, on_event=emitted.append)
    now = None
    for t, ch, v in samples:
        if now is not None:
            x = now + tick
            while x < t:
                det.advance(x)
                x += tick
        det.feed(t, ch, v)
        now = t
    det.finish()
    return Run(det, det.summary(), emitted)
