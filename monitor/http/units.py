"""What the API says of a unit: its summary, its overdue list (JSON and CSV), the rules that judge it."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from monitor.http.figures import worst_severity
from monitor.spreadsheet import csv_bytes
from rules.engine import is_overdue, is_unit_overdue, overdue_by_kind
from rules.language import DeadlineRule, RulePack, roster_due, task_due
from rules.state import AlertState, Subject, TaskState, UnitState
from rules.vietnamese import days_overdue

__all__ = [
    "OVERDUE_COLUMNS",
    "overdue_csv",
    "overdue_items",
    "rules_view",
    "unit_summary",
]

OVERDUE_COLUMNS = (
    "unit_id",
    "unit_name",
    "task_id",
    "title",
    "kind",
    "status",
    "due",
    "extension_reference",
    "days_overdue",
    "rule_id",
    "severity",
    "reported_by",
    "reported_at",
    "reported_as",
)


def _unit_overdue_item(pack: RulePack, state: UnitState, alert: AlertState, now: datetime) -> dict[str, Any] | None:
    """A unit's own missed deadline (a roster deadline) as an overdue-list row: its task of that kind, if it has one."""
    compiled = pack.by_id(alert.rule_id)
    if compiled is None or not isinstance(compiled.rule, DeadlineRule) or compiled.rule.due is None:
        return None
    rule, extension = compiled.rule, state.extensions.get(compiled.rule.id)
    due = roster_due(rule, extension, compiled.calendar)
    tasks = state.tasks_of(rule.kinds_selected())
    reported = sorted((t for t in tasks if rule.selects(t.fields(state.unit_id), t.labels)), key=lambda t: t.task_id)
    task = reported[0] if reported else None
    return {
        "unit_id": state.unit_id,
        "unit_name": pack.unit_name(state.unit_id),
        "task_id": task.task_id if task is not None else "",
        "title": (task.title or "") if task is not None else alert.summary,
        "kind": pack.selected_kind(alert.rule_id),
        "status": task.status.value if task is not None else "not_reported",
        "due": due.astimezone(compiled.tz).isoformat(),
        "extension_reference": extension.reference if extension is not None else "",
        "days_overdue": days_overdue(compiled, due, now),
        "rule_id": alert.rule_id,
        "severity": alert.severity,
        **_reported(task),
    }


def overdue_items(pack: RulePack, state: UnitState, now: datetime) -> list[dict[str, Any]]:
    """The unit's overdue tasks (a firing ``overdue`` alert) and missed unit deadlines, most overdue first.

    ``days_overdue`` counts as the rule does (``rules.vietnamese.days_overdue``): whole calendar days
    since the due instant, or whole working days for a rule that counts working days.
    """
    items = []
    for alert in state.alerts.values():
        if is_unit_overdue(alert):
            if (row := _unit_overdue_item(pack, state, alert, now)) is not None:
                items.append(row)
            continue
        if not is_overdue(alert):
            continue
        task = state.tasks.get(Subject.parse(alert.subject).name)
        compiled = pack.by_id(alert.rule_id)
        if task is None or compiled is None or not isinstance(compiled.rule, DeadlineRule):
            continue
        due = task_due(compiled.rule, task, compiled.calendar)
        items.append(
            {
                "unit_id": state.unit_id,
                "unit_name": pack.unit_name(state.unit_id),
                "task_id": task.task_id,
                "title": task.title or "",
                "kind": task.kind,
                "status": task.status.value,
                "due": due.astimezone(compiled.tz).isoformat() if due else "",
                "extension_reference": task.extension.reference if task.extension is not None else "",
                "days_overdue": days_overdue(compiled, due, now) if due else 0,
                "rule_id": alert.rule_id,
                "severity": alert.severity,
                **_reported(task),
            }
        )
    # By due instant, not by days_overdue: a working-day rule's count and a calendar one's do not compare.
    return sorted(items, key=_most_overdue_first)


def _reported(task: TaskState | None) -> dict[str, str]:
    """Who reported the task's status (its event's ``source``), when, and under which unit code; empty if no task.

    ``reported_as`` is empty when the event named the unit by its id (else: a former province's code, a national code).
    """
    if task is None:
        return {"reported_by": "", "reported_at": "", "reported_as": ""}
    return {"reported_by": task.source, "reported_at": task.occurred_at.isoformat(), "reported_as": task.unit_code}


def _most_overdue_first(item: Mapping[str, Any]) -> tuple[float, str]:
    due = item["due"]
    return (datetime.fromisoformat(due).timestamp() if due else math.inf), item["task_id"]


def overdue_csv(items: list[dict[str, Any]]) -> bytes:
    """The overdue list as CSV a spreadsheet opens correctly, with no cell it would run as a formula."""
    return csv_bytes(OVERDUE_COLUMNS, items)


def unit_summary(pack: RulePack, state: UnitState) -> dict[str, Any]:
    """Per unit: its level, tasks by status, overdue count, firing alerts by severity and the most urgent of them."""
    statuses: Counter[str] = Counter()
    for (_, status), count in state.task_tally().items():
        statuses[status] += count
    firing = Counter(alert.severity for alert in state.alerts.values())
    known = pack.units.get(state.unit_id)
    return {
        "unit_id": state.unit_id,
        "unit_name": pack.unit_name(state.unit_id),
        "level": known.level.value if known is not None else None,
        "tasks": dict(sorted(statuses.items())),
        "tasks_total": state.task_count(),
        "overdue": sum(overdue_by_kind(state, pack.selected_kind).values()),
        "alerts_firing": sum(firing.values()),
        "alerts_by_severity": dict(sorted(firing.items())),
        "worst_severity": worst_severity(firing),
        "indicators": {name: report.value for name, report in sorted(state.indicators.items())},
        "last_event_at": state.last_event_at.isoformat() if state.last_event_at else None,
    }


def rules_view(pack: RulePack) -> list[dict[str, Any]]:
    """The loaded rules, as written plus their version and roster size."""
    return [
        {
            "id": compiled.rule.id,
            "kind": compiled.rule.kind,
            "severity": compiled.rule.severity,
            "group": compiled.group,
            "timezone": compiled.tz.key,
            "version": compiled.version,
            "roster_units": len(compiled.roster) if compiled.roster is not None else None,
            "definition": compiled.rule.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        for compiled in pack.rules
    ]


# --- routes: request parts in, Answer out -------------------------------------------------------------
