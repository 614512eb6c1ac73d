"""Taking a partition over: the alerts topic made to agree with the state, each alert once.

State and outbox are durable before an alert is published (``monitor.state.store``),
so the next owner of a partition first publishes what the outbox holds: the
transitions the previous owner made durable and did not see confirmed, exactly
as they were evaluated. Then it compares the state with the topic. They may
still disagree, because the previous owner's last batch may be durable only in
part (it died while the changelog took it) and redoing its uncommitted records
completes it:

- *the state holds a firing alert the topic does not show* (or shows resolved);
- *the topic shows an alert firing that the state does not hold.*

Both are *suspects*, decided only once a grace period has passed and every
record the broker had for the partition is redone: then the state is the
truth, and what still differs is published once — a firing alert restated
(``reconciled: true``), an alert the state no longer holds resolved
(``resolution: reconciled``). Redoing the records settles most of them, with
nothing published twice.

A partition taken over is not judged for what is absent (a task not done
by its deadline, a unit silent for too long, a rostered unit that never
reported) until the records the broker held for it when it was taken over
are read: the events that would have said otherwise may be among them.
``settle`` notes the data topics' end offsets; ``has_read_backlog`` says
when the records up to them are handled.

Everything here is driven by the worker's stream (``settle`` on a
partition's first record, ``on_tick`` on each tick); the clock that times
the grace period is injected.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.kafka.ends import partition_end
from monitor.worker.checkpoint import Checkpoint
from monitor.worker.processor import Processor
from rules.engine import restate
from rules.language import DUE_SOON, RulePack
from rules.state import AlertState, AlertTransition, TransitionKey

__all__ = ["Takeover", "behind_or_level"]

log = logging.getLogger(__name__)

#: The broker's end offset of a topic-partition, or ``None`` when it is not known yet.
Highwater = Callable[[str, int], int | None]
#: The broker's end offset of a topic-partition, asked of the broker now (``None``: it did not say).
EndOffset = Callable[[str, int], Awaitable[int | None]]


async def _unknown_end(topic: str, partition: int) -> int | None:
    return None


_STAGE_ORDER = {DUE_SOON: 1}  # every other stage (overdue, breach, stale) is a rule's last word


def behind_or_level(stage: str, published: TransitionKey | None) -> bool:
    """Whether the topic's last record already says firing at ``stage`` or a later one.

    A worker that takes a partition over may hold state older than what the
    previous owner published (its last state write was lost): re-publishing
    that older stage would step the alert back, then forward again.
    """
    if published is None or published[0] != "firing":
        return False
    return _STAGE_ORDER.get(published[1], 2) >= _STAGE_ORDER.get(stage, 2)


@dataclass(slots=True)
class _Backlog:
    """Where a partition's data topics ended when it was taken over (``Takeover.has_read_backlog``)."""

    since: float  # when it was taken over (monotonic)
    ends: dict[str, int]  # data topic → its end offset
    fetched: set[str]  # the data topics whose end a fetch has reported since


class Takeover:
    """Reconciles each newly owned partition with the alerts topic.

    Args:
        pack: The rules (to restate a lost alert).
        processor: Holds the partition's units in memory.
        checkpoint: Makes staged state durable and publishes its alerts; its writer writes transitions once.
        catch_up: Waits until the ledger has read the alerts topic to its end; whether it did in time.
        highwater: The broker's end offset of a data topic-partition.
        committed: The group's committed offset of a data topic-partition (the next to read), if any.
        end_offset: The broker's end offset of a data topic-partition, asked when a partition is taken over.
        data_topics: The topics whose records the previous owner may have left undone.
        grace: Seconds to wait before a suspect may be resolved.
        monotonic: The clock that times the grace period.
    """

    def __init__(
        self,
        pack: RulePack,
        processor: Processor,
        checkpoint: Checkpoint,
        *,
        catch_up: Callable[[], Awaitable[bool]],
        highwater: Highwater,
        committed: Highwater = lambda topic, partition: None,
        end_offset: EndOffset = _unknown_end,
        data_topics: Sequence[str],
        grace: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pack = pack
        self._processor = processor
        self._checkpoint = checkpoint
        self._writer = checkpoint.writer
        self._catch_up = catch_up
        self._highwater = highwater
        self._committed = committed
        self._end_offset = end_offset
        self._data_topics = tuple(data_topics)
        self._grace = grace
        self._monotonic = monotonic
        self._settled: set[int] = set()  # partitions reconciled since the last rebalance
        self._caught_up = False  # the ledger has read the alerts topic to its end since the last rebalance
        self._suspects: dict[int, tuple[float, set[str]]] = {}  # partition → (taken over at, fingerprints)
        self._handled: dict[tuple[str, int], int] = {}  # last offset handled per data topic-partition
        self._backlog: dict[int, _Backlog] = {}  # partition → where its data topics ended when it was taken over

    def use_pack(self, pack: RulePack) -> None:
        """Restate lost alerts under ``pack`` from now on."""
        self._pack = pack

    def reset(self) -> None:
        """Partitions may have moved (a rebalance): check each against the topic again."""
        self._settled.clear()
        self._caught_up = False
        self._suspects.clear()
        self._backlog.clear()

    def is_settled(self, partition: int) -> bool:
        """Whether the partition was reconciled since the last rebalance."""
        return partition in self._settled

    def all_settled(self, partitions: set[int]) -> bool:
        """Whether every one of ``partitions`` was reconciled since the last rebalance."""
        return partitions <= self._settled

    def suspects(self, partition: int) -> set[str]:
        """The fingerprints of the partition's suspects still waiting."""
        entry = self._suspects.get(partition)
        return set(entry[1]) if entry is not None else set()

    def handled(self, topic: str, partition: int, offset: int) -> None:
        """Note that a data record was handled (one way or the other)."""
        self._handled[(topic, partition)] = offset

    async def settle(self, partition: int, owned: set[int], partitions: int, now: datetime) -> None:
        """Take ``partition`` over: note where its data topics end, read every newly owned partition's units, reconcile it."""
        self._backlog[partition] = await self._ends(partition)
        if not self._caught_up:
            # Once per rebalance, not per partition: what the previous owners published before it is on the
            # topic by now, and since it this worker alone publishes for the partitions it was given.
            self._caught_up = await self._catch_up()  # not read to its end in time: tried again at the next
        self._processor.load(owned | {partition}, partitions)  # every new partition, in one pass
        _, suspects = await self.reconcile(partition, partitions, now)
        if suspects:
            self._suspects[partition] = (self._monotonic(), suspects)
        self._settled.add(partition)

    async def _ends(self, partition: int) -> _Backlog:
        """Where the data topics end for ``partition`` now, as the broker answers ListOffsets."""
        ends: dict[str, int] = {}
        for topic in self._data_topics:
            try:
                end = await self._end_offset(topic, partition)
            except Exception as exc:  # the consumer's fetches still tell (``has_read_backlog``)
                log.warning("partition %d: ListOffsets of %s failed (%s)", partition, topic, exc)
                continue
            if end is not None:
                ends[topic] = end
        return _Backlog(self._monotonic(), ends, set())

    def has_read_backlog(self, partition: int) -> bool:
        """Whether every record the broker held for ``partition`` when it was taken over is handled.

        Until then nothing about the partition's units may be judged from
        absence: the records not read yet may hold the events that say otherwise.
        Where a data topic ends is the larger of the broker's ListOffsets answer
        at the takeover and the end its first fetch after it reported (the
        embedded broker answers ListOffsets with the start of the last record
        batch, not its end). A topic whose end is known neither way after the
        grace period is not waited for.
        """
        backlog = self._backlog.get(partition)
        if backlog is None:
            return True
        if not self._knows_ends(backlog, partition):
            return False
        if any(self._next_offset(topic, partition) < backlog.ends.get(topic, 0) for topic in self._data_topics):
            return False
        del self._backlog[partition]
        held = ", ".join(f"{topic} to offset {end}" for topic, end in backlog.ends.items())
        log.debug("partition %d: read what the broker held when it was taken over (%s)", partition, held or "nothing")
        return True

    def _knows_ends(self, backlog: _Backlog, partition: int) -> bool:
        """Whether where each data topic's backlog ends is known, or no longer waited for (see ``has_read_backlog``)."""
        known = True
        for topic in self._data_topics:
            if topic in backlog.fetched:
                continue
            fetched = self._highwater(topic, partition)
            if fetched is None and self._monotonic() - backlog.since < self._grace:
                known = False  # not fetched yet: its end is not known
                continue
            backlog.fetched.add(topic)
            end = partition_end(backlog.ends.get(topic), fetched)
            if end is not None:
                backlog.ends[topic] = end
        return known

    def catching_up_below(self, topic: str, partition: int) -> int | None:
        """The offset of ``topic`` below which the partition's records are still caught up, as far as known now.

        For a partition whose backlog is not read (``has_read_backlog``):
        records of ``topic`` before where its backlog ends are judged at their
        own time, and so are all of them while another data topic's backlog is
        not read (no bound, ``sys.maxsize``). ``None`` while a data topic's
        end is not known yet: each record is then judged alone.
        """
        backlog = self._backlog.get(partition)
        if backlog is None:
            return 0
        if not self._knows_ends(backlog, partition):
            return None
        for other in self._data_topics:
            if other != topic and self._next_offset(other, partition) < backlog.ends.get(other, 0):
                return sys.maxsize
        return backlog.ends.get(topic, 0)

    async def on_tick(self, partition: int, now: datetime) -> int:
        """Decide the partition's suspects once the records the previous owner left are redone.

        Redone means: the grace period has passed and, for each data topic,
        the next offset to handle (one past the last record handled, or the
        group's committed offset if that is further) is the broker's end
        offset. Returns how many records the decision published.
        """
        entry = self._suspects.get(partition)
        if entry is None:
            return 0
        since, suspects = entry
        if self._monotonic() - since < self._grace:
            return 0
        for topic in self._data_topics:
            end = self._highwater(topic, partition)
            if end is not None and self._next_offset(topic, partition) < end:
                return 0
        del self._suspects[partition]
        return await self.decide(partition, suspects, now)

    def _next_offset(self, topic: str, partition: int) -> int:
        done = self._handled.get((topic, partition))
        return max(done + 1 if done is not None else 0, self._committed(topic, partition) or 0)

    async def reconcile(self, partition: int, partitions: int, now: datetime) -> tuple[int, set[str]]:
        """Publish what the outbox holds; return how many records that took, and the suspects.

        Suspects are the fingerprints on which the state and the topic
        disagree: a firing alert the state holds and the topic does not show
        at its stage (or a later one), and one the topic shows firing that the
        state does not hold. ``decide`` settles them once the records are redone.
        """
        self._processor.load({partition}, partitions)
        # Everything staged becomes durable and is published first: the state compared with the
        # topic below is then the durable state (a staged alert is not 'lost', it is on its way).
        fixed = await self._checkpoint.flush()
        return fixed, {alert.fingerprint for alert in self._lost(partition)} | {
            t.fingerprint for t in self._unheld(partition)
        }

    async def decide(self, partition: int, suspects: set[str], now: datetime) -> int:
        """Publish, for the suspects on which state and topic still disagree, what the state says; return how many.

        A firing alert the topic lacks is restated; an alert the topic shows
        firing and the state no longer holds is resolved (``resolution: reconciled``).
        """
        await self._checkpoint.flush()  # compare the topic with the durable state, as in ``reconcile``
        restated = [restate(self._pack, alert) for alert in self._lost(partition) if alert.fingerprint in suspects]
        resolutions = []
        for last in self._unheld(partition):
            if last.fingerprint in suspects:
                annotations = {**last.annotations, "resolution": "reconciled"}
                update = {"status": "resolved", "ends_at": max(now, last.starts_at), "annotations": annotations}
                resolutions.append(last.model_copy(update=update))
        fixed = await self._writer.write([*restated, *resolutions])
        if restated:
            log.warning("partition %d: %d firing alerts re-published to match the state", partition, len(restated))
        if resolutions:
            log.warning(
                "partition %d: %d alerts the state no longer holds resolved on the topic", partition, len(resolutions)
            )
        return fixed

    def _lost(self, partition: int) -> list[AlertState]:
        """Firing alerts the state holds and the topic does not show at their stage or a later one."""
        ledger = self._writer.ledger
        return [
            alert
            for state in self._processor.partition_states(partition)
            for alert in state.alerts.values()
            if not behind_or_level(alert.stage, ledger.last(alert.fingerprint))
        ]

    def _unheld(self, partition: int) -> list[AlertTransition]:
        """Last records saying firing, for alerts of the partition's units that the state does not hold."""
        states = self._processor.partition_states(partition)
        holding = {fp for state in states for fp in state.alerts}
        return [t for t in self._writer.ledger.firing_in({s.unit_id for s in states}) if t.fingerprint not in holding]
