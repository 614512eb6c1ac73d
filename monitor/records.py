"""Record-level facts of the Kafka edge: partitioning, ticks, dead letters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from aiokafka.partitioner import murmur2

__all__ = ["InboundRecord", "dead_letter_headers", "decode_tick", "encode_tick", "partition_for"]


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


def encode_tick(at: datetime) -> bytes:
    """A tick record value."""
    return json.dumps({"tick": at.isoformat()}).encode()


def decode_tick(value: bytes | None) -> datetime | None:
    """The instant a tick was sent at, or ``None`` if the value is not a tick."""
    try:
        data = json.loads(value or b"")
        return datetime.fromisoformat(data["tick"])
    except (ValueError, KeyError, TypeError):
        return None


def dead_letter_headers(record: InboundRecord, reason: str) -> list[tuple[str, bytes]]:
    """Headers of a dead-letter record: where the original came from and why it was refused.

    The dead-letter value is the original bytes, untouched, so it can be fixed and replayed.
    """
    return [
        *record.headers,
        ("dlq_reason", reason.encode("utf-8")),
        ("dlq_topic", record.topic.encode()),
        ("dlq_partition", str(record.partition).encode()),
        ("dlq_offset", str(record.offset).encode()),
    ]
