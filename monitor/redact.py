"""Secrets out of log lines: the user info and query string of every URL are replaced by ``***``.

A webhook or Alertmanager URL may carry a token (``?token=…``) or a basic-auth
user (``https://user:pass@host``), and so may a broker URL someone wrote that
way. Log lines show where a URL points (scheme, host, port, path), never what
it authenticates with.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "RedactingFilter", "redact_text", "redact_url"]

MASK = "***"

# scheme://[userinfo@]authority-and-path[?query][#fragment], up to whitespace or a quote. The user info runs to
# the authority's last "@" (a password may hold one) and never crosses "/", "?" or "#".
_URL = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)"
    r"(?P<userinfo>[^\s/?#'\"<>]*@)?"
    r"(?P<rest>[^\s?#'\"<>]*)"
    r"(?P<query>\?[^\s#'\"<>]*)?"
)


def redact_url(url: str) -> str:
    """``url`` without its secrets: user info and query string replaced by ``***``, the fragment dropped.

    Args:
        url: Any URL, as configured.

    Returns:
        The URL as it may appear in a log line or an error message.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # not even a URL (an unbalanced "[" in the host): show none of it
        return MASK
    if not parts.scheme or not parts.netloc:
        return redact_text(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{MASK}@{host}" if "@" in parts.netloc else host
    return urlunsplit((parts.scheme, netloc, parts.path, MASK if parts.query else "", ""))


def _redact_match(match: re.Match[str]) -> str:
    userinfo = f"{MASK}@" if match.group("userinfo") else ""
    query = f"?{MASK}" if match.group("query") else ""
    return f"{match.group('scheme')}{userinfo}{match.group('rest')}{query}"


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted as ``redact_url`` does (fragments are kept: they go to no server)."""
    return _URL.sub(_redact_match, text) if "://" in text else text


class RedactingFilter(logging.Filter):
    """Redacts the URLs in every record a handler writes, its traceback included (third-party loggers too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with its URLs redacted; always let it through."""
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True
