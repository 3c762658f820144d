"""User text is data, not markup: control characters escaped wherever the rig logs or prints.

Athlete names, notes, drill names, who raised an alarm, a command's payload:
all are stored as given, but a newline in one could forge a log line
(``Evil\\n2026-... ERROR rig.service: FORGED``), an ESC could recolour or clear
a terminal, and a bidi override could make a line read backwards. So:

- :func:`escaped` turns every such character into a visible escape (``\\n``,
  ``\\r``, ``\\t``, ``\\x1b``, ``\\u202e``) and leaves all other text alone
  (accents, scripts, emoji, a backslash);
- :class:`EscapingFormatter` wraps the formatter of a logging handler and
  escapes each record's message (arguments included) and, line by line,
  its traceback, whose own newlines it keeps; :func:`install` puts it on a
  handler. The CLI installs it on the one handler the service and every
  command log through, so no log call can forget it;
- the CLI's printers of user text call :func:`escaped` themselves.

What is escaped: the C0 controls and DEL, the C1 controls (U+0080 to U+009F,
among them U+009B, a terminal's one-byte CSI), the line and paragraph
separators (U+2028, U+2029), and the bidirectional marks, embeddings,
overrides and isolates (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to
U+2069).
"""

from __future__ import annotations

import copy
import logging
import re
import traceback

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    c = match.group()
    named = _NAMED.get(c)
    if named is not None:
        return named
    code = ord(c)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escaped(text) -> str:
    """``text`` (made a string) with every control, separator and bidi character as a visible escape."""
    text = text if isinstance(text, str) else str(text)
    return UNSAFE.sub(_escape, text) if UNSAFE.search(text) else text


def has_unsafe(text: str) -> bool:
    """Whether :func:`escaped` would change ``text``."""
    return UNSAFE.search(text) is not None


def _escaped_lines(text: str) -> str:
    """A multi-line text (a traceback) with each line escaped and its own newlines kept."""
    return "\n".join(escaped(line) for line in text.split("\n"))


def format_exception(exc_info) -> str:
    """A traceback whose exception messages and notes are each one escaped line: a message holding
    a name with a newline cannot start a line of its own."""
    try:
        top = traceback.TracebackException(*exc_info)
        todo, seen = [top], set()
        while todo:
            te = todo.pop()
            if id(te) in seen:
                continue
            seen.add(id(te))
            if isinstance(getattr(te, "_str", None), str):     # the message (CPython 3.10 to 3.13)
                te._str = escaped(te._str)
            if isinstance(getattr(te, "__notes__", None), list):
                te.__notes__ = [escaped(note) for note in te.__notes__]
            todo += [t for t in (te.__cause__, te.__context__) if t is not None]
            todo += list(getattr(te, "exceptions", None) or ())
        text = "".join(top.format())
    except Exception:                          # never let the log fail: the plain traceback, escaped below
        text = "".join(traceback.format_exception(*exc_info))
    return _escaped_lines(text.rstrip("\n"))


class EscapingFormatter(logging.Formatter):
    """Formats with ``inner`` a copy of each record whose message is one escaped line."""

    def __init__(self, inner: logging.Formatter | None = None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        safe = copy.copy(record)
        safe.msg = escaped(record.getMessage())
        safe.args = None
        if record.exc_info:
            safe.exc_text = format_exception(record.exc_info)
        elif safe.exc_text:
            safe.exc_text = _escaped_lines(safe.exc_text)
        if record.stack_info:
            safe.stack_info = _escaped_lines(record.stack_info)
        return self.inner.format(safe)


def install(handler: logging.Handler) -> logging.Handler:
    """Escape what ``handler`` writes (its formatter, or the default one, does the rest)."""
    if not isinstance(handler.formatter, EscapingFormatter):
        handler.setFormatter(EscapingFormatter(handler.formatter))
    return handler
