"""Downloads named after what the request asked for, without letting the request write the header.

``Content-Disposition`` carries a file name built from a unit id, which comes
from the URL. RFC 6266 gives the name twice: ``filename*`` (RFC 8187,
percent-encoded UTF-8, so any text is safe) for every current browser, and a
plain ``filename`` of safe ASCII for old clients. No byte of the unit id
reaches the header unescaped.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from events.text import CONTROL_CHARACTERS, MAX_IDENTIFIER_CHARS, SURROGATES

__all__ = ["attachment", "unit_id_problem"]

# What no identifier holds: a control character (``events.text``), and a lone surrogate (no UTF-8 for it).
_NOT_IN_IDS = re.compile(f"[{CONTROL_CHARACTERS}{SURROGATES}]")
_UNSAFE_FALLBACK = re.compile(r"[^A-Za-z0-9._-]")
_ATTR_CHARS = "!#$&+^`|"  # RFC 8187 attr-char beyond what ``quote`` always keeps (letters, digits, -._~)


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` value that saves the body as ``filename``, whatever characters it holds.

    Args:
        filename: The name to save as, any text.

    Returns:
        ``attachment; filename="…"; filename*=UTF-8''…``: the plain name has every character outside
        ``A-Z a-z 0-9 . _ -`` replaced by ``_``, the extended one is the exact name percent-encoded.
    """
    fallback = _UNSAFE_FALLBACK.sub("_", filename)
    exact = quote(filename.encode("utf-8", "surrogatepass"), safe=_ATTR_CHARS)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


def unit_id_problem(unit_id: str) -> str | None:
    """Why no unit can have this id, or ``None``: ids are 1 to 200 characters of printable text.

    Args:
        unit_id: The id as the URL gave it (percent-decoded).

    Returns:
        What is wrong and where (the character's position and code point), for a 400.
    """
    if unit_id in (".", ".."):
        return f"unit id '{unit_id}' is a path step, which a URL cannot carry as a name"
    if len(unit_id) > MAX_IDENTIFIER_CHARS:
        return f"unit id is {len(unit_id)} characters long; unit ids have at most {MAX_IDENTIFIER_CHARS}"
    found = _NOT_IN_IDS.search(unit_id)
    if found is not None:
        char = found.group()
        what = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
        return (
            f"unit id has {what} (U+{ord(char):04X}) at position {found.start()}; "
            "unit ids are printable text, percent-encoded in the URL"
        )
    return None
