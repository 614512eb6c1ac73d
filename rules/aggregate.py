"""Aggregate rules: a count or ratio over a unit's tracked tasks, compared to a limit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field

from events.models import TaskStatus
from rules.base import Condition, RuleBase
from rules.limits import Limits, breached
from rules.state import TaskState

__all__ = ["OPEN_STATUSES", "AggregateRule", "evaluate_aggregate", "measure", "next_aggregate_change"]

#: Statuses of a task still to be done: the ones that can be overdue.
OPEN_STATUSES = frozenset({TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS})

Measure = Literal["overdue_ratio", "overdue_count", "open_ratio", "open_count", "count"]


class AggregateRule(RuleBase, Limits):
    """A measure over the unit's selected tasks must stay below (or above) a limit.

    Measures: ``overdue_ratio`` / ``overdue_count`` (open tasks past their own
    deadline), ``open_ratio`` / ``open_count`` (not started or in progress),
    ``count``. Ratios need at least ``min_tasks`` selected tasks.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    kind: Literal["aggregate"]
    measure: Measure
    min_tasks: int = Field(default=1, ge=1, description="Fewest selected tasks for the measure to count.")


def _overdue(task: TaskState, tz: ZoneInfo, now: datetime) -> bool:
    due = task.own_due(tz)
    return task.status in OPEN_STATUSES and due is not None and now >= due


def measure(rule: AggregateRule, tasks: list[TaskState], tz: ZoneInfo, now: datetime) -> float | None:
    """The rule's measure over the selected tasks, or ``None`` below ``min_tasks``."""
    if len(tasks) < rule.min_tasks:
        return None
    if rule.measure == "count":
        return float(len(tasks))
    if rule.measure.startswith("overdue"):
        hits = sum(1 for t in tasks if _overdue(t, tz, now))
    else:
        hits = sum(1 for t in tasks if t.status in OPEN_STATUSES)
    return hits / len(tasks) if rule.measure.endswith("ratio") else float(hits)


def evaluate_aggregate(
    rule: AggregateRule, tasks: list[TaskState], tz: ZoneInfo, now: datetime, firing: bool
) -> Condition | None:
    """Whether the measure breaches the limit at ``now``."""
    value = measure(rule, tasks, tz, now)
    if value is None or not breached(rule, value, firing):
        return None
    return Condition("breach", rule.severity, since=now, value=value, details={"target": f"{rule.target:.4g}"})


def next_aggregate_change(
    rule: AggregateRule, tasks: Iterable[TaskState], tz: ZoneInfo, now: datetime
) -> datetime | None:
    """The next instant an open task's deadline passes (only overdue measures change with time)."""
    if not rule.measure.startswith("overdue"):
        return None
    upcoming = (t.own_due(tz) for t in tasks if t.status in OPEN_STATUSES)
    return min((at for at in upcoming if at is not None and at > now), default=None)
