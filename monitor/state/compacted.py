"""Topics of applied documents (rule packs, publisher registries): one record each, read whole by every worker.

``monitor rules apply`` and ``monitor publishers apply`` publish one record
(``publish_record``: every in-sync replica has it before the command says so);
every worker follows the topic (``DocumentFollower``) and puts the newest
record that it can use in force. A record that is not a document of the
topic's kind is kept as an entry with the problem, logged, and passed over.

With trusted keys (``MONITOR_TRUSTED_KEYS``) a record counts only if one of
them signed it: the DSSE envelope in its ``SIGNATURE_HEADER`` header
(``monitor.publishers.signatures.sign_record``). A record without a valid
signature keeps its document as ``withheld``, so the history can show what
was refused and why, but is never put in force.
"""

from __future__ import annotations

import asyncio
import dataclasses
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
from monitor.publishers.signatures import SignKey, VerifyKey, record_signer, sign_record
from monitor.state.follower import TopicFollower

__all__ = ["SIGNATURE_HEADER", "DocumentFollower", "Entry", "publish_record", "read_entries"]

#: The record header holding the applier's signature (a DSSE envelope, JSON).
SIGNATURE_HEADER = "dsse"

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
    signed_by: str | None = None  # the trusted key that signed it (``None``: not checked, or refused)
    withheld: D | None = None  # the document of a record whose signature was refused

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes], trusted: Sequence[VerifyKey] | None = None) -> Self:
        """The entry of a record read from the topic; with ``trusted`` keys, one of them must have signed it."""
        published_at = datetime.fromtimestamp(record.timestamp / 1000, tz=UTC)
        if record.value is None:  # a tombstone: compaction removes the key's records
            return cls(record.offset, published_at, None, f"a tombstone (no {cls.noun})")
        try:
            document: D = cls.model.model_validate_json(record.value)  # type: ignore[assignment]
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "(record)"
            return cls(record.offset, published_at, None, f"not a {cls.kind}: {where}: {first['msg']}")
        if trusted is None:
            return cls(record.offset, published_at, document)
        envelope = next((value for key, value in record.headers if key == SIGNATURE_HEADER), None)
        signer, trusted_signer = record_signer(cls.kind, record.key, record.value, envelope, trusted)
        if not trusted_signer:
            return cls(record.offset, published_at, None, f"signature refused: {signer}", withheld=document)
        return cls(record.offset, published_at, document, signed_by=signer)


class DocumentFollower(TopicFollower, Generic[E]):
    """Reads a documents topic from its beginning and follows it; ``entries`` grow in offset order."""

    entry: type[E]
    topic_name = "documents topic"

    def __init__(
        self, bootstrap: str, topic: str, client: dict[str, Any], trusted: Sequence[VerifyKey] | None = None
    ) -> None:
        super().__init__(bootstrap, topic, client)
        self.entries: list[E] = []
        self.changed = asyncio.Event()  # set when entries were added
        self.trusted = trusted  # with keys, only records they signed count
        self._newest_applied: datetime | None = None  # … and each applied after the last one that counted

    def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Each record becomes an entry; a record that is no document is logged and kept (as a problem).

        With trusted keys, a signed document applied no later than the newest before it is refused too: an old
        record published again (its signature still holds) must not put an old pack or registry back in force.
        """
        for record in records:
            entry = self._replay_refused(self.entry.of(record, self.trusted))
            if entry.problem is not None:
                log.error("%s, offset %d: %s; it is passed over", self.topic_name, entry.offset, entry.problem)
            self.entries.append(entry)
        self.changed.set()

    def _replay_refused(self, entry: E) -> E:
        applied_at = getattr(entry.document, "applied_at", None)
        if self.trusted is None or not isinstance(applied_at, datetime):
            return entry
        newest = self._newest_applied
        if newest is not None and applied_at <= newest:
            problem = (
                f"signature refused: signed, but applied at {applied_at.isoformat()}, not after the {entry.noun} "
                f"before it ({newest.isoformat()}): an old record published again"
            )
            return dataclasses.replace(entry, document=None, problem=problem, withheld=entry.document)
        self._newest_applied = applied_at
        return entry


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
    bootstrap: str,
    topic: str,
    client: dict[str, Any],
    key: bytes,
    value: bytes,
    *,
    limit: int,
    what: str,
    kind: str,
    sign_key: SignKey | None = None,
) -> int:
    """Publish one record and wait for every in-sync replica to have it; return its offset.

    With ``sign_key`` the record carries its signature as a record of ``kind`` (``SIGNATURE_HEADER``).

    Raises:
        MonitorError: the record is over ``limit`` bytes (``what`` names it in the message).
    """
    if len(value) > limit:
        raise MonitorError(f"the {what} is {len(value):,} bytes as a record; the most a record may hold is {limit:,}")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=limit + 100_000, **client)
    await start_client(producer, bootstrap)
    try:
        headers = [(SIGNATURE_HEADER, sign_record(kind, key, value, sign_key))] if sign_key is not None else None
        metadata = await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        return int(metadata.offset)
    finally:
        await producer.stop()
