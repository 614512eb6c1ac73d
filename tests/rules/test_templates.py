from __future__ import annotations

from datetime import timedelta

import pytest

from rules.language import check_template, format_duration, parse_duration, render


@pytest.mark.parametrize(
    "template",
    ["{unit_name.__class__}", "{unit_name[0]}", "{unit_name!r}", "{value:>{width}}", "{0}", "{secret}", "{"],
)
def test_templates_cannot_reach_beyond_plain_fields(template: str) -> None:
    with pytest.raises(ValueError):
        check_template(template)


def test_render_fills_fields_and_keeps_vietnamese_text() -> None:
    text = check_template("{unit_name}: nhiệm vụ «{task_title}» quá hạn {days_overdue} ngày {{literal}}")
    assert render(text, {"unit_name": "Nghệ An", "task_title": "Làm sạch dữ liệu", "days_overdue": "3"}) == (
        "Nghệ An: nhiệm vụ «Làm sạch dữ liệu» quá hạn 3 ngày {literal}"
    )


def test_missing_fields_render_empty() -> None:
    assert render("{unit_name}|{value}", {"unit_name": "VN-40"}) == "VN-40|"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", timedelta(days=30)), ("1d12h", timedelta(hours=36)), ("0s", timedelta(0)), ("2w", timedelta(days=14))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "7", "d7", "7 days", "-1d", "1.5d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
