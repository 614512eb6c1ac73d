"""Days overdue, one definition everywhere: whole days since the due instant, in working days where the rule counts them.

Also how late a completion was (``late_days``) and what a resolved deadline alert says.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from events.models import TaskStatus
from rules.engine import advance, apply_event
from rules.language import (
    CompiledRule,
    DeadlineRule,
    RulePack,
    WorkCalendar,
    counts_working_days,
    due_is_date,
    task_due,
    whole_days,
)
from rules.state import TaskState
from rules.vietnamese import days_overdue, due_text, overdue_text
from tests.conftest import VN, vn
from tests.rules.fixtures import pack, task

RULES = """
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
        warn_before: [7d]
      - id: dossier-overdue
        kind: deadline
        select: {kind: dossier}
        due_from: deadline
        warn_before: [1wd]
      - id: complaint-answer
        kind: deadline
        select: {kind: complaint}
        within: 5wd
"""


@pytest.fixture
def rules(tmp_path: Path) -> RulePack:
    return pack(tmp_path, RULES)


def _rule(rules: RulePack, rule_id: str) -> CompiledRule:
    compiled = rules.by_id(rule_id)
    assert compiled is not None
    return compiled


# --- calendar days ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "days"),
    [
        (timedelta(0), 0),  # exactly at due
        (timedelta(seconds=1), 0),  # just past due: not a whole day yet
        (timedelta(hours=23, minutes=59, seconds=59), 0),
        (timedelta(days=1), 1),  # 24 hours past
        (timedelta(days=1, hours=23), 1),
        (timedelta(days=857), 857),
        (-timedelta(days=3), 0),  # not yet due: never negative
    ],
)
def test_calendar_days_overdue_are_whole_days_since_the_due_instant(
    rules: RulePack, after: timedelta, days: int
) -> None:
    due = vn(2024, 7, 19, 17)
    assert days_overdue(_rule(rules, "task-overdue"), due, due + after) == days


def test_one_second_past_due_reads_as_less_than_a_day(rules: RulePack) -> None:
    due = vn(2024, 7, 19, 17)
    assert overdue_text(days_overdue(_rule(rules, "task-overdue"), due, due + timedelta(seconds=1))) == (
        "quá hạn dưới 1 ngày"
    )


def test_a_date_only_deadline_is_due_at_the_end_of_that_day_and_shown_as_that_day(rules: RulePack) -> None:
    compiled = _rule(rules, "task-overdue")
    assert isinstance(compiled.rule, DeadlineRule)
    state = TaskState.from_event(task(vn(2024, 7, 1), deadline=date(2024, 7, 19)))
    due = task_due(compiled.rule, state, compiled.calendar)
    assert due == datetime(2024, 7, 20, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert due is not None and due.utcoffset() == timedelta(hours=7)
    assert due_text(due, compiled.tz, due_is_date(compiled.rule, state)) == "19/07/2024"
    assert days_overdue(compiled, due, vn(2024, 7, 20, 0, 0, 5)) == 0
    assert days_overdue(compiled, due, vn(2024, 7, 20, 23, 59, 59)) == 0
    assert days_overdue(compiled, due, vn(2024, 7, 21)) == 1


def test_calendar_days_are_days_on_the_zone_s_wall_clock() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    due = datetime(2024, 3, 30, 12, tzinfo=berlin)
    spring = datetime(2024, 3, 31, 12, tzinfo=berlin)  # 23 hours later: clocks went forward that night
    assert spring.timestamp() - due.timestamp() == timedelta(hours=23).total_seconds()
    assert whole_days(due, spring, berlin) == 1
    assert whole_days(due, spring - timedelta(seconds=1), berlin) == 0


# --- working days ---------------------------------------------------------------------------------------


def test_which_rules_count_working_days(rules: RulePack) -> None:
    counted = {c.rule.id: counts_working_days(c.rule) for c in rules.rules if isinstance(c.rule, DeadlineRule)}
    assert counted == {"task-overdue": False, "dossier-overdue": True, "complaint-answer": True}


@pytest.mark.parametrize(
    ("now", "days"),
    [
        (vn(2024, 8, 31, 0, 0, 1), 0),  # Saturday
        (vn(2024, 9, 3, 23, 59, 59), 0),  # Monday 2 and Tuesday 3 September: National Day
        (vn(2024, 9, 4, 23, 59, 59), 0),  # Wednesday, the first working day: not over yet
        (vn(2024, 9, 5), 1),
        (vn(2024, 9, 6), 2),
        (vn(2024, 9, 9), 3),  # the weekend of 7-8 September adds nothing
    ],
)
def test_working_days_overdue_skip_the_weekend_and_national_day(rules: RulePack, now: datetime, days: int) -> None:
    # A dossier due on Friday 30 August 2024 (a date: due at the end of it, Saturday 00:00).
    due = vn(2024, 8, 31)
    assert days_overdue(_rule(rules, "dossier-overdue"), due, now) == days
    assert days_overdue(_rule(rules, "task-overdue"), due, vn(2024, 9, 5)) == 5  # the same in calendar days


def test_a_working_day_that_begins_at_the_due_instant_counts_once_it_ends(rules: RulePack) -> None:
    dossier = _rule(rules, "dossier-overdue")
    due = vn(2024, 8, 30)  # a deadline of Thursday 29 August: Friday 30 is a whole working day past due
    assert days_overdue(dossier, due, vn(2024, 8, 30, 23, 59, 59)) == 0
    assert days_overdue(dossier, due, vn(2024, 8, 31)) == 1
    assert days_overdue(dossier, due, vn(2024, 9, 4, 12)) == 1
    assert days_overdue(dossier, due, vn(2024, 9, 5)) == 2
    # Due in the middle of a working day: that day is not a whole day past due.
    assert days_overdue(dossier, vn(2024, 8, 30, 17), vn(2024, 8, 31)) == 0


def test_working_days_overdue_are_the_largest_n_that_calendar_add_reaches() -> None:
    calendar = WorkCalendar.of(VN, non_working=[date(2024, 9, 6)], working=[date(2024, 9, 7)])
    dues = [vn(2024, 8, 28, 0), vn(2024, 8, 29, 13, 30), vn(2024, 8, 31), vn(2024, 9, 3, 8), vn(2024, 9, 6)]
    for due in dues:
        for hours in range(0, 24 * 16, 5):
            now = due + timedelta(hours=hours)
            # ``add`` counts from the day after the one ``start`` is in; just before a midnight is the day it ends.
            expected = max((n for n in range(20) if calendar.add(due - timedelta(microseconds=1), n) <= now), default=0)
            assert calendar.whole_working_days(due, now) == expected, (due, now)


def test_a_within_counted_in_working_days_is_due_at_the_end_of_a_day_shown_as_that_day(rules: RulePack) -> None:
    compiled = _rule(rules, "complaint-answer")
    assert isinstance(compiled.rule, DeadlineRule)
    state = TaskState.from_event(task(vn(2024, 8, 26, 10), kind="complaint"))  # Monday
    due = task_due(compiled.rule, state, compiled.calendar)
    assert due == vn(2024, 9, 5)  # 27, 28, 29, 30 August and (after the holidays) 4 September
    assert due_is_date(compiled.rule, state)
    assert due_text(due, compiled.tz, True) == "04/09/2024"


def test_only_a_date_or_a_working_day_count_makes_a_due_a_date(rules: RulePack) -> None:
    compiled = _rule(rules, "task-overdue")
    assert isinstance(compiled.rule, DeadlineRule)
    assert due_is_date(compiled.rule, TaskState.from_event(task(vn(2024, 7, 1), deadline=date(2024, 7, 19))))
    assert not due_is_date(compiled.rule, TaskState.from_event(task(vn(2024, 7, 1), deadline=vn(2024, 7, 20))))
    assert not due_is_date(compiled.rule, None)


# --- through the engine: summaries, and how late a completion was ----------------------------------------


def test_an_overdue_summary_carries_the_due_date_and_no_count_that_goes_stale(rules: RulePack) -> None:
    event = task(vn(2024, 7, 1), deadline=date(2024, 7, 19), title="Rà soát thủ tục")
    state = apply_event(rules, None, event, vn(2024, 7, 1)).state
    (firing,) = advance(rules, state, vn(2024, 7, 20, 0, 0, 5)).transitions
    assert firing.stage == "overdue"
    assert firing.annotations["summary"] == "VN-40: Rà soát thủ tục quá hạn (hạn 19/07/2024)"
    assert firing.annotations["due"] == "2024-07-20T00:00:00+07:00"  # machine-readable: the ISO instant


def test_a_completion_exactly_five_days_late_says_so(rules: RulePack) -> None:
    deadline = date(2024, 7, 19)
    state = apply_event(rules, None, task(vn(2024, 7, 1), deadline=deadline, title="Rà soát"), vn(2024, 7, 1)).state
    state = advance(rules, state, vn(2024, 7, 21)).state
    done = task(vn(2024, 7, 25), TaskStatus.COMPLETED, deadline=deadline, title="Rà soát")  # due 20/7 00:00 + 5 days
    (resolved,) = apply_event(rules, state, done, vn(2024, 7, 25, 0, 0, 1)).transitions
    assert resolved.annotations["resolution"] == "completed_late" and resolved.annotations["late"] == "true"
    assert resolved.annotations["late_days"] == "5"
    assert resolved.annotations["summary"] == "VN-40: Rà soát hoàn thành muộn 5 ngày (hạn 19/07/2024)"


def test_a_completion_less_than_a_day_late(rules: RulePack) -> None:
    state = apply_event(rules, None, task(vn(2024, 7, 1), deadline=date(2024, 7, 19)), vn(2024, 7, 1)).state
    state = advance(rules, state, vn(2024, 7, 20)).state
    done = task(vn(2024, 7, 20, 23, 59, 59), TaskStatus.COMPLETED, deadline=date(2024, 7, 19))
    (resolved,) = apply_event(rules, state, done, vn(2024, 7, 21)).transitions
    assert resolved.annotations["late_days"] == "0"
    assert resolved.annotations["summary"] == "VN-40: T-1 hoàn thành muộn dưới 1 ngày (hạn 19/07/2024)"


def test_a_dossier_settled_late_counts_working_days(rules: RulePack) -> None:
    deadline = date(2024, 8, 30)  # Friday; then a weekend and National Day (2 and 3 September)
    event = task(vn(2024, 8, 1), kind="dossier", task_id="HS-1", deadline=deadline)
    state = advance(rules, apply_event(rules, None, event, vn(2024, 8, 1)).state, vn(2024, 8, 31)).state
    done = task(vn(2024, 9, 6, 9), TaskStatus.COMPLETED, kind="dossier", task_id="HS-1", deadline=deadline)
    (resolved,) = apply_event(rules, state, done, vn(2024, 9, 6, 9)).transitions
    assert resolved.annotations["late_days"] == "2"  # Wednesday 4 and Thursday 5 September
    assert resolved.annotations["summary"] == "VN-40: HS-1 hoàn thành muộn 2 ngày làm việc (hạn 30/08/2024)"


def test_in_time_and_cancelled_resolutions_say_how_the_task_ended(rules: RulePack) -> None:
    state = apply_event(rules, None, task(vn(2024, 7, 1), deadline=vn(2024, 7, 19, 17)), vn(2024, 7, 1)).state
    state = advance(rules, state, vn(2024, 7, 13)).state  # due soon
    done = task(vn(2024, 7, 15), TaskStatus.COMPLETED, deadline=vn(2024, 7, 19, 17))
    (resolved,) = apply_event(rules, state, done, vn(2024, 7, 15)).transitions
    assert resolved.annotations["resolution"] == "completed" and "late_days" not in resolved.annotations
    assert resolved.annotations["summary"] == "VN-40: T-1 hoàn thành đúng hạn (hạn 19/07/2024 17:00)"

    state = apply_event(rules, None, task(vn(2024, 7, 1), deadline=date(2024, 7, 19)), vn(2024, 7, 1)).state
    state = advance(rules, state, vn(2024, 7, 21)).state
    dropped = task(vn(2024, 7, 22), TaskStatus.CANCELLED, deadline=date(2024, 7, 19))
    (resolved,) = apply_event(rules, state, dropped, vn(2024, 7, 22)).transitions
    assert resolved.annotations["resolution"] == "cancelled" and "late_days" not in resolved.annotations
    assert resolved.annotations["summary"] == "VN-40: T-1 đã hủy (hạn 19/07/2024)"
