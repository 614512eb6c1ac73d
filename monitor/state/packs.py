"""The rules topic: the rule packs applied, one record each, read and followed by every worker.

``monitor rules apply`` publishes a pack (``publish_pack``) once it loads and
its tests pass; every worker that follows the topic (``PackFollower``) loads
the newest one and evaluates under it. The topic is compacted by the pack's
version: a pack applied again keeps its last record only, and the newest
record (the highest offset) is the pack in force.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from monitor.exceptions import MonitorError
from monitor.kafka.client import start_client
from monitor.state.follower import TopicFollower
from rules.language import RulePack
from rules.loading import MAX_PACK_BYTES, PackDiff, PublishedPack, successive_diffs

__all__ = ["AppliedPack", "PackEntry", "PackFollower", "PackLog", "publish_pack", "read_packs"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PackEntry:
    """One record of the rules topic: the pack it holds, or why it holds none."""

    offset: int
    published_at: datetime  # the broker's timestamp of the record
    pack: PublishedPack | None
    problem: str | None = None

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> PackEntry:
        """The entry of a record read from the topic."""
        published_at = datetime.fromtimestamp(record.timestamp / 1000, tz=UTC)
        if record.value is None:  # a tombstone: compaction removes the key's records
            return cls(record.offset, published_at, None, "a tombstone (no pack)")
        try:
            return cls(record.offset, published_at, PublishedPack.model_validate_json(record.value))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "(record)"
            return cls(record.offset, published_at, None, f"not a rule pack: {where}: {first['msg']}")


class PackFollower(TopicFollower):
    """Reads the rules topic from its beginning and follows it; ``entries`` grow in offset order."""

    what = "rule packs"

    def __init__(self, bootstrap: str, topic: str, client: dict[str, Any]) -> None:
        super().__init__(bootstrap, topic, client)
        self.entries: list[PackEntry] = []
        self.changed = asyncio.Event()  # set when entries were added

    def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Each record becomes an entry; a record that is not a pack is logged and kept (as a problem)."""
        for record in records:
            entry = PackEntry.of(record)
            if entry.problem is not None:
                log.error("rules topic, offset %d: %s; it is passed over", entry.offset, entry.problem)
            self.entries.append(entry)
        self.changed.set()


async def read_packs(bootstrap: str, topic: str, client: dict[str, Any], timeout: float = 30.0) -> list[PackEntry]:
    """Every record of the rules topic, in offset order (none when the topic does not exist).

    Raises:
        MonitorError: the topic could not be read to its end within ``timeout`` seconds.
    """
    follower = PackFollower(bootstrap, topic, client)
    await follower.start()
    try:
        if not await follower.catch_up(timeout, stalled_reads=10):
            raise MonitorError(f"could not read the rules topic {topic} to its end within {timeout:.0f}s")
        return list(follower.entries)
    finally:
        await follower.stop()


async def publish_pack(bootstrap: str, topic: str, client: dict[str, Any], pack: PublishedPack) -> int:
    """Publish one pack record and wait for every in-sync replica to have it; return its offset."""
    value = pack.model_dump_json().encode("utf-8")
    if len(value) > MAX_PACK_BYTES:
        raise MonitorError(
            f"the pack is {len(value):,} bytes as a record; the most a record may hold is {MAX_PACK_BYTES:,}"
        )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=MAX_PACK_BYTES + 100_000, **client
    )
    await start_client(producer, bootstrap)
    try:
        metadata = await producer.send_and_wait(topic, value=value, key=pack.key)
        return int(metadata.offset)
    finally:
        await producer.stop()


@dataclass(frozen=True, slots=True)
class AppliedPack:
    """A pack a worker has known: where it came from, when it was applied, by whom and why.

    ``pack`` is ``None`` for a record that did not load here (``problem`` says why).
    """

    version: str
    applied_at: datetime
    applied_by: str
    message: str
    source: str
    pack: RulePack | None = None
    problem: str | None = None


class PackLog:
    """The packs a worker has known, oldest first (the last ``limit``), and what changed from one to the next."""

    def __init__(self, limit: int = 100) -> None:
        self._entries: deque[AppliedPack] = deque(maxlen=limit)

    def add(self, entry: AppliedPack) -> None:
        """Remember ``entry`` as the newest."""
        self._entries.append(entry)

    def entries(self) -> list[AppliedPack]:
        """Every entry, oldest first."""
        return list(self._entries)

    def with_diffs(self) -> list[tuple[AppliedPack, PackDiff | None]]:
        """Each entry, newest first, with what changed from the pack before it (``None`` for the first, or none)."""
        diffs = successive_diffs([entry.pack for entry in self._entries])
        return list(zip(self._entries, diffs, strict=True))[::-1]
