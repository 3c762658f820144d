"""The progression engine: what to train next, and why, from past sessions.

It follows the published method for backward stair walking (docs/history.md):
handrail reliance goes down in stages (firm grip, light touch, hands
hovering), then more flights, then a little more speed, and only once
bodyweight work is mastered, a weighted vest. Stop on pain, rest on
dizziness; a suspected fall sends the athlete one level back.

Pure: no I/O, no clock. ``recommend(history, current_level)`` reads plain
:class:`SessionOutcome` records, oldest first, and returns a
:class:`Recommendation` whose ``reason`` is a sentence for the athlete.

Only the *trailing run* of sessions at the current level counts: the
sessions at the end of the history whose level is the current one, of which
the last ``sessions_to_advance`` (K) form the window. So sessions at another
level never count towards this one, a level one comes back to starts afresh,
and asking twice about the same history gives the same answer. Every rule
is triggered by the newest session of that window.

The ladder (:data:`LEVELS`) and the rules (:data:`RULES`) are tables of
data; the rules are tried in table order (safety first) and the first whose
condition holds decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rig.progression_technique import coach_flags, feet_not_yet_whole, steps_not_yet_steady, window_mean
from rig.progression_words import num as _num
from rig.progression_words import pct as _pct
from rig.progression_words import plural as _plural
from rig.progression_words import series as _series

EPS = 1e-9  # fractions are compared with this slack: 0.10 meets "at most 10 %"


@dataclass(frozen=True)
class Drill:
    """What to do in the next session."""
    facing: str                 # "backward"
    grip: str                   # "firm" | "light" | "hover"
    planned_flights: int        # ascents + descents: one up and down is 2
    cadence_min_spm: float
    cadence_limit_spm: float    # "slow down" above it
    added_load_kg: float


@dataclass(frozen=True)
class Level:
    """One rung of the ladder. Target: every session keeps to ``grip`` for at
    least ``target_share`` of active time, does ``planned_flights``, keeps its
    cadence inside the control band (from ``min_cadence_spm`` when set), wears
    ``added_load_kg``, with no grab, fall, pain above the limit or dizziness."""
    key: str
    title: str                  # for people, in sentences after "with"/"to"
    grip: str
    planned_flights: int
    min_cadence_spm: float | None = None   # None: the control band's lower end
    added_load_kg: float = 0.0
    facing: str = "backward"


LEVELS: tuple[Level, ...] = (
    Level("grip-firm", "a firm grip on the rails", "firm", 2),
    Level("grip-light", "a light touch on the rails", "light", 2),
    Level("grip-hover", "hands hovering above the rails", "hover", 2),
    Level("volume-4", "four flights with hands hovering", "hover", 4),
    Level("volume-8", "eight flights with hands hovering", "hover", 8),
    Level("speed", "a little more speed with hands hovering", "hover", 8, min_cadence_spm=60.0),
    Level("load-2kg", "a 2 kg weighted vest", "hover", 8, added_load_kg=2.0),
    Level("load-4kg", "a 4 kg weighted vest", "hover", 8, added_load_kg=4.0),
)
_INDEX = {lv.key: i for i, lv in enumerate(LEVELS)}


def level(key: str) -> Level:
    if key not in _INDEX:
        raise ValueError(f"unknown progression level {key!r}; known: {', '.join(_INDEX)}")
    return LEVELS[_INDEX[key]]


def first_level() -> Level:
    return LEVELS[0]


@dataclass(frozen=True)
class ProgressionSettings:
    sessions_to_advance: int = 3        # K: this many sessions in a row meet the target
    target_share: float = 0.90          # of active time at or below the level's grip
    max_pain: int = 3                   # 0-10; pain above it stops the training
    control_band_spm: tuple[float, float] = (40.0, 90.0)  # backward work: between older (65) and young (124) adults' cadences
    grabs_to_step_back: int = 2         # within the window
    symptoms_to_step_back: int = 2      # sessions with pain or dizziness within the window
    min_whole_foot: float = 0.80        # before less support (engineering choice; docs/history.md)
    max_step_time_cv: float = 0.10      # before more speed: stairs' normal variability, 5-10 % (Stacoff 2005)
    asymmetry_flag: float = 0.15        # told to the coach: stairs' normal asymmetry, 5-15 % (Stacoff 2005)

    def __post_init__(self) -> None:
        lo, hi = self.control_band_spm
        if self.sessions_to_advance < 1 or not 0.0 < self.target_share <= 1.0 or not 0 <= lo < hi:
            raise ValueError("sessions_to_advance >= 1, 0 < target_share <= 1, 0 <= band low < high")


@dataclass(frozen=True)
class SessionOutcome:
    """What the engine needs from one stored session."""
    level: str
    flights: int                        # ascents + descents
    active_s: float
    cadence_spm: float | None
    contact_fraction: float | None      # share of active time with a hand on a rail
    light_fraction: float | None
    firm_fraction: float | None         # None without rail force sensors
    grabs: int = 0
    falls: int = 0                      # suspected falls
    stalls: int = 0
    pain: int | None = None             # 0-10, None: not asked (does not block)
    dizziness: bool | None = None
    effort: int | None = None
    added_load_kg: float = 0.0
    whole_foot_fraction: float | None = None   # the gait figures: None where the rig cannot tell
    step_time_cv: float | None = None
    dwell_asymmetry: float | None = None


def outcome_from_summary(summary: dict, level_key: str, *, pain: int | None = None,
                         dizziness: bool | None = None, effort: int | None = None,
                         added_load_kg: float = 0.0) -> SessionOutcome:
    """A :class:`SessionOutcome` from ``Detector.summary()`` and the athlete's answers."""
    kinds = [e["type"] for e in summary["events"]]
    rel = summary["reliance"]
    return SessionOutcome(
        level_key, summary["ascents"] + summary["descents"], summary["active_s"],
        summary["cadence_spm"], rel["contact_fraction"], rel["light_fraction"],
        rel["firm_fraction"], kinds.count("grab"), kinds.count("fall_suspected"),
        kinds.count("stall"), pain, dizziness, effort, added_load_kg,
        *(summary.get("gait", {}).get(k) for k in ("whole_foot_fraction", "step_time_cv", "dwell_asymmetry")))


@dataclass(frozen=True)
class Recommendation:
    action: str                 # "advance" | "stay" | "step_back" | "rest"
    level: str                  # the level to train next
    previous_level: str
    reason: str
    rule: str                   # key of the rule that fired
    drill: Drill
    flags: tuple[str, ...] = ()  # for the coach (a leg asymmetry); they never change the plan


def drill(lv: Level, settings: ProgressionSettings = ProgressionSettings()) -> Drill:
    lo, hi = settings.control_band_spm
    return Drill(lv.facing, lv.grip, lv.planned_flights, max(lo, lv.min_cadence_spm or lo), hi,
                 lv.added_load_kg)


_GRIP_WORDS = {"firm": "holding the rails firmly", "light": "fingertips lightly on the rails",
               "hover": "hands hovering just above the rails"}


def _drill_words(d: Drill) -> str:
    vest = f", wearing a {_num(d.added_load_kg)} kg weighted vest" if d.added_load_kg else ""
    return (f"walk {d.facing}, {_GRIP_WORDS[d.grip]}, {d.planned_flights} flights "
            f"(up and down is 2), {_num(d.cadence_min_spm)} to {_num(d.cadence_limit_spm)} "
            f"steps a minute{vest}")


# --- one session against its level's target ----------------------------------

def _above(s: SessionOutcome, grip: str) -> tuple[float | None, str]:
    """Share of active time above ``grip``, and what that share is called."""
    if grip == "light":   # firm is part of contact: contact bounds it without force sensors
        return (s.firm_fraction if s.firm_fraction is not None else s.contact_fraction), "a firm grip"
    if grip == "hover":
        return s.contact_fraction, "hands on the rails"
    return 0.0, ""


def _misses(s: SessionOutcome, lv: Level, st: ProgressionSettings) -> list[str]:
    """What this session missed of the level's target, in words; empty: met."""
    d, out = drill(lv, st), []
    if s.falls:
        out.append(_plural(s.falls, "suspected fall"))
    if s.grabs:
        out.append(_plural(s.grabs, "grab"))
    if s.pain is not None and s.pain > st.max_pain:
        out.append(f"pain {s.pain} out of 10 (above {st.max_pain})")
    if s.dizziness:
        out.append("dizziness")
    if s.flights < d.planned_flights:
        out.append(f"{s.flights} of {d.planned_flights} flights")
    if s.cadence_spm is None:
        out.append("no cadence (no steps counted)")
    elif not d.cadence_min_spm - EPS <= s.cadence_spm <= d.cadence_limit_spm + EPS:
        edge = d.cadence_min_spm if s.cadence_spm < d.cadence_min_spm else d.cadence_limit_spm
        out.append(f"{_num(s.cadence_spm, near=edge)} steps a minute (keep between "
                   f"{_num(d.cadence_min_spm)} and {_num(d.cadence_limit_spm)})")
    above, what = _above(s, lv.grip)
    limit = 1.0 - st.target_share
    if above is None:
        out.append("no rail figure for the grip (rail sensors missing)")
    elif above > limit + EPS:
        out.append(f"{what} for {_pct(above, limit)} of the time (aim for {_pct(limit)} or less)")
    if s.added_load_kg < lv.added_load_kg - EPS:
        out.append(f"a {_num(s.added_load_kg)} kg vest ({_num(lv.added_load_kg)} kg planned)")
    return out


def _symptom(s: SessionOutcome, st: ProgressionSettings) -> bool:
    return bool(s.dizziness) or (s.pain is not None and s.pain > st.max_pain)


# --- the rules ---------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """The last K sessions of the trailing run at the current level, oldest first."""
    level: Level
    sessions: tuple[SessionOutcome, ...]
    settings: ProgressionSettings
    next_level: Level | None = None     # where advancing leads (None at the top)

    @property
    def last(self) -> SessionOutcome:
        return self.sessions[-1]

    def met(self) -> list[bool]:
        return [not _misses(s, self.level, self.settings) for s in self.sessions]


def no_session_yet(w: Window) -> bool:
    return not w.sessions


def fell_last_session(w: Window) -> bool:
    return w.last.falls > 0


def symptoms_repeat(w: Window) -> bool:
    return _symptom(w.last, w.settings) and \
        sum(_symptom(s, w.settings) for s in w.sessions) >= w.settings.symptoms_to_step_back


def pain_last_session(w: Window) -> bool:
    return w.last.pain is not None and w.last.pain > w.settings.max_pain


def dizzy_last_session(w: Window) -> bool:
    return bool(w.last.dizziness)


def grabs_repeat(w: Window) -> bool:
    return w.last.grabs > 0 and sum(s.grabs for s in w.sessions) >= w.settings.grabs_to_step_back


def target_met_k_times(w: Window) -> bool:
    return len(w.sessions) >= w.settings.sessions_to_advance and all(w.met())


def at_top_and_met(w: Window) -> bool:
    return w.level == LEVELS[-1] and target_met_k_times(w)


def met_but_feet_not_whole(w: Window) -> bool:
    return target_met_k_times(w) and feet_not_yet_whole(w, w.next_level)


def met_but_steps_unsteady(w: Window) -> bool:
    return target_met_k_times(w) and steps_not_yet_steady(w, w.next_level)


def always(w: Window) -> bool:
    return True


@dataclass(frozen=True)
class Rule:
    key: str
    when: Callable[[Window], bool]
    action: str
    reason: str                 # a template over the fields of _facts()
    at_first: str = "stay"      # the action when a step back is asked at the first level


RULES: tuple[Rule, ...] = (    # priority: table order, safety first
    Rule("start", no_session_yet, "stay",
         "Start with {title}: {drill}. Meet the target in {k_sessions} in a row to move on."),
    Rule("fall", fell_last_session, "step_back",
         "{falls} in the last session: {back}, and train there until it feels safe again."),
    Rule("symptoms-repeat", symptoms_repeat, "step_back",
         "Pain above {max_pain} out of 10 or dizziness in {symptom_n} of the last {n} "
         "sessions, the last with {symptoms}: {back}, and ask your coach or physiotherapist.", at_first="rest"),
    Rule("pain", pain_last_session, "rest",
         "Pain {pain} out of 10 in the last session, above your limit of {max_pain}: stop on pain. "
         "Rest until it is gone, then repeat {title}."),
    Rule("dizziness", dizzy_last_session, "rest",
         "Dizziness in the last session: rest before the next one, then repeat {title}."),
    Rule("grabs", grabs_repeat, "step_back",
         "{grabs} in {last_sessions} at {title}: {back}."),
    Rule("mastered", at_top_and_met, "stay",
         "{k_sessions} in a row met the target of the last level, {title}: {figures}. "
         "Keep it up: this is the top of the ladder."),
    Rule("whole-foot-first", met_but_feet_not_whole, "stay",
         "{k_sessions} in a row met the target of {title}, but the whole foot was on the step for only "
         "{whole_foot} of the steps: stay with {title}, and put the entire foot on each step. Less support on "
         "the rails comes once it is {min_whole_foot} or more."),
    Rule("steady-first", met_but_steps_unsteady, "stay",
         "{k_sessions} in a row met the target of {title}, but the time between steps varied by {step_cv}: "
         "stay with {title}, at an even pace. A quicker pace comes once it varies by {max_step_cv} or less."),
    Rule("advance", target_met_k_times, "advance",
         "{k_sessions} in a row met the target of {title}: {figures}, no grab, no fall, "
         "no pain above {max_pain}: move on to {next_title}."),
    Rule("keep-going", always, "stay",
         "Stay with {title}: {progress}."),
)


def _figures(w: Window) -> str:
    ss, parts = w.sessions, []
    parts.append(_series([str(s.flights) for s in ss]) + " flights at "
                 + _series([_num(s.cadence_spm or 0.0) for s in ss]) + " steps a minute")
    if w.level.grip != "firm":
        held = "a light touch or less" if w.level.grip == "light" else "hands off the rails"
        parts.append(f"{held} for " + _series([_pct(1.0 - _above(s, w.level.grip)[0]) for s in ss])
                     + " of the time")
    if w.level.added_load_kg:
        parts.append(f"with a {_num(w.level.added_load_kg)} kg vest")
    return ", ".join(parts)


def _progress(w: Window) -> str:
    met, k = w.met(), w.settings.sessions_to_advance
    streak = next((i for i, m in enumerate(reversed(met)) if not m), len(met))
    need = f"{k} in a row move you on"
    if not met[-1]:
        return (f"the last session had {_series(_misses(w.last, w.level, w.settings))}; "
                f"{sum(met)} of the last {_plural(len(met), 'session')} met the target, {need}")
    return f"{_plural(streak, 'session')} in a row met the target so far, {need}"


def _facts(w: Window, target: Level, action: str) -> dict[str, str]:
    st, lv = w.settings, w.level
    f = {"title": lv.title, "k": str(st.sessions_to_advance), "max_pain": str(st.max_pain),
         "k_sessions": _plural(st.sessions_to_advance, "session"),
         "drill": _drill_words(drill(lv, st)), "next_title": target.title,
         "back": f"go back to {target.title}" if target != lv
                 else {"stay": "stay with", "rest": "rest, then repeat"}[action]
                 + f" {lv.title}, the first level"}
    if w.sessions:
        last = w.last
        f |= {"n": str(len(w.sessions)),
              "last_sessions": "the last session" if len(w.sessions) == 1 else f"the last {len(w.sessions)} sessions",
              "falls": _plural(last.falls, "suspected fall"),
              "pain": str(last.pain), "grabs": _plural(sum(s.grabs for s in w.sessions), "grab"),
              "symptom_n": str(sum(_symptom(s, st) for s in w.sessions)),
              "symptoms": _series([m for m in _misses(last, lv, st)
                                    if m.startswith("pain") or m == "dizziness"]),
              "progress": _progress(w),
              "whole_foot": _pct(window_mean(w.sessions, "whole_foot_fraction") or 0.0),
              "min_whole_foot": _pct(st.min_whole_foot),
              "step_cv": _pct(window_mean(w.sessions, "step_time_cv") or 0.0),
              "max_step_cv": _pct(st.max_step_time_cv),
              "figures": _figures(w) if all(w.met()) else ""}
    return f


def recommend(history: Sequence[SessionOutcome], current_level: str,
              settings: ProgressionSettings = ProgressionSettings()) -> Recommendation:
    """What to train next. ``history`` is oldest first; ``current_level`` a key of LEVELS."""
    lv = level(current_level)
    run: list[SessionOutcome] = []
    for s in reversed(history):
        if s.level != current_level:
            break
        run.append(s)
    i = _INDEX[lv.key]
    w = Window(lv, tuple(reversed(run[:settings.sessions_to_advance])), settings,
               LEVELS[i + 1] if i + 1 < len(LEVELS) else None)
    rule = next(r for r in RULES if r.when(w))
    i, action = _INDEX[lv.key], rule.action
    if action == "advance":
        target = LEVELS[i + 1]
    elif action == "step_back":
        target = LEVELS[max(i - 1, 0)]
        action = "step_back" if target != lv else rule.at_first   # nothing below the first
    else:
        target = lv
    reason = rule.reason.format(**_facts(w, target, action))
    return Recommendation(action, target.key, lv.key, reason[0].upper() + reason[1:], rule.key,
                          drill(target, settings), coach_flags(w.sessions, settings))
