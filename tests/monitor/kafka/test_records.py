"""Dead-letter records: the original bytes when they fit, the start of them when they do not; provenance always."""

from __future__ import annotations

from monitor.kafka.records import InboundRecord, dead_letter

LIMIT = 10_000


def _size(key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> int:
    return len(key or b"") + len(value) + sum(len(k.encode()) + len(v) for k, v in headers)


def test_a_record_that_fits_goes_whole_with_its_provenance() -> None:
    record = InboundRecord("compliance.task-status", 1, 42, b"VN-40", b"{not json", (("trace", b"t-1"),))
    letter = dead_letter(record, "record is not JSON", LIMIT)
    assert (letter.key, letter.value) == (b"VN-40", b"{not json")
    assert letter.headers == [
        ("trace", b"t-1"),
        ("dlq_reason", b"record is not JSON"),
        ("dlq_topic", b"compliance.task-status"),
        ("dlq_partition", b"1"),
        ("dlq_offset", b"42"),
        ("dlq_size", b"9"),
    ]


def test_a_record_too_large_to_forward_keeps_the_start_of_its_value_and_says_so() -> None:
    value = b"[" + b"1," * 30_000 + b"1]"
    record = InboundRecord("compliance.task-status", 0, 7, b"VN-40", value, (("trace", b"t-1"),))
    letter = dead_letter(record, "record is 60003 bytes, over the limit of 10000", LIMIT)
    headers = dict(letter.headers)
    assert _size(letter.key, letter.value, letter.headers) <= LIMIT
    assert value.startswith(letter.value) and len(letter.value) > LIMIT - 400
    assert headers["dlq_cut"] == f"the first {len(letter.value)} of {len(value)} bytes".encode()
    assert (headers["dlq_topic"], headers["dlq_partition"], headers["dlq_offset"]) == (
        b"compliance.task-status",
        b"0",
        b"7",
    )
    assert headers["dlq_size"] == str(len(value)).encode() and headers["trace"] == b"t-1"
    assert headers["dlq_reason"].startswith(b"record is 60003 bytes")


def test_huge_headers_and_key_give_way_to_the_provenance() -> None:
    record = InboundRecord("t", 0, 1, b"k" * 6000, b"v" * 100, tuple((f"h{i}", b"x" * 1000) for i in range(20)))
    letter = dead_letter(record, "reason", LIMIT)
    headers = dict(letter.headers)
    assert _size(letter.key, letter.value, letter.headers) <= LIMIT
    assert letter.key is None and headers["dlq_key_dropped"] == b"6000"
    assert headers["dlq_headers_dropped"] == b"20" and "h0" not in headers
    assert letter.value == b"v" * 100 and headers["dlq_reason"] == b"reason"


def test_the_reason_header_is_escaped_and_capped() -> None:
    record = InboundRecord("t", 0, 1, None, b"x")
    letter = dead_letter(record, "a\ud800\r\nforged: line" + "y" * 20_000, LIMIT)
    reason = dict(letter.headers)["dlq_reason"].decode("utf-8")
    assert reason.startswith("a\\ud800\\x0d\\x0aforged: line") and len(reason) <= 8192
