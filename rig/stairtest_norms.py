"""What the literature gives to read a stair test's result: norms and the minimal detectable change.

Only figures found in the sources named here (docs/stair-tests.md quotes them
with their populations). Where none was found, the entry says so in words,
and the panel shows those words: no number is made up.

The rig's flight (4 to 6 treads) is shorter than most published flights, so a
figure from a longer flight is shown with that caveat (``comparable``).
"""

from __future__ import annotations

from rig.core.stairtest import KINDS

REFERENCES = {
    "timed_stair_climb": {
        "measure": "duration_s",          # lower is better
        "unit": "s",
        "name": "Timed stair climb (up and down)",
        "mdc": 2.6,
        "mdc_source": ("Almeida et al. 2010, Arch Phys Med Rehabil 91:932: MDC90 2.6 s for an 11-step "
                       "stair ascend/descend test, 43 people after a total knee replacement"),
        "comparable": ("not strictly: that MDC is for 11 steps up and down; the rig's flight is shorter, "
                       "so its real MDC is likely smaller"),
        "norm": None,
        "norm_text": ("no published norm found for a timed stair climb: a systematic review of timed stair "
                      "tests (Nightingale et al. 2014, J Rehabil Res Dev 51:335) found the methods too varied "
                      "and says more data are needed for normative values"),
    },
    "stair_climb_power": {
        "measure": "power_w",             # higher is better
        "unit": "W",
        "name": "Stair climb power",
        "mdc": 44.0,
        "mdc_source": ("Ni et al. 2017, Phys Ther 97:767: MDC90 44.0 W for the 4-step Stair Climb Power "
                       "Test, 50 community-dwelling adults aged 65 or more at risk of mobility decline"),
        "comparable": ("close to it on a 4-tread rig; the rig times from the first to the top tread's "
                       "contact, which is not the stopwatch's start and stop"),
        "norm": None,
        "norm_text": ("no published norm found for stair climb power in W or W/kg that fits a home flight: "
                      "Bean et al. 2007 (Arch Phys Med Rehabil 88:604) report it for mobility-limited "
                      "older adults, not as norms"),
    },
}


def reference(kind: str) -> dict:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return dict(REFERENCES[kind])


def _same_flight(a: dict, b: dict) -> bool:
    return a.get("rise_m") == b.get("rise_m") and a.get("kind") == b.get("kind")


def compare(latest: dict, earlier: list[dict]) -> dict:
    """The latest test against the one before it of the same kind that was done (valid), in words
    for people: ``change`` is "better", "worse", "none" or None (nothing to compare), ``text`` says it."""
    ref = REFERENCES[latest["kind"]]
    measure, mdc, unit = ref["measure"], ref["mdc"], ref["unit"]
    if latest.get("status") != "done" or latest.get(measure) is None:
        return {"change": None, "delta": None, "text": "this test is not valid, so it is not compared"}
    previous = next((t for t in reversed(earlier) if t.get("kind") == latest["kind"] and t.get("status") == "done"
                     and t.get(measure) is not None), None)
    if previous is None:
        return {"change": None, "delta": None, "text": "the first valid test of this kind: nothing to compare yet"}
    if not _same_flight(latest, previous):
        return {"change": None, "delta": None,
                "text": "the last test climbed a different rise (another flight): not comparable"}
    delta = latest[measure] - previous[measure]
    better = delta < 0 if measure == "duration_s" else delta > 0
    what = ("faster than", "slower than") if measure == "duration_s" else ("more power than", "less power than")
    if abs(delta) > mdc:
        change = "better" if better else "worse"
        text = (f"{what[0] if better else what[1]} the last test by more than the MDC ({mdc:g} {unit}): "
                "a real change")
    else:
        change = "none"
        text = f"within the MDC ({mdc:g} {unit}) of the last test: no real change"
    return {"change": change, "delta": round(delta, 3), "text": text, "previous_id": previous.get("id")}


def power_drop_flag(tests: list[dict]) -> str | None:
    """For the coach (a flag, never an action): the latest valid power test's power fell below the one
    before it by more than the MDC. None when it did not, or there is nothing to compare."""
    power = [t for t in tests if t.get("kind") == "stair_climb_power" and t.get("status") == "done"
             and t.get("power_w") is not None]
    if len(power) < 2:
        return None
    result = compare(power[-1], power[:-1])
    if result["change"] != "worse":
        return None
    return (f"stair climb power fell by {-result['delta']:.0f} W since the last test, more than the MDC "
            f"({REFERENCES['stair_climb_power']['mdc']:g} W): worth a look before the next step up")
