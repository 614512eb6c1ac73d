"""Record-level facts of the Kafka edge: consumed records, partitioning, dead letters."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from aiokafka.partitioner import murmur2

from events.codec import MAX_REASON_CHARS
from events.text import escape

__all__ = [
    "RECORD_OVERHEAD",
    "DeadLetter",
    "InboundRecord",
    "dead_letter",
    "dead_letter_headers",
    "partition_for",
    "unit_partition",
]

#: Bytes a produce request or a fetch needs beyond one record's key, value and headers (batch and record
#: framing, varints): the producer's request limit and the consumer's fetch size are the record limit plus this.
RECORD_OVERHEAD = 16 * 1024


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """A consumed record, as the processor sees it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: float | None = None


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default (murmur2) partitioner gives ``key``."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


@functools.lru_cache(maxsize=4096)
def unit_partition(unit_id: str, partitions: int) -> int:
    """The partition of a unit's events and state: its id as the record key.

    Remembered: a worker meets the same units over and over.
    """
    return partition_for(unit_id.encode("utf-8"), partitions)


def dead_letter_headers(record: InboundRecord, reason: str) -> list[tuple[str, bytes]]:
    """Headers of a dead-letter record: where the original came from, its size and why it was refused.

    The reason is escaped (no control characters or lone surrogates reach a header) and capped.
    """
    text = escape(reason)
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 40] + f"... (cut from {len(text)} characters)"
    return [
        *record.headers,
        ("dlq_reason", text.encode("utf-8")),
        ("dlq_topic", record.topic.encode("utf-8", "backslashreplace")),
        ("dlq_partition", str(record.partition).encode()),
        ("dlq_offset", str(record.offset).encode()),
        ("dlq_size", str(len(record.value or b"")).encode()),
    ]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record as it goes to the dead-letter topic."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def _size(headers: list[tuple[str, bytes]]) -> int:
    return sum(len(k.encode("utf-8", "backslashreplace")) + len(v) for k, v in headers)


def dead_letter(record: InboundRecord, reason: str, limit: int) -> DeadLetter:
    """The dead-letter record for a refused one, at most ``limit`` bytes of key, value and headers.

    The original bytes go as they are, so they can be fixed and replayed. A
    record too large to forward whole (it came in over the limit, or its
    headers fill it) keeps the start of its value, and ``dlq_cut`` says how
    much of it; its own headers are dropped if they would take more than half
    the room, its key if more than a quarter: where it came from, its size
    and the reason always go with it.
    """
    value = record.value or b""
    headers = dead_letter_headers(record, reason)
    if len(record.key or b"") + len(value) + _size(headers) <= limit:
        return DeadLetter(record.key, value, headers)
    key = record.key if len(record.key or b"") <= limit // 4 else None
    own = headers[len(record.headers) :]
    notes = [("dlq_key_dropped", str(len(record.key or b"")).encode())] if key is None and record.key else []
    kept = list(record.headers)
    if _size(kept) + _size(own) > limit // 2:
        notes.append(("dlq_headers_dropped", str(len(kept)).encode()))
        kept = []
    cut_note = ("dlq_cut", f"the first {len(value)} of {len(value)} bytes".encode())  # longest form, to size
    room = limit - len(key or b"") - _size([*kept, *own, *notes, cut_note])
    body = value[: max(0, room)]
    cut = ("dlq_cut", f"the first {len(body)} of {len(value)} bytes".encode())
    return DeadLetter(key, body, [*kept, *own, *notes, cut])
