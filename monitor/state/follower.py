"""A reader of a whole topic, outside any consumer group: reads its backlog, then follows it.

Every worker reads the alerts topic (``monitor.state.ledger``) and the rules
topic (``monitor.state.packs``) this way: each one sees every record,
whoever owns the partitions. ``catch_up`` says when the backlog has been
read, which is when what the follower built may be taken as the topic's word.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from monitor.background import Background
from monitor.kafka.client import whole_topic_reader

__all__ = ["TopicFollower", "resting"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def resting(consumer: AIOKafkaConsumer) -> Iterator[None]:
    """Pause every partition of ``consumer`` while in the block: it fetches nothing meanwhile.

    A consumer not paused fetches again as soon as it is read, and holds the
    first records that come until the next read: the read after a rest would
    bring only those, a rest late, and the records after them would wait for
    the next rest. Paused, it fetches nothing during the rest, and the read
    after it brings every record that came meanwhile, in one fetch per
    partition.
    """
    partitions = consumer.assignment()
    consumer.pause(*partitions)
    try:
        yield
    finally:
        consumer.resume(*partitions)


class TopicFollower:
    """Reads every partition of ``topic`` from given positions (or the beginning) on, handing each batch to ``take``.

    Subclasses say what a batch of records means (``take``); ``what`` names
    the follower in log lines.
    """

    what = "topic"
    poll_ms = 100
    #: Seconds to rest after a read that brought records, once the topic has been read through (``current``),
    #: unless someone waits to catch up. The records that come meanwhile are then fetched together, one fetch
    #: per partition, instead of one fetch per record batch: the embedded broker's fetch costs in proportion
    #: to the batches the partition holds, and over hours that cost grew with every batch fetched alone.
    #: The partitions are paused meanwhile (``resting``), so the read after the rest brings everything that
    #: came during it.
    rest = 0.0

    def __init__(self, bootstrap: str, topic: str, client: dict[str, Any]) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._client = client
        self._consumer: AIOKafkaConsumer | None = None
        self._follower = Background(self.what, self._follow)
        self._started = asyncio.Event()
        self._reads = 0  # reads done, empty or not
        self._hurry = asyncio.Event()  # set while someone waits to catch up: no rest
        self._waiting = 0  # how many wait to catch up
        self._read_once = False  # the topic has been read to the end it had at some point since start

    @property
    def topic(self) -> str:
        """The topic followed."""
        return self._topic

    def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """What the records read mean (in partition order within a batch)."""
        raise NotImplementedError

    async def start(self, positions: Mapping[int, int] | None = None) -> None:
        """Connect and start following (returns at once; ``catch_up`` waits for the backlog).

        Args:
            positions: Where to start reading each partition (from its beginning where none is given).
        """
        self._consumer = await whole_topic_reader(self._bootstrap, self._topic, self._client)
        if not self._consumer.assignment():
            log.warning("%s: topic %s not found", self.what, self._topic)
        positions = positions or {}
        for tp in sorted(self._consumer.assignment()):
            if tp.partition in positions:
                self._consumer.seek(tp, positions[tp.partition])
            else:
                await self._consumer.seek_to_beginning(tp)
        self._follower.start()
        self._started.set()

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=self.poll_ms, max_records=5000)
            except Exception:  # a broker hiccup: the consumer reconnects by itself
                log.exception("%s: read failed; retrying", self.what)
                await asyncio.sleep(1)
                continue
            self._reads += 1
            records = [r for batch in batches.values() for r in batch]
            if records:
                self.take(records)
                if self.rest and self._read_once:
                    with resting(self._consumer), contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.rest):
                            await self._hurry.wait()

    async def catch_up(self, timeout: float = 30.0, *, stalled_reads: int = 30) -> bool:
        """Wait until everything on the topic now has been read; ``False`` if that took too long.

        The end is reached when every position is at the end offset the broker
        reports, or when ``stalled_reads`` reads in a row have moved no
        position: a broker can report an end it cannot serve (the embedded one,
        restarted empty while a producer still retried, reports records it
        never stored), and a read that returns nothing is the last word.
        """
        self._waiting += 1
        self._hurry.set()
        try:
            return await self._catch_up(timeout, stalled_reads)
        finally:
            self._waiting -= 1
            if not self._waiting:
                self._hurry.clear()

    async def _catch_up(self, timeout: float, stalled_reads: int) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._started.wait()
        except TimeoutError:  # not started (the broker is away): nothing read yet
            log.warning("%s has not started within %.0fs", self.what, timeout)
            return False
        consumer = self._consumer
        assert consumer is not None
        tps = list(consumer.assignment())
        ends = await consumer.end_offsets(tps)
        deadline = asyncio.get_running_loop().time() + timeout
        reached: int | None = None
        last: tuple[list[int], int] | None = None  # positions, and the read count when they last moved
        while asyncio.get_running_loop().time() < deadline:
            if reached is None:
                positions = [await consumer.position(tp) for tp in tps]
                if last is None or last[0] != positions:
                    last = (positions, self._reads)
                if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                    reached = self._reads
                elif self._reads >= last[1] + stalled_reads:
                    log.warning(
                        "%s: the broker reports records it does not serve; taking %s as the end", self.what, positions
                    )
                    reached = self._reads
            elif self._reads >= reached + 2:
                # The embedded broker reports an end offset short of its last batch's records,
                # which a read still returns: caught up once a read begun after the end was reached is done.
                self._read_once = True
                return True
            await asyncio.sleep(0.05)
        log.warning("%s did not catch up within %.0fs", self.what, timeout)
        return False

    @property
    def current(self) -> bool:
        """Whether the topic has been read to its end once since start: what was built is the topic's word."""
        return self._read_once

    async def read_through(self) -> None:
        """Catch up once, however long it takes (``current`` is true after)."""
        while not await self.catch_up():
            pass

    async def stop(self) -> None:
        """Stop following."""
        await self._follower.stop()
        if self._consumer is not None:
            await self._consumer.stop()
