"""Figures as Vietnamese readers write them (``rules.vietnamese.display``)."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

import pytest

from rules.language import IndicatorBounds, parse_span
from rules.vietnamese import (
    PERCENT_SPACE,
    date_text,
    datetime_text,
    days_text,
    due_text,
    indicator_text,
    is_ratio,
    late_text,
    number_text,
    overdue_text,
    percent_text,
    span_text,
)
from tests.conftest import VN, utc, vn

NBSP = "\u00a0"


def test_a_date_is_day_month_year_in_the_rule_s_time_zone() -> None:
    assert date_text(vn(2024, 7, 19, 17), VN) == "19/07/2024"
    # 19/07 20:00 UTC is already 20/07 in Hà Nội: the local date is shown, not the UTC one.
    assert date_text(utc(2024, 7, 19, 20), VN) == "20/07/2024"
    assert date_text(utc(2024, 7, 19, 20), ZoneInfo("UTC")) == "19/07/2024"
    assert date_text(vn(2024, 1, 5), VN) == "05/01/2024"  # day and month with two digits


def test_a_date_and_time_is_local_wall_time() -> None:
    assert datetime_text(vn(2024, 7, 19, 17), VN) == "19/07/2024 17:00"
    assert datetime_text(utc(2024, 7, 19, 10, 5), VN) == "19/07/2024 17:05"
    assert datetime_text(vn(2024, 7, 20), VN) == "20/07/2024 00:00"


def test_a_date_only_deadline_shows_the_date_written_not_the_midnight_after_it() -> None:
    due = vn(2024, 7, 20)  # a deadline of 2024-07-19: the end of that day
    assert due_text(due, VN, date_only=True) == "19/07/2024"
    assert due_text(due.astimezone(UTC), VN, date_only=True) == "19/07/2024"  # the same instant, in UTC
    assert due_text(vn(2024, 1, 1), VN, date_only=True) == "31/12/2023"  # across a year


def test_an_instant_deadline_shows_its_time_even_at_midnight() -> None:
    assert due_text(vn(2024, 7, 20), VN) == "20/07/2024 00:00"
    assert due_text(vn(2024, 7, 19, 17), VN) == "19/07/2024 17:00"
    # Only a local midnight stands for a date: any other instant keeps its time.
    assert due_text(vn(2024, 7, 19, 17), VN, date_only=True) == "19/07/2024 17:00"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234.5, "1.234,5"),
        (1234567, "1.234.567"),
        (0.458, "0,458"),
        (0.78912, "0,789"),  # at most three decimals
        (2.0, "2"),  # no trailing ",0"
        (0, "0"),
        (-1234.5, "-1.234,5"),
        (-0.0001, "0"),  # rounds to zero: no "-0"
        (172986, "172.986"),
    ],
)
def test_a_number_has_a_decimal_comma_and_dots_between_thousands(value: float, text: str) -> None:
    assert number_text(value) == text


def test_a_number_with_other_decimals() -> None:
    assert number_text(0.125, decimals=2) == "0,12"  # rounded half to even, as Python does
    assert number_text(1234.5678, decimals=0) == "1.235"


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (0.458, "45,8"),
        (0.4583, "45,8"),
        (0.7891, "78,9"),
        (0.172, "17,2"),
        (1.0, "100"),  # whole: no ",0"
        (0.5, "50"),
        (0.0, "0"),
    ],
)
def test_a_ratio_is_a_percentage_with_one_decimal_and_a_no_break_space(ratio: float, text: str) -> None:
    assert PERCENT_SPACE == NBSP
    assert percent_text(ratio) == f"{text}{NBSP}%"


def test_a_percentage_with_more_decimals() -> None:
    assert percent_text(0.9996, decimals=2) == f"99,96{NBSP}%"


def test_only_bounds_of_zero_to_one_make_a_ratio() -> None:
    assert is_ratio(IndicatorBounds(min=0, max=1))
    assert not is_ratio(IndicatorBounds(min=0, max=100))
    assert not is_ratio(IndicatorBounds(min=0))
    assert not is_ratio(None)


def test_an_indicator_reads_as_a_percentage_when_the_pack_declares_it_a_ratio() -> None:
    bounds = {"online_dossier_ratio": IndicatorBounds(min=0, max=1), "dossiers": IndicatorBounds(min=0)}
    assert indicator_text("online_dossier_ratio", 0.458, bounds) == f"45,8{NBSP}%"
    assert indicator_text("online_dossier_ratio", 0.9996, bounds, decimals=2) == f"99,96{NBSP}%"
    assert indicator_text("dossiers", 1234.5, bounds) == "1.234,5"
    assert indicator_text("undeclared", 0.458, bounds) == "0,458"  # no bounds: no guess that it is a ratio


def test_days_overdue_read_in_whole_days_with_less_than_one_said_plainly() -> None:
    assert overdue_text(0) == "quá hạn dưới 1 ngày"
    assert overdue_text(1) == "quá hạn 1 ngày"
    assert overdue_text(857) == "quá hạn 857 ngày"
    assert overdue_text(1234) == "quá hạn 1.234 ngày"
    assert overdue_text(2, working=True) == "quá hạn 2 ngày làm việc"
    assert overdue_text(0, working=True) == "quá hạn dưới 1 ngày làm việc"


def test_how_late_a_completion_was() -> None:
    assert late_text(5) == "muộn 5 ngày"
    assert late_text(0) == "muộn dưới 1 ngày"
    assert late_text(4, working=True) == "muộn 4 ngày làm việc"
    assert days_text(3) == "3 ngày"


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("30d", "30 ngày"),
        ("5wd", "5 ngày làm việc"),
        ("12h", "12 giờ"),
        ("1d12h", "1 ngày 12 giờ"),
        ("30m", "30 phút"),
        ("2w", "14 ngày"),
        ("1000d", "1.000 ngày"),
        ("90s", "1 phút 30 giây"),
    ],
)
def test_a_rule_s_duration_reads_as_vietnamese_words(written: str, said: str) -> None:
    assert span_text(parse_span(written)) == said
