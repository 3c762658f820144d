"""Threads the operating system knows by name too.

Python names its threads for itself only: ``top -H``, ``ps -L``, ``/proc/PID/task/*/comm`` and
py-spy show every thread of the service as ``python3``. ``named_thread`` gives the OS the name
as well (Linux keeps 15 characters: ``stairrig-`` is left off, so ``engine``, ``adc``,
``mqtt-publisher``), so that an operator, and bench/live_cost.py, can tell what costs what.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from typing import Callable

_PR_SET_NAME = 15
_PREFIX = "stairrig-"


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()


def set_os_name(name: str) -> None:
    """Name the calling thread for the OS (at most 15 bytes); nothing where that cannot be done."""
    if _prctl is None:
        return
    short = name[len(_PREFIX):] if name.startswith(_PREFIX) else name
    _prctl(_PR_SET_NAME, short.encode("utf-8", "replace")[:15], 0, 0, 0)


def named_thread(target: Callable, name: str, *, args: tuple = (), daemon: bool = True) -> threading.Thread:
    """A thread called ``name`` by Python and by the OS."""
    def run(*run_args):
        set_os_name(name)
        return target(*run_args)
    return threading.Thread(target=run, name=name, args=args, daemon=daemon)
