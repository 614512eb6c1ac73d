"""Consumer positions put back where the group's committed offsets say, including where it has none.

aiokafka's ``seek_to_committed`` seeks only the partitions with a committed
offset above 0 and leaves the others where they are. faust calls it after
every recovery ("Seek stream partitions to committed offsets") to undo the
fetches it made while the partitions were paused, and drops the records
such a fetch returned. A partition the group never committed (a new topic,
or a worker that died before its first commit) is then left past records
no one processed, and nothing reads them until the next rebalance. Here
those partitions go back to the start, as ``auto_offset_reset="earliest"``
(the monitor's setting) would have put them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["rewind_uncommitted", "uncommitted"]


def uncommitted(committed: Mapping[Any, int | None]) -> list[Any]:
    """The partitions ``seek_to_committed`` left alone: no committed offset, or offset 0."""
    return [tp for tp, offset in committed.items() if offset is None or offset <= 0]


async def rewind_uncommitted(consumer: Any, committed: Mapping[Any, int | None]) -> list[Any]:
    """Seek an aiokafka consumer's partitions without a committed offset to their beginning; return them.

    Args:
        consumer: An ``aiokafka.AIOKafkaConsumer`` (in its own loop).
        committed: What its ``seek_to_committed`` returned.
    """
    partitions = uncommitted(committed)
    if partitions:
        await consumer.seek_to_beginning(*partitions)
    return partitions
