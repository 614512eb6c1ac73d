"""A partition the group never committed goes back to its start when faust seeks to the committed offsets."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.positions import rewind_uncommitted

pytestmark = pytest.mark.integration

TOPIC = "positions-test"


async def _read(consumer: AIOKafkaConsumer, count: int) -> list[int]:
    offsets: list[int] = []
    for _ in range(50):  # bounded: at most 50 fetches of 0.2 s
        batch = await consumer.getmany(timeout_ms=200)
        offsets += [record.offset for records in batch.values() for record in records]
        if len(offsets) >= count:
            break
    return offsets


async def _scenario(bootstrap: str) -> tuple[int, dict[TopicPartition, int | None], int, list[int]]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(TOPIC, f"record {n}".encode(), partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id="positions", enable_auto_commit=False, auto_offset_reset="earliest"
    )
    tp = TopicPartition(TOPIC, 0)
    await consumer.start()
    try:
        consumer.assign([tp])
        fetched = await _read(consumer, 5)  # fetched and, as faust does during a recovery, dropped
        assert fetched == [0, 1, 2, 3, 4]
        committed = await consumer.seek_to_committed()
        left_at = await consumer.position(tp)
        await rewind_uncommitted(consumer, committed)
        return left_at, committed, await consumer.position(tp), await _read(consumer, 5)
    finally:
        await consumer.stop()


def test_seek_to_committed_leaves_an_uncommitted_partition_past_its_records_and_the_rewind_fixes_it(
    broker: EmbeddedBroker,
) -> None:
    left_at, committed, position, read_again = asyncio.run(_scenario(broker.bootstrap))
    assert committed == {TopicPartition(TOPIC, 0): None}
    assert left_at == 5  # aiokafka's own seek leaves it there: records 0..4 would never be read again
    assert position == 0
    assert read_again == [0, 1, 2, 3, 4]
