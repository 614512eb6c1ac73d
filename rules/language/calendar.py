"""Working-day arithmetic: weekends and Vietnamese public holidays do not count.

Holidays come from the maintained ``holidays`` library (including Tết and the
government's substituted days off and working Saturdays); a rule group can
add non-working days and working days of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from rules.language.durations import WorkingDays

__all__ = ["WorkCalendar", "shift_after", "shift_before", "whole_days"]

_MAX_SCAN_DAYS = 3660  # no sane rule counts more than ten years of working days


@lru_cache(maxsize=64)
def _national(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """Public holidays and working weekend days of Vietnam in ``year``."""
    calendar = holidays.country_holidays("VN", years=year)
    workdays = frozenset(d for d in getattr(calendar, "weekend_workdays", ()) if d.year == year)
    return frozenset(calendar.keys()), workdays


@dataclass(frozen=True)
class WorkCalendar:
    """Which local dates are working days, in one time zone."""

    tz: ZoneInfo
    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    extra_working_days: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, tz: ZoneInfo, non_working: Iterable[date] = (), working: Iterable[date] = ()) -> WorkCalendar:
        """A calendar for ``tz`` with a rule pack's own extra days."""
        return cls(tz, frozenset(non_working), frozenset(working))

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day."""
        if day in self.extra_working_days:
            return True
        if day in self.extra_holidays:
            return False
        public, weekend_workdays = _national(day.year)
        if day in public:
            return False
        return day.weekday() < 5 or day in weekend_workdays

    def is_holiday(self, day: date) -> bool:
        """Whether ``day`` is a public holiday (or one of the pack's own days off), whatever day of the week."""
        if day in self.extra_working_days:
            return False
        return day in self.extra_holidays or day in _national(day.year)[0]

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.tz)

    def add(self, start: datetime, days: int) -> datetime:
        """The end of the ``days``-th working day after the local date of ``start``.

        The day of ``start`` itself does not count, as for administrative
        processing deadlines counted from the day after receipt.
        """
        day = start.astimezone(self.tz).date()
        counted = 0
        for _ in range(_MAX_SCAN_DAYS):
            if counted == days:
                break
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return self._midnight(day + timedelta(days=1))

    def subtract(self, due: datetime, days: int) -> datetime:
        """The start of the working day from which ``days`` working days remain before ``due``."""
        local = due.astimezone(self.tz)
        last = local.date() if local.time() != time(0) else local.date() - timedelta(days=1)
        day = last + timedelta(days=1)
        counted = 0
        for _ in range(_MAX_SCAN_DAYS):
            if counted == days:
                break
            day -= timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return self._midnight(day)

    def whole_working_days(self, start: datetime, end: datetime) -> int:
        """The working days that lie wholly between ``start`` and ``end``; 0 when none does.

        A day counts once it has ended: a day that began before ``start`` does
        not, so ``start`` at a local midnight (a deadline given as a date: the
        end of that day) lets the very next day count. This is the largest
        ``n`` with ``add(start - 1 µs, n) <= end``: ``add`` counts from the day
        after the one ``start`` falls in, and the instant just before a
        midnight falls in the day that midnight ends.
        """
        first_start = start.astimezone(self.tz)
        first = first_start.date() if first_start.time() == time(0) else first_start.date() + timedelta(days=1)
        last = end.astimezone(self.tz).date() - timedelta(days=1)  # the last day that has ended by ``end``
        return _working_days_in(self, first, last) if first <= last else 0


@lru_cache(maxsize=4096)
def _working_days_in(calendar: WorkCalendar, first: date, last: date) -> int:
    """Working days from ``first`` to ``last``, both included (many overdue items share both ends)."""
    return sum(calendar.is_working_day(first + timedelta(days=i)) for i in range((last - first).days + 1))


def whole_days(start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """Whole calendar days from ``start`` to ``end``: the largest ``n`` with ``start`` + n days <= ``end``; 0 before.

    Days are counted on the wall clock of ``tz`` (the same local time n days
    later), which is 24 hours a day where the zone has no daylight saving.
    """
    local, now = start.astimezone(tz), end.timestamp()
    days = (end.astimezone(tz).date() - local.date()).days
    if days > 0 and (local + timedelta(days=days)).timestamp() > now:
        days -= 1
    return max(days, 0)


def shift_after(start: datetime, span: timedelta | WorkingDays, calendar: WorkCalendar) -> datetime:
    """``start`` plus a calendar duration or a number of working days."""
    return calendar.add(start, span.days) if isinstance(span, WorkingDays) else start + span


def shift_before(due: datetime, span: timedelta | WorkingDays, calendar: WorkCalendar) -> datetime:
    """``due`` minus a calendar duration or a number of working days."""
    return calendar.subtract(due, span.days) if isinstance(span, WorkingDays) else due - span
