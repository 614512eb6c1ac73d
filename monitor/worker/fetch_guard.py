"""Records the consumer fetched and never handed to the worker are read again.

faust drops fetched records without handing them to the worker in several
places: a rebalance or a held flow in the middle of a fetched batch, a
partition that is not active yet, an event of an older consumer generation.
The consumer's position has already moved past them, so nothing reads them
again until the next rebalance: the worker sits idle with work left on the
broker (seen on the embedded broker after a worker joins a group in which a
dead or frozen member is still registered, for minutes). And after quick
successive rebalances faust can leave a partition paused: nothing is fetched
at all while the broker holds records for it. The offsets it
commits stay behind them (the monitor acknowledges only what the intake
handled), so nothing is lost for good; it is only late, which for a
compliance monitor is the same as lost.

The guard compares, for each assigned partition, the consumer's position with
the next offset the worker expects to handle (one past the last record it
handled, or the group's committed offset if that is further). A position
ahead of it, or a broker end offset ahead of it with nothing fetched, while
the worker sits idle (waiting for its next record, having handled no data
record for ``patience`` seconds: its own ticks do not count) means records
were dropped between the fetch and the intake: the guard seeks the partition
back to the expected offset. Reading a record twice is safe
(events are applied once, by event id); never reading it is not.

Records can also be dropped in the middle of a partition while the worker is
busy: the next record it is handed is then further on than the one it
expects (one past the last it handled since the partition was assigned, or
the first offset not committed yet). The worker asks ``gap_before`` for each
record; the guard names the first missing offset, the worker leaves the
record unacknowledged and the guard seeks back to the missing one (again
if it has not come a second later). Events are applied in the order of
their partition, and the commit never covers the hole
(``monitor.kafka.positions.commit_run``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import NamedTuple

from monitor.background import Background

__all__ = ["FetchGuard", "Partition"]

log = logging.getLogger(__name__)


class Partition(NamedTuple):
    """A topic-partition (faust's ``TP`` has the same shape)."""

    topic: str
    partition: int


class _Gap(NamedTuple):
    since: float  # when the position was first seen ahead of ``expected``
    expected: int


class FetchGuard:
    """Seeks back a partition whose records were fetched and never handed over.

    Args:
        assigned: The partitions the consumer is assigned now.
        position: The consumer's position in a partition (the next offset it fetches), ``None`` if unknown.
        floor: The first offset of a partition not committed yet (or where reading started), ``None`` if unknown.
        end: The broker's end offset of a partition (one past its last record), ``None`` if unknown.
        seek: Makes the consumer fetch a partition from an offset (and resumes it, if it was paused).
        can_check: Whether the consumer is steady (no rebalance, recovery or held flow under way).
        clockwork: Topics of the worker's own periodic records (ticks): handling them is not work.
        on_rewind: Told of each seek: (partition, position, offset sought).
        patience: Seconds the worker must have handled nothing, and the gap persisted, before a seek.
        interval: Seconds between checks.
        monotonic: The clock.
        sleep: How to wait.
    """

    def __init__(
        self,
        *,
        assigned: Callable[[], Iterable[Partition]],
        position: Callable[[Partition], Awaitable[int | None]],
        floor: Callable[[Partition], int | None],
        end: Callable[[Partition], Awaitable[int | None]],
        seek: Callable[[Partition, int], Awaitable[None]],
        can_check: Callable[[], bool],
        clockwork: Iterable[str] = (),
        on_rewind: Callable[[Partition, int, int], None] = lambda tp, position, offset: None,
        patience: float = 5.0,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._assigned = assigned
        self._position = position
        self._floor = floor
        self._end = end
        self._seek = seek
        self._can_check = can_check
        self._clockwork = frozenset(clockwork)
        self._on_rewind = on_rewind
        self._patience = patience
        self._interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: dict[Partition, int] = {}  # one past the last record handled since the assignment
        self._rewinding: dict[Partition, tuple[int, float]] = {}  # sought back to this offset (when), not handled yet
        self._busy_at = monotonic()  # when the worker last handled a record
        self._working = False  # a record is being handled now (which may take long: a takeover)
        self._gaps: dict[Partition, _Gap] = {}
        self._task = Background("fetch-guard", self._run)

    def handling(self) -> None:
        """The worker took a record and is handling it."""
        self._working = True

    def reset(self) -> None:
        """Partitions were assigned: the consumer reads each from its committed offset again."""
        self._next.clear()
        self._rewinding.clear()
        self._gaps.clear()

    def handled(self, tp: Partition | None = None, offset: int = -1) -> None:
        """The worker is done with a record (at ``offset`` in ``tp``, whatever became of it).

        Without ``tp``: it took a record and left it (to be read again, or to another worker).
        """
        if tp is not None and offset + 1 > self._next.get(tp, 0):
            self._next[tp] = offset + 1
            rewinding = self._rewinding.get(tp)
            if rewinding is not None and rewinding[0] <= offset:
                del self._rewinding[tp]
        self._working = False
        if tp is None or tp.topic not in self._clockwork:  # a tick a second must not look like work
            self._busy_at = self._monotonic()

    def placed(self, tp: Partition) -> bool:
        """Whether the worker knows where ``tp`` must be read from (a record handled, or its committed offset).

        Not between an assignment and faust's seek to the committed offsets:
        a record handed over then cannot be checked for order, and the seek
        reads it again.
        """
        return tp in self._next or self._floor(tp) is not None

    def handled_through(self, tp: Partition) -> int | None:
        """One past the last record of ``tp`` handled since the partition was assigned (``None``: none yet).

        Records are handled in partition order (``gap_before`` turns away one
        past a hole), so every offset below it was handled: a commit may go
        this far and no further.
        """
        return self._next.get(Partition(*tp))

    def expected(self, tp: Partition) -> int:
        """The next offset the worker expects to handle in ``tp``."""
        return max(self._next.get(tp, 0), self._floor(tp) or 0)

    def gap_before(self, tp: Partition, offset: int) -> int | None:
        """The first offset of ``tp`` the worker has not handled, if records before ``offset`` were dropped."""
        expected = self._next.get(tp, self._floor(tp))
        return expected if expected is not None and offset > expected else None

    async def rewind(self, tp: Partition, offset: int, position: int) -> bool:
        """Seek ``tp`` back to ``offset`` (the consumer handed over ``position``); whether it did.

        Records fetched before the seek still arrive after it, each one further
        on than ``offset``: the seek is repeated only if ``offset`` has not come
        within ``interval`` seconds.
        """
        now = self._monotonic()
        rewinding = self._rewinding.get(tp)
        if rewinding is not None and rewinding[0] == offset and now - rewinding[1] < self._interval:
            return False
        why = f"the worker was handed offset {position}, and records from offset {offset} on never reached it"
        try:
            await self._seek_back(tp, position, offset, why)
        except Exception as exc:  # the partition moved meanwhile: its next reader starts at the committed offset
            log.info("could not read %s[%d] again from %d: %r", tp.topic, tp.partition, offset, exc)
            return False
        self._rewinding[tp] = (offset, now)
        return True

    async def _seek_back(self, tp: Partition, position: int, offset: int, why: str) -> None:
        log.warning("%s[%d]: %s; reading again from %d", tp.topic, tp.partition, why, offset)
        await self._seek(tp, offset)
        self._on_rewind(tp, position, offset)

    async def check(self) -> list[Partition]:
        """Look once; seek back every partition whose gap outlasted the patience; return them."""
        now = self._monotonic()
        if not self._can_check():
            self._gaps.clear()  # a group on the move sets positions of its own
            return []
        idle = not self._working and now - self._busy_at >= self._patience  # at work, it may have them queued
        rewound: list[Partition] = []
        for tp in sorted(set(self._assigned())):
            expected = self.expected(tp)
            position = await self._look(self._position, tp)
            if position is not None and position > expected:
                why = f"the consumer is at offset {position}: records were fetched and never handed over"
            elif idle and (end := await self._look(self._end, tp)) is not None and end > expected:
                fetching = "has no position" if position is None else "fetches none (left paused)"
                why = f"the broker holds records up to offset {end} and the consumer {fetching}"
            else:
                self._gaps.pop(tp, None)
                continue
            gap = self._gaps.get(tp)
            if gap is None or gap.expected != expected:
                self._gaps[tp] = _Gap(now, expected)
                continue
            if not idle or now - gap.since < self._patience:
                continue
            if not self._can_check():  # the group moved while we looked: the new positions are its own
                self._gaps.clear()
                return rewound
            await self._seek_back(
                tp,
                expected if position is None else position,
                expected,
                f"the worker has handled nothing from offset {expected} on, and {why}",
            )
            del self._gaps[tp]
            rewound.append(tp)
        return rewound

    @staticmethod
    async def _look(ask: Callable[[Partition], Awaitable[int | None]], tp: Partition) -> int | None:
        """An offset of ``tp`` from the consumer or the broker; ``None`` if it cannot say now.

        One partition that cannot answer (its position is being reset, a
        request timed out) must not keep the others from being looked at.
        """
        try:
            return await ask(tp)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("fetch guard could not look at %s[%d]: %r", tp.topic, tp.partition, exc)
            return None

    def start(self) -> None:
        """Check every ``interval`` seconds in the background."""
        self._task.start()

    async def stop(self) -> None:
        """Stop checking."""
        await self._task.stop()

    async def _run(self) -> None:
        while True:
            await self._sleep(self._interval)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the consumer is busy or gone: the next look decides
                log.debug("fetch guard could not look: %r", exc)
