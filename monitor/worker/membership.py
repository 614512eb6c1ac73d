"""Whether this worker may still act for its partitions: the zombie fence.

Without broker transactions nothing stops a worker that lost its group
membership (it was frozen, or cut off, past the session timeout) from
writing state and alerts for partitions another worker now owns. Kafka
Streams fences such zombies with transactional producers; here the worker
fences itself:

- a task stamps the event loop every ``beat`` seconds; a gap longer than
  half the session timeout means the worker stood still (SIGSTOP, a VM
  pause, a stall) and its membership is in doubt;
- in doubt, nothing is written or published until either the consumer's
  heartbeats confirm the membership (the generation is unchanged after a
  few heartbeat intervals: it was only a stall) or the generation is reset
  or changes (it was fenced: every partition's state is dropped and rebuilt
  from the changelog once partitions are assigned again).

The worker looks before each write it hands the producer (``may_act``), and
the producer looks again before each request leaves (``fence_producer``): a
worker frozen between its look and the request (its records waiting in the
producer when it stopped) would otherwise send them once it resumes, after
the group has moved on.

What remains is the time between the broker expiring the session and the
worker's next look at its stamp: for a frozen worker that is nothing (it
looks before its first request after it resumes); for a worker cut off from
the broker while running, it is until the consumer's own heartbeat fails
(at most the session timeout), the window docs/exactly-once.md documents.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from monitor.background import Background
from monitor.exceptions import Fenced
from monitor.worker.health import Health

__all__ = ["Membership"]

log = logging.getLogger(__name__)

_CAUSE = "membership"
_STEP = 0.1  # seconds between looks while in doubt


class Membership:
    """The fence: ``may_act`` answers whether writes and alerts may go out now.

    Args:
        session_timeout: The consumer group's session timeout, seconds.
        heartbeat_interval: The consumer's heartbeat interval, seconds.
        generation: The consumer group generation the consumer holds now (``-1``: not a member; ``None``: unknown).
        health: Where the doubt is reported (``/readyz``).
        monotonic: The clock.
        sleep: How to wait.
    """

    def __init__(
        self,
        session_timeout: float,
        heartbeat_interval: float,
        generation: Callable[[], int | None],
        health: Health,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        beat: float = 0.25,
    ) -> None:
        self._session = session_timeout
        self._heartbeat = heartbeat_interval
        self._generation = generation
        self._health = health
        self._monotonic = monotonic
        self._sleep = sleep
        self._beat = beat
        self._last = monotonic()
        self._doubt = 0.0  # the longest stand-still not yet checked, seconds
        self._fenced = False
        self._assignments = 0  # partitions assigned so far: one more means the group renewed the membership
        self._checking = asyncio.Lock()
        self._stamper = Background("membership-stamp", self._run)

    @property
    def fenced(self) -> bool:
        """Whether the worker lost its membership and has not been assigned partitions since."""
        return self._fenced

    def stamp(self) -> None:
        """The worker is running now."""
        self._last = self._monotonic()

    def excuse(self) -> None:
        """The loop was busy with the worker's own work (the consumer kept heartbeating): no doubt."""
        self.stamp()
        self._doubt = 0.0

    def assigned(self) -> None:
        """Partitions were assigned: a member again, with state to be rebuilt."""
        self._assignments += 1
        self._fenced = False
        self._doubt = 0.0
        self.stamp()
        self._health.clear_problem(_CAUSE)

    def start(self) -> None:
        """Stamp the loop in the background."""
        self.stamp()
        self._stamper.start()

    async def stop(self) -> None:
        """Stop stamping."""
        await self._stamper.stop()

    def fence_producer(self, producer: Any) -> None:
        """Hold each produce request of ``producer`` (aiokafka's) while in doubt; fail it once fenced.

        Every request leaves through aiokafka's ``Sender._send_produce_req``;
        this wraps it, on the instance, with the same look ``may_act`` takes.
        A request of a worker that lost its membership fails with ``Fenced``
        (whoever waits for it is told; the partitions' new owner does the
        work); one of a worker still a member goes out once that is known.
        The sender's bookkeeping (``_in_flight``, ``_muted_partitions``) is
        released as aiokafka's own method does; the test
        ``tests/integration/test_producer_fence.py`` runs a real producer.
        """
        sender = producer._sender
        send = sender._send_produce_req

        async def fenced_send(node_id: int, batches: dict[Any, Any]) -> None:
            if self.in_doubt() and not await self.may_act():
                error = Fenced("this worker lost its group membership: what its producer held is not sent")
                for batch in batches.values():
                    batch.failure(exception=error)
                sender._in_flight.discard(node_id)
                for tp in batches:
                    sender._muted_partitions.discard(tp)
                log.warning("lost group membership: %d record batches the producer held not sent", len(batches))
                return
            await send(node_id, batches)

        sender._send_produce_req = fenced_send

    def in_doubt(self) -> bool:
        """Whether the worker may have lost its partitions (fenced, or a stand-still not yet cleared).

        While it is, it answers for no partition: what it holds may be stale.
        """
        self._notice()
        return self._fenced or self._doubt > 0 or self._checking.locked()

    async def _run(self) -> None:
        while True:
            await self._sleep(self._beat)
            self._notice()
            self.stamp()
            if self._doubt:
                await self.may_act()  # settle the doubt now, not at the next record

    def _notice(self) -> None:
        """Remember a stand-still longer than half the session timeout until ``may_act`` has checked it."""
        gap = self._monotonic() - self._last
        if gap > self._session / 2:
            self._doubt = max(self._doubt, gap)

    async def may_act(self) -> bool:
        """Whether writes and alerts may go out now; waits out a doubt, ``False`` once fenced."""
        if self._fenced:
            return False
        self._notice()
        if not self._doubt and not self._checking.locked():
            return True
        async with self._checking:  # one check at a time; others wait for its verdict
            if self._fenced:
                return False
            gap = self._doubt
            if not gap:
                return True
            return await self._check(gap)

    async def _check(self, gap: float) -> bool:
        before = self._generation()
        epoch = self._assignments
        self._health.set_problem(_CAUSE, f"the worker stood still for {gap:.1f}s; checking its group membership")
        log.warning("stood still for %.1fs (session timeout %.0fs): checking group membership", gap, self._session)
        for _ in range(max(1, round(3 * self._heartbeat / _STEP))):  # a few heartbeats: the broker's answer
            if self._assignments != epoch:
                break  # assigned again meanwhile: the state was dropped, to be rebuilt; the doubt is over
            if self._lost(before):
                return self._fence(gap)
            await self._sleep(_STEP)
        if self._assignments == epoch and self._lost(before):
            return self._fence(gap)
        log.warning("still a member of the group after standing still: carrying on")
        self._health.clear_problem(_CAUSE)
        self._doubt = 0.0
        self.stamp()  # the loop ran while it waited
        return True

    def _lost(self, before: int | None) -> bool:
        """The consumer's generation was reset (``-1``: not a member) or changed (the group moved on)."""
        now = self._generation()
        return now == -1 or (now is not None and before is not None and now != before)

    def _fence(self, gap: float) -> bool:
        self._fenced = True
        self._doubt = 0.0
        self._health.set_problem(_CAUSE, f"lost group membership after standing still {gap:.1f}s; rejoining")
        log.warning("lost group membership: nothing is written or published until partitions are assigned again")
        return False
