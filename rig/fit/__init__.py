"""FIT activity files (Garmin's format, which Garmin Connect, Strava and intervals.icu import).

``encoder.py`` writes the binary format; ``activity.py`` turns a session of
the history into an activity file. Pure: bytes out, no I/O.
"""

from rig.fit.activity import session_fit

__all__ = ["session_fit"]
