"""Deadline rules: a task must reach an expected status before it is due.

The due instant is fixed (``due``), the task's own ``deadline``
(``due_from: deadline``), or ``within`` a duration — calendar time or working
days — after the task first reached ``after_status``. With a ``roster``, the
expectation is per unit: every listed unit must have a selected task in an
expected status by ``due``, including units that never sent an event.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal, Self

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from events.models import TaskStatus
from rules.language.base import DUE_SOON, OVERDUE, WARNING, Condition, RuleBase
from rules.language.calendar import WorkCalendar, shift_after, shift_before
from rules.language.durations import Span, WorkingDays, format_span
from rules.language.escalation import Escalating
from rules.language.templates import Template
from rules.state import Extension, TaskState

__all__ = [
    "DeadlineClock",
    "DeadlineRule",
    "RosterIndex",
    "counts_working_days",
    "deadline_stage",
    "due_is_date",
    "is_roster_deadline",
    "is_waiting",
    "next_deadline_boundary",
    "original_due",
    "original_is_date",
    "roster_due",
    "task_due",
]


class DeadlineRule(RuleBase, Escalating):
    """A selected task (or, with a roster, each listed unit) must reach ``expect_status`` before it is due."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    kind: Literal["deadline"]
    due: AwareDatetime | None = Field(default=None, description="Fixed due instant, with UTC offset.")
    due_from: Literal["deadline"] | None = Field(default=None, description="Take the due instant from the event.")
    within: Span | None = Field(
        default=None, description="Due this long after the task first reached after_status (7d, 5wd)."
    )
    after_status: TaskStatus = Field(
        default=TaskStatus.IN_PROGRESS, description="Status that starts the 'within' clock."
    )
    roster: str | list[str] | None = Field(
        default=None, description="Roster file (relative to this file): every unit listed is expected."
    )
    expect_status: tuple[TaskStatus, ...] = Field(default=(TaskStatus.COMPLETED,), min_length=1)
    warn_before: tuple[Span, ...] = Field(default=(), description="Warning steps before the due instant (7d, 1d, 2wd).")
    due_soon_summary: Template | None = Field(default=None, description="Message template for due_soon warnings.")

    @model_validator(mode="after")
    def _one_due(self) -> Self:
        given = [name for name in ("due", "due_from", "within") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'due' (a fixed instant), 'due_from: deadline' or 'within' (a duration)"
            )
        if self.roster is not None and self.due is None:
            raise ValueError("a rule with a 'roster' needs a fixed 'due' instant")
        for step in self.warn_before:
            if (isinstance(step, WorkingDays) and step.days <= 0) or (
                isinstance(step, timedelta) and step <= timedelta(0)
            ):
                raise ValueError("warn_before steps must be longer than 0s")
        if isinstance(self.within, WorkingDays) and self.within.days <= 0:
            raise ValueError("'within' must be at least 1wd")
        return self


def task_due(rule: DeadlineRule, task: TaskState, calendar: WorkCalendar) -> datetime | None:
    """The instant a task is due under a per-task rule: an extension's if one was granted, else ``original_due``."""
    extension = task.extension
    if extension is not None:
        return extension.instant(calendar.tz)
    return original_due(rule, task, calendar)


def original_due(rule: DeadlineRule, task: TaskState, calendar: WorkCalendar) -> datetime | None:
    """The instant a task is due under a per-task rule before any extension; a bare date means the end of that day."""
    if rule.due is not None:
        return rule.due
    if rule.within is not None:
        started = task.first_reached.get(rule.after_status)
        return shift_after(started, rule.within, calendar) if started is not None else None
    return task.own_due(calendar.tz)


def is_roster_deadline(rule: object) -> bool:
    """Whether ``rule`` is a roster deadline: every unit listed must, by one fixed instant."""
    return isinstance(rule, DeadlineRule) and rule.roster is not None and rule.due is not None


def roster_due(rule: DeadlineRule, extension: Extension | None, calendar: WorkCalendar) -> datetime:
    """The instant a unit is due under a roster deadline: its extension's, if it was granted one, else the rule's."""
    if extension is not None:
        return extension.instant(calendar.tz)
    assert rule.due is not None
    return rule.due


def counts_working_days(rule: DeadlineRule) -> bool:
    """Whether the rule counts time in working days: its ``within``, a ``warn_before`` or ``escalate`` step is in ``wd``.

    The one place that decides it: such a rule's days overdue, and how late a
    completion was, are counted in working days too; every other rule counts
    calendar days.
    """
    return (
        isinstance(rule.within, WorkingDays)
        or any(isinstance(step, WorkingDays) for step in rule.warn_before)
        or any(isinstance(step.after, WorkingDays) for step in rule.escalate)
    )


def due_is_date(rule: DeadlineRule, task: TaskState | None) -> bool:
    """Whether the due instant of ``task`` under ``rule`` stands for a date: the end of that day, a local midnight.

    So it is when the task's own deadline is a date, and when ``within`` counts
    working days (due at the end of the last one); a fixed ``due`` and a
    calendar duration are instants.
    """
    if task is not None and task.extension is not None:
        return not isinstance(task.extension.due, datetime)
    return original_is_date(rule, task)


def original_is_date(rule: DeadlineRule, task: TaskState | None) -> bool:
    """``due_is_date`` of the due instant before any extension (``original_due``)."""
    if rule.due is not None:
        return False
    if rule.within is not None:
        return isinstance(rule.within, WorkingDays)
    return task is not None and task.deadline is not None and not isinstance(task.deadline, datetime)


def _warnings(rule: DeadlineRule, due: datetime, calendar: WorkCalendar) -> tuple[tuple[datetime, str], ...]:
    """Warning instants, earliest first, with the step that starts each."""
    return _warning_instants(tuple(rule.warn_before), due, calendar)


@lru_cache(maxsize=65536)
def _warning_instants(
    steps: tuple[timedelta | WorkingDays, ...], due: datetime, calendar: WorkCalendar
) -> tuple[tuple[datetime, str], ...]:
    # Many tasks share a due date: counting working days back once per (steps, due) is enough.
    return tuple(sorted((shift_before(due, step, calendar), format_span(step)) for step in steps))


def deadline_stage(rule: DeadlineRule, due: datetime, calendar: WorkCalendar, now: datetime) -> Condition | None:
    """The condition of something due at ``due`` that is still waiting at ``now``."""
    if now >= due:
        return Condition(OVERDUE, rule.severity, since=due, details={"due": due.isoformat()})
    if not rule.warn_before:
        return None
    begun = [(at, step) for at, step in _warnings(rule, due, calendar) if now >= at]
    if not begun:
        return None
    return Condition(DUE_SOON, WARNING, since=begun[0][0], step=begun[-1][1], details={"due": due.isoformat()})


def next_deadline_boundary(rule: DeadlineRule, due: datetime, calendar: WorkCalendar, now: datetime) -> datetime | None:
    """The next instant after ``now`` at which the stage of something due at ``due`` changes."""
    upcoming = due if due > now else None
    if rule.warn_before:
        for at, _ in _warnings(rule, due, calendar):  # earliest first: the first still to begin is the next
            if at > now:
                return at if upcoming is None or at < upcoming else upcoming
    return upcoming


#: Due instants a ``DeadlineClock`` remembers at once (tasks with their own deadlines share few; a bound whatever they send).
_DUES_KEPT = 16384


class DeadlineClock:
    """``deadline_stage`` and ``next_deadline_boundary`` of one rule, remembered per due instant.

    The stage of something due at ``due`` holds from the instant it was
    computed until its next boundary, so it is computed once per due instant
    and stage, not once per task and event: a day's dossiers share a handful of
    due dates. An instant before the one remembered (an event judged at its own
    time) is computed afresh.
    """

    __slots__ = ("_calendar", "_known", "_rule")

    def __init__(self, rule: DeadlineRule, calendar: WorkCalendar) -> None:
        self._rule = rule
        self._calendar = calendar
        self._known: dict[datetime, tuple[datetime, datetime | None, datetime | None, Condition | None]] = {}

    def assess(self, due: datetime, now: datetime) -> tuple[Condition | None, datetime | None]:
        """The stage at ``now`` of something due at ``due`` that still waits, and the next instant it changes."""
        known = self._known.get(due)
        if known is not None:
            since, ends, until, condition = known
            if since <= now and (ends is None or now < ends):
                return condition, until
        rule, calendar = self._rule, self._calendar
        condition = deadline_stage(rule, due, calendar, now)
        until = next_deadline_boundary(rule, due, calendar, now)
        if len(self._known) >= _DUES_KEPT:
            self._known.clear()
        # ``until`` in ``now``'s zone as well: instants of one zone compare without asking either for its offset.
        ends = until.astimezone(now.tzinfo) if until is not None else None
        self._known[due] = (now, ends, until, condition)
        return condition, until


def is_waiting(rule: DeadlineRule, task: TaskState) -> bool:
    """Whether the task has yet to reach an expected status (a cancelled task waits for nothing)."""
    status = task.status
    return status is not _CANCELLED and status not in rule.expect_status


_CANCELLED = TaskStatus.CANCELLED  # a module's name: an enum's member is slow to reach through its class


class RosterIndex:
    """The tasks that satisfy one roster deadline in one unit (selected, in an expected status), a ``TaskIndex``.

    ``first`` is the earliest of them by event time (then by task id): what
    satisfied the expectation, found without a scan of the unit's tasks.
    """

    __slots__ = ("_done", "_order", "_rule", "_unit")

    def __init__(self, rule: DeadlineRule, unit_id: str) -> None:
        self._rule = rule
        self._unit = unit_id
        self._done: dict[str, TaskState] = {}
        self._order: list[tuple[datetime, str]] = []  # (occurred_at, task_id) of ``_done``, ascending

    def _satisfies(self, task: TaskState) -> bool:
        rule = self._rule
        return task.status in rule.expect_status and rule.selects(task.fields(self._unit), task.labels)

    def add(self, task: TaskState) -> None:
        """Note a task (or its new version)."""
        if self._satisfies(task):
            self._done[task.task_id] = task
            bisect.insort(self._order, (task.occurred_at, task.task_id))

    def remove(self, task: TaskState) -> None:
        """Forget a task (or its old version)."""
        if self._done.get(task.task_id) is task:
            del self._done[task.task_id]
            del self._order[bisect.bisect_left(self._order, (task.occurred_at, task.task_id))]

    def first(self) -> TaskState | None:
        """The earliest task that satisfies the expectation, if any."""
        return self._done[self._order[0][1]] if self._order else None
