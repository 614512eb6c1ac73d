"""Alert messages: the template fields of one subject, and the default summaries."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rules.base import Condition
from rules.calendar import whole_days
from rules.deadline import DUE_SOON, DeadlineRule, counts_working_days
from rules.subjects import Subject, SubjectKey, SubjectKind
from rules.templates import render
from rules.threshold import ThresholdRule

if TYPE_CHECKING:
    from rules.pack import AnyRule, CompiledRule
    from rules.state import UnitState

__all__ = ["days_overdue", "format_local", "render_summary", "subject_fields"]

_DEFAULT_SUMMARIES = {
    ("deadline", DUE_SOON): "{unit_name}: {task_title} sắp đến hạn ({due})",
    ("deadline", "overdue"): "{unit_name}: {task_title} quá hạn {days_overdue} ngày (hạn {due})",
    ("threshold", "breach"): "{unit_name}: {indicator} = {value}, mục tiêu {target}",
    ("staleness", "stale"): "{unit_name}: chưa có báo cáo {indicator} mới (lần cuối: {last_report}; tối đa {max_age})",
    ("aggregate", "breach"): "{unit_name}: {rule_id} = {value}, ngưỡng {target}",
}


def format_local(instant: datetime, tz: ZoneInfo) -> str:
    """An instant as local wall time, ``2024-07-20 00:00``."""
    return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def days_overdue(compiled: CompiledRule, due: datetime, now: datetime) -> int:
    """Whole days from ``due`` to ``now`` as the rule counts them; 0 until a whole day has passed.

    Calendar days: the largest n with ``due`` + n days <= ``now`` (0 just past
    due, never negative). A rule that counts working days
    (``counts_working_days``): the working days that lie wholly between
    ``due`` and ``now`` (``WorkCalendar.whole_working_days``).
    """
    rule, calendar = compiled.rule, compiled.calendar
    if isinstance(rule, DeadlineRule) and counts_working_days(rule):
        return calendar.whole_working_days(due, now)
    return whole_days(due, now, calendar.tz)


def _number(value: float) -> str:
    return f"{value:.4g}"


def subject_fields(
    compiled: CompiledRule, state: UnitState, subject: SubjectKey, condition: Condition, now: datetime
) -> dict[str, str]:
    """Every template field that has a value for this subject and condition."""
    rule, tz = compiled.rule, compiled.tz
    kind, name = Subject.parse(subject)
    fields = {
        "unit_id": state.unit_id,
        "rule_id": rule.id,
        "severity": condition.severity,
        "stage": condition.stage,
    }
    task = state.tasks.get(name) if kind is SubjectKind.TASK else None
    if task is not None:
        fields |= {
            "task_id": task.task_id,
            "task_title": task.title or task.task_id,
            "kind": task.kind,
            "status": task.status.value,
        }
    if kind is SubjectKind.INDICATOR:
        fields["indicator"] = name if name != "*" else "chỉ tiêu nào"
    if condition.value is not None:
        fields["value"] = _number(condition.value)
    if isinstance(rule, ThresholdRule) or "target" in condition.details:
        fields["target"] = condition.details.get("target", "")
    due_text = condition.details.get("due")
    if due_text:
        due = datetime.fromisoformat(due_text)
        fields["due"] = format_local(due, tz)
        fields["days_overdue"] = str(days_overdue(compiled, due, now))
    last = condition.details.get("last_report")
    if last:
        fields["last_report"] = "chưa bao giờ" if last == "never" else format_local(datetime.fromisoformat(last), tz)
    if "max_age" in condition.details:
        fields["max_age"] = condition.details["max_age"]
    return fields


def render_summary(rule: AnyRule, stage: str, fields: dict[str, str]) -> str:
    """The rule's summary template (or the default for its kind and stage), filled in.

    ``unit_name`` is filled by the caller's pack; absent, the unit id stands in.
    """
    custom = rule.due_soon_summary if isinstance(rule, DeadlineRule) and stage == DUE_SOON else rule.summary
    template = custom or _DEFAULT_SUMMARIES.get((rule.kind, stage), "{unit_name}: {rule_id} {stage}")
    return render(template, {"unit_name": fields.get("unit_id", ""), **fields})
