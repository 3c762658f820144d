"""Reading one TOML table: :class:`_Table` knows its file and key, rejects
unknown keys (with a "did you mean"), and reads each value with its type and
range checked, failing with one :class:`ConfigError` that names the key."""

from __future__ import annotations

import difflib
import math
import re
import reprlib
from typing import Any, Iterable

from rig.config.models import ConfigError
from rig.limits import MAX_TEXT_CHARS

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_REQUIRED = object()


def _key(*parts: str) -> str:
    """A dotted TOML key, quoting the parts that need it: ``wiring."tread.1".pin`` (a long or
    odd part shown as Python would write it, cut to 60 characters)."""
    return ".".join(p if _BARE_KEY.fullmatch(p) and len(p) <= 60 else _quoted(p) for p in parts if p)


def _quoted(text: str, limit: int = 60) -> str:
    """``"text"`` with control characters escaped, cut to ``limit`` characters with an ellipsis."""
    shown = text if len(text) <= limit else text[:limit] + "..."
    return '"' + shown.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


class _BriefRepr(reprlib.Repr):
    """``repr`` cut short: strings to 60 characters, lists to 6 items and 3 levels."""

    def __init__(self) -> None:
        super().__init__()
        self.maxstring, self.maxother, self.maxlist, self.maxdict, self.maxlevel = 60, 60, 6, 6, 3

    def repr_int(self, x: int, level: int) -> str:
        return str(x) if -10**15 < x < 10**15 else f"<{_shown(x)}>"


def _brief(value: object) -> str:
    """A value as Python writes it, short whatever was written (for strings, lists, tables)."""
    return _BriefRepr().repr(value)


def _shown(value: object) -> str:
    """A value as a message shows it: short, whatever was written (a 4,000-digit number, a
    megabyte of text, 1e999, a list nested a thousand deep)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if -10**15 < value < 10**15:
            return str(value)
        return f"a whole number of {len(str(abs(value))) if value.bit_length() < 14000 else 'thousands of'} digits"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan (not a number)"
        if math.isinf(value):
            return f"{'-' if value < 0 else ''}inf (infinity: 1e999 and larger numbers overflow to it)"
        return repr(value)   # 2.0, not 2: a whole number written as a decimal shows as one
    if isinstance(value, str):
        return _brief(value)
    return _kind(value)


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
                suggestion = f"; did you mean {hint[0]!r}?" if hint and len(name) <= 100 else ""
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
            self.fail(name, f"must be one of {', '.join(choices)}, not {_brief(value)}")
        return value

    def boolean(self, name: str, default: Any = _REQUIRED) -> Any:
        value = self.raw(name, default)
        if name in self.data and not isinstance(value, bool):
            self.fail(name, f"must be true or false, not {_kind(value)}")
        return value

    def integer(self, name: str, default: Any = _REQUIRED, valid: range | None = None) -> Any:
        """A whole number in ``valid`` (or checked by the caller: every number has its bounds)."""
        if name not in self.data:
            return self.raw(name, default)
        value = self.data[name]
        span = f" from {valid.start} to {valid.stop - 1}" if valid is not None else ""
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"must be a whole number{span}, not {_shown(value) if _is_number(value) else _kind(value)}")
        if valid is not None and value not in valid:
            self.fail(name, f"must be{span}, not {_shown(value)}")
        return value

    def number(self, name: str, default: Any = _REQUIRED, *, low: float | None = None,
               high: float | None = None, low_open: bool = False, high_open: bool = False) -> float:
        """A finite number (a whole number is fine) in [low, high]; an open end excludes its bound."""
        if name not in self.data:
            return self.raw(name, default)
        value = self.data[name]
        interval = ""
        if low is not None or high is not None:
            lo = "-inf" if low is None else f"{low:g}"
            hi = "inf" if high is None else f"{high:g}"
            interval = f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
        within = f" in {interval}" if interval else ""
        if not _is_number(value):
            self.fail(name, f"must be a number{within}, not {_kind(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(name, f"must be a finite number{within}, not {_shown(value)}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            self.fail(name, f"must be in {interval}, not {_shown(value)}")
        if isinstance(value, int) and not -1e300 < value < 1e300:   # only without bounds
            self.fail(name, f"must be a number of ordinary size, not {_shown(value)}")
        return float(value)


def _optional_string(table: _Table, name: str, pattern: re.Pattern | None = None, what: str = "",
                     max_chars: int = MAX_TEXT_CHARS) -> str | None:
    value = table.string(name, None)
    if value is None:
        return None
    if not value.strip():
        table.fail(name, "must not be empty (leave the key out instead)")
    _check_text(table, name, value, max_chars)
    if pattern is not None and not pattern.fullmatch(value):
        table.fail(name, f"must be {what}, not {_brief(value)}")
    return value


def _check_text(table: _Table, name: str, value: str, max_chars: int) -> None:
    """At most ``max_chars`` characters, and no NUL (which no file name or host can hold)."""
    if len(value) > max_chars:
        table.fail(name, f"must be at most {max_chars} characters, not {len(value)}")
    if "\0" in value:
        table.fail(name, "must not contain a NUL character (\\0)")
