"""Records handed to an aiokafka producer as whole record batches: one future per batch, not per record.

Per record, the producer's ``send`` costs as much as evaluating an event,
and each record sent on its own may leave as a record batch of its own: a
broker keeps every batch, and the embedded one lists all of a partition's
batches for each fetch that finds new records. What the worker writes at
once (a checkpoint's changelog items, its alert transitions) goes out in as
few batches as the producer's batch size allows, in order within each
partition.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from typing import Any

__all__ = ["send_batched", "send_keyed"]

#: A record's key and value (a ``None`` value is a tombstone).
Record = tuple[bytes | None, bytes | None]


async def send_batched(
    client: Any, topic: str, partition: int, records: Iterable[Record], headers: Sequence[tuple[str, bytes]] = ()
) -> list[Awaitable[Any]]:
    """Hand ``records`` to an aiokafka producer (``client``) as few record batches as its batch size allows.

    Each record carries ``headers``. Their futures, in order; a record too large for a batch of its own goes alone.
    """
    futures: list[Awaitable[Any]] = []
    extra = list(headers)
    batch = client.create_batch()
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None, headers=extra) is not None:
            continue
        if batch.record_count():
            futures.append(await client.send_batch(batch, topic, partition=partition))
            batch = client.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=extra) is not None:
                continue
        futures.append(await client.send(topic, value, key=key, partition=partition, headers=extra or None))
    if batch.record_count():
        futures.append(await client.send_batch(batch, topic, partition=partition))
    return futures


async def send_keyed(
    client: Any, topic: str, records: Sequence[tuple[bytes, bytes]], headers: Sequence[tuple[str, bytes]] = ()
) -> list[Awaitable[Any]]:
    """Hand keyed ``records`` to ``client`` in record batches, each to the partition its key gives.

    The partition is the one the producer's own ``send`` would choose (its
    partitioner), so records of one key stay in one partition, in order.
    Their futures (one per batch).
    """
    if not records:
        return []
    await client.client._wait_on_metadata(topic)
    by_partition: dict[int, list[Record]] = {}
    for key, value in records:
        partition = client._partition(topic, None, key, value, key, value)
        by_partition.setdefault(partition, []).append((key, value))
    futures: list[Awaitable[Any]] = []
    for partition, keyed in by_partition.items():
        futures += await send_batched(client, topic, partition, keyed, headers)
    return futures
