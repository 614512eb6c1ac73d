"""The worker's intake: each record fetched, checked and passed on, in order.

It takes the records of the ingress topics from the lane (``monitor.worker.lane``),
a partition's records of a fetch at a time, and handles them in order, in its
own task: consecutive records of a data topic go to the processor together,
a run at a time (``Processor.on_records``: each unit staged once, the counts
once), when every check below passes for the first of them; a tick, or a
record that does not pass, goes alone.

A record reaches the processor (or, a tick, the processor and the takeover)
only once it passes, in this order:

1. **fence**: the worker still holds its group membership (``Membership``);
   if not, what it has not made durable is forgotten and the record left, for
   the partitions' next owner to redo from the changelog;
2. **assignment**: its partition is still assigned to this worker (it may
   have moved while the record waited);
3. **order**: the fetch guard knows where the partition is read from, and no
   record before it was dropped on the way (``FetchGuard.gap_before``; if one
   was, the partition is read again from there);
4. **takeover**: on a partition's first record after an assignment, the
   rules and publishers topics are read to their ends (``before_takeover``),
   then the partition is taken over (``Takeover.settle``).

A record left is not acknowledged: the consumer fetches it again. One that
fails in the processor is dead-lettered; the worker goes on. One that fails
because the local store is damaged is left instead, and the store's
partitions are rebuilt from their changelogs before the next record, as
they are when the data directory is removed under the worker
(``monitor.worker.repair``); then the state in memory is dropped and the
records since the last commit are read again, as after a lost fence.

Between two records (holding ``between``) the checkpoint runs, and after an
assignment the state in memory is dropped, to be read again from the store.
The checkpoint runs on a timer, and as soon as every record fetched is
handled (``when_idle``): a record that comes alone has its alerts published
at once, while records that come in a burst still share one checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from prometheus_client import Histogram

from monitor.clock import Clock
from monitor.exceptions import Fenced, StoreUnavailable
from monitor.kafka.records import InboundRecord
from monitor.metrics import observe_all
from monitor.state.rocks import is_broken
from monitor.worker.fetch_guard import FetchGuard, Partition
from monitor.worker.lane import Fetched, IngressLane
from monitor.worker.membership import Membership
from monitor.worker.positions import ConsumerPositions
from monitor.worker.processor import Processor
from monitor.worker.repair import CORRUPT, DATA_DIR_REMOVED, StoreRepair
from monitor.worker.takeover import Takeover

__all__ = ["Intake"]

log = logging.getLogger(__name__)

#: Turns of the event loop the intake with nothing queued waits for the fetch loop to offer the next batch.
_HANDOVER_TURNS = 8
#: Seconds of records the intake handles at most before it lets the event loop turn (the web server, the
#: followers, the timers): records of one event rarely wait on anything, and a fetch holds hundreds.
TURN_EVERY = 0.005
#: A run of consecutive records of a partition handed to the processor at once (``Processor.on_records``): at
#: most this many records, of at most this many bytes together (a record of 500 events goes alone).
RUN_RECORDS = 64
RUN_BYTES = 64 * 1024


def _headers(raw: Any) -> tuple[tuple[str, bytes], ...]:
    if not raw:
        return ()
    items = raw.items() if isinstance(raw, dict) else raw
    return tuple((str(k), bytes(v or b"")) for k, v in items)


def _inbound(message: Any) -> InboundRecord:
    """A fetched record (faust's ``Message``) as the processor takes it."""
    return InboundRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=_headers(message.headers),
        timestamp=message.timestamp,
    )


class Intake:
    """Hands each record fetched to the processor, once it may be handled here and now.

    Args:
        between: Held while a record is handled or a checkpoint runs (its holder is between two records).
        positions: The consumer (the partitions assigned; a record left, records forgotten).
        fetch_guard: Checks the order records arrive in.
        membership: The zombie fence.
        takeover: Takes a partition over on its first record after an assignment.
        processor: Applies records and ticks to the units' state.
        before_takeover: Run in order before a partition is taken over, each given how many assignments
            there have been (the rules topic, then the publishers topic, read to their ends once per assignment).
        tick: Ticks every owned partition now.
        ticks_topic: The topic of wall-clock ticks.
        partitions: The data topics' partition count, when the consumer does not know it.
        clock: The wall clock.
        when_idle: Run once every record fetched so far is handled (the checkpoint, between records).
        repair: Rebuilds the local store's partitions when it breaks (``None``: a failing read dead-letters its
            record, as any fault).
        record_wait: Observes, by topic, how long each record waited from its timestamp to its handling.
    """

    def __init__(
        self,
        *,
        between: asyncio.Lock,
        positions: ConsumerPositions,
        fetch_guard: FetchGuard,
        membership: Membership,
        takeover: Takeover,
        processor: Processor,
        before_takeover: Sequence[Callable[[int], Awaitable[object]]],
        tick: Callable[[], Coroutine[Any, Any, None]],
        ticks_topic: str,
        partitions: int,
        clock: Clock,
        when_idle: Callable[[], Awaitable[object]] | None = None,
        repair: StoreRepair | None = None,
        record_wait: Histogram | None = None,
    ) -> None:
        self._between = between
        self._record_wait = record_wait
        self._repair = repair
        self._damaged: str | None = None  # why the local store failed a read, until its partitions are rebuilt
        self._positions = positions
        self._fetch_guard = fetch_guard
        self._membership = membership
        self._takeover = takeover
        self._processor = processor
        self._before_takeover = tuple(before_takeover)
        self._tick = tick
        self._ticks_topic = ticks_topic
        self._partitions = partitions
        self._clock = clock
        self._when_idle = when_idle
        self._assignments = 0  # partitions assigned so far
        self._reassigned = False  # partitions were assigned; the intake has not dropped the old state yet
        self._assigned_tick: asyncio.Task[None] | None = None
        self._drop_task: asyncio.Task[None] | None = None
        self._lane: IngressLane | None = None  # where the records come from, once the intake runs
        self._busy = False  # a batch is being handled

    @property
    def reassigned(self) -> bool:
        """Whether partitions were assigned and the state from before is not dropped yet (nothing may answer)."""
        return self._reassigned

    def records_waiting(self) -> bool:
        """Whether records were fetched that the intake has not handled: queued, being handled, or being offered."""
        lane = self._lane
        return lane is not None and (self._busy or lane.waiting() > 0 or self._positions.handing_over())

    async def run(self, lane: IngressLane) -> None:
        """The intake's task: each batch of ``lane``, its records handled in order, each between two records.

        Once every record fetched is handled, ``when_idle`` runs (the checkpoint).
        """
        self._lane = lane
        while True:
            batch = await lane.take()
            self._busy = True
            try:
                await self._handle_batch(lane, batch)
            except Exception:  # never the end of the intake: the batch's rest is read again (a hole, ``FetchGuard``)
                log.exception("failed to handle records of %s[%d]", batch.tp.topic, batch.tp.partition)
            finally:
                self._busy = False
            if self._when_idle is not None and await self._idle(lane):
                await self._when_idle()

    async def _handle_batch(self, lane: IngressLane, batch: Fetched) -> None:
        """Handle a partition's records of one fetch in order, a run at a time, each tracked then acknowledged."""
        turn_at = time.perf_counter() + TURN_EVERY
        waited: list[float] = []  # each record's wait, from its timestamp to its handling
        messages = batch.messages
        at = 0
        try:
            while at < len(messages):
                if time.perf_counter() >= turn_at:
                    await asyncio.sleep(0)
                    turn_at = time.perf_counter() + TURN_EVERY
                run, at = self._next_run(lane, messages, at)
                if not run:
                    break
                for message in run:
                    lane.track(message)
                    if message.timestamp:
                        waited.append(max(0.0, time.time() - message.timestamp))
                try:
                    async with self._between:
                        await self.handle_run(run)
                except BaseException:
                    for message in run:
                        lane.left(message)
                    raise
                for message in run:
                    lane.done(message)
            lane.heard(batch.tp)
        finally:
            if waited and self._record_wait is not None:
                observe_all(self._record_wait.labels(batch.tp.topic), waited)

    def _next_run(self, lane: IngressLane, messages: Sequence[Any], at: int) -> tuple[list[Any], int]:
        """The records from ``at`` on to hand over together, and where the next run begins.

        A run is consecutive offsets of a data topic, at most ``RUN_RECORDS``
        records of ``RUN_BYTES``; a tick goes alone. Records fetched before a
        rebalance are passed over: the partition's owner reads them again.
        """
        while at < len(messages) and not lane.may_hand(messages[at]):
            at += 1
        if at == len(messages):
            return [], at
        run = [messages[at]]
        at += 1
        if run[0].topic == self._ticks_topic:
            return run, at
        size = len(run[0].value or b"")
        while at < len(messages) and len(run) < RUN_RECORDS:
            message = messages[at]
            size += len(message.value or b"")
            if size > RUN_BYTES or message.offset != run[-1].offset + 1 or not lane.may_hand(message):
                break
            run.append(message)
            at += 1
        return run, at

    async def _idle(self, lane: IngressLane) -> bool:
        """Whether every record fetched has been handled: none waits, and the fetch loop is not offering more.

        While it is, the loop turns (a few times at most) until the next batch comes or the fetch is done.
        """
        for _ in range(_HANDOVER_TURNS):
            if lane.waiting():
                return False
            if not self._positions.handing_over():
                return True
            await asyncio.sleep(0)
        return not lane.waiting()

    async def on_assigned(self, *args: Any, **kwargs: Any) -> None:
        """Partitions were assigned (faust's signal): every partition's state is to be read again."""
        # State in memory is valid only while this worker owned a partition without a break, and a
        # worker cannot tell a kept partition from one another worker held meanwhile (it was frozen,
        # or cut off): every partition is read again from the local store, which faust has brought
        # up to date with the changelog, before anything is evaluated, published or answered.
        # The intake may be in the middle of a record (faust calls this between its awaits): its
        # staged writes and outbox must reach the store before the state is dropped, so the drop
        # happens at the intake's next record boundary (``_reread_if_assigned``).
        self._membership.assigned()
        self._reassigned = True
        self._assignments += 1
        if not self._positions.assigned():  # no record will come to drop the old state: drop it once between records
            self._drop_task = asyncio.get_running_loop().create_task(self._drop_when_idle(), name="drop-old-state")
        # Tick the new partitions now rather than at the next interval: their units are
        # read into memory and reconciled on their first record, and only then is the worker ready.
        self._assigned_tick = asyncio.get_running_loop().create_task(self._tick(), name="tick-on-assignment")

    async def checkpoint(self, run: Callable[[], Awaitable[object]]) -> bool:
        """Run the checkpoint between records; whether it ran to its end.

        Not after an assignment until the intake has dropped the state from
        before it (that state is read again); a fenced worker forgets what it
        has not made durable; a failing store leaves it staged.
        """
        if self._reassigned:
            return False
        async with self._between:
            if self._reassigned:
                return False
            try:
                await run()
            except Fenced:
                self._forget_unflushed()
                return False
            except StoreUnavailable as exc:
                if self._repair is not None and is_broken(exc):  # rebuilt before the next record
                    self._damaged = str(exc)
                    self._forget_unflushed()
                return False
        return True

    async def handle_run(self, run: Sequence[Any]) -> None:
        """Handle consecutive records of a partition (call holding ``between``): together as far as they may be.

        They go to the processor together once the partition is taken over
        and every check passes for the first (the others follow it without a
        gap, in the same turn of the event loop), as far as they are all
        caught up or all not; a record that may not goes alone, and the
        rest are tried together again. After a fault in handling them
        together (an event's evaluation, a send the broker refused), the
        rest go one at a time: the record that has it then costs its own.
        """
        while run:
            taken = await self._handle_together(run) if len(run) > 1 else 0
            if taken is None:
                for message in run:
                    await self.handle(message)
                return
            if not taken:
                await self.handle(run[0])
                taken = 1
            run = run[taken:]

    async def _handle_together(self, run: Sequence[Any]) -> int | None:
        """Hand the first records of ``run`` to the processor at once; how many were handled.

        0: the first may not go with the others (it goes alone); ``None``: a fault in their handling left
        nothing of them (they go one at a time).
        """
        first = run[0]
        partition = first.partition
        self._reread_if_assigned()
        tp = Partition(first.topic, partition)
        if (
            self._damaged is not None
            or partition not in self._positions.assigned()
            or not self._fetch_guard.placed(tp)
            or self._fetch_guard.gap_before(tp, first.offset) is not None
            or not self._takeover.is_settled(partition)
        ):
            return 0  # alone: left, read again or taken over as it needs
        catching_up = not self._takeover.has_read_backlog(partition)
        if catching_up:
            below = self._takeover.catching_up_below(first.topic, partition)
            run = [message for message in run if below is not None and message.offset < below]
            if len(run) < 2:
                return 0
        last = run[-1]
        now = self._clock()
        records = [_inbound(message) for message in run]
        self._fetch_guard.handling()
        try:
            if not await self._membership.may_act():
                raise Fenced("lost group membership")
            partitions = self._positions.partition_count(first.topic) or self._partitions
            if not await self._processor.on_records(records, partitions, now, catching_up=catching_up):
                return None
        except Exception as exc:  # records that fail must never stop the worker
            if self._left_after(exc, run):
                return len(run)
            log.exception("failed to process %s[%d]@%d-%d", first.topic, partition, first.offset, last.offset)
            for record in records:
                await self._reject_after_fault(record, exc)
        self._fetch_guard.handled(tp, last.offset)
        self._takeover.handled(last.topic, partition, last.offset)
        return len(run)

    async def handle(self, message: Any) -> None:
        """Handle one record fetched (call holding ``between``)."""
        now = self._clock()
        record = _inbound(message)
        is_tick = record.topic == self._ticks_topic
        self._reread_if_assigned()
        if self._damaged is not None and self._repair is not None:
            why, self._damaged = self._damaged, None
            await self._rebuild(self._repair.damaged(self._positions.assigned()), why, cause=CORRUPT)
        self._fetch_guard.handling()
        tp = Partition(record.topic, record.partition)
        try:
            if not await self._membership.may_act():
                raise Fenced("lost group membership")
            if record.partition not in self._positions.assigned():  # it moved while the record waited: its owner has it
                self._leave(message)
                return
            if not self._fetch_guard.placed(tp):  # before the seek to the committed offset: it comes again
                self._leave(message)
                return
            missing = self._fetch_guard.gap_before(tp, record.offset)
            if missing is not None:  # records before it never reached the intake: read them first
                self._leave(message)
                await self._fetch_guard.rewind(tp, missing, record.offset)
                return
            partitions = self._positions.partition_count(record.topic) or self._partitions
            if not self._takeover.is_settled(record.partition):
                for catch_up in self._before_takeover:
                    await catch_up(self._assignments)
                await self._takeover.settle(record.partition, self._positions.assigned(), partitions, now)
                self._membership.excuse()  # reading the state was our own work: the consumer kept heartbeating
                if self._reassigned or record.partition not in self._positions.assigned():
                    # Partitions were assigned while this one was being read: what was read may predate the
                    # assignment. The record comes again, after the state is dropped and read anew.
                    self._leave(message)
                    return
            if is_tick:
                if self._takeover.has_read_backlog(record.partition):  # absence is judged only once it is read
                    await self._processor.on_tick(record.partition, partitions, now)
                await self._takeover.on_tick(record.partition, now)
            else:
                catching_up = not self._takeover.has_read_backlog(record.partition)
                await self._processor.on_record(record, partitions, now, catching_up=catching_up)
        except Exception as exc:  # one bad record must never stop the worker
            if self._left_after(exc, [message]):
                return
            log.exception("failed to process %s[%d]@%d", record.topic, record.partition, record.offset)
            if not is_tick:
                await self._reject_after_fault(record, exc)
        self._fetch_guard.handled(tp, record.offset)
        if not is_tick:
            self._takeover.handled(record.topic, record.partition, record.offset)

    def _left_after(self, exc: Exception, messages: Sequence[Any]) -> bool:
        """Leave ``messages`` if ``exc`` says the worker, not they, failed; whether it did.

        Fenced: the partitions' next owner redoes them, from state rebuilt from the changelog. A damaged
        store: rebuilt before the next record, then they are read again.
        """
        if isinstance(exc, Fenced):
            pass
        elif self._repair is not None and is_broken(exc):
            first = messages[0]
            log.error("the local state store failed a read of %s[%d]: %s", first.topic, first.partition, exc)
            self._damaged = f"the local state store is damaged ({exc})"
        else:
            return False
        self._forget_unflushed()
        for message in messages:
            self._leave(message)
        return True

    async def watch_store(self) -> None:
        """Rebuild the owned partitions' stores from their changelogs if the data directory was removed (a timer)."""
        lost = self._repair.lost() if self._repair is not None else None
        if lost is not None:
            async with self._between:
                await self._rebuild(*lost, cause=DATA_DIR_REMOVED)

    async def _rebuild(self, partitions: set[int], why: str, *, cause: str) -> None:
        """Rebuild the stores of ``partitions`` (holding ``between``); the units are read again, the records redone."""
        assert self._repair is not None
        self._forget_unflushed()
        self._takeover.reset()
        await self._repair.rebuild(partitions, cause, why)

    def _leave(self, message: Any) -> None:
        """The intake leaves a record: it is not acknowledged, and is read again (here or elsewhere)."""
        self._positions.skip(message)
        self._fetch_guard.handled()

    async def _reject_after_fault(self, record: InboundRecord, exc: Exception) -> None:
        """Dead-letter a record whose handling failed; a failure to do even that is logged, never raised.

        Raised, it would end the record's batch: the rest of it read again, the record itself too.
        """
        try:
            await self._processor.reject(record, f"internal error: {type(exc).__name__}: {exc}")
        except Exception:
            log.exception(
                "could not dead-letter %s[%d]@%d (%d bytes)",
                record.topic,
                record.partition,
                record.offset,
                len(record.value or b""),
            )

    def _forget_unflushed(self) -> None:
        """Drop the state in memory, durable or not; the records handled since the last commit are read again.

        The consumer forgets that it handled them, and the fetch guard, reset,
        seeks each partition back to its committed offset at its next record.
        """
        self._processor.keep(set())
        self._positions.forget()
        self._fetch_guard.reset()

    async def _drop_when_idle(self) -> None:
        async with self._between:
            self._reread_if_assigned()

    def _reread_if_assigned(self) -> None:
        """At a record boundary after an assignment: drop every partition's state, to be read again."""
        if self._reassigned:
            self._reassigned = False
            self._fetch_guard.reset()
            self._takeover.reset()
            self._processor.keep(set())
