"""Text that reaches a terminal: event-supplied strings cannot drive it or forge lines.

Titles, unit ids and summaries come from providers. Printed raw, an escape
sequence in one (``ESC[2J``, an OSC title, fake colours) clears the screen or
forges a "critical" line, and a CR or LF starts a line the monitor never
wrote. Every control character (C0 but tab, DEL, C1) and every bidirectional
override is shown as a visible escape instead (ESC as backslash-x-1b).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from numbers import Number

from events.text import BIDI_CONTROLS, LINE_SEPARATORS, escape
from monitor.logorigin import written_by_monitor

__all__ = ["SafeLogRecord", "json_safe", "printable"]

# JSON already escapes C0 (RFC 8259); what it may leave raw is escaped the JSON way, so the line stays valid JSON.
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{BIDI_CONTROLS}{LINE_SEPARATORS}]")


def printable(text: str) -> str:
    """``text`` with every harmful character shown as an escape (``events.text.escape``; TAB kept): safe to print."""
    return escape(text, keep_tab=True)


def json_safe(line: str) -> str:
    """A serialized JSON line with DEL, C1 and bidi characters escaped the JSON way; still the same JSON value."""
    return _JSON_UNSAFE.sub(lambda found: f"\\u{ord(found.group()):04x}", line)


class _Escaped:
    """A log record's argument as its line shows it: its text (``str``, ``repr`` or formatted) made printable."""

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = value

    def __str__(self) -> str:
        return printable(str(self._value))

    def __repr__(self) -> str:
        return printable(repr(self._value))

    def __format__(self, spec: str) -> str:
        return printable(format(self._value, spec))


def _escaped(value: object) -> object:
    # A number shows as digits (or nan, inf), and "%d" or "%.1f" need the number itself.
    return value if isinstance(value, Number) else _Escaped(value)


class SafeLogRecord(logging.LogRecord):
    """A log record whose arguments show control characters as escapes (event text in a log line forges nothing).

    Installed with ``logging.setLogRecordFactory`` by the entry point, so it
    holds for every handler and formatter, faust's included. What came from
    outside (a title, a unit id, an error quoting a record) reaches a line
    through the arguments of the monitor's log calls: those are escaped. The
    template is the code's own text and keeps its line breaks, as do
    tracebacks, formatted apart from the message. Lines written by faust's
    code (``monitor.logorigin``) are left alone: faust draws its assignment
    and recovery tables over several lines, passed as arguments.
    """

    def getMessage(self) -> str:
        """The formatted message; when the monitor's code logged it, with its arguments made printable."""
        if not written_by_monitor(self):
            return super().getMessage()
        message = self.msg if isinstance(self.msg, str) else printable(str(self.msg))  # an object: not a template
        args = self.args
        if not args:
            return message
        if isinstance(args, Mapping):
            return message % {key: _escaped(value) for key, value in args.items()}
        return message % tuple(_escaped(value) for value in args)
