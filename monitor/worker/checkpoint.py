"""The checkpoint: what the records handled so far changed, made durable, published, and only then committed.

One object owns the order, as quix-streams' ``Checkpoint.commit`` does. Its
steps, numbered in ``flush`` and ``commit``:

1. **fence**: a worker that lost its group membership writes nothing
   (``Fenced``); the partitions' next owner redoes the work from the changelog;
2. **durable**: the store's staged writes reach the changelog-backed table,
   one batch per partition, retried with backoff while the store fails (the
   worker is not ready meanwhile, and reads nothing more);
3. **publish**: the alert transitions in the partitions' outboxes that the
   alerts topic lacks are written, and the broker acknowledges them;
4. **confirm**: the outbox entries the topic now holds are removed;
5. **release**: every other record sent (dead letters, re-routed events) is
   acknowledged by the broker; only then may the consumer commit the offsets
   of the records handled.

Steps 1 to 4 also run between records (``flush``): after a record or tick
that leaves enough writes staged, on the worker's flush timer, and when a
partition is taken over. Step 5 runs only before an offset commit
(``commit``). An alert therefore leaves in the checkpoint after the record
that made it, never before its state is durable, and a record's offset is
committed only after both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from monitor.exceptions import Fenced, StoreUnavailable
from monitor.metrics import Metrics
from monitor.state.rocks import is_broken
from monitor.state.store import UnitStore
from monitor.worker.health import Health
from monitor.worker.outbox import AlertWriter
from rules.state import AlertTransition

__all__ = ["Checkpoint", "unpublished"]

log = logging.getLogger(__name__)

_RETRY = (0.1, 5.0)  # first and longest wait between attempts to make state durable, seconds


def unpublished(transitions: list[AlertTransition], last: AlertTransition | None) -> list[AlertTransition]:
    """The transitions of one alert that come after ``last``, the record the topic ends with.

    An outbox entry holds every transition of an alert since it was last
    confirmed; the topic may have some of them already (the worker died after
    publishing, before confirming). Everything after the last one it has is
    what it lacks.
    """
    if last is not None:
        for position in range(len(transitions) - 1, -1, -1):
            if transitions[position] == last:
                return transitions[position + 1 :]
    return transitions


async def _nothing_to_release() -> None:
    return None


class Checkpoint:
    """Makes staged state durable, publishes its alerts, and says when offsets may be committed.

    Args:
        store: Unit state with its staged writes and per-partition outboxes.
        writer: Writes alert transitions once each (its ledger says what the topic holds).
        metrics: The worker's metrics (store failures).
        health: Told when the store fails and recovers.
        may_act: Asked before anything is written or published (the zombie fence); ``False`` raises ``Fenced``.
        release: Waits until every record sent so far is acknowledged (step 5; the producer's flush).
        sleep: How to wait between attempts to make state durable.
    """

    def __init__(
        self,
        store: UnitStore,
        writer: AlertWriter,
        metrics: Metrics,
        *,
        health: Health | None = None,
        may_act: Callable[[], Awaitable[bool]] | None = None,
        release: Callable[[], Awaitable[None]] = _nothing_to_release,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self.writer = writer
        self._metrics = metrics
        self._health = health if health is not None else Health()
        self._may_act = may_act
        self._release = release
        self._sleep = sleep

    async def flush(self, *, retry: bool = True) -> int:
        """Steps 1 to 4: staged writes made durable, then their alerts published and confirmed; how many were published.

        Without ``retry``, a store that fails raises ``StoreUnavailable`` at once (what was staged stays staged).
        One with work to do is timed (``compliance_checkpoint_seconds``).
        """
        began, staged = time.perf_counter(), self._store.staged()
        await self._make_durable(retry=retry)  # 1 and 2
        published = await self.publish(*self._store.outbox_partitions())  # 3 and 4
        if staged or published:
            self._metrics.checkpoint.observe(time.perf_counter() - began)
        return published

    async def commit(self) -> None:
        """Steps 1 to 5, before the consumer commits offsets; raises ``StoreUnavailable`` or ``Fenced`` when it may not."""
        await self.flush(retry=False)
        await self._release()  # 5

    async def publish(self, *partitions: int) -> int:
        """Steps 3 and 4 for the partitions: what their outboxes hold and the topic lacks, published and confirmed.

        Only durable transitions are in an outbox when this runs. A failure to
        publish is logged and left for the next checkpoint: the outbox keeps
        the transitions until the topic has them.
        """
        entries = {p: e for p, e in ((p, self._store.outbox(p)) for p in partitions) if e}
        if not entries:
            return 0
        await self._fence()
        ledger = self.writer.ledger
        todo = [
            t
            for held in entries.values()
            for e in held
            for t in unpublished(e.transitions, ledger.last_before(e.transitions))
        ]
        try:
            written = await self.writer.write(todo)
        except Exception as exc:  # the broker did not take them: the outbox keeps them
            log.warning("partitions %s: %d alert transitions not published yet: %r", sorted(entries), len(todo), exc)
            return 0
        for partition, held in entries.items():
            self._store.confirm(partition, held)
        return written

    async def _make_durable(self, *, retry: bool) -> None:
        """Flush the store, retrying with backoff until it works (or once); the worker is not ready meanwhile."""
        delay = _RETRY[0]
        while True:
            if self._store.staged():
                await self._fence()
            try:
                await self._store.flush()
            except StoreUnavailable as exc:
                self._metrics.store_failures.inc()
                if self._health.set_problem("store", str(exc)):
                    log.error("state store failing, processing paused: %s", exc)
                if not retry or is_broken(exc):  # damaged files never heal: the store is rebuilt (``repair``)
                    raise
                await self._sleep(delay)
                delay = min(delay * 2, _RETRY[1])
                continue
            if self._health.clear_problem("store"):
                log.warning("state store working again; processing resumes")
            return

    async def _fence(self) -> None:
        if self._may_act is not None and not await self._may_act():
            raise Fenced("this worker lost its group membership; the partitions' new owner redoes the work")
