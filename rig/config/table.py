"""Reading one TOML table: :class:`_Table` knows its file and key, rejects
unknown keys (with a "did you mean"), and reads each value with its type and
range checked, failing with one :class:`ConfigError` that names the key."""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, Iterable

from rig.config.models import ConfigError

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_REQUIRED = object()


def _key(*parts: str) -> str:
    """A dotted TOML key, quoting the parts that need it: ``wiring."tread.1".pin``."""
    return ".".join(p if _BARE_KEY.fullmatch(p) else f'"{p}"' for p in parts if p)


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "a whole number", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Table:
    """One TOML table being read: knows its file and key, rejects unknown keys."""

    def __init__(self, file: str, key: tuple[str, ...], data: object, allowed: Iterable[str]):
        self.file, self.key = file, key
        if not isinstance(data, dict):
            self.fail(None, f"must be a table, not {_kind(data)}")
        self.data: dict[str, Any] = data
        allowed = tuple(allowed)
        for name in data:
            if name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                self.fail(name, f"unknown key (expected one of: {', '.join(allowed)}){suggestion}")

    def fail(self, name: str | None, message: str) -> Any:
        where = _key(*self.key, *([name] if name else []))
        raise ConfigError(f"{self.file}: {where}: {message}" if where else f"{self.file}: {message}")

    def raw(self, name: str, default: Any = _REQUIRED) -> Any:
        """The value as written, or the default; a missing required key is an error."""
        if name in self.data:
            return self.data[name]
        if default is _REQUIRED:
            self.fail(name, "is required")
        return default

    def string(self, name: str, default: Any = _REQUIRED, choices: tuple[str, ...] | None = None) -> Any:
        if name not in self.data:
            return self.raw(name, default)
        value = self.data[name]
        if not isinstance(value, str):
            self.fail(name, f"must be a string, not {_kind(value)}")
        if choices is not None and value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def boolean(self, name: str, default: Any = _REQUIRED) -> Any:
        value = self.raw(name, default)
        if name in self.data and not isinstance(value, bool):
            self.fail(name, f"must be true or false, not {_kind(value)}")
        return value

    def integer(self, name: str, default: Any = _REQUIRED, valid: range | None = None) -> Any:
        if name not in self.data:
            return self.raw(name, default)
        value = self.data[name]
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"must be a whole number, not {_kind(value)}")
        if valid is not None and value not in valid:
            self.fail(name, f"must be from {valid.start} to {valid.stop - 1}, not {value}")
        return value

    def number(self, name: str, default: Any = _REQUIRED, *, low: float | None = None,
               high: float | None = None, low_open: bool = False, high_open: bool = False) -> float:
        """A finite number (a whole number is fine) in [low, high]; an open end excludes its bound."""
        if name not in self.data:
            return self.raw(name, default)
        value = self.data[name]
        if not _is_number(value):
            self.fail(name, f"must be a number, not {_kind(value)}")
        if not math.isfinite(value):
            self.fail(name, f"must be a finite number, not {value}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            lo = "-inf" if low is None else f"{low:g}"
            hi = "inf" if high is None else f"{high:g}"
            interval = f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
            self.fail(name, f"must be in {interval}, not {value:g}")
        return float(value)


def _optional_string(table: _Table, name: str, pattern: re.Pattern | None = None, what: str = "") -> str | None:
    value = table.string(name, None)
    if value is None:
        return None
    if not value.strip():
        table.fail(name, "must not be empty (leave the key out instead)")
    if pattern is not None and not pattern.fullmatch(value):
        table.fail(name, f"must be {what}, not {value!r}")
    return value
