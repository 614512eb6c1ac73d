"""Downloads named after what the request asked for, without letting the request write the header.

``Content-Disposition`` carries a file name built from a unit id, which comes
from the URL. RFC 6266 gives the name twice: ``filename*`` (RFC 8187,
percent-encoded UTF-8, so any text is safe) for every current browser, and a
plain ``filename`` of safe ASCII for old clients. No byte of the unit id
reaches the header unescaped.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

__all__ = ["MAX_UNIT_ID_CHARS", "attachment", "unit_id_problem"]

#: The longest identifier an event can carry (``events.models.Identifier``).
MAX_UNIT_ID_CHARS = 200
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
    if len(unit_id) > MAX_UNIT_ID_CHARS:
        return f"unit id is {len(unit_id)} characters long; unit ids have at most {MAX_UNIT_ID_CHARS}"
    for position, char in enumerate(unit_id):
        category = unicodedata.category(char)
        if category in ("Cc", "Cs"):  # control characters (CR, LF, NUL…) and lone surrogates
            what = "a lone surrogate" if category == "Cs" else "a control character"
            return (
                f"unit id has {what} (U+{ord(char):04X}) at position {position}; "
                "unit ids are printable text, percent-encoded in the URL"
            )
    return None
