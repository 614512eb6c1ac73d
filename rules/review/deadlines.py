"""A period's deadlines: each as judged (``Deadline``), and counted (``DeadlineCounts``, ``DeadlineTally``).

A scorecard's figures (deadlines by outcome, the score, the median and worst
days late, the oldest overdue, the warnings heeded and ignored) need each
deadline once, not all of them at once. A review page shows the first
hundred overdue and late deadlines of each unit and every extended one, and
counts the rest: ``DeadlineTally`` takes a unit's deadlines one at a time and
keeps their counts (``DeadlineCounts``: by outcome, and the days late as a
histogram, so the median and the worst are exact) and only the deadlines to
show. A national quarter's millions of deadlines then cost a report their
counts, not some 300 bytes each for as long as it is made. Counts add up
(``summed``): a unit and those merged into it, one worker's units and another's.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from rules.state import Extension

__all__ = ["Deadline", "DeadlineCounts", "DeadlineOutcome", "DeadlineTally", "Warnings", "order", "summed"]


class DeadlineOutcome(StrEnum):
    """How a deadline stood at the end of the period."""

    ON_TIME = "on_time"
    EXTENDED = "extended"  # kept after its first due instant, before the one an extension set
    LATE = "late"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"
    NOT_YET_DUE = "not_yet_due"


@dataclass(frozen=True, slots=True)
class Deadline:
    """One deadline of a unit that fell in the period, and how it stood at the end."""

    rule_id: str
    task_id: str | None  # None for a roster deadline of the unit itself
    title: str
    due: datetime
    outcome: DeadlineOutcome
    kept_at: datetime | None = None  # when an expected status was reached (on time, late)
    days_late: int | None = None  # late: how late; overdue: how long overdue at the period's end
    unit_id: str | None = None  # a unit rolled up into the scorecard's (``rules.review.lineage``): its deadline
    extension: Extension | None = None  # the extension that set ``due``, if one did
    first_due: datetime | None = None  # the due instant before the extension (``None``: none was granted)
    dated: tuple[bool, bool] = (False, False)  # whether ``due``, ``first_due`` stand for a date (``due_is_date``)


@dataclass(frozen=True, slots=True)
class Warnings:
    """Due-soon warnings about deadlines in the period: heeded, ignored, or neither yet."""

    heeded: int = 0
    ignored: int = 0
    open: int = 0


def order(deadline: Deadline) -> tuple[datetime, str, str, str]:
    """Where a deadline stands in a scorecard: by due instant, rule, task (a unit's own last), unit rolled up."""
    return (deadline.due, deadline.rule_id, deadline.task_id or "", deadline.unit_id or "")


_KEPT_IN_TIME = (DeadlineOutcome.ON_TIME, DeadlineOutcome.EXTENDED)
_MISSED = (DeadlineOutcome.LATE, DeadlineOutcome.OVERDUE)  # also the outcomes a page lists deadlines of


@dataclass(frozen=True, slots=True)
class DeadlineCounts:
    """A unit's deadlines of a period, counted: by outcome, the days late, the oldest overdue."""

    outcomes: dict[DeadlineOutcome, int] = field(default_factory=dict)
    #: Deadlines kept late, by how many days late (those whose days are known: every one a scorecard judges).
    late_days: dict[int, int] = field(default_factory=dict)
    oldest_overdue: int | None = None  #: the most days overdue (0 for one overdue less than a day)

    @classmethod
    def of(cls, deadlines: Iterable[Deadline]) -> DeadlineCounts:
        """The counts of every one of ``deadlines``."""
        given = list(deadlines)
        late = Counter(d.days_late for d in given if d.outcome is DeadlineOutcome.LATE and d.days_late is not None)
        overdue = [d.days_late or 0 for d in given if d.outcome is DeadlineOutcome.OVERDUE]
        return cls(dict(Counter(d.outcome for d in given)), dict(late), max(overdue, default=None))

    def count(self, outcome: DeadlineOutcome) -> int:
        """Deadlines with ``outcome``."""
        return self.outcomes.get(outcome, 0)

    @property
    def total(self) -> int:
        """Every deadline counted."""
        return sum(self.outcomes.values())

    @property
    def lateness(self) -> tuple[float | None, int | None]:
        """Median and worst days late of the deadlines kept late (the median as ``statistics.median`` gives it)."""
        n = sum(self.late_days.values())
        if not n:
            return None, None
        days = sorted(self.late_days)
        middle = (n - 1) // 2, n // 2  # the one in the middle, or the two around it
        found: list[int] = []
        seen = 0
        for value in days:
            seen += self.late_days[value]
            while len(found) < 2 and middle[len(found)] < seen:
                found.append(value)
        median: float = found[0] if n % 2 else (found[0] + found[1]) / 2
        return median, days[-1]


def summed(counts: Iterable[DeadlineCounts]) -> DeadlineCounts:
    """The counts of the deadlines of each of ``counts`` together."""
    outcomes: Counter[DeadlineOutcome] = Counter()
    late_days: Counter[int] = Counter()
    oldest: int | None = None
    for each in counts:
        outcomes.update(each.outcomes)
        late_days.update(each.late_days)
        if each.oldest_overdue is not None:
            oldest = each.oldest_overdue if oldest is None else max(oldest, each.oldest_overdue)
    return DeadlineCounts(dict(outcomes), dict(late_days), oldest)


class DeadlineTally:
    """A unit's deadlines of a period, counted as they are judged, keeping those a page shows (or every one).

    Args:
        shown: How many of the overdue deadlines, and of the late ones, to keep: the first by ``order`` (those
            given first among equals). Every extended deadline is kept too. ``None``: keep every deadline.
    """

    __slots__ = ("_every", "_extended", "_first", "_given", "_late_days", "_oldest", "_outcomes", "_warned", "shown")

    def __init__(self, shown: int | None) -> None:
        self.shown = shown
        self._outcomes: Counter[DeadlineOutcome] = Counter()
        self._late_days: Counter[int] = Counter()
        self._oldest: int | None = None
        self._warned: Counter[DeadlineOutcome] = Counter()
        self._every: list[Deadline] = []
        self._extended: list[tuple[int, Deadline]] = []  # each with its place among those given
        self._first: dict[DeadlineOutcome, list[tuple[_Reversed, int, Deadline]]] = {o: [] for o in _MISSED}
        self._given = 0

    def add(self, deadline: Deadline, warned: bool = False) -> None:
        """Count one deadline (``warned``: a due-soon alert warned about it)."""
        outcome = deadline.outcome
        self._outcomes[outcome] += 1
        if outcome is DeadlineOutcome.LATE and deadline.days_late is not None:
            self._late_days[deadline.days_late] += 1
        elif outcome is DeadlineOutcome.OVERDUE:
            days = deadline.days_late or 0
            self._oldest = days if self._oldest is None else max(self._oldest, days)
        if warned:
            self._warned[outcome] += 1
        if self.shown is None:
            self._every.append(deadline)
            return
        self._given += 1
        if deadline.extension is not None:
            self._extended.append((self._given, deadline))
        if outcome in _MISSED and self.shown > 0:
            self._keep(outcome, deadline)

    def _keep(self, outcome: DeadlineOutcome, deadline: Deadline) -> None:
        """Keep ``deadline`` among the first ``shown`` of its outcome (a heap whose top is the last of them)."""
        kept = self._first[outcome]
        # heapq keeps the least on top: keys compared backwards, and among equals the one given last is the least.
        entry = (_Reversed(order(deadline)), -self._given, deadline)
        if len(kept) < (self.shown or 0):
            heapq.heappush(kept, entry)
        elif entry > kept[0]:
            heapq.heapreplace(kept, entry)

    def counts(self) -> DeadlineCounts:
        """The deadlines given, counted."""
        return DeadlineCounts(dict(self._outcomes), dict(self._late_days), self._oldest)

    def kept(self) -> tuple[Deadline, ...]:
        """The deadlines kept, in ``order`` (among equals, as given)."""
        if self.shown is None:
            return tuple(sorted(self._every, key=order))
        first = [(-given, d) for outcome in _MISSED for _, given, d in self._first[outcome]]
        chosen = dict((*first, *self._extended))  # by place given: an extended deadline may be among the first too
        return tuple(d for _, _, d in sorted((order(d), given, d) for given, d in chosen.items()))

    @property
    def warnings(self) -> Warnings:
        """The warned deadlines: heeded (then kept in time), ignored (kept late or missed), open (not yet due)."""
        warned = self._warned
        return Warnings(
            heeded=sum(warned[o] for o in _KEPT_IN_TIME),
            ignored=sum(warned[o] for o in _MISSED),
            open=warned[DeadlineOutcome.NOT_YET_DUE],
        )


class _Reversed:
    """An ``order`` key compared backwards: the heap's top is the last of those kept."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[datetime, str, str, str]) -> None:
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return self.key > other.key

    def __gt__(self, other: _Reversed) -> bool:
        return self.key < other.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.key == other.key

    __hash__ = None  # type: ignore[assignment]
