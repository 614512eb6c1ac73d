"""A store rebuilt from its changelog in bulk (``monitor.state.rebuild``): every record, in order, and no further.

The reader runs against the embedded broker, whose end offset of a partition
is one past the *first* record of its last record batch: a last batch of
several records must be read whole all the same. Then a worker on an empty
data directory: its changelogs are read ahead, and it counts every task.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from monitor.devtools.broker import EmbeddedBroker
from monitor.state.rebuild import read_ahead
from tests.integration.dossiers import dossier_records, publish, wait_accepted
from tests.integration.kafka import sample, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPIC = "rebuild-test-changelog"
TP0, TP1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


class Writer:
    """A partition's store as the reader sees it: the batches it was given."""

    def __init__(self, persisted: int | None = None, holds: bool = True) -> None:
        self.offset = persisted
        self.held = holds
        self.batches: list[tuple[list[tuple[bytes, bytes | None]], int]] = []

    def holds(self) -> bool:
        return self.held

    def persisted(self) -> int | None:
        return self.offset

    def write(self, records: list[tuple[bytes, bytes | None]], offset: int) -> bool:
        if not self.held:
            return False
        self.batches.append((records, offset))
        self.offset = offset
        return True

    def records(self) -> list[tuple[bytes, bytes | None]]:
        return [record for records, _ in self.batches for record in records]


async def _changelog(bootstrap: str) -> None:
    """Partition 0: a batch of three, a tombstone alone, then a last batch of four. Partition 1: nothing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for records in ([(b"k0", b"v0"), (b"k1", b"v1"), (b"k2", b"v2")], [(b"k1", None)], _last()):
            batch = producer.create_batch()
            for key, value in records:
                assert batch.append(key=key, value=value, timestamp=None) is not None
            await (await producer.send_batch(batch, TOPIC, partition=0))
    finally:
        await producer.stop()


def _last() -> list[tuple[bytes, bytes | None]]:
    return [(b"k3", b"v3"), (b"k0", b"v0'"), (b"k4", b"v4"), (b"k5", b"v5")]


async def _read(
    bootstrap: str, writers: dict[TopicPartition, Writer], stopped: bool = False
) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(writers))
        return await read_ahead(consumer, dict(writers), ends, stopped=lambda: stopped, fetch_wait=0.2)
    finally:
        await consumer.stop()


def test_every_record_is_copied_in_order_with_the_offset_it_reached(broker: EmbeddedBroker) -> None:
    asyncio.run(_changelog(broker.bootstrap))
    store, empty = Writer(), Writer()
    read = asyncio.run(_read(broker.bootstrap, {TP0: store, TP1: empty}))
    everything = [(b"k0", b"v0"), (b"k1", b"v1"), (b"k2", b"v2"), (b"k1", None), *_last()]
    assert store.records() == everything  # the last batch whole, whatever end offset the broker reports
    assert store.offset == len(everything) - 1
    assert read == {TP0: len(everything), TP1: 0}
    assert empty.batches == []


def test_reading_starts_after_the_stores_offset(broker: EmbeddedBroker) -> None:
    asyncio.run(_changelog(broker.bootstrap))
    store = Writer(persisted=3)  # the tombstone is in the store already
    asyncio.run(_read(broker.bootstrap, {TP0: store}))
    assert store.records() == _last()
    assert store.offset == 7


def test_nothing_is_written_once_stopped_or_once_the_store_let_the_partition_go(broker: EmbeddedBroker) -> None:
    asyncio.run(_changelog(broker.bootstrap))
    revoked = Writer()
    assert asyncio.run(_read(broker.bootstrap, {TP0: revoked}, stopped=True)) == {TP0: 0}
    assert revoked.batches == [] and revoked.offset is None
    gone = Writer(holds=False)
    assert asyncio.run(_read(broker.bootstrap, {TP0: gone})) == {TP0: 0}
    assert gone.batches == [] and gone.offset is None


def test_a_worker_on_an_empty_data_directory_reads_its_changelogs_ahead(broker: EmbeddedBroker, tmp_path: Path) -> None:
    items = 3_000
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    with worker_process(broker.url, tmp_path / "first") as first:
        first.wait_ready(90)
        publish(broker.bootstrap, dossier_records(items, datetime.now(UTC)))
        wait_accepted(first.web_port, items, 120)
    with worker_process(broker.url, tmp_path / "second") as second:
        second.wait_ready(120)

        def counted() -> bool:
            text = second.metrics()
            return (
                sum(
                    float(line.rpartition(" ")[2]) for line in text.splitlines() if line.startswith("compliance_tasks{")
                )
                == items
            )

        wait_for("every task counted", counted, timeout=60, log=second.log)
        text = second.metrics()
        log = second.log.read_text()
    ahead = re.search(r"read (\d+) changelog records ahead into (\d+) partitions", log)
    assert ahead is not None, log[-4000:]
    assert int(ahead.group(1)) >= items and int(ahead.group(2)) == 2  # one record per task, at least: all of them
    expected = sample(text, "compliance_recovery_records_expected")
    assert expected is not None and expected >= int(ahead.group(1))  # what was read ahead counts as recovered
    assert sample(text, "compliance_recovery_records_remaining") == 0
