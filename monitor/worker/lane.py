"""The ingress lane: each fetch's records of the ingress topics, handed to the intake a partition's batch at a time.

faust hands every record to its agents one by one: the fetch loop calls the
conductor, which decodes it into an event and queues it for the agent's
stream, whose iterator turns the event loop, tracks the record, tells its
sensors, hands the event over and acknowledges it: about a hundred Python
calls and several turns of the loop per record, more than the worker's own
work on a record of one event (``make bench``: a bare faust agent handled
about 10,000 records a second). Here the fetch loop (``monitor.worker.handover``)
gathers a fetch's records of the ingress topics by partition and offers each
partition's records to the lane at once (``offer``); the intake takes them
(``take``) and handles them in order, in its own task.

What faust's stream does for a record, the lane does the same way, for the
same reasons:

- a record fetched under an older consumer generation, or while a rebalance
  holds faust's flow, is not handed over (``may_hand``): its partition may be
  another worker's now;
- a record is tracked while it is handled (``track``): a revocation waits for
  it (``Consumer.wait_empty``) before the partition goes;
- it is acknowledged once handled (``done``), through the consumer's ``ack``
  (``monitor.worker.app``: a record the intake left, or one of a partition
  revoked meanwhile, does not count); one whose handling was cut short is
  left (``left``), to be read again;
- faust's check that each partition makes progress hears of each batch
  (``heard``).

The queue is bounded in bytes as well as in batches (``ByteBoundQueue``):
once it holds ``BUFFER_BYTES`` of records, the fetch loop waits for room
before it offers more, and fetches nothing meanwhile; a rebalance drops
what waits (faust's ``flow_control.clear``), and the fetch loop stops
waiting (its records are fetched again from the committed offsets).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.worker.ingress import BUFFER_BYTES, ByteBoundQueue

__all__ = ["Fetched", "IngressLane"]

#: Batches the lane holds at most, whatever their bytes (faust's ``stream_buffer_maxsize`` counted records).
MAX_BATCHES = 4096


def _bytes(message: Any) -> int:
    key, value = message.key, message.value
    return (len(key) if isinstance(key, bytes) else 0) + (len(value) if isinstance(value, bytes) else 0)


@dataclass(frozen=True, slots=True)
class Fetched:
    """Records of one partition from one fetch, in offset order (faust ``Message``s), and their bytes."""

    tp: Any
    messages: Sequence[Any]
    bytes: int = field(default=0)

    @classmethod
    def of(cls, tp: Any, messages: Sequence[Any]) -> Fetched:
        """The batch of ``messages`` of ``tp``, its bytes counted."""
        return cls(tp, messages, sum(_bytes(m) for m in messages))


class IngressLane:
    """Fetched records of the ingress topics, queued by partition batch for the intake.

    Args:
        app: The faust app (its consumer, flow control, generation and monitor are read when used).
        topics: The ingress topics' names: the fetch loop offers their records here, not to the conductor.
        buffer_bytes: Bytes of records the lane holds before the fetch loop waits for room.
    """

    def __init__(self, app: Any, topics: Collection[str], buffer_bytes: int = BUFFER_BYTES) -> None:
        self._app = app
        self._topics = frozenset(topics)
        self._queue: ByteBoundQueue | None = None
        self._buffer_bytes = buffer_bytes

    @property
    def queue(self) -> ByteBoundQueue:
        """The batches waiting for the intake (made on first use, on the running loop)."""
        if self._queue is None:
            self._queue = ByteBoundQueue(
                self._buffer_bytes,
                size=lambda batch: batch.bytes,
                maxsize=MAX_BATCHES,
                flow_control=self._app.flow_control,
                clear_on_resume=True,  # a rebalance drops what waits: it is fetched again
            )
        return self._queue

    def takes(self, topic: str) -> bool:
        """Whether records of ``topic`` go through the lane."""
        return topic in self._topics

    async def offer(self, consumer: Any, tp: Any, messages: Sequence[Any]) -> None:
        """Queue a partition's records of a fetch, waiting for room; a rebalance meanwhile drops them."""
        batch = Fetched.of(tp, messages)
        queue = self.queue
        if not queue.full() and consumer.flow_active and not consumer.suspend_flow.is_set():
            queue.put_nowait(batch)
            return
        # faust's way (``wait_first``), but a put cancelled by the rebalance's clearing of the queue
        # (``flow_control.clear``) drops the batch rather than ending the fetch loop.
        put = asyncio.ensure_future(queue.put(batch))
        rebalance = asyncio.ensure_future(consumer.suspend_flow.wait())
        try:
            await asyncio.wait({put, rebalance}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in (put, rebalance):
                waiting.cancel()

    async def take(self) -> Fetched:
        """The next batch, once one is queued."""
        batch: Fetched = await self.queue.get()
        return batch

    def waiting(self) -> int:
        """Batches queued and not taken yet."""
        return self.queue.qsize() if self._queue is not None else 0

    def may_hand(self, message: Any) -> bool:
        """Whether ``message`` may be handled now: faust's flow runs and it was fetched in this generation."""
        app = self._app
        return bool(app.flow_control.is_active()) and message.generation_id == app.consumer_generation_id

    def track(self, message: Any) -> None:
        """``message`` is being handled: a revocation waits for it (faust's stream, ``add_unacked``)."""
        message.tracked = True
        self._app.consumer._unacked_messages.add(message)

    def done(self, message: Any) -> None:
        """``message`` was handled, or left by the intake (``skip``): acknowledge it (a left one is only let go)."""
        self._app.consumer.ack(message)

    def left(self, message: Any) -> None:
        """``message``'s handling was cut short: it is not acknowledged, and is read again."""
        consumer = self._app.consumer
        consumer.skip(message)
        consumer.ack(message)  # a skipped record's acknowledgement only lets go of it

    def heard(self, tp: Any) -> None:
        """Tell faust's check of each partition's progress that the partition's records are being handled now."""
        monitor = self._app.monitor
        if monitor is not None:
            monitor.stream_inbound_time[tp] = time.monotonic()
