"""Records handed to a real producer as whole record batches land where, and as, keyed sends would."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.client import whole_topic_reader
from monitor.kafka.produce import send_keyed
from monitor.kafka.topics import Topics, ensure_topics

pytestmark = pytest.mark.integration
TOPICS = Topics()
PARTITIONS = 4


async def _scenario(bootstrap: str) -> tuple[int, list[tuple[int, bytes, bytes, list[tuple[str, bytes]]]]]:
    await ensure_topics(bootstrap, TOPICS, PARTITIONS, only=(TOPICS.alerts,))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    # Three alerts, each raised then resolved: 120 records a checkpoint might write together.
    records = [(f"fp-{n % 3}".encode(), f"{n}".encode()) for n in range(120)]
    try:
        futures = await send_keyed(producer, TOPICS.alerts, records, [("monitor-generation", b"7")])
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    consumer = await whole_topic_reader(bootstrap, TOPICS.alerts, {})
    try:
        found: list[tuple[int, bytes, bytes, list[tuple[str, bytes]]]] = []
        for _ in range(50):
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                found += [(r.partition, r.key or b"", r.value or b"", list(r.headers)) for r in batch]
            if len(found) >= len(records):
                break
        return len(futures), found
    finally:
        await consumer.stop()


def test_keyed_records_go_in_one_batch_per_partition_each_where_its_key_goes_in_order(broker: EmbeddedBroker) -> None:
    batches, found = asyncio.run(_scenario(broker.bootstrap))
    assert len(found) == 120
    place = DefaultPartitioner()
    where = {key: place(key, list(range(PARTITIONS)), list(range(PARTITIONS))) for key in (b"fp-0", b"fp-1", b"fp-2")}
    assert all(partition == where[key] for partition, key, _, _ in found), "each key in the partition a send gives"
    assert batches == len(set(where.values())), "one batch per partition, not one record at a time"
    for key in where:  # each alert's records in the order they were handed over
        assert [int(v) for _, k, v, _ in found if k == key] == [n for n in range(120) if f"fp-{n % 3}".encode() == key]
    assert all(headers == [("monitor-generation", b"7")] for *_, headers in found)
