from __future__ import annotations

import json

import pytest

from events.grants import UNSEALED_EXTENSION
from monitor.http.ingest import MAX_JSON_DEPTH, authorize, plan_records, read_body
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
    ((topic, key, value, _),) = answer.records
    assert (topic, key) == ("compliance.task-status", b"VN-22")
    assert json.loads(value)[0]["event_id"] == "h1"


def test_one_record_per_unit_and_topic() -> None:
    events = [EVENT, {**EVENT, "event_id": "e-2", "unit_id": "VN-02"}, {**EVENT, "event_id": "e-3"}]
    answer = plan_records(json.dumps(events).encode(), {}, Topics(), 10_000)
    assert answer.body == {"accepted": 3, "records": 2}
    assert sorted(len(json.loads(value)) for _, _, value, _ in answer.records) == [1, 2]


class _Arriving:
    """A request body arriving over the network: each read returns at most what one packet carried."""

    def __init__(self, body: bytes, packet: int) -> None:
        self.body, self.packet, self.reads = body, packet, 0

    async def read(self, n: int) -> bytes:
        self.reads += 1
        chunk, self.body = self.body[: min(n, self.packet)], self.body[min(n, self.packet) :]
        return chunk


async def test_read_body_reads_until_the_end_not_one_packet() -> None:
    body = json.dumps([EVENT] * 3000).encode()
    arriving = _Arriving(body, packet=65_536)
    assert await read_body(arriving.read, len(body)) == body
    assert arriving.reads > 2


async def test_read_body_stops_just_over_the_limit() -> None:
    arriving = _Arriving(b"x" * 2_000_000, packet=65_536)
    assert await read_body(arriving.read, 1_000_000) is None
    assert len(arriving.body) == 2_000_000 - 1_000_001  # the rest is left unread
    assert await read_body(_Arriving(b"x" * 100, packet=7).read, 100) == b"x" * 100


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "the body is empty"),
        (b'{"event_id": "e-1",', "the body is not JSON: Expecting property name enclosed in double quotes at line 1"),
        (b'{"title": "\xff"}', "the body is not UTF-8 (byte 0xff at offset 11)"),
        (b"[" * 100_000 + b"]" * 100_000, f"nested deeper than {MAX_JSON_DEPTH} levels"),
        (b"[" * 40 + b"]" * 40, f"nested deeper than {MAX_JSON_DEPTH} levels (at $[0][0]"),
        (json.dumps({**EVENT, "title": "\ud800"}).encode(), "the string at $.title holds a lone UTF-16 surrogate"),
        (json.dumps([{**EVENT, "\udfff": 1}]).encode(), "the string at $[0].\\udfff (its key) holds a lone"),
    ],
)
def test_a_body_that_is_not_json_is_a_400_that_says_why(body: bytes, reason: str) -> None:
    answer = plan_records(body, {}, Topics(), 10_000_000)
    assert answer.status == 400 and reason in answer.body["error"]
    assert not answer.records
    json.dumps(answer.body, ensure_ascii=False).encode("utf-8")  # the answer itself can be sent


def test_a_batch_at_the_nesting_limit_is_still_read() -> None:
    nested: object = "x"
    for _ in range(MAX_JSON_DEPTH - 2):
        nested = [nested]
    answer = plan_records(json.dumps([{**EVENT, "title": nested}]).encode(), {}, Topics(), 10_000)
    assert answer.status == 422  # valid JSON; the title is not a string


def test_a_publisher_cannot_post_an_extension() -> None:
    extension = {
        "specversion": "1.0",
        "type": "compliance.extension",
        "id": "x-1",
        "source": "monitor",
        "subject": "VN-22",
        "data": {
            "event_id": "x-1",
            "source": "monitor",
            "unit_id": "VN-22",
            "occurred_at": "2024-07-22T09:00:00+07:00",
            "task_id": "NV-1",
            "due": "2024-08-15",
            "reference": "125/QĐ-BCĐ06",
            "granted_by": "to-cong-tac",
        },
    }
    answer = plan_records(json.dumps([EVENT, extension]).encode(), {}, Topics(), 10_000)
    assert answer.status == 422 and answer.records == []
    assert answer.body["errors"] == [{"index": 1, "reason": UNSEALED_EXTENSION}]
