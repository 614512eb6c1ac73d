"""Alert messages: the template fields of one subject, the default summaries, and days overdue.

Figures are shown the Vietnamese way (``rules.vietnamese.display``): dates ``19/07/2024``,
ratios ``45,8 %``, durations ``30 ngày``. Annotations stay machine-readable:
``due`` is an ISO instant, ``max_age`` ``30d``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from rules.language import (
    BREACH,
    DUE_SOON,
    OVERDUE,
    STALE,
    AggregateRule,
    Condition,
    DeadlineRule,
    StalenessRule,
    ThresholdRule,
    counts_working_days,
    due_is_date,
    render,
    whole_days,
)
from rules.state import Subject, SubjectKey, SubjectKind
from rules.vietnamese.display import (
    datetime_text,
    due_text,
    indicator_text,
    late_text,
    number_text,
    percent_text,
    span_text,
)

if TYPE_CHECKING:
    from rules.language import AnyRule, CompiledRule, IndicatorBounds
    from rules.state import Extension, TaskState, UnitState

__all__ = ["days_overdue", "figure_texts", "render_summary", "resolution_summary", "subject_fields"]

_DEFAULT_SUMMARIES = {
    ("deadline", DUE_SOON): "{unit_name}: {task_title} sắp đến hạn ({due})",
    # No count of days: a summary is written once, when the alert fires, and a count would go stale.
    ("deadline", OVERDUE): "{unit_name}: {task_title} quá hạn (hạn {due})",
    ("threshold", BREACH): "{unit_name}: {indicator} = {value}, mục tiêu {target}",
    ("staleness", STALE): "{unit_name}: chưa có báo cáo {indicator} mới (lần cuối: {last_report}; tối đa {max_age})",
    ("aggregate", BREACH): "{unit_name}: {rule_id} = {value}, ngưỡng {target}",
}

#: The most decimals shown to tell a value from its target (99,96 % against 100 %).
_MAX_DECIMALS = 6


def days_overdue(compiled: CompiledRule, due: datetime, now: datetime) -> int:
    """Whole days from ``due`` to ``now`` as the rule counts them; 0 until a whole day has passed.

    Calendar days: the largest n with ``due`` + n days <= ``now`` (0 just past
    due, never negative). A rule that counts working days
    (``counts_working_days``): the working days that lie wholly between
    ``due`` and ``now`` (``WorkCalendar.whole_working_days``). The same count
    says how late a completion was, with ``now`` the completion instant.
    """
    rule, calendar = compiled.rule, compiled.calendar
    if isinstance(rule, DeadlineRule) and counts_working_days(rule):
        return calendar.whole_working_days(due, now)
    return whole_days(due, now, calendar.tz)


def _distinct(show: Callable[[float, int | None], str], value: float, target: float) -> tuple[str, str]:
    """Value and target as text, with more decimals where the usual ones would make them look the same.

    ``99,96 %`` against ``100 %``, not ``100 %`` twice; ``show`` takes the
    decimals to show (``None``: the usual; more than the usual are tried in turn).
    """
    for decimals in (None, *range(2, _MAX_DECIMALS + 1)):
        value_text, target_text = show(value, decimals), show(target, decimals)
        if value == target or value_text != target_text:
            break
    return value_text, target_text


def _figure_style(
    rule: AnyRule, indicator: str | None, bounds: Mapping[str, IndicatorBounds]
) -> Callable[[float, int | None], str]:
    """How a rule's values and targets read, given the decimals to show (``None``: the usual).

    Percentages for a ratio (a threshold on an indicator the pack declares a
    ratio, an aggregate ``*_ratio`` measure), else numbers (a staleness
    rule's value is an age in days, whatever its indicator).
    """
    if isinstance(rule, AggregateRule) and rule.measure.endswith("ratio"):
        return lambda x, decimals: percent_text(x) if decimals is None else percent_text(x, decimals)
    if isinstance(rule, ThresholdRule) and indicator is not None:
        return lambda x, decimals: indicator_text(indicator, x, bounds, decimals)
    return lambda x, decimals: number_text(x) if decimals is None else number_text(x, decimals)


def figure_texts(
    compiled: CompiledRule,
    indicator: str | None,
    value: float | None,
    target: float | None,
    indicator_bounds: Mapping[str, IndicatorBounds] | None = None,
) -> tuple[str | None, str | None]:
    """A rule's value and target as its summaries show them (``{value}``, ``{target}``); ``None`` for what is not given.

    A ratio reads as a percentage (``45,8 %``), with more decimals only where
    value and target would otherwise look the same; ``indicator`` is the
    indicator the value is of (``None`` when the subject is a unit or a task).
    """
    style = _figure_style(compiled.rule, indicator, indicator_bounds or {})
    if value is not None and target is not None:
        return _distinct(style, value, target)
    return (
        style(value, None) if value is not None else None,
        style(target, None) if target is not None else None,
    )


def _due_fields(compiled: CompiledRule, task: TaskState | None, due: datetime, now: datetime) -> dict[str, str]:
    rule = compiled.rule
    date_only = isinstance(rule, DeadlineRule) and due_is_date(rule, task)
    return {"due": due_text(due, compiled.tz, date_only), "days_overdue": str(days_overdue(compiled, due, now))}


def subject_fields(
    compiled: CompiledRule,
    state: UnitState,
    subject: SubjectKey,
    condition: Condition,
    now: datetime,
    indicator_bounds: Mapping[str, IndicatorBounds] | None = None,
) -> dict[str, str]:
    """Every template field that has a value for this subject and condition.

    ``due`` reads as the reader wrote it (a date-only deadline as that date),
    ``days_overdue`` is counted at ``now`` (when the alert fires), and
    ``value`` / ``target`` of a ratio are percentages (``indicator_bounds``:
    the pack's ``indicators:``, where a ratio is declared ``min: 0, max: 1``),
    ``max_age`` is words (``30 ngày``: ``display.span_text``).
    """
    rule, tz = compiled.rule, compiled.tz
    bounds = indicator_bounds or {}
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
    style = _figure_style(rule, name if kind is SubjectKind.INDICATOR else None, bounds)
    target = condition.details.get("target")
    if condition.value is not None and target:
        fields["value"], fields["target"] = _distinct(style, condition.value, float(target))
    elif condition.value is not None:
        fields["value"] = style(condition.value, None)
    elif target:
        fields["target"] = style(float(target), None)
    due = condition.details.get("due")
    if due:
        fields |= _due_fields(compiled, task, datetime.fromisoformat(due), now)
    last = condition.details.get("last_report")
    if last:
        fields["last_report"] = "chưa bao giờ" if last == "never" else datetime_text(datetime.fromisoformat(last), tz)
    if isinstance(rule, StalenessRule):
        fields["max_age"] = span_text(rule.max_age)
    return fields


def resolution_summary(
    compiled: CompiledRule,
    unit_name: str,
    task: TaskState | None,
    resolution: str,
    due: datetime | None,
    at: datetime,
) -> str | None:
    """What a resolved deadline alert says about how it ended; ``None`` where the firing summary still holds.

    ``completed``: "… hoàn thành đúng hạn"; ``completed_late``: "… hoàn thành
    muộn 5 ngày" (counted as ``days_overdue``, from ``due`` to the completion
    instant ``at``); ``cancelled``: "… đã hủy"; each with "(hạn …)" when the
    due instant is known. ``task`` is what ended it (for a roster deadline,
    the unit's task that met it).
    """
    rule = compiled.rule
    if not isinstance(rule, DeadlineRule) or task is None:
        return None
    if resolution == "completed":
        outcome = "hoàn thành đúng hạn"
    elif resolution == "completed_late" and due is not None:
        outcome = f"hoàn thành {late_text(days_overdue(compiled, due, at), counts_working_days(rule))}"
    elif resolution == "cancelled":
        outcome = "đã hủy"
    else:
        return None
    deadline = f" (hạn {due_text(due, compiled.tz, due_is_date(rule, task))})" if due is not None else ""
    return f"{unit_name}: {task.title or task.task_id} {outcome}{deadline}"


def extension_summary(compiled: CompiledRule, unit_name: str, task: TaskState | None, extension: Extension) -> str:
    """What an alert says when an extension ended it: "Nghệ An: Kế hoạch … được gia hạn đến 15/08/2024 (theo …)".

    ``task``: the task extended (``None``: the unit's roster deadline, named by its rule).
    """
    due = due_text(extension.instant(compiled.tz), compiled.tz, not isinstance(extension.due, datetime))
    what = (task.title or task.task_id) if task is not None else compiled.rule.id
    return f"{unit_name}: {what} được gia hạn đến {due} (theo {extension.reference})"


def render_summary(rule: AnyRule, stage: str, fields: dict[str, str]) -> str:
    """The rule's summary template (or the default for its kind and stage), filled in.

    ``unit_name`` is filled by the caller's pack; absent, the unit id stands in.
    """
    custom = rule.due_soon_summary if isinstance(rule, DeadlineRule) and stage == DUE_SOON else rule.summary
    template = custom or _DEFAULT_SUMMARIES.get((rule.kind, stage), "{unit_name}: {rule_id} {stage}")
    return render(template, {"unit_name": fields.get("unit_id", ""), **fields})
