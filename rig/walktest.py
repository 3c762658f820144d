"""The guided walk test: every channel checked at its own prompt, wiring faults named.

Pure (no I/O, no clock: time is an argument), like the detection core. The
tester follows one prompt at a time: each tread in turn from the bottom
(each half of a split tread on its own, so that a front and a back swapped
within a tread show), then the left rail, then the right rail. Every raw
sample goes to ``feed``; ``advance`` tells it the time when none comes.

A step is done when what fired during it has been released for
``settle_s`` (the expected channels normally; a wrong one counts too, so
that the walk goes on and can name it), or on ``skip()`` (a dead channel:
nothing fires). Each channel then gets a verdict:

- ``ok``: it switched on at its own prompt;
- ``swapped``: two channels each fired at the other's prompt;
- ``miswired``: it fired at another channel's prompt (named, with that place);
- ``dead``: its prompt passed and it never switched on (or it was on the whole time);
- ``untested``: its prompt has not come yet.

What the tester's own body does is not held against the rig: hands on the
rails while the treads are checked, a foot on a tread already checked (the
one they stand on) while a later one is. The price: a channel already
found ``ok`` that also fires later is not reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.layout import RAIL_SIDES, RigLayout
from rig.settings import DEFAULT_WEIGHT_KG, DetectionSettings

VERDICTS = ("ok", "dead", "swapped", "miswired", "untested")
SETTLE_S = 0.25
"""Everything that fired must stay released this long before the next prompt (mats bounce)."""


@dataclass(frozen=True)
class WalkStep:
    prompt: str
    """What to do, for people."""
    expect: tuple[str, ...]
    """The channels that must switch on."""
    place: str
    """The place, after "for": "tread 2", "the front half of tread 2", "the left rail"."""
    doing: str
    """After "while you were": "on tread 2", "touching the left rail"."""
    group: str
    """"treads" or "rails"."""


def _tread_name(layout: RigLayout, i: int) -> str:
    if layout.kind == "stepper":
        return f"pedal {i} ({'left' if i == 1 else 'right'})"
    return f"tread {i}"


def walk_steps(layout: RigLayout) -> list[WalkStep]:
    """The prompts of a walk test for this rig, in order."""
    steps: list[WalkStep] = []
    n = layout.treads
    for i in range(1, n + 1):
        name = _tread_name(layout, i)
        if layout.kind == "stepper":
            steps.append(WalkStep(f"Push {name} all the way down with one foot, then let it come back up.",
                                  layout.tread_channels(i), name, f"pushing {name}", "treads"))
            continue
        which = " (the bottom one)" if i == 1 and n > 1 else " (the top one)" if i == n and n > 1 else ""
        below = "" if i == 1 else " Stand on the floor or the tread below, holding the rails."
        if layout.split:
            front, back = layout.tread_channels(i)
            steps.append(WalkStep(f"Press the front half of {name}{which}, at the nosing, with the ball of "
                                  f"one foot, then lift it.{below}", (front,), f"the front half of {name}",
                                  f"pressing the front half of {name}", "treads"))
            steps.append(WalkStep(f"Now press the back half of {name}, against the riser, with your heel, "
                                  f"then lift it.", (back,), f"the back half of {name}",
                                  f"pressing the back half of {name}", "treads"))
        else:
            steps.append(WalkStep(f"Put one foot on {name}{which}, then take it off again.{below}",
                                  layout.tread_channels(i), name, f"on {name}", "treads"))
    first_rail = True
    for side in RAIL_SIDES:
        if side not in layout.rails:
            continue
        verb = "touch" if layout.rails[side] == ("touch",) else "press down on"
        if first_rail:
            prompt = f"Back on the floor, hands off both rails: {verb} the {side} rail with one hand, then let go."
        else:
            prompt = f"Now the {side} rail: {verb} it with one hand, then let go."
        first_rail = False
        steps.append(WalkStep(prompt, layout.rail_channels(side), f"the {side} rail",
                              f"touching the {side} rail", "rails"))
    return steps


def _hint(channel: str) -> str:
    if channel.endswith(".force"):
        return ("check the amplifier's power and its wire to the MCP3008, and tare the channel "
                "(a zero set too high hides small forces)")
    if channel.endswith(".touch"):
        return "check the touch pad's 3.3 V and its output wire, and the pin number in the configuration"
    return ("check its wire and connector, that the mat closes, and the pin number in the configuration "
            "(the BCM number, not the header pin)")


class WalkTest:
    """One walk test; see the module docstring. ``initial`` gives the channels' values at the start."""

    def __init__(self, layout: RigLayout, settings: DetectionSettings | None = None, *,
                 weight_kg: float = DEFAULT_WEIGHT_KG, initial: dict[str, float | None] | None = None,
                 settle_s: float = SETTLE_S, hx711_channels: frozenset[str] = frozenset()):
        self.layout = layout
        self._hx711 = hx711_channels     # force channels on their own HX711: a swap is fixed in its pins
        self.steps = walk_steps(layout)
        self.settle_s = settle_s
        self._home = {ch: i for i, step in enumerate(self.steps) for ch in step.expect}
        resolved = (settings or DetectionSettings()).resolve(weight_kg)
        s = resolved.settings
        self._thresholds: dict[str, tuple[float, float]] = {}
        for ch in layout.channels():
            if ch.startswith("tread.") and ch.endswith(".force"):
                self._thresholds[ch] = (resolved.tread_force_on_n, resolved.tread_force_off_n)
            elif ch.endswith(".force"):
                self._thresholds[ch] = (s.rail_contact_on_n, s.rail_contact_off_n)
        self._on = {ch: False for ch in layout.channels()}
        for ch, value in (initial or {}).items():
            if ch in self._on and value is not None:
                self._on[ch] = self._is_on(ch, value, False)
        self.index = 0
        self.cancelled = False
        self._fired: dict[str, list[int]] = {ch: [] for ch in self._on}   # steps it fired at, counted
        self._step_fired: list[str] = []         # channels counted in the current step, in order
        self._released_at: float | None = None   # since when all of them are off
        self._on_at_start = {ch for ch, on in self._on.items() if on}
        self._changed: set[str] = set()          # channels that switched during the current step
        self._stuck: set[str] = set()            # on for the whole of their own step

    # -- input -------------------------------------------------------------------
    def _is_on(self, channel: str, value: float, was_on: bool) -> bool:
        limits = self._thresholds.get(channel)
        if limits is None:
            return bool(value)
        on_n, off_n = limits
        return value >= off_n if was_on else value >= on_n

    @property
    def done(self) -> bool:
        return self.index >= len(self.steps)

    def feed(self, t: float, channel: str, value: float) -> None:
        """A raw sample (0/1, or newtons for a force channel) at time ``t`` (seconds)."""
        if self.done or self.cancelled or channel not in self._on:
            return
        was = self._on[channel]
        now = self._is_on(channel, value, was)
        if now != was:
            self._on[channel] = now
            self._changed.add(channel)
            if now:
                self._fire(channel)
        self._check_released(t)
        self.advance(t)

    def advance(self, t: float) -> None:
        """Time passes: the next prompt once what fired has stayed released ``settle_s``."""
        if self.done or self.cancelled:
            return
        self._check_released(t)
        if self._released_at is not None and t - self._released_at >= self.settle_s:
            self._next()

    def skip(self) -> None:
        """Give up on the current prompt (a channel that never fires): on to the next."""
        if not self.done and not self.cancelled:
            self._next()

    def cancel(self) -> None:
        self.cancelled = True

    def _tolerated(self, channel: str, step: int) -> bool:
        """A firing that the tester's own body explains (see the module docstring)."""
        home = self._home[channel]
        if self.steps[home].group == "rails" and self.steps[step].group == "treads":
            return True     # hands on the rails while the treads are checked
        return home < step and home in self._fired[channel]   # checked already: they stand on it

    def _fire(self, channel: str) -> None:
        step = self.index
        if self._tolerated(channel, step):
            return
        if step not in self._fired[channel]:
            self._fired[channel].append(step)
        if channel not in self._step_fired:
            self._step_fired.append(channel)

    def _check_released(self, t: float) -> None:
        if self._step_fired and not any(self._on[ch] for ch in self._step_fired):
            if self._released_at is None:
                self._released_at = t
        else:
            self._released_at = None

    def _next(self) -> None:
        for ch in self.steps[self.index].expect:
            if self.index not in self._fired[ch] and ch in self._on_at_start and ch not in self._changed:
                self._stuck.add(ch)
        self.index += 1
        self._step_fired = []
        self._released_at = None
        self._on_at_start = {ch for ch, on in self._on.items() if on}
        self._changed = set()

    # -- output ------------------------------------------------------------------
    def _swap_partner(self, channel: str) -> str | None:
        home = self._home[channel]
        for step in self._fired[channel]:
            if step == home:
                continue
            for other in self.steps[step].expect:
                if other != channel and home in self._fired[other]:
                    return other
        return None

    def _result(self, channel: str) -> dict:
        home = self._home[channel]
        own = self.steps[home]
        fired = self._fired[channel]
        partner = self._swap_partner(channel)
        if partner is not None:
            a, b = sorted((channel, partner), key=self._home.get)
            fix = ("hx711 dout and sck pins" if channel in self._hx711 else
                   "adc_channel numbers" if channel.endswith(".force") else "pins")
            return {"verdict": "swapped",
                    "detail": f"{a} and {b} are swapped: {a} switched on for {self.steps[self._home[b]].place} "
                              f"and {b} for {self.steps[self._home[a]].place}. Swap their wires, or their "
                              f"{fix} in the configuration."}
        foreign = [s for s in fired if s != home]
        if foreign:
            step = self.steps[foreign[0]]
            expected = " and ".join(step.expect)
            detail = f"{channel} switched on while you were {step.doing}, where {expected} should have"
            if home in fired:
                detail += (f"; it also switched on for {own.place}: two inputs are crossed, or its mat reaches "
                           f"under another tread.")
            elif home < self.index:
                detail += (f", and never for {own.place}: its wire goes to the wrong place, or the configuration "
                           f"gives it the wrong pin.")
            else:
                detail += ": its wire goes to the wrong place, or the configuration gives it the wrong pin."
            return {"verdict": "miswired", "detail": detail}
        if home in fired:
            return {"verdict": "ok", "detail": f"{channel} switched on for {own.place}, as it should."}
        if home < self.index:
            if channel in self._stuck and channel in self._thresholds:
                return {"verdict": "dead",
                        "detail": f"{channel} was above {self._thresholds[channel][0]:g} N the whole time and "
                                  f"never switched: tare it with nothing on it (its zero is off), or check that "
                                  f"nothing rests on the sensor."}
            if channel in self._stuck:
                return {"verdict": "dead",
                        "detail": f"{channel} was on the whole time and never switched: it is stuck on (a mat "
                                  f"pressed by its cover, a short, or a touch pad that started with a hand on "
                                  f"it); {_hint(channel)}."}
            limits = self._thresholds.get(channel)
            above = f" (never above {limits[0]:g} N)" if limits else ""
            return {"verdict": "dead",
                    "detail": f"{channel} never switched on{above} while you were {own.doing}: {_hint(channel)}."}
        if home == self.index and not self.cancelled:
            return {"verdict": "untested", "detail": f"waiting for {channel} now."}
        why = "the walk test was cancelled before its turn" if self.cancelled else "its turn has not come yet"
        return {"verdict": "untested", "detail": f"{channel} is not checked: {why}."}

    def results(self) -> dict[str, dict]:
        return {ch: self._result(ch) for ch in self.layout.channels()}

    def state(self) -> dict:
        """Where the walk is and what it found (a new dict: safe to hand to another thread)."""
        results = self.results()
        total = len(self.steps)
        if self.done:
            bad = [ch for ch, r in results.items() if r["verdict"] != "ok"]
            prompt = ("The walk test is done: every channel works." if not bad else
                      f"The walk test is done: {len(results) - len(bad)} of {len(results)} channels work; "
                      f"check {', '.join(bad)}.")
            expect: list[str] = []
        elif self.cancelled:
            prompt, expect = "The walk test was cancelled.", []
        else:
            step = self.steps[self.index]
            prompt, expect = step.prompt, list(step.expect)
        return {
            "step": self.index,
            "steps": total,
            "prompt": prompt,
            "expect": expect,
            "fired": list(self._step_fired),
            "waiting_for_release": [ch for ch in self._step_fired if self._on[ch]],
            "done": self.done,
            "cancelled": self.cancelled,
            "results": results,
        }
