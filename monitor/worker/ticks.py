"""Wall-clock ticks: apscheduler sends a tick record to each partition this worker owns.

Time reaches the rules through the same partitioned stream as data, so a
deadline that passes is handled in order with events, by the partition's
owner, and can write its state. A tick carries no instant of its own that
matters: the processor evaluates everything due up to the moment it runs, so
a late tick catches up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.clock import Clock, utc_now

__all__ = ["TickSource", "encode_tick"]

log = logging.getLogger(__name__)


def encode_tick(at: datetime) -> bytes:
    """A tick record value."""
    return json.dumps({"tick": at.isoformat()}).encode()


class TickSource:
    """Sends ``send(partition, now)`` for every owned partition every ``interval`` seconds."""

    def __init__(
        self,
        send: Callable[[int, datetime], Awaitable[None]],
        owned_partitions: Callable[[], set[int]],
        interval: float,
        clock: Clock = utc_now,
    ) -> None:
        self._send = send
        self._owned = owned_partitions
        self._interval = interval
        self._clock = clock
        self._scheduler: AsyncIOScheduler | None = None

    def start(self) -> None:
        """Start ticking on the running event loop."""
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._scheduler.add_job(
            self.tick,
            "interval",
            seconds=self._interval,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            id="wall-clock-tick",
        )
        self._scheduler.start()

    def stop(self) -> None:
        """Stop ticking."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None

    async def tick(self) -> None:
        """Send one tick to each owned partition."""
        now = self._clock()
        for partition in sorted(self._owned()):
            try:
                await self._send(partition, now)
            except Exception:  # a failed tick is retried by the next one
                log.exception("could not send tick to partition %d", partition)
