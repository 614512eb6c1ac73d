"""Put state written by an older version of the worker back on a broker and a data directory.

A fixture (``tests/fixtures/state_v1``, made by its ``make_fixture.py`` with
the old code) holds a worker's data directory and every record of every topic
of its broker. ``restore`` recreates it on a fresh broker, so that today's
worker can be started on what the old one left behind.

The offsets must come out as they were: the RocksDB stores of the data
directory record the changelog offset each partition reached, and the consumer
group's committed offsets point into the ingress and tick topics. Every record
is produced alone (a record batch of one), in offset order, and the offset the
broker gives it is checked against the dump. Alone also because of a quirk of
the embedded broker (Tansu, see ``monitor/state/changelog.py``): it reports a
partition's end offset as one past the *first* record of its last batch, and
faust's recovery reads a changelog only that far; with batches of one record
the reported ends are exact (and checked too).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import shutil
import tarfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from monitor.devtools.broker import EmbeddedBroker

__all__ = ["RestoreError", "Restored", "restore"]


class RestoreError(AssertionError):
    """The broker or the data directory did not come out as the fixture says."""


@dataclass(frozen=True)
class Restored:
    """What ``restore`` put back: topics (name → partitions), records per topic, committed offsets per group."""

    topics: dict[str, int]
    records: dict[str, int]
    groups: dict[str, dict[str, dict[str, int]]]


def _decoded(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def _load(fixture: Path) -> tuple[dict[str, Any], dict[tuple[str, int], list[dict[str, Any]]], dict[str, Any]]:
    layout: dict[str, Any] = json.loads((fixture / "topics.json").read_text())
    offsets: dict[str, Any] = json.loads((fixture / "offsets.json").read_text())
    records: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    with gzip.open(fixture / "topics.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            records[(row["topic"], row["partition"])].append(row)
    for (topic, partition), rows in records.items():
        rows.sort(key=lambda r: r["offset"])
        offsets_seen = [r["offset"] for r in rows]
        if offsets_seen != list(range(len(rows))):
            # Produced again, a partition's records get 0, 1, 2…: a dump with gaps (compaction, transaction
            # markers) cannot be given its offsets back this way.
            raise RestoreError(f"{topic}[{partition}]: the dump's offsets are not 0..{len(rows) - 1}: {offsets_seen}")
        if topic not in layout or partition >= layout[topic]["partitions"]:
            raise RestoreError(f"{topic}[{partition}] holds records but topics.json has no such partition")
    return layout, dict(records), offsets


async def _create_topics(bootstrap: str, layout: dict[str, Any]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        clash = sorted(existing & set(layout))
        if clash:
            raise RestoreError(f"the broker already has topics {clash}: restore needs a fresh broker")
        new = [
            NewTopic(name, num_partitions=info["partitions"], replication_factor=1, topic_configs=info["configs"])
            for name, info in sorted(layout.items())
        ]
        await admin.create_topics(new)
        described = await admin.describe_topics(sorted(layout))
        counts = {t["topic"]: len(t["partitions"]) for t in described}
        wrong = {name: counts.get(name) for name, info in layout.items() if counts.get(name) != info["partitions"]}
        if wrong:
            raise RestoreError(f"topics created with other partition counts than the fixture's: {wrong}")
    finally:
        await admin.close()


async def _produce_partition(
    producer: AIOKafkaProducer, topic: str, partition: int, rows: list[dict[str, Any]]
) -> None:
    for row in rows:  # one at a time: each record its own batch, its offset the broker's next
        sent = await producer.send_and_wait(
            topic,
            value=_decoded(row["value"]),
            key=_decoded(row["key"]),
            partition=partition,
            timestamp_ms=row["timestamp"],
            headers=[(name, _decoded(value) or b"") for name, value in row["headers"]] or None,
        )
        if sent.offset != row["offset"]:
            raise RestoreError(
                f"{topic}[{partition}]: the record of offset {row['offset']} was given offset {sent.offset} "
                "(the data directory's changelog offsets would not match the topic)"
            )


async def _produce(bootstrap: str, records: dict[tuple[str, int], list[dict[str, Any]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, enable_idempotence=False)
    await producer.start()
    try:
        # Partitions at once, each in order: a partition's next record waits for the last one's acknowledgement.
        await asyncio.gather(*(_produce_partition(producer, t, p, rows) for (t, p), rows in sorted(records.items())))
    finally:
        await producer.stop()


async def _check_ends(bootstrap: str, layout: dict[str, Any], records: dict[tuple[str, int], list[Any]]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(name, p) for name, info in sorted(layout.items()) for p in range(info["partitions"])]
        ends = await consumer.end_offsets(tps)
        wrong = {
            f"{tp.topic}[{tp.partition}]": (ends[tp], len(records.get((tp.topic, tp.partition), [])))
            for tp in tps
            if ends[tp] != len(records.get((tp.topic, tp.partition), []))
        }
        if wrong:
            raise RestoreError(f"end offsets (broker's, fixture's) differ: {wrong}")
    finally:
        await consumer.stop()


async def _commit(bootstrap: str, groups: dict[str, dict[str, dict[str, int]]]) -> None:
    for group, topics in sorted(groups.items()):
        wanted = {TopicPartition(t, int(p)): offset for t, parts in topics.items() for p, offset in parts.items()}
        # A consumer of the group that joins nothing: it commits as a "simple" consumer, by assignment.
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(sorted(wanted))
            await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in wanted.items()})
            got = {tp: await consumer.committed(tp) for tp in wanted}
        finally:
            await consumer.stop()
        if got != wanted:
            differ = {f"{tp.topic}[{tp.partition}]": (got[tp], o) for tp, o in wanted.items() if got[tp] != o}
            raise RestoreError(f"group {group}: committed offsets (broker's, fixture's) differ: {differ}")


def _unpack(fixture: Path, data_dir: Path) -> None:
    if data_dir.exists() and any(data_dir.iterdir()):
        raise RestoreError(f"{data_dir} is not empty")
    data_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fixture / "datadir.tar.gz", "r:gz") as tar:
        tar.extractall(data_dir, filter="data")


def restore(broker: EmbeddedBroker, fixture_dir: Path, data_dir: Path | None) -> Restored:
    """Recreate the fixture's topics on ``broker`` (fresh), its records at their offsets, its groups' offsets.

    Args:
        broker: A broker that holds none of the fixture's topics yet.
        fixture_dir: The fixture (``topics.json``, ``topics.jsonl.gz``, ``offsets.json``, ``datadir.tar.gz``).
        data_dir: Where to unpack the worker's data directory (absent or empty); ``None``: leave it out.

    Raises:
        RestoreError: a record did not get its offset back, or the ends or committed offsets differ.
    """
    layout, records, groups = _load(fixture_dir)
    bootstrap = broker.bootstrap
    asyncio.run(_create_topics(bootstrap, layout))
    asyncio.run(_produce(bootstrap, records))
    asyncio.run(_check_ends(bootstrap, layout, records))
    asyncio.run(_commit(bootstrap, groups))
    if data_dir is not None:
        try:
            _unpack(fixture_dir, data_dir)
        except BaseException:
            shutil.rmtree(data_dir, ignore_errors=True)
            raise
    return Restored(
        topics={name: int(info["partitions"]) for name, info in layout.items()},
        records={name: sum(len(rows) for (t, _), rows in records.items() if t == name) for name in layout},
        groups=groups,
    )
