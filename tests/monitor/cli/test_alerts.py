from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from monitor.cli import build_parser
from monitor.cli.alerts import format_line, line_zone
from monitor.settings import Settings
from rules.state import AlertFilter
from tests.rules.fixtures import transition as _transition

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PLUS_7 = timezone(timedelta(hours=7))


def test_tail_line_and_filter() -> None:
    transition = _transition()
    line = format_line(transition, colour=False, tz=HANOI)
    assert "FIRING" in line and "VN-22" in line and "NV-27" in line and "Nghệ An: nhiệm vụ quá hạn" in line
    assert format_line(transition, colour=True, tz=HANOI).startswith("\033[1;31m")
    assert AlertFilter(unit_id="VN-22", severity="critical").matches(transition)
    assert not AlertFilter(rule_id="other").matches(transition)


# The same instant written in +00:00 and in +07:00, as a firing alert and as a resolution.
SAME_INSTANT = [
    _transition(starts_at=datetime(2024, 7, 12, 17, 30, tzinfo=UTC)),
    _transition(starts_at=datetime(2024, 7, 13, 0, 30, tzinfo=PLUS_7)),
    _transition(
        "resolved", starts_at=datetime(2024, 7, 1, tzinfo=PLUS_7), ends_at=datetime(2024, 7, 12, 17, 30, tzinfo=UTC)
    ),
    _transition(
        "resolved", starts_at=datetime(2024, 7, 1, tzinfo=UTC), ends_at=datetime(2024, 7, 13, 0, 30, tzinfo=PLUS_7)
    ),
]


@pytest.mark.parametrize(
    ("tz", "shown"),
    [(HANOI, "2024-07-13 00:30:00+0700"), (UTC, "2024-07-12 17:30:00+0000")],
)
def test_every_line_shows_its_time_in_one_zone_whatever_offset_it_was_written_in(tz: tzinfo, shown: str) -> None:
    times = [format_line(t, colour=False, tz=tz).split("  ")[0] for t in SAME_INSTANT]
    assert times == [shown] * len(SAME_INSTANT)


def test_tail_shows_the_rule_packs_zone_or_utc_with_the_flag() -> None:
    args = build_parser().parse_args(["alerts", "tail", "--utc"])
    assert args.utc and line_zone(Settings(), args.utc) is UTC
    assert format_line(SAME_INSTANT[1], colour=False, tz=line_zone(Settings(), args.utc)).startswith(
        "2024-07-12 17:30:00+0000"
    )
    default = build_parser().parse_args(["alerts", "tail"])
    assert not default.utc and line_zone(Settings(), default.utc) == HANOI  # the bundled pack's zone


def test_a_warning_names_its_step_and_a_replay_line_shows_when_the_transition_happened() -> None:
    # The 1-day step of a warning that began 7 days before the deadline, made by a replay on 19/7.
    step = _transition(stage="due_soon", annotations={"summary": "sắp đến hạn", "warn_before": "1d"})
    made = datetime(2024, 7, 19, tzinfo=HANOI)
    line = format_line(step, colour=False, tz=HANOI, at=made)
    assert line.startswith("2024-07-19 00:00:00+0700  FIRING") and "task-overdue  due_soon 1d  NV-27" in line
    assert format_line(step, colour=False, tz=HANOI).startswith("2024-07-13 00:00:00+0700")  # the alert's start
