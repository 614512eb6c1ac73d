"""Silence schedules on a simulated clock, in Asia/Ho_Chi_Minh: a window that runs past midnight, holidays, expiry."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from monitor.silences.model import Silence, SilenceMatchers, SilenceRequest, Weekly, Window
from rules.language import WorkCalendar

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CALENDAR = WorkCalendar.of(VN)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=VN)  # type: ignore[misc]


def silence(schedule: Weekly | Window, expired_at: datetime | None = None) -> Silence:
    return Silence(
        id="0" * 32,
        matchers=SilenceMatchers(unit_id="VN-22"),
        schedule=schedule,
        reason="bảo trì hệ thống mỗi tối Chủ nhật",
        created_by="to-cong-tac",
        created_by_name="Tổ công tác",
        created_at=at(2026, 11, 1),
        expired_at=expired_at,
    )


SUNDAY_NIGHTS = Weekly(days=("sun",), start=time(22, 0), duration=timedelta(hours=4))


@pytest.mark.parametrize(
    ("now", "silenced"),
    [
        (at(2026, 12, 6, 21, 59), False),  # Sunday, before
        (at(2026, 12, 6, 22, 0), True),
        (at(2026, 12, 6, 23, 59), True),
        (at(2026, 12, 7, 1, 59), True),  # Monday, the window begun on Sunday
        (at(2026, 12, 7, 2, 0), False),
        (at(2026, 12, 7, 22, 30), False),  # Monday night: not a Sunday
        (at(2026, 12, 13, 22, 30), True),  # the next Sunday
        (datetime(2026, 12, 6, 15, 30, tzinfo=ZoneInfo("UTC")), True),  # 22:30 in Hà Nội, whatever the offset
    ],
)
def test_a_weekly_window_from_sunday_22_00_to_monday_02_00(now: datetime, silenced: bool) -> None:
    assert (silence(SUNDAY_NIGHTS).window_at(now, CALENDAR) is not None) == silenced


def test_the_next_window_and_the_state_say_what_is_to_come() -> None:
    weekly = silence(SUNDAY_NIGHTS)
    assert weekly.next_window(at(2026, 12, 3, 9), CALENDAR) == (at(2026, 12, 6, 22), at(2026, 12, 7, 2))
    assert weekly.state(at(2026, 12, 3, 9), CALENDAR) == "pending"
    assert weekly.state(at(2026, 12, 6, 23), CALENDAR) == "active"
    stopped = silence(SUNDAY_NIGHTS, expired_at=at(2026, 12, 6, 23))  # ended early, inside a window
    assert stopped.window_at(at(2026, 12, 6, 23, 30), CALENDAR) is None
    assert stopped.state(at(2026, 12, 6, 23, 30), CALENDAR) == "expired"
    ended = Weekly(days=("sun",), start=time(22), duration=timedelta(hours=4), until=at(2026, 12, 10))
    assert silence(ended).next_window(at(2026, 12, 8), CALENDAR) is None


def test_holidays_are_days_a_schedule_may_name() -> None:
    on_holidays = silence(Weekly(days=("holiday",), start=time(0), duration=timedelta(days=1)))
    assert on_holidays.window_at(at(2026, 9, 2, 10), CALENDAR) is not None  # National Day
    assert on_holidays.window_at(at(2026, 9, 4, 10), CALENDAR) is None
    assert CALENDAR.is_holiday(date(2026, 9, 2)) and not CALENDAR.is_holiday(date(2026, 9, 5))


def test_a_fixed_window() -> None:
    once = silence(Window(starts_at=at(2026, 12, 5, 8), ends_at=at(2026, 12, 5, 12)))
    assert once.window_at(at(2026, 12, 5, 9), CALENDAR) is not None
    assert once.window_at(at(2026, 12, 5, 12), CALENDAR) is None
    assert once.state(at(2026, 12, 5, 13), CALENDAR) == "expired"


def test_matchers_match_every_one_given() -> None:
    matchers = SilenceMatchers(unit_id="VN-22", severity="warning", labels={"team": "ops"})
    assert matchers.match({"unit_id": "VN-22", "severity": "warning", "team": "ops", "alertname": "x"})
    assert not matchers.match({"unit_id": "VN-22", "severity": "critical", "team": "ops"})
    assert SilenceMatchers(rule_id="task-overdue").match({"alertname": "task-overdue"})
    assert matchers.as_label_pairs() == [("unit_id", "VN-22"), ("severity", "warning"), ("team", "ops")]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {
                "matchers": {},
                "schedule": {
                    "kind": "window",
                    "starts_at": "2026-12-05T08:00:00+07:00",
                    "ends_at": "2026-12-05T09:00:00+07:00",
                },
                "reason": "x",
            },
            "at least one matcher",
        ),
        (
            {
                "matchers": {"unit_id": "VN-22"},
                "schedule": {"kind": "weekly", "days": ["sun"], "start": "22:00", "duration": "4h"},
                "reason": " ",
            },
            "at least 1 character",
        ),
        (
            {
                "matchers": {"unit_id": "VN-22"},
                "schedule": {"kind": "weekly", "days": ["sunday"], "start": "22:00", "duration": "4h"},
                "reason": "x",
            },
            "days",
        ),
        (
            {
                "matchers": {"unit_id": "VN-22"},
                "schedule": {"kind": "weekly", "days": ["sun"], "start": "22:00", "duration": "8d"},
                "reason": "x",
            },
            "at most 7d",
        ),
        (
            {
                "matchers": {"unit_id": "VN-22"},
                "schedule": {
                    "kind": "window",
                    "starts_at": "2026-12-05T09:00:00+07:00",
                    "ends_at": "2026-12-05T08:00:00+07:00",
                },
                "reason": "x",
            },
            "after starts_at",
        ),
    ],
)
def test_a_request_that_makes_no_sense_is_refused_with_the_reason(body: dict, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError, match=words):
        SilenceRequest.model_validate(body)
