"""Record-level facts of the Kafka edge: consumed records, partitioning, dead letters."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.partitioner import murmur2

__all__ = ["InboundRecord", "dead_letter_headers", "partition_for"]


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
