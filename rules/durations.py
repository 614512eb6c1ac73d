"""Durations written the Prometheus way: ``30d``, ``1d12h``, ``90s``, ``0s``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["Duration", "format_duration", "parse_duration"]

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([wdhms])")
_WHOLE = re.compile(r"(?:\d+[wdhms])+")


def parse_duration(value: Any) -> timedelta:
    """Parse ``7d``, ``1d12h`` or ``0s`` into a timedelta.

    Raises:
        ValueError: the text is not such a duration.

    """
    if isinstance(value, timedelta):
        return value
    text = str(value).strip()
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"'{text}' is not a duration; write e.g. 30d, 7d, 12h, 30m, 0s (units w d h m s)")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _PART.findall(text)))


def format_duration(value: timedelta) -> str:
    """Format a timedelta back into the shortest ``1d12h`` form."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        if unit == "w":
            continue
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
