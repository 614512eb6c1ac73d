from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.models import TaskStatus
from rules.language import (
    DUE_SOON,
    OVERDUE,
    DeadlineClock,
    DeadlineRule,
    WorkCalendar,
    WorkingDays,
    deadline_stage,
    is_waiting,
    next_deadline_boundary,
    task_due,
)
from rules.state import Reached, TaskState
from tests.conftest import VN, utc, vn

CAL = WorkCalendar.of(VN)
RULE = DeadlineRule.model_validate(
    {
        "id": "r",
        "kind": "deadline",
        "severity": "critical",
        "due_from": "deadline",
        "expect_status": ["completed", "ongoing"],
        "warn_before": ["1d", "7d"],
    }
)


def _task(
    deadline: date | datetime | None = None,
    status: TaskStatus = TaskStatus.IN_PROGRESS,
    reached: dict[TaskStatus, datetime] | None = None,
) -> TaskState:
    return TaskState(
        task_id="T",
        kind="task",
        status=status,
        deadline=deadline,
        occurred_at=vn(2024, 1, 1),
        event_id="e",
        first_reached=Reached.of(reached or {}),
    )


def _stage(rule: DeadlineRule, due: datetime, now: datetime) -> tuple[str | None, str | None]:
    condition = deadline_stage(rule, due, CAL, now)
    return (condition.stage, condition.step) if condition else (None, None)


def test_a_date_deadline_means_the_end_of_that_day_in_the_rule_time_zone() -> None:
    assert task_due(RULE, _task(date(2024, 7, 19)), CAL) == vn(2024, 7, 20, 0, 0)
    assert task_due(RULE, _task(date(2024, 7, 19)), CAL) == utc(2024, 7, 19, 17, 0)


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
    assert _stage(RULE, vn(2024, 7, 20), now) == (stage, step)


def test_overdue_takes_the_rule_severity_and_warnings_are_warnings() -> None:
    overdue = deadline_stage(RULE, vn(2024, 7, 20), CAL, vn(2024, 7, 21))
    due_soon = deadline_stage(RULE, vn(2024, 7, 20), CAL, vn(2024, 7, 14))
    assert overdue is not None and overdue.severity == "critical" and overdue.since == vn(2024, 7, 20)
    assert due_soon is not None and due_soon.severity == "warning" and due_soon.since == vn(2024, 7, 13)


@pytest.mark.parametrize(
    ("status", "waiting"),
    [
        (TaskStatus.NOT_STARTED, True),
        (TaskStatus.IN_PROGRESS, True),
        (TaskStatus.COMPLETED, False),
        (TaskStatus.ONGOING, False),
        (TaskStatus.CANCELLED, False),
    ],
)
def test_only_tasks_still_waiting_count(status: TaskStatus, waiting: bool) -> None:
    assert is_waiting(RULE, _task(vn(2024, 7, 20), status)) is waiting


def test_a_task_without_deadline_has_no_due_under_due_from() -> None:
    assert task_due(RULE, _task(None), CAL) is None


def test_fixed_due_applies_whatever_the_event_says() -> None:
    rule = DeadlineRule(id="plan", kind="deadline", due=vn(2024, 7, 20))
    assert task_due(rule, _task(date(2030, 1, 1)), CAL) == vn(2024, 7, 20)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (vn(2024, 7, 1), vn(2024, 7, 13)),
        (vn(2024, 7, 13), vn(2024, 7, 19)),
        (vn(2024, 7, 19, 12), vn(2024, 7, 20)),
        (vn(2024, 7, 20), None),
    ],
)
def test_next_boundary(now: datetime, expected: datetime | None) -> None:
    assert next_deadline_boundary(RULE, vn(2024, 7, 20), CAL, now) == expected


WITHIN = DeadlineRule.model_validate(
    {"id": "dossier", "kind": "deadline", "within": "5wd", "after_status": "in_progress", "warn_before": ["2wd"]}
)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (vn(2024, 7, 1, 9), vn(2024, 7, 9)),  # Monday: Tue..Mon are the 5 working days
        (vn(2024, 7, 5, 16), vn(2024, 7, 13)),  # Friday: the weekend does not count
        (vn(2024, 2, 7, 10), vn(2024, 2, 22)),  # before Tết: 8-14 February are public holidays
        (vn(2024, 4, 26, 10), vn(2024, 5, 8)),  # 29-30 April and 1 May are days off, Saturday 4 May is worked
        (vn(2024, 8, 30, 10), vn(2024, 9, 11)),  # National Day, 2-3 September, falls in the count
    ],
)
def test_within_working_days_skips_weekends_and_vietnamese_holidays(received: datetime, due: datetime) -> None:
    task = _task(reached={TaskStatus.IN_PROGRESS: received})
    assert task_due(WITHIN, task, CAL) == due


def test_within_counts_from_when_the_status_was_first_reached() -> None:
    assert task_due(WITHIN, _task(reached={}), CAL) is None  # never started: no clock
    calendar_days = DeadlineRule.model_validate({"id": "c", "kind": "deadline", "within": "5d"})
    task = _task(reached={TaskStatus.IN_PROGRESS: vn(2024, 7, 5, 16)})
    assert task_due(calendar_days, task, CAL) == vn(2024, 7, 10, 16)


def test_working_day_warning_steps_back_over_the_weekend() -> None:
    # Due at the end of Monday 8 July... two working days before is the start of Friday 5 July.
    assert _stage(WITHIN, vn(2024, 7, 9), vn(2024, 7, 4, 23)) == (None, None)
    assert _stage(WITHIN, vn(2024, 7, 9), vn(2024, 7, 5, 0)) == (DUE_SOON, "2wd")


def test_a_pack_can_add_its_own_days_off_and_working_days() -> None:
    calendar = WorkCalendar.of(VN, non_working=[date(2024, 7, 2)], working=[date(2024, 7, 6)])
    task = _task(reached={TaskStatus.IN_PROGRESS: vn(2024, 7, 1, 9)})
    # 2 July off, Saturday 6 July worked: 3, 4, 5, 6, 8 July.
    assert task_due(WITHIN, task, calendar) == vn(2024, 7, 9)
    assert WITHIN.within == WorkingDays(5)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "exactly one of 'due'"),
        ({"due": "2024-07-20T00:00:00+07:00", "due_from": "deadline"}, "exactly one of 'due'"),
        ({"due_from": "deadline", "warn_before": ["0s"]}, "longer than 0s"),
        ({"due_from": "deadline", "warn_before": ["soon"]}, "not a duration"),
        ({"due": "2024-07-20T00:00:00"}, "timezone"),
        ({"due_from": "deadline", "roster": "units/provinces-63.yaml"}, "needs a fixed 'due'"),
        ({"within": "0wd"}, "at least 1wd"),
    ],
)
def test_invalid_deadline_rules(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DeadlineRule.model_validate({"id": "r", "kind": "deadline", **fields})


def test_warn_steps_keep_their_mixed_units() -> None:
    rule = DeadlineRule.model_validate(
        {"id": "r", "kind": "deadline", "due_from": "deadline", "warn_before": ["2wd", "7d"]}
    )
    assert rule.warn_before == (WorkingDays(2), timedelta(days=7))


WD_RULE = DeadlineRule.model_validate(
    {"id": "w", "kind": "deadline", "severity": "warning", "due_from": "deadline", "warn_before": ["1wd", "3wd"]}
)
BARE_RULE = DeadlineRule.model_validate({"id": "b", "kind": "deadline", "severity": "warning", "due_from": "deadline"})


@settings(max_examples=200, deadline=None)
@given(
    rule=st.sampled_from([RULE, WD_RULE, BARE_RULE]),
    dues=st.lists(st.integers(0, 40 * 24), min_size=1, max_size=4),
    asked=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50 * 24 * 60)), min_size=1, max_size=40),
)
def test_a_deadline_clock_answers_as_the_stage_and_boundary_computed_afresh(
    rule: DeadlineRule, dues: list[int], asked: list[tuple[int, int]]
) -> None:
    """Remembered per due instant, in any order of instants (backwards too): never another answer than afresh."""
    clock = DeadlineClock(rule, CAL)
    start = vn(2024, 7, 1)
    for which, minutes in asked:
        due = start + timedelta(hours=dues[which % len(dues)])
        now = start + timedelta(minutes=minutes)
        assert clock.assess(due, now) == (
            deadline_stage(rule, due, CAL, now),
            next_deadline_boundary(rule, due, CAL, now),
        )
