"""Deadline rules: a task must reach an expected status before it is due."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal, Self
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field, model_validator

from events.models import TaskStatus
from rules.base import WARNING, Condition, RuleBase
from rules.durations import Duration, format_duration
from rules.state import TaskState
from rules.templates import Template

__all__ = ["DUE_SOON", "OVERDUE", "DeadlineRule", "due_instant", "evaluate_deadline", "next_deadline_change"]

DUE_SOON = "due_soon"
OVERDUE = "overdue"


class DeadlineRule(RuleBase):
    """A selected task must reach one of ``expect_status`` before it is due.

    The due instant is either fixed (``due``) or the task's own ``deadline``
    (``due_from: deadline``). Each ``warn_before`` step raises a ``due_soon``
    warning; passing the due instant raises ``overdue`` at the rule's severity.
    """

    kind: Literal["deadline"]
    due: AwareDatetime | None = Field(default=None, description="Fixed due instant, with UTC offset.")
    due_from: Literal["deadline"] | None = Field(default=None, description="Take the due instant from the event.")
    expect_status: tuple[TaskStatus, ...] = Field(default=(TaskStatus.COMPLETED,), min_length=1)
    warn_before: tuple[Duration, ...] = Field(default=(), description="Warning steps before the due instant.")
    due_soon_summary: Template | None = Field(default=None, description="Message template for due_soon warnings.")

    @model_validator(mode="after")
    def _one_due(self) -> Self:
        if (self.due is None) == (self.due_from is None):
            raise ValueError("give exactly one of 'due' (a fixed instant) or 'due_from: deadline'")
        steps = tuple(sorted(set(self.warn_before), reverse=True))
        if any(step <= timedelta(0) for step in steps):
            raise ValueError("warn_before steps must be longer than 0s")
        object.__setattr__(self, "warn_before", steps)
        return self


def due_instant(rule: DeadlineRule, task: TaskState, tz: ZoneInfo) -> datetime | None:
    """The instant a task is due under a rule; a bare date means the end of that day in ``tz``."""
    if rule.due is not None:
        return rule.due
    deadline = task.deadline
    if deadline is None:
        return None
    if isinstance(deadline, datetime):
        return deadline
    assert isinstance(deadline, date)
    return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=tz)


def _waiting(rule: DeadlineRule, task: TaskState) -> bool:
    return task.status not in rule.expect_status and task.status is not TaskStatus.CANCELLED


def evaluate_deadline(rule: DeadlineRule, task: TaskState, tz: ZoneInfo, now: datetime) -> Condition | None:
    """The condition a deadline rule holds for ``task`` at ``now``, if any."""
    due = due_instant(rule, task, tz)
    if due is None or not _waiting(rule, task):
        return None
    if now >= due:
        return Condition(OVERDUE, rule.severity, since=due)
    begun = [step for step in rule.warn_before if now >= due - step]
    if begun:
        step = min(begun)
        first = max(begun)
        return Condition(DUE_SOON, WARNING, since=due - first, step=format_duration(step))
    return None


def next_deadline_change(rule: DeadlineRule, task: TaskState, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The next instant after ``now`` at which the rule's condition for ``task`` changes."""
    due = due_instant(rule, task, tz)
    if due is None or not _waiting(rule, task):
        return None
    upcoming = [at for at in (*(due - step for step in rule.warn_before), due) if at > now]
    return min(upcoming, default=None)
