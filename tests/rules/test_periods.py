"""Reporting periods as review meetings name them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rules.review import Period, bound_instant, parse_bound, parse_instant, parse_period, quarter_of
from tests.conftest import VN


@pytest.mark.parametrize(
    ("text", "first", "last", "label"),
    [
        ("2024-Q2", date(2024, 4, 1), date(2024, 6, 30), "Quý II/2024"),
        ("2024-q4", date(2024, 10, 1), date(2024, 12, 31), "Quý IV/2024"),
        ("2024-06", date(2024, 6, 1), date(2024, 6, 30), "Tháng 6/2024"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "Tháng 2/2024"),  # a leap year
        ("2024-H1", date(2024, 1, 1), date(2024, 6, 30), "6 tháng đầu năm 2024"),
        ("2024-H2", date(2024, 7, 1), date(2024, 12, 31), "6 tháng cuối năm 2024"),
        ("2024", date(2024, 1, 1), date(2024, 12, 31), "Năm 2024"),
        ("2024-04-01..2024-05-15", date(2024, 4, 1), date(2024, 5, 15), "Từ 01/04/2024 đến 15/05/2024"),
    ],
)
def test_a_period_covers_its_days(text: str, first: date, last: date, label: str) -> None:
    period = parse_period(text)
    assert (period.first, period.last, period.label) == (first, last, label)


def test_its_instants_run_from_the_first_midnight_to_the_midnight_after_the_last_day() -> None:
    start, end = parse_period("2024-Q3").bounds(VN)
    assert (start, end) == (datetime(2024, 7, 1, tzinfo=VN), datetime(2024, 10, 1, tzinfo=VN))
    assert parse_period("2024-Q3").days == 92
    assert quarter_of(date(2024, 11, 30)) == Period("2024-Q4", date(2024, 10, 1), date(2024, 12, 31), "Quý IV/2024")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-Q5", "write 2024-Q2"),
        ("2024-13", "month must be in 1..12"),
        ("2024-02-30..2024-03-01", "is not a period"),
        ("2024-05-01..2024-04-01", "ends before it begins"),
        ("Q2", "is not a period"),
        ("0001-01-01..9999-12-31", "not within the years 1900 to 9998"),
        ("9999-Q4", "not within the years 1900 to 9998"),
    ],
)
def test_anything_else_is_refused_with_the_forms_allowed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_period(text)


def test_a_bound_date_is_local_midnight_and_an_instant_keeps_its_offset() -> None:
    assert parse_instant("2024-04-01", VN) == datetime(2024, 4, 1, tzinfo=VN)
    assert parse_instant("2024-04-01", VN).astimezone(UTC) == datetime(2024, 3, 31, 17, tzinfo=UTC)
    assert parse_instant("2024-04-01T08:00:00+00:00", VN) == datetime(2024, 4, 1, 8, tzinfo=UTC)
    assert parse_instant("2024-04-01T08:00", VN) == datetime(2024, 4, 1, 8, tzinfo=VN)
    with pytest.raises(ValueError):
        parse_instant("Q2", VN)


def test_a_bound_is_read_as_written_and_a_date_means_where_its_day_begins_as_a_periods_end() -> None:
    assert parse_bound("2024-08-01") == date(2024, 8, 1) and type(parse_bound("2024-08-01")) is date
    assert parse_bound("2024-08-01T08:00").tzinfo is None  # type: ignore[union-attr]
    _, july_ends = parse_period("2024-07").bounds(VN)
    assert bound_instant(date(2024, 8, 1), VN) == july_ends
