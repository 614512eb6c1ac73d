"""Where the worker's consumer stands: the partitions it was assigned, and its offsets in each.

The faust consumer knows, for each partition it was assigned, the next offset
it will fetch (``position``), the group's committed offset (``floor``) and the
partition's end (``highwater``, as last fetched; ``end_offset``, asked of the
broker). The fetch guard, the takeover, the membership fence and the operator
metrics each read some of these; here they are asked of the consumer, in one
place, as plain topic-partitions (``Partition``). The consumer's own
bookkeeping that the intake drives (a record left to be read again, records
forgotten after a fence) goes through here too.

Every call reads the consumer when it is made: the consumer is built and
started by faust after the worker, and none of this may be asked before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

from faust.types import TP

from monitor.kafka.topics import Topics
from monitor.metrics import ConsumerLag
from monitor.worker.app import MonitorApp
from monitor.worker.fetch_guard import Partition

__all__ = ["ConsumerPositions"]

#: Seconds the broker may take to answer for one partition's position or end offset.
_ASK_TIMEOUT = 2.0


class ConsumerPositions:
    """The worker's consumer: its assignment, and its offsets in each assigned partition.

    Args:
        app: The faust app whose consumer and partition assignor are read.
        topics: The topic names (the ticks topic stands for the partitions owned; the ingress topics are read).
    """

    def __init__(self, app: MonitorApp, topics: Topics) -> None:
        self._app = app
        self._ticks = topics.ticks
        self._ingress = frozenset(topics.partitioned)
        self._assigned_cache: tuple[object, frozenset[int]] | None = None

    def assigned(self) -> set[int]:
        """Partitions the consumer was last assigned (worked out once per assignment: asked for every record)."""
        assignment = getattr(self._app.assignor, "_assignment", None)  # replaced, never changed, by each assignment
        cached = self._assigned_cache
        if cached is not None and cached[0] is assignment and assignment is not None:
            return set(cached[1])
        partitions = frozenset(tp.partition for tp in self._app.assignor.assigned_actives() if tp.topic == self._ticks)
        self._assigned_cache = (assignment, partitions)
        return set(partitions)

    def ingress(self) -> list[Partition]:
        """The ingress topic-partitions the consumer is assigned now (raises before the consumer is started)."""
        return [
            Partition(tp.topic, tp.partition) for tp in self._app.consumer.assignment() if tp.topic in self._ingress
        ]

    async def position(self, tp: Partition) -> int | None:
        """The next offset the consumer will fetch from ``tp``."""
        async with asyncio.timeout(_ASK_TIMEOUT):
            position: int | None = await self._app.consumer.position(TP(*tp))
        return position

    def floor(self, tp: Partition) -> int | None:
        """The group's committed offset of ``tp`` (the next to read), if any."""
        floor: int | None = self._app.consumer.floor(TP(*tp))  # type: ignore[attr-defined]
        return floor

    async def end_offset(self, tp: Partition) -> int | None:
        """The end offset of ``tp``, asked of the broker now (``None``: it did not say)."""
        async with asyncio.timeout(_ASK_TIMEOUT):
            ends = await self._app.consumer.highwaters(TP(*tp))
        end: int | None = next(iter(ends.values()), None)
        return end

    def highwater(self, topic: str, partition: int) -> int | None:
        """The end offset of a topic-partition as its last fetch reported, or ``None`` when it is not known yet."""
        try:
            end: int | None = self._app.consumer.highwater(TP(topic, partition))
        except Exception:  # not known yet: the grace period alone decides
            return None
        return end

    async def seek(self, tp: Partition, offset: int) -> None:
        """Fetch ``tp`` from ``offset`` next (resuming it, if its flow was held)."""
        self._app.consumer.resume_partitions([TP(*tp)])
        await self._app.consumer.seek(TP(*tp), offset)

    def handing_over(self) -> bool:
        """Whether the consumer is still fetching records or offering them to the intake."""
        return bool(getattr(self._app.consumer, "handing_over", False))

    def flow_active(self) -> bool:
        """Whether the consumer's flow runs (faust holds it during a rebalance and a recovery)."""
        consumer: Any = self._app.consumer
        return bool(consumer.flow_active)

    def lag(self, expected: Callable[[Partition], int]) -> Iterator[ConsumerLag]:
        """Records behind in each owned ingress partition: its end as last fetched, less ``expected`` (the next to handle)."""
        try:
            assigned = self.ingress()
        except Exception:  # the consumer is not started yet: nothing is owned
            return
        for tp in assigned:
            end = self.highwater(tp.topic, tp.partition)
            if end is not None:
                yield tp.topic, tp.partition, max(0, end - expected(tp))

    def generation(self) -> int | None:
        """The consumer group generation the consumer holds now (-1: not a member), if it can be read."""
        consumer: Any = self._app.consumer
        try:
            coordinator = consumer._thread._consumer._coordinator
            generation: int = coordinator.generation
        except AttributeError:  # not started yet, or another consumer implementation
            return None
        return generation

    def partition_count(self, topic: str) -> int | None:
        """How many partitions ``topic`` has, as the consumer knows (``None``: not known)."""
        count: int | None = self._app.consumer.topic_partitions(topic)
        return count

    def skip(self, message: Any) -> None:
        """Leave a record the intake was handed unacknowledged: it is read again (here or elsewhere)."""
        self._app.consumer.skip(message)  # type: ignore[attr-defined]

    def forget(self) -> None:
        """Forget every record handled in the assigned ingress partitions since the last commit: they are read again."""
        self._app.consumer.forget([TP(*tp) for tp in self.ingress()])  # type: ignore[attr-defined]
