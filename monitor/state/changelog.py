"""The worker's ``ItemLog``: a faust table's store, written through its changelog topic.

A batch is sent to the table's changelog partition and, once the broker has
acknowledged every record, written to the local store in one batch with the
changelog offset it reached. The local store therefore never holds a write
the changelog lacks: after a crash, an event found applied locally is one the
changelog has, and another worker that rebuilds the partition from the
changelog sees the same state. faust's own recovery replays the changelog
into the local store on every assignment, from the offset recorded here.

Every batch ends with a record of its own, sent once the batch is
acknowledged: a tombstone of a key no item has (``MARKER``). The embedded
broker (Tansu) reports a partition's end offset as one past the *first*
record of its last batch, and faust's recovery reads a changelog only to
that offset; a batch of one record as the last one keeps the reported end
exact, so a worker that takes the partition over reads every item.

The records go out as record batches (one future per batch, not per
record), through the aiokafka producer under faust's (``_ensure_producer``).
This reaches into faust's store (``_db_for_partition``, ``set_persisted_offset``)
because a faust ``table[key] = value`` writes the local store *before* the
changelog acknowledges it; ``pyproject.toml`` pins the faust versions it is
tested with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any

from faust.types import TP
from rocksdict import WriteBatch

from events.text import SEPARATOR
from monitor.exceptions import Fenced, StoreUnavailable
from monitor.kafka.produce import send_batched
from monitor.state.keys import Write, derived

__all__ = ["MARKER", "ChangelogItemLog", "CheckedCursor"]

#: The key of the record that ends every batch: a tombstone, so recovery deletes a key that never exists.
MARKER = SEPARATOR.encode()  # every item key is unit, SEPARATOR, item: none is SEPARATOR alone


class ChangelogItemLog:
    """``ItemLog`` over a faust table (``key_type=bytes, value_type=bytes``) and the app's producer.

    Args:
        app: The faust app (its producer sends the changelog records).
        table: The table whose changelog and local store hold the items.
    """

    def __init__(self, app: Any, table: Any) -> None:
        self._app = app
        self._table = table

    def _db(self, partition: int) -> Any:
        return self._table.data._db_for_partition(partition)

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The value the partition's local store holds for ``key``."""
        value: bytes | None = self._db(partition).get(key)
        return value

    def cursor(self, partition: int) -> CheckedCursor:
        """A RocksDB iterator over the partition's local store (``monitor.state.reads.Cursor``)."""
        return CheckedCursor(self._db(partition).iter())

    def forget(self, partition: int, keys: Iterable[bytes]) -> None:
        """Delete derived keys from the partition's local store (they are not in the changelog)."""
        self._db(partition).write(_batch((key, None) for key in keys))

    def write_local(self, partition: int, writes: Iterable[Write]) -> None:
        """Write to the partition's local store alone: derived keys, the format mark (never items)."""
        self._db(partition).write(_batch(writes))

    async def write(self, partition: int, writes: Sequence[Write]) -> None:
        """Send ``writes`` to the changelog, wait for the broker, then write them locally."""
        topic = self._table.changelog_topic.get_topic_name()
        producer = self._app.producer
        try:
            await asyncio.gather(*await self._send_batched(topic, partition, writes))
            marker = await (await producer.send(topic, MARKER, None, partition, None, None))
        except Fenced:  # the producer's fence: not the store's failure, the worker's lost membership
            raise
        except Exception as exc:  # the broker did not take them: nothing is durable yet
            raise StoreUnavailable(f"changelog {topic}[{partition}] did not acknowledge: {exc!r}") from exc
        offset = marker.offset
        try:
            self._write_local(TP(topic, partition), writes, offset)
        except Exception as exc:  # disk full, I/O error: the local store is behind the changelog
            raise StoreUnavailable(f"local state store for partition {partition} failed: {exc}") from exc

    async def _send_batched(self, topic: str, partition: int, writes: Sequence[Write]) -> list[Awaitable[Any]]:
        """Hand ``writes`` to the client as few record batches as its batch size allows; their futures, in order.

        One future per batch rather than per record: per record, the
        producer's ``send`` cost as much as evaluating the event. A record too
        large for a batch of its own goes alone, the usual way.
        """
        return await send_batched(self._app.producer._ensure_producer(), topic, partition, writes)

    def _write_local(self, tp: TP, writes: Sequence[Write], offset: int) -> None:
        """One atomic batch, the items with their derived keys; then the changelog offset it reached."""
        self._db(tp.partition).write(_batch(writes, derive=True))
        self._table.data.set_persisted_offset(tp, offset)


class CheckedCursor:
    """A RocksDB iterator whose end is the data's end: ``valid()`` raises the error that stopped it, if one did.

    rocksdict's iterators stop at a block they cannot read (a checksum that
    fails) as if the data ended there: a partition's units would be read as
    none, silently. Only ``valid()`` costs more than the iterator's own call.
    """

    __slots__ = ("_iterator", "key", "next", "seek", "value")

    def __init__(self, iterator: Any) -> None:
        self._iterator = iterator
        self.key, self.value, self.next, self.seek = iterator.key, iterator.value, iterator.next, iterator.seek

    def valid(self) -> bool:
        """Whether it is on a key; raises what stopped it if it stopped short (``Corruption: …``)."""
        if self._iterator.valid():
            return True
        self._iterator.status()
        return False


def _batch(writes: Iterable[Write], *, derive: bool = False) -> WriteBatch:
    """One RocksDB write batch of ``writes`` (a ``None`` value deletes), each with its derived keys if ``derive``."""
    batch = WriteBatch(raw_mode=True)
    for key, value in writes:
        if value is None:
            batch.delete(key)
            continue
        batch.put(key, value)
        if derive:
            for extra, nothing in derived(key, value):
                batch.put(extra, nothing)
    return batch
