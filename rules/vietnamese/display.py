"""Figures as Vietnamese readers write them: dates, percentages, numbers, durations and days overdue. No I/O.

- Dates are ``dd/mm/yyyy`` (``19/07/2024``), with the time ``HH:MM``
  (``19/07/2024 17:00``) when an instant is not a whole day.
- Numbers have a decimal comma and ``.`` between thousands (``1.234,5``).
- Percentages have one decimal and a no-break space (U+00A0) before ``%``
  (``45,8 %``), so the sign never wraps to a line of its own; a whole
  percentage has no ``,0`` (``100 %``, ``0 %``).
- Durations are words (``span_text``): ``30 ngày``, ``5 ngày làm việc``,
  ``12 giờ``, ``1 ngày 12 giờ``; the rule's own form (``30d``, ``5wd``)
  stays in machine-readable annotations (``max_age``, ``warn_before``).
- A search compares text ``search_folded``: without diacritics, ``đ`` as
  ``d``, lower case, so "Nghe An" (typed on a phone) finds "Nghệ An".
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rules.language import WorkingDays

if TYPE_CHECKING:
    from rules.language import IndicatorBounds

__all__ = [
    "PERCENT_SPACE",
    "date_text",
    "datetime_text",
    "day_text",
    "days_text",
    "due_text",
    "indicator_text",
    "is_ratio",
    "late_text",
    "number_text",
    "overdue_text",
    "percent_text",
    "search_folded",
    "span_text",
]

#: Between a number and ``%``: a no-break space, so ``45,8 %`` stays on one line.
PERCENT_SPACE = "\u00a0"

_COMBINING = re.compile("[\u0300-\u036f]")  # every Vietnamese tone and letter mark decomposes into these
_SWAP_SEPARATORS = str.maketrans({",": ".", ".": ","})
_DAY = "ngày"
_WORKING_DAY = "ngày làm việc"
#: Calendar time as a reader names it, the largest unit first (weeks are written as days, as rules write them).
_TIME_UNITS = ((_DAY, 86400), ("giờ", 3600), ("phút", 60), ("giây", 1))


def day_text(day: date) -> str:
    """A calendar date: ``19/07/2024``."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def date_text(instant: datetime, tz: ZoneInfo) -> str:
    """The local date of ``instant`` in ``tz``: ``19/07/2024``."""
    return day_text(instant.astimezone(tz).date())


def datetime_text(instant: datetime, tz: ZoneInfo) -> str:
    """``instant`` as local wall time in ``tz``: ``19/07/2024 17:00``."""
    local = instant.astimezone(tz)
    return f"{day_text(local.date())} {local.hour:02d}:{local.minute:02d}"


def due_text(due: datetime, tz: ZoneInfo, date_only: bool = False) -> str:
    """A due instant as the reader should see it.

    A deadline given as a date is due at the end of that day, the next local
    midnight: with ``date_only`` that midnight shows as the date written
    (due 2024-07-20 00:00 shows ``19/07/2024``). Any other instant shows
    with its time (``20/07/2024 00:00``).
    """
    local = due.astimezone(tz)
    if date_only and local.time() == time(0):
        return day_text(local.date() - timedelta(days=1))
    return datetime_text(due, tz)


def number_text(value: float, decimals: int = 3) -> str:
    """``value`` with a decimal comma and ``.`` between thousands: ``1.234,5``.

    At most ``decimals`` decimals (rounded), trailing zeros dropped: ``1.234.567``, ``0,458``.
    """
    if not math.isfinite(value):
        return str(value)
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.translate(_SWAP_SEPARATORS)


def percent_text(ratio: float, decimals: int = 1) -> str:
    """A ratio (0..1) as a percentage: 0.458 → ``45,8 %`` (no-break space); 1 → ``100 %``."""
    return f"{number_text(ratio * 100, decimals)}{PERCENT_SPACE}%"


def is_ratio(bounds: IndicatorBounds | None) -> bool:
    """Whether an indicator's declared bounds make it a ratio: ``min: 0, max: 1``."""
    return bounds is not None and bounds.min == 0 and bounds.max == 1


def indicator_text(name: str, value: float, bounds: Mapping[str, IndicatorBounds], decimals: int | None = None) -> str:
    """A value of indicator ``name``: a percentage when the pack declares it a ratio, else a number.

    Args:
        name: The indicator.
        value: Its value.
        bounds: The pack's ``indicators:`` (``RulePack.indicator_bounds``).
        decimals: Decimals to show (by default 1 for a percentage, at most 3 for a number).
    """
    if is_ratio(bounds.get(name)):
        return percent_text(value) if decimals is None else percent_text(value, decimals)
    return number_text(value) if decimals is None else number_text(value, decimals)


def days_text(days: int, working: bool = False) -> str:
    """A number of whole days: ``5 ngày``, ``5 ngày làm việc``; 0 is ``dưới 1 ngày`` (less than one whole day)."""
    unit = _WORKING_DAY if working else _DAY
    return f"dưới 1 {unit}" if days < 1 else f"{number_text(days)} {unit}"


def span_text(span: timedelta | WorkingDays) -> str:
    """A rule's duration as a reader says it: ``30 ngày``, ``5 ngày làm việc``, ``12 giờ``, ``1 ngày 12 giờ``.

    The one Vietnamese form of a duration in a summary (``{max_age}``); ``rules.language.durations.format_span``
    writes the rule's own form (``30d``, ``5wd``) for annotations and rule files.
    """
    if isinstance(span, WorkingDays):
        return f"{number_text(span.days)} {_WORKING_DAY}"
    seconds = int(span.total_seconds())
    parts = []
    for name, size in _TIME_UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{number_text(count)} {name}")
    return " ".join(parts) or "0 giây"


def overdue_text(days: int, working: bool = False) -> str:
    """How long past due: ``quá hạn 3 ngày``, ``quá hạn dưới 1 ngày``, ``quá hạn 2 ngày làm việc``."""
    return f"quá hạn {days_text(days, working)}"


def late_text(days: int, working: bool = False) -> str:
    """How late a completion was: ``muộn 5 ngày``, ``muộn dưới 1 ngày``, ``muộn 2 ngày làm việc``."""
    return f"muộn {days_text(days, working)}"


#: The Vietnamese alphabet in its order; tones (huyền, hỏi, ngã, sắc, nặng) order words that differ only by them.
_ALPHABET = {letter: n for n, letter in enumerate("aăâbcdđeêghiklmnoôơpqrstuưvxy")}
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}


@functools.lru_cache(maxsize=32768)  # names repeat: 3,321 communes sorted on each request
def name_order(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A sort key that puts names in Vietnamese dictionary order: Cà Mau, Cao Bằng, Cần Thơ, Đà Nẵng, Điện Biên.

    Letters first (a space before any letter, ``ă`` after ``a``, ``đ`` after ``d``, other characters after ``y``
    by code point), then tones.
    """
    tones: list[int] = []
    bare = []
    for char in unicodedata.normalize("NFD", text.casefold()):
        if char in _TONES:
            tones.append(_TONES[char])
        else:
            bare.append(char)
    letters = unicodedata.normalize("NFC", "".join(bare))
    return tuple(-1 if c.isspace() else _ALPHABET.get(c, len(_ALPHABET) + ord(c)) for c in letters), tuple(tones)


def search_folded(text: str) -> str:
    """``text`` as a search compares it: diacritics dropped, ``đ`` read as ``d``, lower case."""
    bare = _COMBINING.sub("", unicodedata.normalize("NFD", text))
    return bare.replace("đ", "d").replace("Đ", "D").lower()
