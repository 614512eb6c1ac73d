"""Aggregate rules: a count or ratio over a unit's tracked tasks, compared to a limit."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field

from events.models import TaskStatus
from rules.language.base import BREACH, Condition, RuleBase
from rules.language.limits import Limits, breached
from rules.state import TaskState

__all__ = [
    "OPEN_STATUSES",
    "AggregateIndex",
    "AggregateRule",
    "evaluate_aggregate",
    "measure",
    "next_aggregate_change",
]

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


class AggregateIndex:
    """One aggregate rule's selected tasks in one unit, counted as tasks change (a ``TaskIndex``).

    Keeps how many tasks the rule selects, how many of them are open, and
    the due instants of the open ones in order: the measure at any instant,
    and when it next changes, cost O(log n), not a scan of the unit's tasks.
    """

    __slots__ = ("_dues", "_rule", "_tz", "_unit", "open", "selected")

    def __init__(self, rule: AggregateRule, tz: ZoneInfo, unit_id: str) -> None:
        self._rule = rule
        self._tz = tz
        self._unit = unit_id
        self.selected = 0
        self.open = 0
        self._dues: list[float] = []  # epoch seconds of the open selected tasks' own deadlines, ascending

    def _counted(self, task: TaskState) -> tuple[bool, float | None]:
        if not self._rule.selects(task.fields(self._unit), task.labels):
            return False, None
        due = task.due_in_force(self._tz) if task.status in OPEN_STATUSES else None
        return True, due.timestamp() if due is not None else None

    def add(self, task: TaskState) -> None:
        """Count a task (or its new version)."""
        selected, due = self._counted(task)
        if selected:
            self.selected += 1
            self.open += task.status in OPEN_STATUSES
            if due is not None:
                bisect.insort(self._dues, due)

    def remove(self, task: TaskState) -> None:
        """Stop counting a task (or its old version)."""
        selected, due = self._counted(task)
        if selected:
            self.selected -= 1
            self.open -= task.status in OPEN_STATUSES
            if due is not None:
                del self._dues[bisect.bisect_left(self._dues, due)]

    def overdue(self, now: datetime) -> int:
        """Open selected tasks past their own deadline at ``now``."""
        return bisect.bisect_right(self._dues, now.timestamp())

    def next_due(self, now: datetime) -> datetime | None:
        """The first own deadline of an open selected task after ``now``."""
        position = bisect.bisect_right(self._dues, now.timestamp())
        return datetime.fromtimestamp(self._dues[position], UTC) if position < len(self._dues) else None


def measure(rule: AggregateRule, index: AggregateIndex, now: datetime) -> float | None:
    """The rule's measure over the selected tasks, or ``None`` below ``min_tasks``."""
    if index.selected < rule.min_tasks:
        return None
    if rule.measure == "count":
        return float(index.selected)
    hits = index.overdue(now) if rule.measure.startswith("overdue") else index.open
    return hits / index.selected if rule.measure.endswith("ratio") else float(hits)


def evaluate_aggregate(rule: AggregateRule, index: AggregateIndex, now: datetime, firing: bool) -> Condition | None:
    """Whether the measure breaches the limit at ``now``."""
    value = measure(rule, index, now)
    if value is None or not breached(rule, value, firing):
        return None
    return Condition(BREACH, rule.severity, since=now, value=value, details={"target": f"{rule.target:.4g}"})


def next_aggregate_change(rule: AggregateRule, index: AggregateIndex, now: datetime) -> datetime | None:
    """The next instant an open task's deadline passes (only overdue measures change with time)."""
    if not rule.measure.startswith("overdue"):
        return None
    return index.next_due(now)
