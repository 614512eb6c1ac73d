from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from cloudevents.v1.http import CloudEvent
from cloudevents.v1.kafka import KafkaMessage, to_binary, to_structured
from hypothesis import given
from hypothesis import strategies as st

from events import EventKind, IndicatorEvent, TaskStatus, TaskStatusEvent, decode_record
from events.codec import (
    MAX_REASON_CHARS,
    MAX_REASON_ITEMS,
    batch_records,
    encode_event,
    rejection_reason,
    screen,
)
from tests.conftest import vn

TASK: dict[str, Any] = {
    "event_id": "e-1",
    "source": "nghean-dvc",
    "unit_id": "VN-40",
    "task_id": "T-12",
    "kind": "inspection_plan",
    "status": "in_progress",
    "deadline": "2024-07-20",
    "occurred_at": "2024-07-02T09:00:00+07:00",
    "title": "Kế hoạch kiểm tra chuyển đổi số",
    "labels": {"program": "de-an-06", "directive": "05"},
}
INDICATOR: dict[str, Any] = {
    "event_id": "i-1",
    "source": "nghean-dvc",
    "unit_id": "VN-40",
    "indicator": "online_dossier_ratio",
    "value": 0.458,
    "occurred_at": "2024-07-03T09:00:00+07:00",
}


def _bytes(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _cloudevent(kind: str, data: dict[str, Any], **attrs: str) -> dict[str, Any]:
    return {"specversion": "1.0", "type": kind, "id": "ce-1", "source": "ce-src", **attrs, "data": data}


def test_bare_task_event_keeps_every_field() -> None:
    decoded = decode_record(_bytes(TASK), default_kind=EventKind.TASK_STATUS)
    assert decoded.rejections == ()
    (event,) = decoded.events
    assert isinstance(event, TaskStatusEvent)
    assert event.status is TaskStatus.IN_PROGRESS
    assert event.deadline == date(2024, 7, 20)
    assert event.occurred_at == vn(2024, 7, 2, 9)
    assert event.title == "Kế hoạch kiểm tra chuyển đổi số"
    assert event.labels == {"program": "de-an-06", "directive": "05"}


def test_deadline_with_offset_is_an_instant() -> None:
    decoded = decode_record(
        _bytes({**TASK, "deadline": "2024-07-20T00:00:00+07:00"}), default_kind=EventKind.TASK_STATUS
    )
    assert decoded.events[0].deadline == vn(2024, 7, 20)  # type: ignore[union-attr]


def test_topic_decides_the_kind_of_a_bare_event() -> None:
    decoded = decode_record(_bytes(INDICATOR), default_kind=EventKind.INDICATOR)
    assert isinstance(decoded.events[0], IndicatorEvent)
    wrong_topic = decode_record(_bytes(INDICATOR), default_kind=EventKind.TASK_STATUS)
    assert wrong_topic.events == ()
    assert "task_id" in wrong_topic.rejections[0].reason


def test_indicator_value_from_numerator_and_denominator() -> None:
    data = {**INDICATOR, "value": None, "numerator": 647_873, "denominator": 682_493}
    (event,) = decode_record(_bytes(data), default_kind=EventKind.INDICATOR).events
    assert isinstance(event, IndicatorEvent)
    assert event.number == pytest.approx(0.94927, abs=1e-5)


def test_structured_cloudevent_fills_id_source_and_time_from_attributes() -> None:
    data = {k: v for k, v in TASK.items() if k not in ("event_id", "source", "occurred_at")}
    ce = _cloudevent("compliance.task-status", data, time="2024-07-02T02:00:00Z")
    (event,) = decode_record(_bytes(ce), default_kind=EventKind.INDICATOR).events
    assert isinstance(event, TaskStatusEvent)
    assert (event.event_id, event.source, event.occurred_at) == ("ce-1", "ce-src", vn(2024, 7, 2, 9))


def test_binary_cloudevent_reads_ce_headers() -> None:
    data = {k: v for k, v in INDICATOR.items() if k not in ("event_id", "source")}
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_type", b"compliance.indicator"),
        ("ce_id", b"bin-7"),
        ("ce_source", b"laocai-igate"),
        ("content-type", b"application/json"),
    ]
    (event,) = decode_record(_bytes(data), headers, default_kind=EventKind.TASK_STATUS).events
    assert isinstance(event, IndicatorEvent)
    assert (event.event_id, event.source) == ("bin-7", "laocai-igate")


def test_batch_keeps_good_items_and_names_bad_ones_by_index() -> None:
    batch = [TASK, {**TASK, "status": "done"}, _cloudevent("compliance.indicator", INDICATOR), 7]
    decoded = decode_record(_bytes(batch), default_kind=EventKind.TASK_STATUS)
    assert decoded.is_batch
    assert [type(e).__name__ for e in decoded.events] == ["TaskStatusEvent", "IndicatorEvent"]
    assert [r.index for r in decoded.rejections] == [1, 3]
    assert "field 'status'" in decoded.rejections[0].reason
    assert '"done"' in decoded.rejections[0].reason


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"", [], "empty record"),
        (b"not json", [], "not JSON"),
        (b"\xff\xfe{}", [], "not UTF-8"),
        (b"[]", [], "empty batch"),
        (b'"a string"', [], "must be a JSON object"),
        (_bytes({**TASK, "occurred_at": "2024-07-02T09:00:00"}), [], "timezone"),
        (_bytes({**TASK, "surprise": 1}), [], "field 'surprise'"),
        (_bytes({k: v for k, v in TASK.items() if k != "unit_id"}), [], "field 'unit_id': Field required"),
        (_bytes(_cloudevent("compliance.unknown", TASK)), [], "unknown CloudEvents type"),
        (_bytes({**_cloudevent("compliance.task-status", TASK), "specversion": "0.3"}), [], "specversion"),
        (_bytes(TASK), [("ce_specversion", b"1.0"), ("ce_type", b"nope")], "unknown CloudEvents type"),
        (_bytes({**INDICATOR, "value": None}), [], "numerator and denominator"),
        (_bytes({**INDICATOR, "value": None, "numerator": 1, "denominator": 0}), [], "denominator must not be 0"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(value: bytes, headers: list[tuple[str, bytes]], reason: str) -> None:
    kind = EventKind.INDICATOR if b"indicator" in value else EventKind.TASK_STATUS
    decoded = decode_record(value, headers, default_kind=kind)
    assert decoded.events == ()
    assert len(decoded.rejections) == 1
    assert reason in decoded.rejections[0].reason


def test_oversize_record_is_refused_whole() -> None:
    decoded = decode_record(_bytes([TASK] * 50), default_kind=EventKind.TASK_STATUS, max_bytes=1000)
    assert decoded.events == ()
    assert "over the limit of 1000" in decoded.rejections[0].reason


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s
)


@given(
    event_id=_text,
    unit=_text,
    task=_text,
    title=st.none() | _text,
    status=st.sampled_from(list(TaskStatus)),
    deadline=st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    labels=st.dictionaries(_text, _text, max_size=3),
)
def test_any_valid_task_event_round_trips(
    event_id: str,
    unit: str,
    task: str,
    title: str | None,
    status: TaskStatus,
    deadline: date | None,
    labels: dict[str, str],
) -> None:
    event = TaskStatusEvent(
        event_id=event_id,
        source="src",
        unit_id=unit,
        task_id=task,
        status=status,
        deadline=deadline,
        title=title,
        labels=labels,
        occurred_at=vn(2024, 7, 2, 9),
    )
    for value in (event.model_dump_json().encode(), _bytes([json.loads(event.model_dump_json())])):
        decoded = decode_record(value, default_kind=EventKind.TASK_STATUS)
        assert decoded.rejections == ()
        assert decoded.events == (event,)


def _message_headers(message: KafkaMessage) -> list[tuple[str, bytes]]:
    return list(message.headers.items())


def _sdk_event(content_type: str) -> CloudEvent:
    data = {k: v for k, v in INDICATOR.items() if k not in ("event_id", "source", "occurred_at")}
    attributes = {
        "type": "compliance.indicator",
        "source": "laocai-igate",
        "id": "sdk-1",
        "time": "2024-07-03T02:00:00Z",
        "datacontenttype": content_type,
    }
    return CloudEvent(attributes, data)


def test_structured_content_type_decides_whatever_ce_headers_ride_along() -> None:
    # A gateway copied the attributes into ce_* headers of an SDK-written structured record.
    copied = to_binary(_sdk_event("application/cloudevents+json")).headers
    message = to_structured(_sdk_event("application/cloudevents+json; charset=UTF-8"))
    headers = [*copied.items(), *message.headers.items()]
    assert isinstance(message.value, bytes)
    decoded = decode_record(message.value, headers, default_kind=EventKind.TASK_STATUS)
    assert decoded.rejections == ()
    (event,) = decoded.events
    assert isinstance(event, IndicatorEvent)
    assert (event.event_id, event.source, event.occurred_at) == ("sdk-1", "laocai-igate", vn(2024, 7, 3, 9))


def test_ce_specversion_without_a_structured_content_type_is_binary_mode() -> None:
    message = to_binary(_sdk_event("application/json"))
    assert isinstance(message.value, bytes)
    decoded = decode_record(message.value, _message_headers(message), default_kind=EventKind.TASK_STATUS)
    assert decoded.rejections == ()
    assert [e.event_id for e in decoded.events] == ["sdk-1"]


@pytest.mark.parametrize("field", ["event_id", "source", "unit_id", "task_id", "kind"])
@pytest.mark.parametrize("control", ["\r", "\n", "\x1b[31m", "\x00", "\x7f", "\x85", "\x9b"])
def test_identifiers_with_control_characters_are_refused(field: str, control: str) -> None:
    decoded = decode_record(_bytes({**TASK, field: f"VN{control}40"}), default_kind=EventKind.TASK_STATUS)
    assert decoded.events == ()
    (rejection,) = decoded.rejections
    assert f"field '{field}': must not contain control characters (U+{ord(control[0]):04X}" in rejection.reason
    assert control[0] not in rejection.reason  # the reason shows it escaped


def test_an_indicator_name_with_a_control_character_is_refused() -> None:
    decoded = decode_record(_bytes({**INDICATOR, "indicator": "ra\ntio"}), default_kind=EventKind.INDICATOR)
    assert "field 'indicator': must not contain control characters" in decoded.rejections[0].reason


@pytest.mark.parametrize("value", [True, "0.1", "nan"])
def test_indicator_values_are_numbers_without_coercion(value: object) -> None:
    decoded = decode_record(
        _bytes({**INDICATOR, "value": value, "numerator": value, "denominator": 2}), default_kind=None
    )
    assert decoded.events == ()
    assert "field 'value'" in decoded.rejections[0].reason or "numerator" in decoded.rejections[0].reason


def test_an_integer_value_is_a_number() -> None:
    (event,) = decode_record(_bytes({**INDICATOR, "value": 1}), default_kind=None).events
    assert isinstance(event, IndicatorEvent) and event.value == 1.0


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("deadline", "0001-01-01", "must lie between 1900-01-01 and 3000-01-01"),
        ("deadline", "9999-12-31", "must lie between 1900-01-01 and 3000-01-01"),
        ("deadline", "0001-01-01T00:00:00+14:00", "must lie between 1900-01-01 and 3000-01-01 (UTC)"),
        ("deadline", "9999-12-31T23:59:59-12:00", "must lie between 1900-01-01 and 3000-01-01 (UTC)"),
        ("occurred_at", "0001-01-01T00:00:00+00:00", "Input should be greater than or equal to 1900-01-01T00:00:00Z"),
        ("occurred_at", "9999-12-31T23:59:59-12:00", "Input should be less than or equal to 3000-01-01T00:00:00Z"),
    ],
)
def test_instants_near_the_ends_of_the_calendar_get_a_schema_reason(field: str, value: str, reason: str) -> None:
    decoded = decode_record(_bytes({**TASK, field: value}), default_kind=EventKind.TASK_STATUS)
    assert decoded.events == ()
    assert f"field '{field}': {reason}" in decoded.rejections[0].reason


def test_deep_nesting_is_refused_with_a_reason() -> None:
    decoded = decode_record(b"[" * 100_000 + b"]" * 100_000, default_kind=EventKind.TASK_STATUS)
    assert decoded.events == ()
    assert "nested too deep" in decoded.rejections[0].reason


def test_a_lone_surrogate_gives_a_reason_that_can_be_encoded_and_the_rest_of_the_batch_stays() -> None:
    batch = json.dumps([{**TASK, "title": "a\ud800"}, {**TASK, "task_id": "T-13"}]).encode()
    decoded = decode_record(batch, default_kind=EventKind.TASK_STATUS)
    assert [e.task_id for e in decoded.events] == ["T-13"]  # type: ignore[union-attr]
    reason = rejection_reason(decoded.rejections)
    assert reason.encode("utf-8").decode("utf-8") == reason
    assert "item 0: field 'title'" in reason and "\\ud800" in reason


def test_a_batch_of_300000_invalid_items_gets_a_capped_reason() -> None:
    decoded = decode_record(b"[" + b",".join([b"1"] * 300_000) + b"]", default_kind=EventKind.TASK_STATUS)
    assert len(decoded.rejections) == 300_000
    reason = rejection_reason(decoded.rejections)
    assert len(reason) <= MAX_REASON_CHARS
    assert reason.startswith("item 0: an event must be a JSON object, got int; item 1: ")
    assert reason.count("item ") == MAX_REASON_ITEMS
    assert reason.endswith(f"and {300_000 - MAX_REASON_ITEMS} more refused items (300000 in all)")


def test_screen_refuses_events_at_their_place_in_the_batch() -> None:
    batch = [TASK, 7, {**TASK, "task_id": "T-13"}, {**TASK, "task_id": "T-14"}]
    decoded = decode_record(_bytes(batch), default_kind=EventKind.TASK_STATUS)
    screened, refused = screen(decoded, lambda e, _seal: "no T-13" if getattr(e, "task_id", "") == "T-13" else None)
    assert refused == 1
    assert [e.task_id for e in screened.events] == ["T-12", "T-14"]  # type: ignore[union-attr]
    assert [(r.index, r.reason) for r in screened.rejections][1] == (2, "no T-13")
    assert [screened.position(n) for n in range(2)] == [0, 3]


@pytest.mark.parametrize(
    "fields",
    [{}, {"deadline": None}, {"title": None, "labels": {}}, {"kind": "dossier", "deadline": "2024-07-19"}],
)
def test_an_encoded_event_keeps_which_fields_were_left_out_and_which_were_null(fields: dict[str, Any]) -> None:
    raw = {
        "event_id": "e-1",
        "source": "nghean-dvc",
        "unit_id": "VN-22",
        "task_id": "NV-99",
        "status": "completed",
        "occurred_at": "2024-07-24T10:00:00+07:00",
    } | fields
    event = TaskStatusEvent.model_validate(raw)
    again = TaskStatusEvent.model_validate_json(encode_event(event))
    assert again == event and again.model_fields_set == event.model_fields_set == set(raw)


def test_encoded_events_go_in_as_few_records_as_the_limit_allows_in_order() -> None:
    bodies = [json.dumps({"event_id": f"e-{n}", "pad": "x" * n}).encode() for n in range(40)]
    records = list(batch_records(bodies, 300))
    assert all(len(r) <= 300 for r in records) and len(records) < len(bodies)
    read = [json.loads(r) for r in records]
    flat = [item for value in read for item in (value if isinstance(value, list) else [value])]
    assert [item["event_id"] for item in flat] == [f"e-{n}" for n in range(40)]
    assert list(batch_records(bodies[:1], 10)) == bodies[:1]  # one event stays an object, however large
    large = b'{"b":"' + b"y" * 50 + b'"}'
    assert list(batch_records([b'{"a":1}', large, b'{"c":2}'], 30)) == [b'{"a":1}', large, b'{"c":2}']
