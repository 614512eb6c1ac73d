"""Rebuilding a partition's local store from its changelog in bulk, before faust's recovery reads it record by record.

faust's recovery (``faust.tables.recovery.Recovery``) hands every changelog
record through its consumer's fetch loop (a ``wait_first`` per record), the
conductor, a queue and ``_slurp_changelogs`` before the store sees it: about
3,000 records a second, whatever the store costs. A worker that takes a
partition over on an empty data directory reads the whole changelog that way.

Here the recovery service first *reads ahead*: for each active partition of a
table whose store can take changelog records in bulk (``changelog_writer``,
``monitor.state.rocks``), a plain aiokafka consumer (no group: ``assign`` and
``seek``) reads the changelog from the store's offset to the end offset the
broker reports, and the store writes each fetch in one atomic batch with the
offset it reached. faust's recovery then starts from that offset and finds
(almost) nothing left. Nothing else changes: faust still builds highwaters
and offsets, seeks, and reads what was appended meanwhile.

Where it runs: in the recovery service's own task, in the first wait of a
recovery (the ``stream_recovery_delay`` sleep), after the rebalance
callbacks have returned, so the group is never held up, and under faust's
watch for the next rebalance: a rebalance that starts meanwhile cancels the
read (the recovery starts again, and so does the read, from where the store
got to). A revocation stops it before its next write, and a store that no
longer holds a partition's database is never written (``ChangelogWriter``).
Anything the read-ahead cannot do (a broker error, a fetch that stops short)
it leaves to faust's recovery, which reads from the offset the store holds.

The records are copied as they are, in order, so the local store only ever
holds a prefix of the changelog and the offset of its last record: the
invariant the worker's own writes keep (``monitor.state.changelog``). The end
is the end offset reported before reading, and a partition is done once the
consumer's position passes it: the embedded broker (Tansu) reports an end one
past the first record of the last record batch, and a fetch returns whole
batches, so the last batch is read whole. Standby partitions are left to
faust (the worker runs none: ``table_standby_replicas=0``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth, server_list
from faust.types import TP
from mode.services import WaitArgT
from mode.utils.times import Seconds

from monitor.kafka.produce import send_batched
from monitor.state.changelog import MARKER

__all__ = ["ReadAheadRecovery", "Writer", "consumer_for", "read_ahead", "write_back"]

log = logging.getLogger(__name__)

#: How much one fetch may bring back: large fetches are what makes the read fast.
FETCH_BYTES = 64 * 2**20
PARTITION_FETCH_BYTES = 16 * 2**20
#: Records written in one RocksDB batch at most (the event loop runs between two).
WRITE_RECORDS = 20_000
#: Consecutive fetches that return nothing, short of the end, before the rest is left to faust's recovery.
EMPTY_FETCHES = 10


class Writer(Protocol):
    """Writes changelog records into one partition's local store (``monitor.state.rocks.ChangelogWriter``)."""

    def holds(self) -> bool:
        """Whether the store still holds the partition."""

    def persisted(self) -> int | None:
        """The offset of the last changelog record in the local store."""

    def write(self, records: list[tuple[bytes, bytes | None]], offset: int) -> bool:
        """Write ``records`` up to changelog ``offset`` in one batch; ``False`` if the store let the partition go."""

    def restoring(self) -> bool:
        """Whether a write-back of the store to the changelog began and did not end."""

    def begin_restore(self) -> Iterator[tuple[bytes, bytes]]:
        """Mark a write-back as begun, and yield every item of the store the changelog holds."""


async def write_back(
    client: Any, topic: str, partition: int, writer: Writer, *, stopped: Callable[[], bool]
) -> tuple[int, int] | None:
    """Send every item of a partition's local store to its changelog, which the broker lost; the store then agrees with it.

    The items go in chunks, each acknowledged before the next is read; then a
    tombstone of ``MARKER`` ends them (the embedded broker reports the end of
    a changelog exactly after a record alone), and the store records the
    changelog offset it reached. Returns (items, offset); ``None`` when
    ``stopped()`` said so between two chunks, the store keeping its mark
    (``Writer.begin_restore``) so that the next takeover writes it back again.
    """
    items = 0
    chunk: list[tuple[bytes, bytes | None]] = []
    for item in writer.begin_restore():
        chunk.append(item)
        if len(chunk) >= WRITE_RECORDS:
            await asyncio.gather(*await send_batched(client, topic, partition, chunk))
            items += len(chunk)
            chunk = []
            if stopped():
                return None
    await asyncio.gather(*await send_batched(client, topic, partition, chunk))
    items += len(chunk)
    marker = await (await client.send(topic, None, key=MARKER, partition=partition))
    if not writer.write([], marker.offset):
        return None
    return items, marker.offset


async def read_ahead(
    consumer: AIOKafkaConsumer,
    writers: dict[TopicPartition, Writer],
    ends: dict[TopicPartition, int],
    *,
    stopped: Callable[[], bool],
    progress: Callable[[TopicPartition, int, int], None] | None = None,
    fetch_wait: float = 1.0,
) -> dict[TopicPartition, int]:
    """Copy each partition's changelog from its store's offset to its end offset (``ends``) into the store.

    Returns the records copied into each. ``consumer`` is started and has
    nothing assigned; it is left assigned. ``progress`` is told each write
    (partition, offset reached, records).
    Stops before the next write once ``stopped()`` says so; a partition
    whose store lets it go, or whose fetches stop short of the end, is left
    where its store got to.
    """
    read = dict.fromkeys(writers, 0)
    if not writers:
        return read
    consumer.assign(list(writers))
    pending: dict[TopicPartition, int] = {}
    for tp, writer in writers.items():
        persisted = writer.persisted()
        start = persisted + 1 if persisted is not None else 0
        if start < ends[tp]:
            consumer.seek(tp, start)
            pending[tp] = ends[tp]
    consumer.pause(*(tp for tp in writers if tp not in pending))
    idle = 0
    while pending and not stopped():
        fetched = await consumer.getmany(*pending, timeout_ms=int(fetch_wait * 1000), max_records=WRITE_RECORDS)
        if stopped():  # revoked while fetching: not one write more
            break
        for tp, records in fetched.items():
            if tp not in pending or not records:
                continue
            if not writers[tp].write([(record.key, record.value) for record in records], records[-1].offset):
                log.info("changelog %s: the partition went while it was read; left before %s", tp, records[0].offset)
                del pending[tp]
                consumer.pause(tp)
                continue
            read[tp] += len(records)
            if progress is not None:
                progress(tp, records[-1].offset, len(records))
            if records[-1].offset + 1 >= pending[tp]:
                del pending[tp]
                consumer.pause(tp)
        if fetched:
            idle = 0
            continue
        for tp in list(pending):
            if await consumer.position(tp) >= pending[tp]:  # the end was control records, or compacted away
                del pending[tp]
                consumer.pause(tp)
        idle += 1
        if pending and idle >= EMPTY_FETCHES:
            log.warning("changelogs %s: nothing fetched short of their end; faust's recovery reads on", sorted(pending))
            break
    return read


def consumer_for(app: Any) -> AIOKafkaConsumer:
    """A consumer of no group for the app's brokers, with large fetches."""
    conf = app.conf
    return AIOKafkaConsumer(
        client_id=f"{conf.broker_client_id}-read-ahead",
        bootstrap_servers=server_list(conf.broker, 9092),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a changelog compacted below the store's offset: from its start
        max_partition_fetch_bytes=max(PARTITION_FETCH_BYTES, conf.consumer_max_fetch_size),
        fetch_max_bytes=max(FETCH_BYTES, conf.consumer_max_fetch_size),
        fetch_max_wait_ms=500,
        request_timeout_ms=int(conf.broker_request_timeout * 1000.0),
        check_crcs=conf.broker_check_crcs,
        isolation_level="read_committed" if app.in_transaction else "read_uncommitted",  # as faust's consumer
        **credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context),
    )


class ReadAheadRecovery(Recovery):
    """faust's recovery, with the active partitions' changelogs read ahead in bulk by their stores (``read_ahead``)."""

    #: Changelog records the read-ahead of the current (or last) recovery copied into the stores.
    read_ahead_records: int = 0
    #: Partitions whose local store was written back to a changelog the broker had lost, since the worker started.
    written_back: int = 0
    _read_ahead_due: bool = False
    _revoked: bool = False

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        # faust signals the recovery task unless the rebalance is already stale; no await since.
        self._read_ahead_due = self.signal_recovery_start.is_set()
        self._revoked = False  # this assignment's partitions, until the next revocation

    def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self._revoked = True  # a read under way stops before its next write
        super().on_partitions_revoked(revoked)

    async def on_stop(self) -> None:
        self._revoked = True
        await super().on_stop()

    async def _wait(self, coro: WaitArgT, timeout: Seconds | None = None) -> None:
        # The first wait of a recovery (its ``stream_recovery_delay`` sleep) reads ahead first, under the same
        # watch: a new rebalance interrupts both (``RebalanceAgain``), the service stopping too.
        if self._read_ahead_due and not self.signal_recovery_start.is_set():
            self._read_ahead_due = False
            try:
                await super()._wait(self._read_ahead())
            except BaseException:
                if asyncio.iscoroutine(coro):
                    coro.close()  # never awaited: interrupted before it
                raise
        await super()._wait(coro, timeout=timeout)

    async def _write_back_lost(
        self, writers: dict[TopicPartition, Writer], ends: dict[TopicPartition, int], starts: dict[TopicPartition, int]
    ) -> None:
        """Write each local store back to its changelog where the broker holds none of it (a broker back empty).

        A store that has read its changelog to some offset, whose changelog now
        holds nothing, is the only copy left of the partition's items: it is
        written back, so a worker that rebuilds the partition later (another
        pod, a lost disk) finds them. A write-back cut short is done again.
        """
        for tp, writer in writers.items():
            persisted = writer.persisted()
            if persisted is None or not (writer.restoring() or ends[tp] <= starts[tp]):
                continue
            began = time.monotonic()
            log.warning(
                "changelog %s[%d] holds nothing of what the local store read to offset %d (the broker lost it, or "
                "the topic was recreated): writing the store's items back to it",
                tp.topic,
                tp.partition,
                persisted,
            )
            producer: Any = self.app.producer
            client = producer._ensure_producer()  # the aiokafka producer under faust's, as the worker's writes
            done = await write_back(client, tp.topic, tp.partition, writer, stopped=lambda: self._revoked)
            if done is None:
                log.warning("changelog %s[%d]: write-back interrupted; done again at the next takeover", *tp)
                continue
            items, offset = done
            self.written_back += 1
            ends[tp] = offset + 1
            log.warning(
                "changelog %s[%d]: %d items written back in %.1f s (to offset %d)",
                tp.topic,
                tp.partition,
                items,
                time.monotonic() - began,
                offset,
            )

    async def _read_ahead(self) -> None:
        self.read_ahead_records = 0
        stores: dict[TP, Any] = {}  # the active partitions whose store takes changelog records in bulk
        for tp in self.active_tps:
            store = getattr(self.tp_to_table.get(tp), "data", None)
            if hasattr(store, "changelog_writer"):
                stores[tp] = store
        if not stores:
            return
        self.flush_buffers()  # records faust buffered earlier go first: they are older
        began = time.monotonic()
        writers: dict[TopicPartition, Writer] = {}
        consumer = consumer_for(self.app)

        def progress(tp: TopicPartition, offset: int, records: int) -> None:
            self.active_offsets[TP(tp.topic, tp.partition)] = offset
            self.read_ahead_records += records

        try:
            for tp, store in stores.items():
                writers[TopicPartition(tp.topic, tp.partition)] = store.changelog_writer(tp.partition)
            await consumer.start()
            ends = await consumer.end_offsets(list(writers))
            await self._write_back_lost(writers, ends, await consumer.beginning_offsets(list(writers)))
            for tp, writer in writers.items():  # what /metrics shows while it reads (faust builds its own after)
                persisted = writer.persisted()
                self.active_offsets[TP(tp.topic, tp.partition)] = persisted if persisted is not None else -1
                self.active_highwaters[TP(tp.topic, tp.partition)] = ends[tp] - 1
            self._set_recovery_started()
            await read_ahead(consumer, writers, ends, stopped=lambda: self._revoked, progress=progress)
        except Exception as exc:  # the broker, most likely: faust's recovery reads from where the stores are
            log.warning("reading changelogs ahead failed (%r); faust's recovery reads what is left", exc)
            return
        finally:
            await consumer.stop()
        for tp, writer in writers.items():
            if writer.holds():
                persisted = writer.persisted()
                if persisted is not None:  # where faust's recovery starts
                    self.active_offsets[TP(tp.topic, tp.partition)] = persisted
        seconds = time.monotonic() - began
        log.info(
            "read %d changelog records ahead into %d partitions in %.1f s (%.0f records/s)",
            self.read_ahead_records,
            len(writers),
            seconds,
            self.read_ahead_records / seconds if seconds else 0.0,
        )
