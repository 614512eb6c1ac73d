"""Feeds the alerts topic into the worker's local history index, from where the index stands."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

from aiokafka import AIOKafkaConsumer

from monitor.background import Background
from monitor.kafka.client import whole_topic_reader
from monitor.state.follower import resting
from monitor.state.history import AlertHistory, HistoryRecord, TopicReset

__all__ = ["HistoryIndexer", "index_matches_topic"]

log = logging.getLogger(__name__)

#: Empty reads in a row that also mean "read to the end": a broker can report an end it does not serve.
_STALLED_READS = 20


async def index_matches_topic(
    bootstrap: str, topic: str, client: dict[str, Any], marks: dict[int, tuple[int, int]], timeout: float = 3.0
) -> bool:
    """Whether the topic holds, just before each of the index's positions, the record the index last read there.

    A topic recreated under the same name (or another cluster's) has other
    records at those offsets, or none: then the index, and a ledger loaded from
    it, would believe transitions published that the topic lacks. A record
    retention has removed since cannot be compared, and is taken to match.

    Args:
        bootstrap: The brokers.
        topic: The alerts topic.
        client: Client options (TLS, SASL).
        marks: Per partition, the index's next offset and the broker's timestamp of the record before it.
        timeout: Seconds to wait for each record.
    """
    if not marks:
        return True
    consumer = await whole_topic_reader(bootstrap, topic, client)
    try:
        held = {tp.partition: tp for tp in consumer.assignment()}
        if not set(marks) <= set(held):
            log.warning("alert history: the topic has no partition %s of the index", sorted(set(marks) - set(held)))
            return False
        for partition, (offset, stamp) in sorted(marks.items()):
            if offset == 0:
                continue
            tp = held[partition]
            first = (await consumer.beginning_offsets([tp]))[tp]
            if offset - 1 < first:
                continue  # removed by retention since: nothing to compare
            consumer.seek(tp, offset - 1)
            batch = await consumer.getmany(tp, timeout_ms=round(timeout * 1000), max_records=1)
            found = batch.get(tp, [])
            if not found or found[0].offset != offset - 1 or found[0].timestamp != stamp:
                seen = f"offset {found[0].offset} of {found[0].timestamp}" if found else "nothing"
                log.warning(
                    "alert history: partition %d at offset %d holds %s, not the record of %d the index read",
                    partition,
                    offset - 1,
                    seen,
                    stamp,
                )
                return False
        return True
    finally:
        await asyncio.sleep(0)  # aiokafka's consumer, stopped before its first turn, raises CancelledError
        await consumer.stop()


class HistoryIndexer:
    """Reads the alerts topic from the index's positions on and adds each batch of records to the index.

    A batch the index cannot take (a full disk) is read again from the
    index's positions after ``retry_seconds``: nothing is skipped, and the
    worker goes on meanwhile (the history answers 503 with the reason). A
    record from before the index's position means the topic was recreated:
    the index is cleared and the topic indexed from its beginning.

    Once it has read the topic through, it rests ``rest`` seconds after each
    batch it adds: what comes meanwhile is fetched together (see
    ``TopicFollower.rest``); the history views show a transition within
    about five seconds of the alert lists.
    """

    rest = 5.0

    def __init__(
        self,
        history: AlertHistory,
        bootstrap: str,
        topic: str,
        client: dict[str, Any],
        retry_seconds: float = 5.0,
    ) -> None:
        self._history = history
        self._bootstrap = bootstrap
        self._topic = topic
        self._client = client
        self._retry = retry_seconds
        self._consumer: AIOKafkaConsumer | None = None
        self._follower = Background("alert-history", self._follow)
        self._current = False
        self.problem: str | None = None  # why the index is behind, while it is

    @property
    def current(self) -> bool:
        """Whether the index has taken every record the topic held at some point since start."""
        return self._current

    async def start(self) -> None:
        """Connect, place each partition at the index's position, and start following."""
        self._consumer = await whole_topic_reader(self._bootstrap, self._topic, self._client)
        await self._place()
        self._follower.start()

    async def _place(self) -> None:
        """Seek every partition to where the index stands (its beginning when the index has none of it)."""
        consumer = self._consumer
        assert consumer is not None
        positions = await asyncio.to_thread(self._history.positions)
        for tp in consumer.assignment():
            if tp.partition in positions:
                consumer.seek(tp, positions[tp.partition])
            else:
                await consumer.seek_to_beginning(tp)

    async def _follow(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        empty_reads = 0
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            except Exception:  # a broker hiccup: the consumer reconnects by itself
                log.exception("alert history: read failed; retrying")
                await asyncio.sleep(1)
                continue
            records = [
                HistoryRecord(r.partition, r.offset, r.timestamp, r.value or b"")
                for batch in batches.values()
                for r in batch
            ]
            if not records:
                empty_reads += 1
                if not self._current:
                    self._current = empty_reads >= _STALLED_READS or await self._at_end()
                continue
            empty_reads = 0
            try:
                await asyncio.to_thread(self._history.append, records)
            except TopicReset as reset:
                log.warning("alert history: the alerts topic was recreated (%s); indexing it again", reset)
                await asyncio.to_thread(self._history.clear)
                await self._place()
                continue
            except Exception as exc:  # a full disk (sqlite3.Error, OSError), or worse: said, and tried again
                if self.problem is None:
                    log.error("alert history: cannot add to %s (%s); trying again", self._history.path, exc)
                    if not isinstance(exc, sqlite3.Error | OSError):
                        log.exception("alert history: unexpected failure")
                self.problem = f"the alert history index cannot be written: {exc}"
                await asyncio.sleep(self._retry)
                await self._place()
                continue
            if self.problem is not None:
                log.warning("alert history: %s is written again", self._history.path)
                self.problem = None
            if self._current:
                with resting(consumer):
                    await asyncio.sleep(self.rest)

    async def _at_end(self) -> bool:
        """Whether every partition has been read to the end the broker reports."""
        consumer = self._consumer
        assert consumer is not None
        try:
            tps = list(consumer.assignment())
            ends = await consumer.end_offsets(tps)
            positions = [await consumer.position(tp) for tp in tps]
            return all(position >= ends[tp] for position, tp in zip(positions, tps, strict=True))
        except Exception:  # asked again at the next empty read
            return False

    async def stop(self) -> None:
        """Stop following."""
        await self._follower.stop()
        if self._consumer is not None:
            await self._consumer.stop()
