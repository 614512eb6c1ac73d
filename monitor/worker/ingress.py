"""The ingress topics as the worker reads them: what it holds fetched and not yet handled is bounded in bytes.

faust buffers a topic's fetched records in a queue of ``stream_buffer_maxsize``
(4,096) records and pauses a partition's fetching only past four fifths of
it. A record is a whole JSON array of up to ``MONITOR_MAX_RECORD_BYTES``
(1 MiB; 500 dossiers are about 115 KiB), so with a backlog on the broker
(a worker started behind, a bulk load) the queue held the backlog itself:
1,049 records, 112 MB, at 100,000 of 600,000 dossiers processed, and the
allocator keeps that high-water mark resident after the queue drains (the
worker's RSS grew with the size of the load, not with what it holds).

Here the queue counts bytes too: once it holds ``BUFFER_BYTES`` of record
values and keys, it is full, and faust's conductor waits for the agent to
take a record before it hands over the next (what faust does at 4,096
records), so no more is fetched meanwhile. One record always enters an
empty queue, however large. A worker thus holds at most ``BUFFER_BYTES``
plus one record in the queue, and a fetch per partition in the consumer;
small records are still bounded by faust's count first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust
from mode.utils.queues import ThrowableQueue

__all__ = ["BUFFER_BYTES", "ByteBoundQueue", "IngressTopic", "ingress_topic", "record_bytes", "waiting"]

#: What the ingress queue may hold fetched and not yet handled: about 8 s of work in records of 500 dossiers.
BUFFER_BYTES = 16 * 1024 * 1024


def record_bytes(event: Any) -> int:
    """The bytes of an event's record (its key and value as fetched)."""
    message = getattr(event, "message", None)
    key, value = getattr(message, "key", None), getattr(message, "value", None)
    return (len(key) if isinstance(key, bytes) else 0) + (len(value) if isinstance(value, bytes) else 0)


def waiting(stream: Any) -> int:
    """Records fetched for the agent's ``stream`` and not handed to it yet."""
    return int(stream.channel.queue.qsize())


class ByteBoundQueue(ThrowableQueue[Any]):
    """faust's queue of a channel's events, also full once it holds ``limit`` bytes of records.

    Args:
        limit: The bytes of records it holds before it reports itself full.
        **kwargs: ``ThrowableQueue``'s (``maxsize``, ``flow_control``, ``clear_on_resume``).
    """

    def __init__(self, limit: int, **kwargs: Any) -> None:
        self.limit = limit
        self.bytes = 0
        super().__init__(**kwargs)

    def full(self) -> bool:
        """Whether it holds ``limit`` bytes of records, or ``maxsize`` records."""
        return self.bytes >= self.limit or super().full()

    def _put(self, item: Any) -> None:
        super()._put(item)
        self.bytes += record_bytes(item)

    def _get(self) -> Any:
        item = super()._get()
        self.bytes -= record_bytes(item)
        return item

    def clear(self) -> None:
        """Drop every event (a rebalance resumes the flow)."""
        super().clear()
        self.bytes = 0


class IngressTopic(faust.Topic):
    """A faust topic whose subscribers' queues are ``ByteBoundQueue``s of ``buffer_bytes``."""

    #: The bytes of records each subscriber's queue holds before faust waits for the agent.
    buffer_bytes = BUFFER_BYTES

    @property
    def queue(self) -> ThrowableQueue[Any]:
        """The queue of this channel's events (made on first use, as faust's)."""
        if self._queue is None:
            maxsize = self.maxsize if self.maxsize is not None else self.app.conf.stream_buffer_maxsize
            self._queue = ByteBoundQueue(
                self.buffer_bytes, maxsize=maxsize, flow_control=self.app.flow_control, clear_on_resume=True
            )
        queue: ThrowableQueue[Any] = self._queue
        return queue


def ingress_topic(app: faust.App, topics: Sequence[str], partitions: int, **kwargs: Any) -> IngressTopic:
    """The topics the worker's agent reads, their fetched records buffered up to ``BUFFER_BYTES``."""
    return IngressTopic(app, topics=topics, partitions=partitions, **kwargs)
