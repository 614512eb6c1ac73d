"""What the worker holds fetched and not yet handled: bounded in bytes, not only in records.

faust buffers an agent's fetched records in a queue of ``stream_buffer_maxsize``
(4,096) records and pauses a partition's fetching only past four fifths of
it. A record is a whole JSON array of up to ``MONITOR_MAX_RECORD_BYTES``
(1 MiB; 500 dossiers are about 115 KiB), so with a backlog on the broker
(a worker started behind, a bulk load) such a queue held the backlog itself:
1,049 records, 112 MB, at 100,000 of 600,000 dossiers processed, and the
allocator keeps that high-water mark resident after the queue drains (the
worker's RSS grew with the size of the load, not with what it holds).

The worker's queue of fetched records (``monitor.worker.lane``) counts bytes
too: once it holds ``BUFFER_BYTES`` of record values and keys, it is full,
and the fetch loop waits for the intake to take a batch before it offers the
next, so no more is fetched meanwhile. One batch always enters an empty
queue, however large. A worker thus holds at most ``BUFFER_BYTES`` plus one
fetch's batch in the queue, and a fetch per partition in the consumer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mode.utils.queues import ThrowableQueue

__all__ = ["BUFFER_BYTES", "ByteBoundQueue"]

#: What the worker may hold fetched and not yet handled: about 8 s of work in records of 500 dossiers.
BUFFER_BYTES = 16 * 1024 * 1024


class ByteBoundQueue(ThrowableQueue[Any]):
    """A faust (mode) queue that is also full once it holds ``limit`` bytes of what ``size`` counts.

    Args:
        limit: The bytes it holds before it reports itself full.
        size: The bytes of an item.
        **kwargs: ``ThrowableQueue``'s (``maxsize``, ``flow_control``, ``clear_on_resume``).
    """

    def __init__(self, limit: int, size: Callable[[Any], int], **kwargs: Any) -> None:
        self.limit = limit
        self.bytes = 0
        self._size = size
        super().__init__(**kwargs)

    def full(self) -> bool:
        """Whether it holds ``limit`` bytes, or ``maxsize`` items."""
        return self.bytes >= self.limit or super().full()

    def _put(self, item: Any) -> None:
        super()._put(item)
        self.bytes += self._size(item)

    def _get(self) -> Any:
        item = super()._get()
        self.bytes -= self._size(item)
        return item

    def clear(self) -> None:
        """Drop every item (a rebalance resumes the flow)."""
        super().clear()
        self.bytes = 0
