"""What a request reads the rig through: the panel, its service, and the history (503 without one).

Its own module so that every API blueprint (web/api.py, web/api_stairtests.py, ...) shares
one ``store()`` without importing one another."""

from __future__ import annotations

from flask import current_app

from rig.history import HistoryUnavailable


def panel():
    return current_app.extensions["stairrig"]


def service():
    return panel().service


def store(*, writable: bool = False, what: str = "athletes or sessions"):
    """The history store; 503 (``HistoryUnavailable``) when the rig keeps none, naming ``what``
    cannot be shown, or, for a write, when the history stopped working."""
    s = service().store
    if s is None:
        raise HistoryUnavailable(f"the history is off or could not be opened, so there are no {what} "
                                 "to show (see the service's log)")
    if writable and not s.available:
        raise HistoryUnavailable(s.error or "the history is not available")
    return s
