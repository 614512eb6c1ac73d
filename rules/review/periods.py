"""Reporting periods as review meetings name them: a month, a quarter, a half-year, a year, or FROM..TO.

Pure: ``parse_period("2024-Q2")`` gives the days it covers; ``Period.bounds``
the instants in a time zone (from the first day's midnight to the midnight
after the last day); ``Period.label`` the Vietnamese name a report prints
("Quý II/2024", "Tháng 6/2024", "6 tháng đầu năm 2024").

The bounds of a time window asked for by a person (the history API's
``from``/``to``, ``monitor replay --from/--until``) are read here too, the
same way everywhere: ``parse_bound`` takes a date or an ISO 8601 instant,
and ``bound_instant`` says which instant it means — a date is its first
instant, midnight in the pack's time zone, so ``to=2024-08-01`` and
``--until 2024-08-01`` stop where 1 August begins, as a period's end does.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo

__all__ = [
    "BOUND_FORMS",
    "PERIOD_FORMS",
    "Bound",
    "Period",
    "bound_instant",
    "day_end",
    "day_start",
    "parse_bound",
    "parse_day",
    "parse_instant",
    "parse_period",
    "quarter_of",
]

#: The forms a period may take, for error messages and help texts.
PERIOD_FORMS = "2024-Q2 (a quarter), 2024-06 (a month), 2024-H1 (a half-year), 2024 (a year) or 2024-04-01..2024-05-15"
#: The forms a window's bound may take, for error messages and help texts.
BOUND_FORMS = "a date (2024-08-01: midnight, as that day begins) or an ISO 8601 instant (2024-08-01T08:00:00+07:00)"

#: A window's bound as written: a date, or a date and time (with or without its UTC offset).
Bound: TypeAlias = date | datetime

_ROMAN = ("I", "II", "III", "IV")
_FIRST_YEAR, _LAST_YEAR = 1900, 9998  # a period's instants must exist in every time zone
_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")
_HALF = re.compile(r"(\d{4})-[Hh]([12])")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_YEAR = re.compile(r"(\d{4})")


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days from ``first`` to ``last`` (both included), and how the period was named."""

    text: str
    first: date
    last: date
    label: str

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period's instants in ``tz``: from the first day's midnight to the midnight after the last day."""
        return day_start(self.first, tz), day_start(self.last + timedelta(days=1), tz)

    @property
    def days(self) -> int:
        """How many days the period covers."""
        return (self.last - self.first).days + 1


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``tz``: its midnight."""
    return datetime.combine(day, time(0), tzinfo=tz)


def parse_day(text: str, what: str) -> date:
    """A day written ``2026-12-05``, for the option or parameter ``what``.

    Raises:
        ValueError: naming ``what`` and the form it takes.
    """
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a day (write it 2026-12-05)") from None


def day_end(day: date, tz: ZoneInfo) -> datetime:
    """The last instant of ``day`` in ``tz`` (a unit merged that day is gone by then; one formed, there)."""
    return day_start(day + timedelta(days=1), tz) - timedelta(microseconds=1)


def parse_bound(text: str) -> Bound:
    """A window's bound as written: a date (``2024-08-01``) or an ISO 8601 date and time, offset or not.

    Raises:
        ValueError: ``text`` is neither.
    """
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.fromisoformat(text)


def bound_instant(bound: Bound, tz: ZoneInfo) -> datetime:
    """The instant a bound means: a date's first instant in ``tz``; a time without offset is local in ``tz``."""
    if isinstance(bound, datetime):  # before date: a datetime is a date to Python
        return bound if bound.tzinfo is not None else bound.replace(tzinfo=tz)
    return day_start(bound, tz)


def parse_instant(text: str, tz: ZoneInfo) -> datetime:
    """``2024-04-01`` (local midnight in ``tz``) or an ISO 8601 instant (local in ``tz`` when it names no offset).

    Raises:
        ValueError: ``text`` is neither a date nor an ISO 8601 instant (``BOUND_FORMS``).
    """
    return bound_instant(parse_bound(text), tz)


def _vn(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def quarter_of(day: date) -> Period:
    """The quarter ``day`` falls in."""
    return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")


def parse_period(text: str) -> Period:
    """The period ``text`` names.

    Raises:
        ValueError: ``text`` is none of ``PERIOD_FORMS``, or names days that do not exist.
    """
    given = text.strip()
    leading = re.match(r"\d{4}", given)
    if leading is not None and not _FIRST_YEAR <= int(leading[0]) <= _LAST_YEAR:
        raise ValueError(f"{given!r} is not within the years {_FIRST_YEAR} to {_LAST_YEAR}")
    try:
        if match := _QUARTER.fullmatch(given):
            year, quarter = int(match[1]), int(match[2])
            first = date(year, 3 * quarter - 2, 1)
            last = date(year, 3 * quarter, monthrange(year, 3 * quarter)[1])
            return Period(given, first, last, f"Quý {_ROMAN[quarter - 1]}/{year}")
        if match := _HALF.fullmatch(given):
            year, half = int(match[1]), int(match[2])
            first, last = (date(year, 1, 1), date(year, 6, 30)) if half == 1 else (date(year, 7, 1), date(year, 12, 31))
            return Period(given, first, last, f"6 tháng {'đầu' if half == 1 else 'cuối'} năm {year}")
        if match := _MONTH.fullmatch(given):
            year, month = int(match[1]), int(match[2])
            first = date(year, month, 1)
            return Period(given, first, date(year, month, monthrange(year, month)[1]), f"Tháng {month}/{year}")
        if match := _YEAR.fullmatch(given):
            year = int(match[1])
            return Period(given, date(year, 1, 1), date(year, 12, 31), f"Năm {year}")
        if ".." in given:
            begin, _, end = given.partition("..")
            first, last = date.fromisoformat(begin.strip()), date.fromisoformat(end.strip())
            if last < first:
                raise ValueError(f"the period {given!r} ends before it begins")
            if first.year < _FIRST_YEAR or last.year > _LAST_YEAR:
                raise ValueError(f"the period {given!r} is not within the years {_FIRST_YEAR} to {_LAST_YEAR}")
            return Period(given, first, last, f"Từ {_vn(first)} đến {_vn(last)}")
    except ValueError as exc:
        if "ends before" in str(exc) or "not within the years" in str(exc):
            raise
        raise ValueError(f"{given!r} is not a period: {exc}") from None
    raise ValueError(f"{given!r} is not a period: write {PERIOD_FORMS}")
