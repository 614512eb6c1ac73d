"""Download names: RFC 6266 ``filename*`` for the exact name, a safe ASCII ``filename`` beside it."""

from __future__ import annotations

import pytest
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from pydantic import ValidationError

from events.models import TaskStatusEvent
from events.text import MAX_IDENTIFIER_CHARS
from monitor.http.download import attachment, unit_id_problem


def _saved_as(disposition: str) -> tuple[str | None, str | None]:
    """The name aiohttp's client saves the download as (``filename*`` preferred, RFC 6266), and the fallback."""
    kind, params = parse_content_disposition(disposition)
    assert kind == "attachment"
    return content_disposition_filename(params, "filename"), params.get("filename")


@pytest.mark.parametrize(
    "name",
    ["overdue-VN-22.csv", "overdue-EVIL\"q'.csv", "overdue-Hà Nội;x=1.csv", "overdue-a\\b/c%41.csv"],
)
def test_the_exact_name_survives_and_the_fallback_is_plain_ascii(name: str) -> None:
    value = attachment(name)
    exact, fallback = _saved_as(value)
    assert exact == name
    assert fallback is not None and all(c.isascii() and (c.isalnum() or c in "._-") for c in fallback)
    assert value.isascii() and "\r" not in value and "\n" not in value


def test_a_header_line_break_in_the_name_is_encoded() -> None:
    value = attachment("overdue-VN\r\nSet-Cookie: a=b.csv")
    assert "\r" not in value and "\n" not in value and "%0D%0ASet-Cookie" in value


@pytest.mark.parametrize(
    ("unit_id", "reason"),
    [
        ("VN\r\n22", "a control character (U+000D) at position 2"),
        ("VN\x0022", "a control character (U+0000) at position 2"),
        ("VN-\ud800", "a lone surrogate (U+D800) at position 3"),
        ("V" * (MAX_IDENTIFIER_CHARS + 1), f"at most {MAX_IDENTIFIER_CHARS}"),
    ],
)
def test_unit_ids_no_unit_can_have(unit_id: str, reason: str) -> None:
    problem = unit_id_problem(unit_id)
    assert problem is not None and reason in problem


@pytest.mark.parametrize("unit_id", ["VN-22", "Bộ Tư pháp", 'EVIL"q', "V" * MAX_IDENTIFIER_CHARS])
def test_unit_ids_that_are_fine(unit_id: str) -> None:
    assert unit_id_problem(unit_id) is None


def test_the_length_limit_is_the_events_own() -> None:
    fields = {"event_id": "e", "source": "s", "task_id": "t", "status": "in_progress"}
    fields["occurred_at"] = "2024-07-02T09:00:00+07:00"
    TaskStatusEvent.model_validate({**fields, "unit_id": "V" * MAX_IDENTIFIER_CHARS})
    with pytest.raises(ValidationError):
        TaskStatusEvent.model_validate({**fields, "unit_id": "V" * (MAX_IDENTIFIER_CHARS + 1)})
