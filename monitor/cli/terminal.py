"""Text that reaches a terminal: event-supplied strings cannot drive it or forge lines.

Titles, unit ids and summaries come from providers. Printed raw, an escape
sequence in one (``ESC[2J``, an OSC title, fake colours) clears the screen or
forges a "critical" line, and a CR or LF starts a line the monitor never
wrote. Every control character (C0 but tab, DEL, C1) and every bidirectional
override is shown as a visible escape instead (ESC as backslash-x-1b).
"""

from __future__ import annotations

import logging

__all__ = ["SafeLogRecord", "json_safe", "printable"]

# C0 (tab kept: it cannot move the cursor back or start a line), DEL, C1.
_CONTROLS = [c for c in range(0x20) if c != 0x09] + list(range(0x7F, 0xA0))
# Bidirectional embeddings, overrides and isolates reorder what a reader sees.
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
# Line and paragraph separators: some terminals and viewers start a line there.
_SEPARATORS = [0x2028, 0x2029]

_VISIBLE = str.maketrans({c: f"\\x{c:02x}" for c in _CONTROLS} | {c: f"\\u{c:04x}" for c in (*_BIDI, *_SEPARATORS)})
# JSON already escapes C0 (RFC 8259); what it may leave raw is escaped the JSON way, so the line stays valid JSON.
_JSON_VISIBLE = str.maketrans({c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), *_BIDI, *_SEPARATORS)})


def printable(text: str) -> str:
    """``text`` with every control character shown as an escape: safe to print on a terminal."""
    return text.translate(_VISIBLE)


def json_safe(line: str) -> str:
    """A serialized JSON line with DEL, C1 and bidi characters escaped the JSON way; still the same JSON value."""
    return line.translate(_JSON_VISIBLE)


_OURS = ("monitor", "events", "rules")  # the loggers whose lines can carry event text


class SafeLogRecord(logging.LogRecord):
    """A log record whose message shows control characters as escapes (event text in a log line forges nothing).

    Installed with ``logging.setLogRecordFactory`` by the entry point, so it
    holds for every handler and formatter, faust's included. Only the
    monitor's own loggers are escaped: faust draws its assignment tables over
    several lines. Tracebacks are formatted apart from the message and keep
    their lines.
    """

    def getMessage(self) -> str:
        """The formatted message, made printable when it comes from the monitor's code."""
        message = super().getMessage()
        if self.name.partition(".")[0] in _OURS:
            return printable(message)
        return message
