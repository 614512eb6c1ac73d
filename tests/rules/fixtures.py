"""Builders for rule tests, and for every test that needs events, packs or alert transitions."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from events.models import IndicatorEvent, TaskStatus, TaskStatusEvent
from rules.language import RulePack
from rules.loading import load_pack
from rules.state import AlertTransition

_counter = iter(range(1, 1_000_000))


def pack(tmp_path: Path, yaml_text: str) -> RulePack:
    path = tmp_path / f"rules-{next(_counter)}.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    return load_pack([path])


def task(
    at: datetime,
    status: TaskStatus | str = TaskStatus.IN_PROGRESS,
    *,
    unit: str = "VN-40",
    task_id: str = "T-1",
    kind: str = "task",
    deadline: date | datetime | None = None,
    event_id: str | None = None,
    source: str = "test",
    **extra: Any,
) -> TaskStatusEvent:
    return TaskStatusEvent(
        event_id=event_id or f"e-{next(_counter)}",
        source=source,
        unit_id=unit,
        task_id=task_id,
        kind=kind,
        status=TaskStatus(status),
        deadline=deadline,
        occurred_at=at,
        **extra,
    )


def indicator(at: datetime, value: float, *, unit: str = "VN-40", name: str = "online_dossier_ratio") -> IndicatorEvent:
    return IndicatorEvent(
        event_id=f"i-{next(_counter)}", source="test", unit_id=unit, indicator=name, value=value, occurred_at=at
    )


#: The README's NV-99: in progress with a deadline of 19/7/2024, then completed on 24/7 by an event that repeats
#: neither the deadline nor the title (nor the kind).
NV99_STARTED: dict[str, Any] = {
    "event_id": "nv99-1",
    "source": "nghean-dvc",
    "unit_id": "VN-22",
    "task_id": "NV-99",
    "status": "in_progress",
    "deadline": "2024-07-19",
    "occurred_at": "2024-07-02T09:00:00+07:00",
    "title": "Rà soát, cắt giảm thủ tục hành chính",
}
NV99_COMPLETED: dict[str, Any] = {
    "event_id": "nv99-2",
    "source": "nghean-dvc",
    "unit_id": "VN-22",
    "task_id": "NV-99",
    "status": "completed",
    "occurred_at": "2024-07-24T10:00:00+07:00",
}

DEADLINE_RULES = """
groups:
  - name: test
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: task-overdue
        kind: deadline
        severity: critical
        select: {kind: task}
        due_from: deadline
        expect_status: [completed, ongoing]
        warn_before: [7d, 1d]
"""

THRESHOLD_RULES = """
groups:
  - name: test
    rules:
      - id: online-low
        kind: threshold
        indicator: online_dossier_ratio
        below: 0.5
        resolve_above: 0.52
"""

BOTH_RULES = DEADLINE_RULES + THRESHOLD_RULES.split("rules:", 1)[1]


def transition(
    status: str = "firing", stage: str = "overdue", severity: str = "critical", **extra: object
) -> AlertTransition:
    """An alert transition about Nghệ An's task NV-27."""
    data: dict[str, object] = {
        "fingerprint": "fp1",
        "status": status,
        "stage": stage,
        "rule_id": "task-overdue",
        "severity": severity,
        "labels": {"alertname": "task-overdue", "unit_id": "VN-22", "task_id": "NV-27", "severity": severity},
        "annotations": {"summary": "Nghệ An: nhiệm vụ quá hạn"},
        "starts_at": datetime(2024, 7, 13, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")),
        "event_ids": ["e-1"],
        "rule_version": "v1",
        **extra,
    }
    return AlertTransition.model_validate(data)
