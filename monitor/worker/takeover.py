"""Taking a partition over: the alerts topic made to agree with the state, each alert once.

Kafka without transactions cannot write an alert record and the state that
remembers it atomically, so a worker that takes a partition over (after a
crash, a rebalance, a restart) may find two pictures:

- *a lost alert*: the state holds a firing alert the topic does not show
  (the previous owner wrote its state, then died before the record left).
  It is re-published at once.
- *a suspect*: the topic shows an alert firing that the state does not hold.
  Either its resolution was lost (the state resolved it, the record never
  left), or the previous owner died after publishing it and before writing
  the state, and redoing its uncommitted records will bring it back. Only
  waiting tells the two apart: once a grace period has passed and every
  record the broker had for the partition is redone, a suspect the state
  still lacks is resolved on the topic (``resolution: reconciled``).

Everything here is driven by the worker's stream (``settle`` on a
partition's first record, ``on_tick`` on each tick); the clock that times
the grace period is injected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from monitor.worker.outbox import AlertWriter
from monitor.worker.processor import Processor
from rules.alerts import AlertTransition
from rules.engine import restate
from rules.pack import RulePack

__all__ = ["Takeover", "behind_or_level"]

log = logging.getLogger(__name__)

#: The broker's end offset of a topic-partition, or ``None`` when it is not known yet.
Highwater = Callable[[str, int], int | None]

_STAGE_ORDER = {"due_soon": 1}  # every other stage (overdue, breach, stale) is a rule's last word


def behind_or_level(stage: str, published: tuple[str, str, str] | None) -> bool:
    """Whether the topic's last record already says firing at ``stage`` or a later one.

    A worker that takes a partition over may hold state older than what the
    previous owner published (its last state write was lost): re-publishing
    that older stage would step the alert back, then forward again.
    """
    if published is None or published[0] != "firing":
        return False
    return _STAGE_ORDER.get(published[1], 2) >= _STAGE_ORDER.get(stage, 2)


class Takeover:
    """Reconciles each newly owned partition with the alerts topic.

    Args:
        pack: The rules (to restate a lost alert).
        processor: Holds the partition's units in memory.
        writer: Writes alert transitions once, through the ledger.
        catch_up: Waits until the ledger has read the alerts topic to its end.
        highwater: The broker's end offset of a data topic-partition.
        data_topics: The topics whose records the previous owner may have left undone.
        grace: Seconds to wait before a suspect may be resolved.
        monotonic: The clock that times the grace period.
    """

    def __init__(
        self,
        pack: RulePack,
        processor: Processor,
        writer: AlertWriter,
        *,
        catch_up: Callable[[], Awaitable[object]],
        highwater: Highwater,
        data_topics: Sequence[str],
        grace: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pack = pack
        self._processor = processor
        self._writer = writer
        self._catch_up = catch_up
        self._highwater = highwater
        self._data_topics = tuple(data_topics)
        self._grace = grace
        self._monotonic = monotonic
        self._settled: set[int] = set()  # partitions reconciled since the last rebalance
        self._suspects: dict[int, tuple[float, set[str]]] = {}  # partition → (taken over at, fingerprints)
        self._handled: dict[tuple[str, int], int] = {}  # last offset handled per data topic-partition

    def reset(self) -> None:
        """Partitions may have moved (a rebalance): check each against the topic again."""
        self._settled.clear()
        self._suspects.clear()

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
        """Take ``partition`` over: read every newly owned partition's units, reconcile this one."""
        await self._catch_up()
        self._processor.load(owned | {partition}, partitions)  # every new partition, in one pass
        _, suspects = await self.reconcile(partition, partitions, now)
        if suspects:
            self._suspects[partition] = (self._monotonic(), suspects)
        self._settled.add(partition)

    async def on_tick(self, partition: int, now: datetime) -> int:
        """Resolve the partition's suspects once the records the previous owner left are redone.

        Redone means: the grace period has passed and, for each data topic,
        the last record handled is the last one the broker reported. Returns
        how many suspects were resolved.
        """
        entry = self._suspects.get(partition)
        if entry is None:
            return 0
        since, suspects = entry
        if self._monotonic() - since < self._grace:
            return 0
        for topic in self._data_topics:
            done = self._handled.get((topic, partition))
            end = self._highwater(topic, partition)
            if done is not None and end is not None and done + 1 < end:
                return 0
        del self._suspects[partition]
        return await self.resolve_unheld(partition, suspects, now)

    async def reconcile(self, partition: int, partitions: int, now: datetime) -> tuple[int, set[str]]:
        """Publish what the topic lacks; return how many records that took, and the suspects.

        First the outbox: transitions made durable with the state but not
        confirmed on the topic, published exactly as they were evaluated.
        Then firing alerts the state holds and the topic does not show
        (restated). What the topic shows firing and the state does not hold
        is left as a suspect.
        """
        self._processor.load({partition}, partitions)
        fixed = await self._processor.publish(partition)
        ledger = self._writer.ledger
        lost = [
            restate(self._pack, alert)
            for state in self._processor.partition_states(partition)
            for alert in state.alerts.values()
            if not behind_or_level(alert.stage, ledger.last(alert.fingerprint))
        ]
        restated = await self._writer.write(lost)
        if restated:
            log.warning("partition %d: %d firing alerts re-published to match the state", partition, restated)
        return fixed + restated, {t.fingerprint for t in self._unheld(partition)}

    async def resolve_unheld(self, partition: int, suspects: set[str], now: datetime) -> int:
        """Resolve the suspects that the topic still shows firing and the state still does not hold."""
        resolutions = []
        for last in self._unheld(partition):
            if last.fingerprint in suspects:
                annotations = {**last.annotations, "resolution": "reconciled"}
                update = {"status": "resolved", "ends_at": max(now, last.starts_at), "annotations": annotations}
                resolutions.append(last.model_copy(update=update))
        fixed = await self._writer.write(resolutions)
        if fixed:
            log.warning("partition %d: %d alerts the state no longer holds resolved on the topic", partition, fixed)
        return fixed

    def _unheld(self, partition: int) -> list[AlertTransition]:
        """Last records saying firing, for alerts of the partition's units that the state does not hold."""
        states = self._processor.partition_states(partition)
        holding = {fp for state in states for fp in state.alerts}
        return [t for t in self._writer.ledger.firing_in({s.unit_id for s in states}) if t.fingerprint not in holding]
