"""The stream adapter: records and ticks in, state and alert transitions out.

This is the only place that turns records into engine calls. It owns no
I/O of its own: state lives behind ``UnitStore`` (faust tables in the worker)
and records leave through ``Outbox`` (the faust producer).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Protocol

from events.codec import decode_record
from events.models import Event
from monitor.ledger import AlertLedger
from monitor.metrics import Metrics
from monitor.records import InboundRecord, partition_for
from monitor.topics import Topics
from rules.alerts import AlertTransition
from rules.engine import Change, Outcome, Result, advance, apply_event, restate, seed
from rules.pack import RulePack
from rules.state import UnitState

__all__ = ["Outbox", "Processor", "UnitStore"]

log = logging.getLogger(__name__)


class UnitStore(Protocol):
    """Unit states, durable item by item, with the owned partitions' units in memory."""

    def is_loaded(self, partition: int) -> bool:
        """Whether the partition's units are in memory."""

    def load(self, partitions: Iterable[int], partition_of: Callable[[str], int]) -> int:
        """Read the units of ``partitions`` from durable storage; return how many items that was."""

    def get(self, unit_id: str) -> UnitState | None:
        """The unit's state, if any."""

    def units(self, partition: int) -> list[str]:
        """The units of a loaded partition."""

    def commit(self, state: UnitState, changed: Iterable[Change], partition: int) -> None:
        """Store the changed parts of the unit's state (in the current record's partition)."""

    def reload(self, unit_id: str) -> None:
        """Drop the in-memory copy of the unit's state for what durable storage holds."""

    def keep(self, partitions: set[int]) -> None:
        """Forget the in-memory units of every partition not in ``partitions``."""


class Outbox(Protocol):
    """Where the processor's records go."""

    async def alert(self, transition: AlertTransition) -> None:
        """Publish an alert transition."""

    async def dead_letter(self, record: InboundRecord, reason: str) -> None:
        """Publish a refused record with the reason."""

    async def forward(self, topic: str, key: bytes, value: bytes) -> None:
        """Re-publish an event keyed by its unit, so it lands in its unit's partition."""


class Processor:
    """Applies records and ticks to unit state through the pure engine."""

    def __init__(
        self,
        pack: RulePack,
        store: UnitStore,
        outbox: Outbox,
        metrics: Metrics,
        topics: Topics,
        max_record_bytes: int,
        ledger: AlertLedger | None = None,
    ) -> None:
        self._pack = pack
        self._ledger = ledger if ledger is not None else AlertLedger()
        self._store = store
        self._outbox = outbox
        self._metrics = metrics
        self._topics = topics
        self._max_record_bytes = max_record_bytes
        self._rostered_by_count: dict[int, dict[int, tuple[str, ...]]] = {}

    async def on_record(self, record: InboundRecord, partitions: int, now: datetime) -> None:
        """Handle one ingress record (which may be a batch of events).

        Args:
            record: The consumed record.
            partitions: How many partitions the record's topic has.
            now: The current instant.

        """
        decoded = decode_record(
            record.value,
            record.headers,
            default_kind=self._topics.kind_of(record.topic),
            max_bytes=self._max_record_bytes,
        )
        if decoded.rejections:
            reason = "; ".join(str(r) for r in decoded.rejections)
            log.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)
            self._metrics.events.labels(record.topic, "rejected").inc(len(decoded.rejections))
            await self._outbox.dead_letter(record, reason)
        self._ensure_loaded(record.partition, partitions)
        # Written once per record: an item a batch changes several times is written once.
        changed: dict[str, tuple[UnitState, set[Change]]] = {}
        seen: dict[str, list[Event]] = {}  # this record's events by unit, in order
        failed: dict[str, str] = {}  # unit → why its events in this record were not applied
        outcomes: list[tuple[Event, Outcome]] = []  # counted once the record is done
        for event in decoded.events:
            key = event.unit_id.encode("utf-8")
            if partition_for(key, partitions) != record.partition:
                # Not in its unit's partition (no key, or another partitioner): send it there.
                await self._outbox.forward(record.topic, key, event.model_dump_json().encode("utf-8"))
                continue
            seen.setdefault(event.unit_id, []).append(event)
            if event.unit_id in failed:
                continue
            pending, parts = changed.get(event.unit_id) or (self._store.get(event.unit_id), set())
            try:
                result = await self._apply(event, pending, now)
            except Exception as exc:  # a fault in evaluation: this unit's events wait in the dead-letter topic
                log.exception("evaluating event %s of %s failed", event.event_id, event.unit_id)
                failed[event.unit_id] = f"internal error: {type(exc).__name__}: {exc}"
                changed.pop(event.unit_id, None)
                self._store.reload(event.unit_id)  # the engine updates in place: drop what it left half-done
                continue
            outcomes.append((event, result.outcome))
            if result.outcome is Outcome.ACCEPTED:
                changed[event.unit_id] = (result.state, parts | result.changed)
        for state, parts in changed.values():
            self._store.commit(state, parts, record.partition)
        for event, outcome in outcomes:
            if event.unit_id in failed:
                continue
            self._metrics.events.labels(record.topic, outcome.value).inc()
            if outcome is Outcome.ACCEPTED:
                self._metrics.event_lag.observe(max(0.0, (now - event.occurred_at).total_seconds()))
        for unit_id, reason in failed.items():
            await self._dead_letter_events(record, seen[unit_id], reason)

    async def _dead_letter_events(self, record: InboundRecord, events: list[Event], reason: str) -> None:
        """Dead-letter some of a record's events (all of one unit's), keeping the record's provenance."""
        self._metrics.events.labels(record.topic, "rejected").inc(len(events))
        body = b"[" + b",".join(e.model_dump_json().encode("utf-8") for e in events) + b"]"
        await self._outbox.dead_letter(dataclasses.replace(record, value=body), reason)

    async def on_tick(self, partition: int, partitions: int, now: datetime) -> int:
        """Let time pass for the units of ``partition`` that are due; return how many were due.

        Rostered units that have never reported get their state here, on their
        partition's first tick, so that expectations about them run like any other.
        """
        began = time.perf_counter()
        self._ensure_loaded(partition, partitions)
        for unit_id in self._rostered(partitions).get(partition, ()):
            if self._store.get(unit_id) is None:
                await self._commit(seed(self._pack, unit_id, now), partition)
        instant = now.timestamp()
        due = 0
        for unit_id in self._store.units(partition):
            state = self._store.get(unit_id)
            at = state.next_wakeup if state is not None else None
            if state is None or at is None or at > instant:
                continue
            due += 1
            started = time.perf_counter()
            try:
                result = advance(self._pack, state, now)
            except Exception:  # a fault in evaluation: the partition's other units still move on
                log.exception("evaluating %s at %s failed", unit_id, now.isoformat())
                self._store.reload(unit_id)  # the engine updates in place: drop what it left half-done
                continue
            self._metrics.evaluation.observe(time.perf_counter() - started)
            await self._commit(result, partition)
        self._metrics.tick.observe(time.perf_counter() - began)
        return due

    def _ensure_loaded(self, partition: int, partitions: int) -> None:
        if not self._store.is_loaded(partition):
            self.load({partition}, partitions)

    def load(self, owned: set[int], partitions: int) -> None:
        """Read the units of the ``owned`` partitions not in memory yet, in one pass over the table."""
        missing = {p for p in owned if not self._store.is_loaded(p)}
        if missing:
            self._store.load(missing, lambda unit: partition_for(unit.encode("utf-8"), partitions))

    def _rostered(self, partitions: int) -> dict[int, tuple[str, ...]]:
        """Rostered units by partition (computed once per partition count)."""
        cached = self._rostered_by_count.get(partitions)
        if cached is None:
            by_partition: dict[int, list[str]] = {}
            for unit in sorted(self._pack.rostered_units):
                by_partition.setdefault(partition_for(unit.encode("utf-8"), partitions), []).append(unit)
            cached = {p: tuple(units) for p, units in by_partition.items()}
            self._rostered_by_count[partitions] = cached
        return cached

    async def dead_letter(self, record: InboundRecord, reason: str) -> None:
        """Send a record the worker could not handle to the dead-letter topic."""
        await self._outbox.dead_letter(record, reason)

    def unit_state(self, unit_id: str) -> UnitState | None:
        """The stored state of one unit."""
        return self._store.get(unit_id)

    def owned_states(self, partitions: set[int]) -> Iterator[UnitState]:
        """The states of every unit in the given partitions."""
        for partition in sorted(partitions):
            yield from self._partition_states(partition)

    async def _apply(self, event: Event, state: UnitState | None, now: datetime) -> Result:
        """Apply one event to ``state`` and publish its transitions; the caller stores the new state."""
        started = time.perf_counter()
        result = apply_event(self._pack, state, event, now)
        self._metrics.evaluation.observe(time.perf_counter() - started)
        await self._emit(result)
        return result

    async def _emit(self, result: Result) -> None:
        for transition in result.transitions:
            await self._publish(transition)

    async def _publish(self, transition: AlertTransition) -> None:
        # Alerts leave before the state that records them; the ledger drops a
        # transition the topic already ends with, so redoing work after a crash
        # does not write it twice.
        if not self._ledger.is_new(transition):
            self._metrics.suppressed.inc()
            return
        await self._outbox.alert(transition)
        self._ledger.observe(transition)
        self._metrics.transitions.labels(transition.rule_id, transition.severity, transition.status).inc()

    def keep(self, partitions: set[int]) -> None:
        """Forget the in-memory units of partitions this worker no longer owns (after a rebalance)."""
        self._store.keep(partitions)

    async def reconcile(self, partition: int, partitions: int, now: datetime) -> tuple[int, set[str]]:
        """Re-publish what the alerts topic lost; return how many records that took, and the suspects.

        Run when a worker takes a partition over, after the ledger caught up.
        An alert the state holds but the topic does not show is published. An
        alert the topic shows firing but the state does not hold is a *suspect*:
        either its resolution was lost, or the previous owner died after
        publishing it and before writing the state, and redoing its uncommitted
        records will bring it back. Only ``resolve_unheld``, once those records
        are redone, can tell the two apart. The partition's units are read from
        durable storage first, if they are not in memory yet.
        """
        self._ensure_loaded(partition, partitions)
        fixed = 0
        for state in self._partition_states(partition):
            for alert in state.alerts.values():
                if _behind_or_level(alert.stage, self._ledger.last(alert.fingerprint)):
                    continue  # the topic already says firing at this stage or later: the state will catch up
                await self._publish(restate(self._pack, alert))
                fixed += 1
        if fixed:
            log.warning("partition %d: %d firing alerts re-published to match the state", partition, fixed)
        return fixed, {t.fingerprint for t in self._unheld(partition)}

    async def resolve_unheld(self, partition: int, suspects: set[str], now: datetime) -> int:
        """Resolve the suspects that the topic still shows firing and the state still does not hold."""
        fixed = 0
        for last in self._unheld(partition):
            if last.fingerprint in suspects:
                annotations = {**last.annotations, "resolution": "reconciled"}
                update = {"status": "resolved", "ends_at": max(now, last.starts_at), "annotations": annotations}
                await self._publish(last.model_copy(update=update))
                fixed += 1
        if fixed:
            log.warning("partition %d: %d alerts the state no longer holds resolved on the topic", partition, fixed)
        return fixed

    def _partition_states(self, partition: int) -> list[UnitState]:
        return [s for s in (self._store.get(u) for u in self._store.units(partition)) if s is not None]

    def _unheld(self, partition: int) -> list[AlertTransition]:
        """Last records saying firing, for alerts of the partition's units that the state does not hold."""
        states = self._partition_states(partition)
        holding = {fp for state in states for fp in state.alerts}
        return [t for t in self._ledger.firing_in({s.unit_id for s in states}) if t.fingerprint not in holding]

    async def _commit(self, result: Result, partition: int) -> None:
        await self._emit(result)
        if result.changed:
            self._store.commit(result.state, result.changed, partition)


_STAGE_ORDER = {"due_soon": 1}  # every other stage (overdue, breach, stale) is a rule's last word


def _behind_or_level(stage: str, published: tuple[str, str, str] | None) -> bool:
    """Whether the topic's last record already says firing at ``stage`` or a later one.

    A worker that takes a partition over may hold state older than what the
    previous owner published (its last state write was lost): re-publishing
    that older stage would step the alert back, then forward again.
    """
    if published is None or published[0] != "firing":
        return False
    return _STAGE_ORDER.get(published[1], 2) >= _STAGE_ORDER.get(stage, 2)
