"""The guided walk test, pure: a simulated person feeds it samples with their times."""

import pytest

from rig.layout import RigLayout
from rig.settings import DetectionSettings
from rig.walktest import SETTLE_S, VERDICTS, WalkTest, walk_steps

ALL_RAILS = {"left": ("touch",), "right": ("touch",)}


class Person:
    """Someone doing the walk test: presses, holds, lets go; time moves with them."""

    def __init__(self, walk: WalkTest):
        self.walk = walk
        self.t = 0.0

    def set(self, channel, value):
        self.t += 0.01
        self.walk.feed(self.t, channel, value)

    def wait(self, seconds):
        end = self.t + seconds
        while self.t < end:          # ticks, as the service's 4 Hz tick would
            self.t = min(end, self.t + 0.1)
            self.walk.advance(self.t)

    def press(self, *channels, on=1, off=0, hold_s=0.4):
        """Press, hold, let go, and wait for the walk test to settle."""
        for ch in channels:
            self.set(ch, on)
        self.wait(hold_s)
        for ch in channels:
            self.set(ch, off)
        self.wait(SETTLE_S + 0.15)


def verdicts(walk):
    return {ch: r["verdict"] for ch, r in walk.state()["results"].items()}


def walk_all(layout, person, channels_at=None):
    """Do every prompt in turn; ``channels_at(step)`` says what actually fires there."""
    for i, step in enumerate(person.walk.steps):
        person.press(*(channels_at(i, step) if channels_at else step.expect))


def test_a_correct_walk_checks_every_channel_in_order():
    layout = RigLayout(treads=3, rails=ALL_RAILS)
    walk = WalkTest(layout)
    person = Person(walk)
    first = walk.state()
    assert (first["step"], first["steps"], first["expect"], first["done"]) == (0, 5, ["tread.1"], False)
    assert "tread 1" in first["prompt"] and "bottom" in first["prompt"]
    assert set(first["results"]) == set(layout.channels())
    assert first["results"]["tread.1"]["verdict"] == "untested"
    seen_prompts = []
    for step in walk.steps:
        state = walk.state()
        seen_prompts.append(state["prompt"])
        assert state["expect"] == list(step.expect)
        person.press(*step.expect)
    assert seen_prompts[3].startswith("Back on the floor") and "left rail" in seen_prompts[3]
    assert "right rail" in seen_prompts[4]
    final = walk.state()
    assert final["done"] and final["step"] == 5 and final["expect"] == []
    assert set(verdicts(walk).values()) == {"ok"}
    assert final["results"]["tread.2"]["detail"] == "tread.2 switched on for tread 2, as it should."
    assert final["prompt"] == "The walk test is done: every channel works."


def test_a_natural_walk_up_holding_the_rails_is_not_held_against_the_rig():
    layout = RigLayout(treads=4, rails=ALL_RAILS)
    walk = WalkTest(layout)
    person = Person(walk)
    person.set("rail.left.touch", 1)            # holding both rails all the way up
    person.set("rail.right.touch", 1)
    person.press("tread.1")
    for i in range(2, 5):
        person.set(f"tread.{i - 1}", 1)          # standing on the tread below...
        person.press(f"tread.{i}")               # ...a foot on the next one and back
        person.set(f"tread.{i - 1}", 0)
        person.set(f"tread.{i - 1}", 1)          # shifting weight on the tread below: bounces
    person.set("tread.3", 1)                     # coming down to the floor over checked treads
    person.set("tread.4", 0)
    person.set("tread.3", 0)
    person.set("rail.left.touch", 0)
    person.set("rail.right.touch", 0)
    assert walk.state()["expect"] == ["rail.left.touch"]
    person.press("rail.left.touch")
    person.set("rail.left.touch", 1)             # holds the checked left rail while touching the right
    person.press("rail.right.touch")
    assert walk.state()["done"]
    assert set(verdicts(walk).values()) == {"ok"}


def test_a_dead_channel_waits_for_skip_and_is_named():
    layout = RigLayout(treads=5)
    walk = WalkTest(layout)
    person = Person(walk)
    for i in (1, 2, 3):
        person.press(f"tread.{i}")
    assert walk.state()["expect"] == ["tread.4"]
    person.wait(5.0)                             # nothing fires: the prompt stays
    assert walk.state()["step"] == 3
    assert walk.state()["results"]["tread.4"]["verdict"] == "untested"
    walk.skip()
    person.press("tread.5")
    state = walk.state()
    assert state["done"]
    assert verdicts(walk) == {"tread.1": "ok", "tread.2": "ok", "tread.3": "ok", "tread.4": "dead", "tread.5": "ok"}
    assert state["results"]["tread.4"]["detail"].startswith("tread.4 never switched on")
    assert "BCM" in state["results"]["tread.4"]["detail"]
    assert "4 of 5 channels work" in state["prompt"] and "tread.4" in state["prompt"]


def test_two_swapped_treads_are_named_together():
    layout = RigLayout(treads=4)
    walk = WalkTest(layout)
    person = Person(walk)
    physical = {"tread.2": "tread.3", "tread.3": "tread.2"}     # the wires of treads 2 and 3 crossed
    walk_all(layout, person, lambda i, step: [physical.get(c, c) for c in step.expect])
    state = walk.state()
    assert state["done"]                         # each wrong press still moved the walk on
    assert verdicts(walk) == {"tread.1": "ok", "tread.2": "swapped", "tread.3": "swapped", "tread.4": "ok"}
    for ch in ("tread.2", "tread.3"):
        assert state["results"][ch]["detail"].startswith("tread.2 and tread.3 are swapped")


def test_swapped_treads_found_while_standing_on_the_tread_below():
    layout = RigLayout(treads=3)
    walk = WalkTest(layout)
    person = Person(walk)
    person.press("tread.1")
    person.press("tread.3")                      # physical tread 2 is wired as tread.3
    person.set("tread.3", 1)                     # standing on physical tread 2...
    person.press("tread.2")                      # ...pressing physical tread 3 (wired as tread.2)
    assert walk.state()["step"] == 2             # tread.3 is still held: not done yet
    assert walk.state()["waiting_for_release"] == ["tread.3"]
    person.set("tread.3", 0)
    person.wait(1.0)
    assert walk.state()["done"]
    assert verdicts(walk) == {"tread.1": "ok", "tread.2": "swapped", "tread.3": "swapped"}


def test_a_channel_firing_at_another_prompt_is_miswired_and_both_are_named():
    layout = RigLayout(treads=3)
    walk = WalkTest(layout)
    person = Person(walk)
    person.press("tread.1")
    person.press("tread.2", "tread.3")           # pressing tread 2 closes tread.3 too (crossed wires)
    person.press("tread.3")
    state = walk.state()
    assert verdicts(walk) == {"tread.1": "ok", "tread.2": "ok", "tread.3": "miswired"}
    detail = state["results"]["tread.3"]["detail"]
    assert detail.startswith("tread.3 switched on while you were on tread 2, where tread.2 should have")
    assert "also switched on for tread 3" in detail


def test_a_channel_only_ever_firing_at_the_wrong_prompt():
    layout = RigLayout(treads=3)
    walk = WalkTest(layout)
    person = Person(walk)
    person.press("tread.1")
    person.press("tread.3")                      # tread 2's mat is wired to tread 3's pin...
    walk.skip()                                  # ...and tread 3's own mat is not connected
    state = walk.state()
    assert state["done"]
    assert verdicts(walk) == {"tread.1": "ok", "tread.2": "dead", "tread.3": "miswired"}
    assert "and never for tread 3" in state["results"]["tread.3"]["detail"]
    assert "tread.2 never switched on" in state["results"]["tread.2"]["detail"]


def test_split_treads_are_checked_half_by_half_and_a_swap_within_a_tread_shows():
    layout = RigLayout(treads=2, split=True, rails={"left": ("touch",)})
    steps = walk_steps(layout)
    assert [s.expect for s in steps] == [("tread.1.front",), ("tread.1.back",), ("tread.2.front",),
                                         ("tread.2.back",), ("rail.left.touch",)]
    assert "front half of tread 1" in steps[0].prompt and "back half of tread 1" in steps[1].prompt
    walk = WalkTest(layout)
    person = Person(walk)
    physical = {"tread.2.front": "tread.2.back", "tread.2.back": "tread.2.front"}
    walk_all(layout, person, lambda i, step: [physical.get(c, c) for c in step.expect])
    state = walk.state()
    assert state["done"]
    assert verdicts(walk) == {"tread.1.front": "ok", "tread.1.back": "ok", "tread.2.front": "swapped",
                              "tread.2.back": "swapped", "rail.left.touch": "ok"}
    assert state["results"]["tread.2.back"]["detail"].startswith("tread.2.front and tread.2.back are swapped")


def test_a_correct_split_walk_where_the_heel_brushes_the_front_half():
    layout = RigLayout(treads=2, split=True)
    walk = WalkTest(layout)
    person = Person(walk)
    person.press("tread.1.front")
    person.press("tread.1.back", "tread.1.front")   # a whole foot on the tread for the back half
    person.press("tread.2.front")
    person.press("tread.2.back")
    assert set(verdicts(walk).values()) == {"ok"}


def test_force_treads_fire_above_the_weight_scaled_threshold_with_hysteresis():
    layout = RigLayout(treads=2, tread_sensor="force")
    settings = DetectionSettings()
    on_n = settings.resolve(80.0).tread_force_on_n
    off_n = settings.resolve(80.0).tread_force_off_n
    assert on_n > settings.tread_force_on_min_n     # 5 % of 80 kg is more than the 20 N floor
    walk = WalkTest(layout, settings, weight_kg=80.0)
    person = Person(walk)
    person.press("tread.1.force", on=on_n * 0.9, off=0.0)   # a toe resting on it: not a press
    person.wait(1.0)
    assert walk.state()["step"] == 0 and walk.state()["fired"] == []
    person.set("tread.1.force", 600.0)                       # standing on it
    person.set("tread.1.force", (on_n + off_n) / 2)          # below on, above off: still on
    person.wait(1.0)
    assert walk.state()["step"] == 0 and walk.state()["waiting_for_release"] == ["tread.1.force"]
    person.set("tread.1.force", off_n * 0.5)                 # off
    person.wait(1.0)
    assert walk.state()["step"] == 1
    walk.skip()
    state = walk.state()
    assert verdicts(walk) == {"tread.1.force": "ok", "tread.2.force": "dead"}
    assert f"never above {on_n:g} N" in state["results"]["tread.2.force"]["detail"]
    assert "amplifier" in state["results"]["tread.2.force"]["detail"]


def test_swapped_force_treads_are_named_with_their_adc_channels():
    layout = RigLayout(treads=2, tread_sensor="force")
    walk = WalkTest(layout)
    person = Person(walk)
    person.press("tread.2.force", on=700.0, off=1.0)
    person.press("tread.1.force", on=700.0, off=1.0)
    detail = walk.state()["results"]["tread.1.force"]["detail"]
    assert verdicts(walk) == {"tread.1.force": "swapped", "tread.2.force": "swapped"}
    assert "adc_channel" in detail


def test_a_stepper_has_two_pedals_left_then_right():
    layout = RigLayout(kind="stepper", treads=2, rails={"right": ("touch",)})
    steps = walk_steps(layout)
    assert [s.expect for s in steps] == [("tread.1",), ("tread.2",), ("rail.right.touch",)]
    assert "pedal 1 (left)" in steps[0].prompt and "pedal 2 (right)" in steps[1].prompt
    walk = WalkTest(layout)
    person = Person(walk)
    person.press("tread.2")
    person.press("tread.1")
    person.press("rail.right.touch")
    state = walk.state()
    assert state["done"]
    assert verdicts(walk) == {"tread.1": "swapped", "tread.2": "swapped", "rail.right.touch": "ok"}
    assert "pedal" in state["results"]["tread.1"]["detail"]


def test_a_rig_without_rails_is_done_after_its_treads():
    layout = RigLayout(treads=2)
    walk = WalkTest(layout)
    assert len(walk.steps) == 2
    person = Person(walk)
    walk_all(layout, person)
    assert walk.state()["done"] and set(verdicts(walk).values()) == {"ok"}


def test_rails_swapped_and_a_rail_force_too_light_to_count():
    layout = RigLayout(treads=1, rails={"left": ("touch", "force"), "right": ("touch", "force")})
    settings = DetectionSettings(rail_contact_on_n=2.0, rail_contact_off_n=1.0)
    walk = WalkTest(layout, settings)
    person = Person(walk)
    person.press("tread.1")
    assert walk.state()["expect"] == ["rail.left.touch", "rail.left.force"]
    assert "press down on the left rail" in walk.state()["prompt"]
    person.set("rail.left.force", 1.5)            # a touch with 1.5 N: under this rig's 2 N
    person.press("rail.right.touch")              # the touch pads' wires are crossed
    person.set("rail.left.force", 0.0)
    person.wait(1.0)
    assert walk.state()["expect"] == ["rail.right.touch", "rail.right.force"]
    person.set("rail.right.force", 30.0)          # a hand pressing the right rail...
    person.press("rail.left.touch")               # ...closes the left rail's touch pad
    person.set("rail.right.force", 0.0)
    person.wait(1.0)
    state = walk.state()
    assert state["done"]
    assert verdicts(walk) == {"tread.1": "ok", "rail.left.touch": "swapped", "rail.right.touch": "swapped",
                              "rail.left.force": "dead", "rail.right.force": "ok"}
    assert "never above 2 N" in state["results"]["rail.left.force"]["detail"]


def test_a_channel_on_from_the_start_is_stuck():
    layout = RigLayout(treads=2, rails={"left": ("touch",)})
    walk = WalkTest(layout, initial={"rail.left.touch": 1, "tread.1": 0, "tread.2": None})
    person = Person(walk)
    person.press("tread.1")
    person.press("tread.2")
    person.wait(2.0)
    walk.skip()
    detail = walk.state()["results"]["rail.left.touch"]["detail"]
    assert verdicts(walk)["rail.left.touch"] == "dead"
    assert "stuck on" in detail


def test_a_force_channel_reading_above_its_threshold_unloaded_needs_a_tare():
    layout = RigLayout(treads=1, rails={"left": ("force",)})
    walk = WalkTest(layout, initial={"rail.left.force": 2.8})   # a zero that is off by a few newtons
    person = Person(walk)
    person.press("tread.1")
    person.press("rail.left.force", on=30.0, off=2.8)           # pressed and let go: back to 2.8 N
    assert walk.state()["step"] == 1                             # never released
    walk.skip()
    result = walk.state()["results"]["rail.left.force"]
    assert result["verdict"] == "dead" and "tare it" in result["detail"]


def test_a_bounce_on_release_does_not_move_on_early():
    layout = RigLayout(treads=2)
    walk = WalkTest(layout)
    person = Person(walk)
    person.set("tread.1", 1)
    person.wait(0.3)
    person.set("tread.1", 0)
    person.wait(SETTLE_S * 0.5)
    person.set("tread.1", 1)                      # the mat bounced: still on the first prompt
    person.wait(SETTLE_S * 0.7)
    assert walk.state()["step"] == 0
    person.set("tread.1", 0)
    person.wait(SETTLE_S + 0.1)
    assert walk.state()["step"] == 1


def test_before_its_turn_and_after_a_cancel_a_channel_is_untested():
    layout = RigLayout(treads=3)
    walk = WalkTest(layout)
    person = Person(walk)
    person.press("tread.1")
    state = walk.state()
    assert state["results"]["tread.2"]["detail"] == "waiting for tread.2 now."
    assert "not come yet" in state["results"]["tread.3"]["detail"]
    walk.cancel()
    person.press("tread.2")                       # ignored once cancelled
    state = walk.state()
    assert state["cancelled"] and not state["done"] and state["expect"] == []
    assert verdicts(walk) == {"tread.1": "ok", "tread.2": "untested", "tread.3": "untested"}
    assert "cancelled" in state["results"]["tread.3"]["detail"]


def test_unknown_channels_and_samples_after_the_end_change_nothing():
    layout = RigLayout(treads=1)
    walk = WalkTest(layout)
    person = Person(walk)
    person.set("tread.9", 1)
    person.set("rail.left.touch", 1)              # not on this rig
    person.wait(1.0)
    assert walk.state()["step"] == 0
    person.press("tread.1")
    done = walk.state()
    person.press("tread.1")
    walk.skip()
    assert walk.state() == done
    done["results"]["tread.1"]["verdict"] = "changed by the caller"
    assert walk.state()["results"]["tread.1"]["verdict"] == "ok"


def test_every_verdict_is_one_of_the_documented_ones():
    layout = RigLayout(treads=3, split=True, rails={"left": ("touch", "force")})
    walk = WalkTest(layout)
    person = Person(walk)
    person.press("tread.1.back")
    walk.skip()
    assert {r["verdict"] for r in walk.state()["results"].values()} <= set(VERDICTS)


@pytest.mark.parametrize("layout", [RigLayout(treads=1), RigLayout(treads=7, split=True),
                                    RigLayout(treads=3, tread_sensor="force", rails={"left": ("force",)}),
                                    RigLayout(kind="stepper", treads=2)])
def test_every_channel_has_exactly_one_prompt(layout):
    expected = [ch for step in walk_steps(layout) for ch in step.expect]
    assert sorted(expected) == sorted(layout.channels())
