"""Overdue counting: what of a unit is past its due instant, read from the alerts its state holds.

What ``/metrics`` and the HTTP API count (``monitor.metrics.collectors``,
``monitor.http.units``, ``monitor.http.views``): whether one alert says a
task is overdue (``is_overdue``) or the unit missed a deadline of its own
(``is_unit_overdue``), and a unit's overdue items by task kind
(``overdue_by_kind``). Nothing here evaluates a rule: it reads what the
engine decided.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from rules.language import OVERDUE
from rules.state import AlertState, Subject, SubjectKind, UnitState, task_named

__all__ = ["is_overdue", "is_unit_overdue", "overdue_by_kind"]


def is_overdue(alert: AlertState) -> bool:
    """Whether an alert says a task is past its due instant."""
    return alert.stage == OVERDUE and Subject.parse(alert.subject).kind is SubjectKind.TASK


def is_unit_overdue(alert: AlertState) -> bool:
    """Whether an alert says a unit is past a deadline of its own (a roster deadline: the 20/7 inspection plan)."""
    return alert.stage == OVERDUE and Subject.parse(alert.subject).kind is SubjectKind.UNIT


def overdue_by_kind(state: UnitState, kind_of_rule: Callable[[str], str]) -> Counter[str]:
    """What of a unit is overdue, by task kind: what ``/metrics`` and ``/api/v1/units`` count.

    Each task with an overdue alert once, however many rules say so; each of
    the unit's own missed deadlines (a roster deadline) once, under the kind
    ``kind_of_rule`` gives its rule (``RulePack.selected_kind``). Costs O(the unit's alerts) and reads no
    task: an alert about a task keeps the task's kind (a scrape that read each overdue task took 19 s with
    100,000 of them, when a point read cost 190 µs).
    """
    kinds: dict[str, str] = {}  # overdue task → its kind, as its alert says
    unsaid: set[str] = set()  # overdue tasks whose alerts were stored without the kind (by an earlier version)
    counts: Counter[str] = Counter()
    for alert in state.alerts.values():
        if alert.stage != OVERDUE:  # the cheap test first: a scrape walks every firing alert
            continue
        name = task_named(alert.subject)
        if name is not None:
            if alert.kind:
                kinds[name] = alert.kind
            else:
                unsaid.add(name)
        elif Subject.parse(alert.subject).kind is SubjectKind.UNIT:
            counts[kind_of_rule(alert.rule_id)] += 1
    for task_id in unsaid - kinds.keys():  # a point read each: only for alerts from before the kind was kept
        task = state.tasks.get(task_id)
        if task is not None:
            kinds[task_id] = task.kind
    counts.update(kinds.values())
    return counts
