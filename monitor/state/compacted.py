"""Topics of applied documents (rule packs, publisher registries): one record each, read whole by every worker.

``monitor rules apply`` and ``monitor publishers apply`` publish one record
(``publish_record``: every in-sync replica has it before the command says so);
every worker follows the topic (``DocumentFollower``) and puts the newest
record that it can use in force. A record that is not a document of the
topic's kind is kept as an entry with the problem, logged, and passed over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Self, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from monitor.exceptions import MonitorError
from monitor.kafka.client import start_client
from monitor.state.follower import TopicFollower

__all__ = ["DocumentFollower", "Entry", "publish_record", "read_entries"]

log = logging.getLogger(__name__)

D = TypeVar("D", bound=BaseModel)
E = TypeVar("E", bound="Entry[Any]")


@dataclass(frozen=True, slots=True)
class Entry(Generic[D]):
    """One record of a documents topic: the document it holds, or why it holds none.

    Subclasses name the document's model (``model``) and what it is called
    (``kind``: "rule pack"; ``noun``: "pack").
    """

    model: ClassVar[type[BaseModel]]
    kind: ClassVar[str]
    noun: ClassVar[str]

    offset: int
    published_at: datetime  # the broker's timestamp of the record
    document: D | None
    problem: str | None = None

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> Self:
        """The entry of a record read from the topic."""
        published_at = datetime.fromtimestamp(record.timestamp / 1000, tz=UTC)
        if record.value is None:  # a tombstone: compaction removes the key's records
            return cls(record.offset, published_at, None, f"a tombstone (no {cls.noun})")
        try:
            return cls(record.offset, published_at, cls.model.model_validate_json(record.value))  # type: ignore[arg-type]
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "(record)"
            return cls(record.offset, published_at, None, f"not a {cls.kind}: {where}: {first['msg']}")


class DocumentFollower(TopicFollower, Generic[E]):
    """Reads a documents topic from its beginning and follows it; ``entries`` grow in offset order."""

    entry: type[E]
    topic_name = "documents topic"

    def __init__(self, bootstrap: str, topic: str, client: dict[str, Any]) -> None:
        super().__init__(bootstrap, topic, client)
        self.entries: list[E] = []
        self.changed = asyncio.Event()  # set when entries were added

    def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Each record becomes an entry; a record that is no document is logged and kept (as a problem)."""
        for record in records:
            entry = self.entry.of(record)
            if entry.problem is not None:
                log.error("%s, offset %d: %s; it is passed over", self.topic_name, entry.offset, entry.problem)
            self.entries.append(entry)
        self.changed.set()


async def read_entries(follower: DocumentFollower[E], timeout: float = 30.0) -> list[E]:
    """Every record of the follower's topic, in offset order (none when the topic does not exist).

    Raises:
        MonitorError: the topic could not be read to its end within ``timeout`` seconds.
    """
    await follower.start()
    try:
        if not await follower.catch_up(timeout, stalled_reads=10):
            raise MonitorError(f"could not read the {follower.topic_name} to its end within {timeout:.0f}s")
        return list(follower.entries)
    finally:
        await follower.stop()


async def publish_record(
    bootstrap: str, topic: str, client: dict[str, Any], key: bytes, value: bytes, *, limit: int, what: str
) -> int:
    """Publish one record and wait for every in-sync replica to have it; return its offset.

    Raises:
        MonitorError: the record is over ``limit`` bytes (``what`` names it in the message).
    """
    if len(value) > limit:
        raise MonitorError(f"the {what} is {len(value):,} bytes as a record; the most a record may hold is {limit:,}")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=limit + 100_000, **client)
    await start_client(producer, bootstrap)
    try:
        metadata = await producer.send_and_wait(topic, value=value, key=key)
        return int(metadata.offset)
    finally:
        await producer.stop()
