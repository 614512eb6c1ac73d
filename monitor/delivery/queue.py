"""A bounded, coalescing delivery queue with retries: the part every sink shares.

Stream processing only ever calls ``offer``, which never blocks and never
grows the queue past its limit: items with the same key replace each other
(latest wins), and past the limit the oldest item is dropped and counted.
A background task sends batches and, when the peer is down or busy, retries
with exponential backoff until it answers. A batch the peer rejects (it will
never accept it: HTTP 4xx) is halved until the rejected items are found; those
are logged once with the peer's answer, counted, and dropped, and the rest go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from monitor.background import Background
from monitor.metrics import DeliveryMetrics
from monitor.settings import DEFAULT_DELIVERY_QUEUE_LIMIT

__all__ = ["DEFAULT_BACKOFF", "DEFAULT_BATCH", "DeliveryError", "DeliveryQueue", "DeliveryRejected"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Items sent to a peer in one request, at most.
DEFAULT_BATCH = 500
#: Seconds before the first retry of a failed batch, and the most, doubling in between.
DEFAULT_BACKOFF = (0.5, 30.0)


class DeliveryError(Exception):
    """The peer could not be reached, or failed: the batch will be retried."""


class DeliveryRejected(DeliveryError):
    """The peer refused the batch itself (HTTP 4xx): sending it again would fail again."""


class DeliveryQueue(Generic[T]):
    """Coalescing queue + sender loop for one peer."""

    def __init__(
        self,
        name: str,
        send: Callable[[list[T]], Awaitable[None]],
        key: Callable[[T], str],
        metrics: DeliveryMetrics,
        *,
        limit: int = DEFAULT_DELIVERY_QUEUE_LIMIT,
        batch: int = DEFAULT_BATCH,
        backoff: tuple[float, float] = DEFAULT_BACKOFF,
    ) -> None:
        self.name = name
        self._send = send
        self._key = key
        self._metrics = metrics
        self._limit = limit
        self._batch = batch
        self._backoff = backoff
        self._items: OrderedDict[str, T] = OrderedDict()
        self._ready = asyncio.Event()
        self._sender = Background(f"deliver-{name}", self._run)
        metrics.queue_limit.labels(name).set(limit)
        metrics.queued.labels(name).set_function(lambda: len(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: T) -> None:
        """Queue an item for delivery; never blocks."""
        key = self._key(item)
        self._items.pop(key, None)
        self._items[key] = item
        while len(self._items) > self._limit:
            self._items.popitem(last=False)
            self._metrics.delivered.labels(self.name, "dropped").inc()
        self._ready.set()

    def start(self) -> None:
        """Start the sender on the running loop."""
        self._sender.start()

    async def stop(self) -> None:
        """Stop the sender; undelivered items are dropped (firing alerts are re-sent by their owner)."""
        await self._sender.stop()

    async def _run(self) -> None:
        delay = self._backoff[0]
        while True:
            await self._ready.wait()
            if not self._items:
                self._ready.clear()
                continue
            batch = list(self._items.items())[: self._batch]
            rejected: list[DeliveryRejected] = []
            try:
                await self._deliver(batch, rejected)
            except (TimeoutError, DeliveryError, OSError) as exc:
                self._metrics.delivered.labels(self.name, "failed").inc(len(batch))
                log.warning("%s: delivery failed (%s); retrying in %.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            finally:
                if rejected:
                    log.error(
                        "%s: %d notification(s) rejected, dropped without retrying: %s",
                        self.name,
                        len(rejected),
                        rejected[0],
                    )
            delay = self._backoff[0]

    async def _deliver(self, batch: list[tuple[str, T]], rejected: list[DeliveryRejected]) -> None:
        """Send ``batch``; a rejected batch is halved until each item is either delivered or known to be rejected.

        Items delivered or rejected leave the queue (unless replaced meanwhile);
        a failure worth retrying propagates and leaves the rest queued.
        """
        try:
            await self._send([item for _, item in batch])
        except DeliveryRejected as exc:
            if len(batch) > 1:
                half = len(batch) // 2
                await self._deliver(batch[:half], rejected)
                await self._deliver(batch[half:], rejected)
                return
            rejected.append(exc)
            self._metrics.rejected.labels(self.name).inc()
        else:
            self._metrics.delivered.labels(self.name, "sent").inc(len(batch))
        for key, item in batch:
            if self._items.get(key) is item:  # not replaced while it was in flight
                del self._items[key]
