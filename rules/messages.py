"""Alert messages: the template fields of one subject, and the default summaries."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from rules.deadline import DUE_SOON, DeadlineRule
from rules.state import IndicatorState, TaskState
from rules.templates import render
from rules.threshold import ThresholdRule

__all__ = ["SubjectFacts", "days_overdue", "format_local", "summary_for"]

_DEFAULT_SUMMARIES = {
    ("deadline", DUE_SOON): "{unit_name}: {task_title} sắp đến hạn ({due})",
    ("deadline", "overdue"): "{unit_name}: {task_title} quá hạn {days_overdue} ngày (hạn {due})",
    ("threshold", "breach"): "{unit_name}: {indicator} = {value}, mục tiêu {target}",
}


@dataclass(frozen=True, slots=True)
class SubjectFacts:
    """What a message may say about the task or indicator an alert is about."""

    unit_id: str
    unit_name: str
    task: TaskState | None
    report: IndicatorState | None
    due: datetime | None
    target: float | None
    tz: ZoneInfo
    now: datetime


def format_local(instant: datetime, tz: ZoneInfo) -> str:
    """An instant as local wall time, ``2024-07-20 00:00``."""
    return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def days_overdue(due: datetime, now: datetime) -> int:
    """Whole days (rounded up) since ``due``; 0 when not yet due."""
    seconds = (now - due).total_seconds()
    return max(0, math.ceil(seconds / 86400))


def _number(value: float) -> str:
    return f"{value:.4g}"


def _fields(facts: SubjectFacts, rule: DeadlineRule | ThresholdRule, stage: str, severity: str) -> dict[str, str]:
    fields = {
        "unit_id": facts.unit_id,
        "unit_name": facts.unit_name,
        "rule_id": rule.id,
        "severity": severity,
        "stage": stage,
    }
    if facts.task is not None:
        task = facts.task
        fields |= {
            "task_id": task.task_id,
            "task_title": task.title or task.task_id,
            "kind": task.kind,
            "status": task.status.value,
        }
    if facts.due is not None:
        fields["due"] = format_local(facts.due, facts.tz)
        fields["days_overdue"] = str(days_overdue(facts.due, facts.now))
    if facts.report is not None:
        fields["indicator"] = facts.report.indicator
        fields["value"] = _number(facts.report.value)
    if facts.target is not None:
        fields["target"] = _number(facts.target)
    return fields


def summary_for(rule: DeadlineRule | ThresholdRule, stage: str, severity: str, facts: SubjectFacts) -> str:
    """The rule's summary template (or the default for its kind and stage), filled in."""
    custom = rule.due_soon_summary if isinstance(rule, DeadlineRule) and stage == DUE_SOON else rule.summary
    template = custom or _DEFAULT_SUMMARIES.get((rule.kind, stage), "{unit_name}: {rule_id} {stage}")
    return render(template, _fields(facts, rule, stage, severity))
