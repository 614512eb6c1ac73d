"""The HTTP API's answers, as pure functions over unit states (no I/O, no clock)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from rules.deadline import DeadlineRule, task_due
from rules.engine import is_overdue
from rules.messages import days_overdue
from rules.pack import RulePack
from rules.state import AlertState, UnitState

__all__ = [
    "OVERDUE_COLUMNS",
    "alert_view",
    "filter_alerts",
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
    "days_overdue",
    "rule_id",
    "severity",
)


def alert_view(alert: AlertState, unit_names: Mapping[str, str]) -> dict[str, Any]:
    """A firing alert as the API shows it."""
    unit = alert.labels.get("unit_id", "")
    return {
        "fingerprint": alert.fingerprint,
        "status": "firing",
        "rule_id": alert.rule_id,
        "stage": alert.stage,
        "severity": alert.severity,
        "unit_id": unit,
        "unit_name": unit_names.get(unit, unit),
        "labels": alert.labels,
        "summary": alert.summary,
        "starts_at": alert.starts_at.isoformat(),
    }


def filter_alerts(
    alerts: Iterable[dict[str, Any]], *, unit_id: str | None, rule_id: str | None, severity: str | None
) -> list[dict[str, Any]]:
    """Alerts matching every given filter, newest first."""
    kept = [
        a
        for a in alerts
        if (unit_id is None or a.get("unit_id") == unit_id)
        and (rule_id is None or a.get("rule_id") == rule_id)
        and (severity is None or a.get("severity") == severity)
    ]
    return sorted(kept, key=lambda a: str(a.get("starts_at", "")), reverse=True)


def overdue_items(pack: RulePack, state: UnitState, now: datetime) -> list[dict[str, Any]]:
    """The unit's overdue tasks (a firing ``overdue`` alert), most overdue first."""
    items = []
    for alert in state.alerts.values():
        if not is_overdue(alert):
            continue
        task = state.tasks.get(alert.subject.removeprefix("task:"))
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
                "days_overdue": days_overdue(due, now) if due else 0,
                "rule_id": alert.rule_id,
                "severity": alert.severity,
            }
        )
    return sorted(items, key=lambda i: (-int(i["days_overdue"]), i["task_id"]))


def overdue_csv(items: list[dict[str, Any]]) -> bytes:
    """The overdue list as CSV a spreadsheet opens correctly: UTF-8 with a byte-order mark, CRLF lines."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=OVERDUE_COLUMNS, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(items)
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def unit_summary(pack: RulePack, state: UnitState) -> dict[str, Any]:
    """Per unit: tasks by status, overdue count, firing alerts by severity."""
    statuses = Counter(task.status.value for task in state.tasks.values())
    firing = Counter(alert.severity for alert in state.alerts.values())
    return {
        "unit_id": state.unit_id,
        "unit_name": pack.unit_name(state.unit_id),
        "tasks": dict(sorted(statuses.items())),
        "tasks_total": len(state.tasks),
        "overdue": sum(1 for alert in state.alerts.values() if is_overdue(alert)),
        "alerts_firing": sum(firing.values()),
        "alerts_by_severity": dict(sorted(firing.items())),
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
