"""What text from outside may not carry raw, defined once: identifiers, dead-letter reasons, terminal lines.

Titles, unit ids and reasons come from publishers and reach logs, terminals,
record headers, metric labels and URLs. Three kinds of character there do
harm: control characters (C0, DEL, C1: a CR or LF forges a line, ESC repaints
a terminal), bidirectional controls (they reorder what a reader sees) and the
Unicode line and paragraph separators (some viewers start a line there); a
lone surrogate cannot be encoded at all. An identifier may hold none of the
controls (``IDENTIFIER_PATTERN``, checked by pydantic-core's own regex, no
Python call per field); text shown to people has each harmful character
written as a visible escape (``escape``), the only escape function.
"""

from __future__ import annotations

import re

__all__ = [
    "BIDI_CONTROLS",
    "CONTROL_CHARACTERS",
    "IDENTIFIER_PATTERN",
    "LINE_SEPARATORS",
    "MAX_IDENTIFIER_CHARS",
    "SEPARATOR",
    "SURROGATES",
    "escape",
]

#: C0, DEL and C1 controls, as the body of a regex character class.
CONTROL_CHARACTERS = "\x00-\x1f\x7f-\x9f"
#: Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
#: The Unicode line and paragraph separators.
LINE_SEPARATORS = "\u2028\u2029"
#: Lone surrogates: text that cannot be encoded as UTF-8.
SURROGATES = "\ud800-\udfff"
#: An identifier (event id, source, unit id, task id, kind, indicator) is 1 to this many characters…
MAX_IDENTIFIER_CHARS = 200
#: … none of them a control character.
IDENTIFIER_PATTERN = f"^[^{CONTROL_CHARACTERS}]*$"
#: Joins identifiers into one key (source and event id; unit and item): a control character (US, "unit
#: separator"), so no identifier can hold it and no two different pairs make the same key.
SEPARATOR = "\x1f"

_HARMFUL = re.compile(f"[{CONTROL_CHARACTERS}{BIDI_CONTROLS}{LINE_SEPARATORS}{SURROGATES}]")
_HARMFUL_BUT_TAB = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{BIDI_CONTROLS}{LINE_SEPARATORS}{SURROGATES}]")


def _visible(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(text: str, *, keep_tab: bool = False) -> str:
    r"""``text`` with every harmful character written as a visible escape (``\x1b``, ``\u202e``, ``\udc80``).

    Args:
        text: Text that may have come from outside.
        keep_tab: Leave TAB as it is (a terminal line: it cannot move the cursor back or start a line);
            a record header or a reason keeps nothing that is not printable.
    """
    return (_HARMFUL_BUT_TAB if keep_tab else _HARMFUL).sub(_visible, text)
