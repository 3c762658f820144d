"""Technique before less support and before speed, and a leg asymmetry for the coach.

The method asks for the entire foot on each step and control over speed
before anything gets harder. So a level whose target was met still waits:
- before **less support** on the rails (a lower grip) while fewer than
  ``min_whole_foot`` of the steps had the whole foot on the tread;
- before **more speed** (a higher cadence floor) while the steps were
  unsteady: a step-time variability (CV) above ``max_step_time_cv``.
A leg asymmetry above ``asymmetry_flag`` is told to the coach and never
changes the plan. Each figure is the window's mean over the sessions that
have it; a session without it (no split treads, stored before the gait
figures) does not block. Thresholds and sources: docs/history.md.

Pure, like rig/progression.py: each check takes the window and the level
that advancing would lead to.
"""

from __future__ import annotations

GRIP_SUPPORT = {"firm": 3, "light": 2, "hover": 1, "none": 0}
_EPS = 1e-9     # means are compared with this slack, as rig/progression compares fractions


def window_mean(sessions, attribute: str) -> float | None:
    values = [getattr(s, attribute) for s in sessions if getattr(s, attribute) is not None]
    return sum(values) / len(values) if values else None


def less_support(level, next_level) -> bool:
    return next_level is not None and GRIP_SUPPORT[next_level.grip] < GRIP_SUPPORT[level.grip]


def more_speed(level, next_level) -> bool:
    return next_level is not None and (next_level.min_cadence_spm or 0.0) > (level.min_cadence_spm or 0.0)


def feet_not_yet_whole(w, next_level) -> bool:
    """Less support next, and the whole foot on too few steps."""
    share = window_mean(w.sessions, "whole_foot_fraction")
    return less_support(w.level, next_level) and share is not None and share < w.settings.min_whole_foot - _EPS


def steps_not_yet_steady(w, next_level) -> bool:
    """More speed next, and step times that vary too much."""
    cv = window_mean(w.sessions, "step_time_cv")
    return more_speed(w.level, next_level) and cv is not None and cv > w.settings.max_step_time_cv + _EPS


def coach_flags(sessions, settings) -> tuple[str, ...]:
    """Words for the coach; they never change the plan."""
    if not sessions:
        return ()
    last = sessions[-1]
    if last.dwell_asymmetry is not None and last.dwell_asymmetry > settings.asymmetry_flag + _EPS:
        return (f"Leg asymmetry {round(100 * last.dwell_asymmetry)} % in the last session (above "
                f"{round(100 * settings.asymmetry_flag)} %): one leg stands on the step longer than the other. "
                "Worth a look by the coach or physiotherapist; the plan does not change for it.",)
    return ()
