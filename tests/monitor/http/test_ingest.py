from __future__ import annotations

import json

import pytest

from monitor.http.ingest import authorize, plan_records
from monitor.kafka.topics import Topics

EVENT = {
    "event_id": "e-1",
    "source": "s",
    "unit_id": "VN-22",
    "task_id": "NV-1",
    "status": "in_progress",
    "occurred_at": "2024-07-02T09:00:00+07:00",
}


@pytest.mark.parametrize(
    ("configured", "header", "status"),
    [
        (None, "Bearer x", 404),
        ("", "Bearer x", 404),
        ("t", None, 401),
        ("t", "Basic dDp0", 401),
        ("t", "Bearer u", 403),
    ],
)
def test_refusals(configured: str | None, header: str | None, status: int) -> None:
    answer = authorize(configured, header)
    assert answer is not None and answer.status == status


def test_right_token_passes() -> None:
    assert authorize("t", "Bearer t") is None


def test_binary_cloudevent_over_http_headers() -> None:
    data = {k: v for k, v in EVENT.items() if k not in ("event_id", "source")}
    headers = {"ce-specversion": "1.0", "ce-type": "compliance.task-status", "ce-id": "h1", "ce-source": "portal"}
    answer = plan_records(json.dumps(data).encode(), headers, Topics(), 10_000)
    assert answer.status == 202
    ((topic, key, value),) = answer.records
    assert (topic, key) == ("compliance.task-status", b"VN-22")
    assert json.loads(value)[0]["event_id"] == "h1"


def test_one_record_per_unit_and_topic() -> None:
    events = [EVENT, {**EVENT, "event_id": "e-2", "unit_id": "VN-02"}, {**EVENT, "event_id": "e-3"}]
    answer = plan_records(json.dumps(events).encode(), {}, Topics(), 10_000)
    assert answer.body == {"accepted": 3, "records": 2}
    assert sorted(len(json.loads(value)) for _, _, value in answer.records) == [1, 2]
