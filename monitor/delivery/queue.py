"""A bounded, coalescing delivery queue with retries: the part every sink shares.

Stream processing only ever calls ``offer``, which never blocks and never
grows the queue past its limit: items with the same key replace each other
(latest wins), and past the limit the oldest item is dropped and counted.
A background task sends batches and, when the peer is down or busy, retries
with exponential backoff until it answers. A batch the peer rejects (it will
never accept it: HTTP 4xx) is halved until the rejected items are found; those
are logged once with the peer's answer, counted, and dropped, and the rest go on.

Each attempt at an item is counted; ``on_attempt`` hears of the first, of
every one whose answer differs from the one before, and of the last (the
delivery ledger, ``monitor.notifications``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from monitor.background import Background
from monitor.metrics import DeliveryMetrics
from monitor.notifications import ANSWER_CHARS, Outcome
from monitor.settings import DEFAULT_DELIVERY_QUEUE_LIMIT

__all__ = ["DEFAULT_BACKOFF", "DEFAULT_BATCH", "AttemptListener", "DeliveryError", "DeliveryQueue", "DeliveryRejected"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Told of an attempt worth recording: the item, which attempt it was, its outcome, the HTTP status, the answer.
AttemptListener = Callable[[T, int, Outcome, int | None, str], None]

#: Items sent to a peer in one request, at most.
DEFAULT_BATCH = 500
#: Seconds before the first retry of a failed batch, and the most, doubling in between.
DEFAULT_BACKOFF = (0.5, 30.0)


class DeliveryError(Exception):
    """The peer could not be reached, or failed: the batch will be retried.

    ``status``: the peer's HTTP status, when it answered.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DeliveryRejected(DeliveryError):
    """The peer refused the batch itself (HTTP 4xx): sending it again would fail again."""


class DeliveryQueue(Generic[T]):
    """Coalescing queue + sender loop for one peer."""

    def __init__(
        self,
        name: str,
        send: Callable[[list[T]], Awaitable[int | None]],
        key: Callable[[T], str],
        metrics: DeliveryMetrics,
        *,
        limit: int = DEFAULT_DELIVERY_QUEUE_LIMIT,
        batch: int = DEFAULT_BATCH,
        backoff: tuple[float, float] = DEFAULT_BACKOFF,
        on_attempt: AttemptListener[T] | None = None,
    ) -> None:
        self.name = name
        self._send = send
        self._key = key
        self._metrics = metrics
        self._limit = limit
        self._batch = batch
        self._backoff = backoff
        self._items: OrderedDict[str, T] = OrderedDict()
        self._on_attempt = on_attempt
        self._attempts: dict[str, int] = {}  # attempts at the item queued under a key
        self._answers: dict[str, tuple[Outcome, int | None]] = {}  # … and the answer to the last one
        self._ready = asyncio.Event()
        self._sender = Background(f"deliver-{name}", self._run)
        metrics.queue_limit.labels(name).set(limit)
        metrics.queued.labels(name).set_function(lambda: len(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: T) -> None:
        """Queue an item for delivery; never blocks."""
        key = self._key(item)
        if self._items.pop(key, None) is not None:  # a newer notification: its own attempts
            self._forget(key)
        self._items[key] = item
        while len(self._items) > self._limit:
            dropped, _ = self._items.popitem(last=False)
            self._forget(dropped)
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
        for key, _ in batch:
            self._attempts[key] = self._attempts.get(key, 0) + 1
        try:
            status = await self._send([item for _, item in batch])
        except DeliveryRejected as exc:
            if len(batch) > 1:  # the peer's answer is about the batch: each half is tried, and answered, alone
                half = len(batch) // 2
                await self._deliver(batch[:half], rejected)
                await self._deliver(batch[half:], rejected)
                return
            rejected.append(exc)
            self._metrics.rejected.labels(self.name).inc()
            self._heard(batch, "rejected", exc.status, str(exc), last=True)
        except (TimeoutError, DeliveryError, OSError) as exc:
            self._heard(batch, "failed", getattr(exc, "status", None), str(exc) or type(exc).__name__, last=False)
            raise
        else:
            self._metrics.delivered.labels(self.name, "sent").inc(len(batch))
            self._heard(batch, "delivered", status, "", last=True)
        for key, item in batch:
            if self._items.get(key) is item:  # not replaced while it was in flight
                del self._items[key]
                self._forget(key)

    def _heard(self, batch: list[tuple[str, T]], outcome: Outcome, status: int | None, answer: str, last: bool) -> None:
        """Tell ``on_attempt`` of each item's attempt: its first, one with a new answer, or its last."""
        if self._on_attempt is None:
            return
        for key, item in batch:
            attempt = self._attempts.get(key, 1)
            if last or attempt == 1 or self._answers.get(key) != (outcome, status):
                self._answers[key] = (outcome, status)
                try:
                    self._on_attempt(item, attempt, outcome, status, answer[:ANSWER_CHARS])
                except Exception:  # the ledger is told; delivery goes on whatever it does
                    log.exception("%s: recording a delivery attempt failed", self.name)

    def _forget(self, key: str) -> None:
        self._attempts.pop(key, None)
        self._answers.pop(key, None)
