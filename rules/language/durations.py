"""Durations written the Prometheus way (``30d``, ``1d12h``, ``0s``), plus working days (``5wd``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["Duration", "Span", "WorkingDays", "format_duration", "format_span", "parse_duration", "parse_span"]

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([wdhms])")
_WHOLE = re.compile(r"(?:\d+[wdhms])+")
_WORKING = re.compile(r"(\d+)wd")


@dataclass(frozen=True, slots=True, order=True)
class WorkingDays:
    """A count of working days: weekends and public holidays do not count."""

    days: int

    def __str__(self) -> str:
        return f"{self.days}wd"


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


def parse_span(value: Any) -> timedelta | WorkingDays:
    """Parse a calendar duration (``7d``) or a number of working days (``5wd``).

    Raises:
        ValueError: the text is neither.
    """
    if isinstance(value, timedelta | WorkingDays):
        return value
    text = str(value).strip()
    working = _WORKING.fullmatch(text)
    if working:
        return WorkingDays(int(working.group(1)))
    try:
        return parse_duration(text)
    except ValueError:
        raise ValueError(
            f"'{text}' is not a duration; write calendar time as 30d, 7d, 12h or working days as 5wd"
        ) from None


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


def format_span(value: timedelta | WorkingDays) -> str:
    """Format a calendar duration or working days."""
    return str(value) if isinstance(value, WorkingDays) else format_duration(value)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+[wdhms])+$", "examples": ["30d", "7d", "12h", "0s"]}),
]

Span = Annotated[
    timedelta | WorkingDays,
    BeforeValidator(parse_span),
    PlainSerializer(format_span, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^((\d+[wdhms])+|\d+wd)$", "examples": ["7d", "1d", "5wd"]}),
]
