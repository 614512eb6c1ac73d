from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from events.models import TaskStatus
from rules.deadline import DUE_SOON, OVERDUE, DeadlineRule, due_instant, evaluate_deadline, next_deadline_change
from rules.state import TaskState
from tests.conftest import VN, utc, vn

RULE = DeadlineRule(
    id="r",
    kind="deadline",
    severity="critical",
    due_from="deadline",
    expect_status=(TaskStatus.COMPLETED, TaskStatus.ONGOING),
    warn_before=("1d", "7d"),  # type: ignore[arg-type]
)


def _task(deadline: date | datetime | None, status: TaskStatus = TaskStatus.IN_PROGRESS) -> TaskState:
    return TaskState(
        task_id="T", kind="task", status=status, deadline=deadline, occurred_at=vn(2024, 1, 1), event_id="e"
    )


def test_warn_steps_are_sorted_longest_first() -> None:
    assert RULE.warn_before == (timedelta(days=7), timedelta(days=1))


def test_a_date_deadline_means_the_end_of_that_day_in_the_rule_time_zone() -> None:
    assert due_instant(RULE, _task(date(2024, 7, 19)), VN) == vn(2024, 7, 20, 0, 0)
    assert due_instant(RULE, _task(date(2024, 7, 19)), VN) == utc(2024, 7, 19, 17, 0)


@pytest.mark.parametrize(
    ("now", "stage", "step"),
    [
        (vn(2024, 7, 12, 23, 59, 59), None, None),
        (vn(2024, 7, 13, 0, 0, 0), DUE_SOON, "7d"),  # exactly 7 days before: the warning begins
        (vn(2024, 7, 18, 23, 59, 59), DUE_SOON, "7d"),
        (vn(2024, 7, 19, 0, 0, 0), DUE_SOON, "1d"),
        (vn(2024, 7, 19, 23, 59, 59), DUE_SOON, "1d"),
        (vn(2024, 7, 20, 0, 0, 0), OVERDUE, None),  # exactly at the due instant: overdue
        (utc(2024, 7, 19, 17, 0, 0), OVERDUE, None),  # the same instant written in UTC
        (utc(2024, 7, 19, 16, 59, 59), DUE_SOON, "1d"),
    ],
)
def test_stage_at_each_boundary(now: datetime, stage: str | None, step: str | None) -> None:
    condition = evaluate_deadline(RULE, _task(vn(2024, 7, 20)), VN, now)
    assert (condition.stage if condition else None, condition.step if condition else None) == (stage, step)


def test_overdue_takes_the_rule_severity_and_warnings_are_warnings() -> None:
    task = _task(vn(2024, 7, 20))
    overdue = evaluate_deadline(RULE, task, VN, vn(2024, 7, 21))
    due_soon = evaluate_deadline(RULE, task, VN, vn(2024, 7, 14))
    assert overdue is not None and overdue.severity == "critical" and overdue.since == vn(2024, 7, 20)
    assert due_soon is not None and due_soon.severity == "warning" and due_soon.since == vn(2024, 7, 13)


@pytest.mark.parametrize(
    ("status", "fires"),
    [
        (TaskStatus.NOT_STARTED, True),
        (TaskStatus.IN_PROGRESS, True),
        (TaskStatus.COMPLETED, False),
        (TaskStatus.ONGOING, False),
        (TaskStatus.CANCELLED, False),
    ],
)
def test_only_tasks_still_waiting_fire(status: TaskStatus, fires: bool) -> None:
    assert (evaluate_deadline(RULE, _task(vn(2024, 7, 20), status), VN, vn(2024, 8, 1)) is not None) is fires


def test_a_task_without_deadline_never_fires_under_due_from() -> None:
    assert evaluate_deadline(RULE, _task(None), VN, vn(2030, 1, 1)) is None
    assert next_deadline_change(RULE, _task(None), VN, vn(2030, 1, 1)) is None


def test_fixed_due_applies_whatever_the_event_says() -> None:
    rule = DeadlineRule(id="plan", kind="deadline", due=vn(2024, 7, 20))
    assert evaluate_deadline(rule, _task(None), VN, vn(2024, 7, 20)) is not None
    assert evaluate_deadline(rule, _task(None), VN, vn(2024, 7, 19, 23, 59)) is None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (vn(2024, 7, 1), vn(2024, 7, 13)),
        (vn(2024, 7, 13), vn(2024, 7, 19)),
        (vn(2024, 7, 19, 12), vn(2024, 7, 20)),
        (vn(2024, 7, 20), None),
    ],
)
def test_next_change_is_the_next_boundary(now: datetime, expected: datetime | None) -> None:
    assert next_deadline_change(RULE, _task(vn(2024, 7, 20)), VN, now) == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "exactly one of 'due'"),
        ({"due": "2024-07-20T00:00:00+07:00", "due_from": "deadline"}, "exactly one of 'due'"),
        ({"due_from": "deadline", "warn_before": ["0s"]}, "longer than 0s"),
        ({"due_from": "deadline", "warn_before": ["soon"]}, "not a duration"),
        ({"due": "2024-07-20T00:00:00"}, "timezone"),
    ],
)
def test_invalid_deadline_rules(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DeadlineRule.model_validate({"id": "r", "kind": "deadline", **fields})
