"""Reporting periods as review meetings name them: a month, a quarter, a half-year, a year, or FROM..TO.

Pure: ``parse_period("2024-Q2")`` gives the days it covers; ``Period.bounds``
the instants in a time zone (from the first day's midnight to the midnight
after the last day); ``Period.label`` the Vietnamese name a report prints
("Quý II/2024", "Tháng 6/2024", "6 tháng đầu năm 2024").
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["PERIOD_FORMS", "Period", "parse_period", "quarter_of"]

#: The forms a period may take, for error messages and help texts.
PERIOD_FORMS = "2024-Q2 (a quarter), 2024-06 (a month), 2024-H1 (a half-year), 2024 (a year) or 2024-04-01..2024-05-15"

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
        start = datetime.combine(self.first, time(0), tzinfo=tz)
        end = datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=tz)
        return start, end

    @property
    def days(self) -> int:
        """How many days the period covers."""
        return (self.last - self.first).days + 1


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
