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

from rules.durations import WorkingDays

__all__ = ["WorkCalendar", "shift_after", "shift_before"]

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


def shift_after(start: datetime, span: timedelta | WorkingDays, calendar: WorkCalendar) -> datetime:
    """``start`` plus a calendar duration or a number of working days."""
    return calendar.add(start, span.days) if isinstance(span, WorkingDays) else start + span


def shift_before(due: datetime, span: timedelta | WorkingDays, calendar: WorkCalendar) -> datetime:
    """``due`` minus a calendar duration or a number of working days."""
    return calendar.subtract(due, span.days) if isinstance(span, WorkingDays) else due - span
