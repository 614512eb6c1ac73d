"""The stream adapter: records and ticks in, staged state and alert transitions out.

This is the only place that turns records into engine calls. It owns no
I/O of its own: state lives behind ``UnitStore`` (a changelog-backed table in
the worker), refused records leave through ``Outbox`` (the faust producer),
and what a record or tick changed is made durable and its alerts published by
the ``Checkpoint`` (``monitor.worker.checkpoint``, which numbers the steps).
Taking a partition over is ``monitor.worker.takeover``.

Durable before visible: a record's (or a tick's) state changes and the
transitions they cause are staged together, and published only once the
checkpoint has made them durable. The checkpoint runs after every record by
default; the worker lets writes gather over many records (``max_staged``)
and runs it on a short timer and before every offset commit. A store that
fails is an outage, not bad input: the checkpoint retries with backoff,
publishing nothing and reading nothing more, until the store works again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from events.codec import Decoded, decode_record, encode_batch, encode_event, rejection_reason
from events.models import Event, ExtensionEvent
from monitor.kafka.records import InboundRecord, unit_partition
from monitor.kafka.topics import Topics
from monitor.metrics import Metrics, observe_all
from monitor.publishers import Admission, Tally, refused_header
from monitor.state.ledger import AlertLedger
from monitor.state.store import UnitStore
from monitor.worker.caps import UnitCaps
from monitor.worker.checkpoint import Checkpoint
from monitor.worker.outbox import AlertWriter, Outbox, forward_events
from monitor.worker.screening import Screen, ScreenCounts
from rules.engine import Outcome, Result, advance, apply_event, catch_up_instant, move, seed
from rules.language import RulePack
from rules.state import AlertTransition, Change, Recount, UnitState

__all__ = ["Processor"]

log = logging.getLogger(__name__)

#: Tasks a unit moving to a new pack moves in one part (``rules.engine.move``), and seconds of parts per tick.
MOVE_PART = 1000
MOVE_SECONDS = 0.1
#: Tasks a unit counted again after a takeover (``_recount_once``) counts between two turns of the event loop.
RECOUNT_PART = 1000


@dataclasses.dataclass
class _Run:
    """What a run of records did: staged, sent and counted once all of it is applied (``Processor._take``)."""

    #: The units changed, each with the parts changed and the transitions caused.
    changed: dict[str, tuple[UnitState, set[Change], list[AlertTransition]]] = dataclasses.field(default_factory=dict)
    #: The units whose state the engine was given (and may have changed in place).
    touched: set[str] = dataclasses.field(default_factory=set)
    outcomes: list[tuple[Event, Outcome]] = dataclasses.field(default_factory=list)
    #: Events for units another partition holds: (topic, unit, its events in order, then a signed record or None).
    forwards: list[tuple[str, str, list[bytes], bytes | None]] = dataclasses.field(default_factory=list)
    #: Dead letters: (record, its events refused or ``None`` for the record itself, why, how many events).
    letters: list[tuple[InboundRecord, list[Event] | None, str, int]] = dataclasses.field(default_factory=list)
    #: Events that would have taken their unit over a cap (dead-lettered among ``letters``), by cap.
    over_cap: Counter[str] = dataclasses.field(default_factory=Counter)
    screened: ScreenCounts = dataclasses.field(default_factory=ScreenCounts)


class Processor:
    """Applies records and ticks to unit state through the pure engine.

    Args:
        pack: The rules.
        store: Unit state, durable item by item.
        outbox: Where records go.
        metrics: The worker's metrics.
        topics: The topic names.
        max_record_bytes: Largest record value accepted.
        checkpoint: Makes staged writes durable and publishes their alerts (by default one over ``store``
            and ``outbox`` with a fresh, empty ledger, no fence and nobody listening).
        max_staged: Writes a record or tick may leave staged for a later ``flush``: 0 makes every record
            durable, and its transitions published, before ``on_record`` returns.
        max_skew: How far ahead of ``now`` an event's ``occurred_at`` may lie; events further ahead are refused
            (one far-future event would make every later one of its subject stale).
        caps: How many task kinds and indicators one unit may have (unbounded when ``None``).
        admission: Which publisher may report which unit (``None``: open mode, every publisher every unit).
        tally: Where the events taken from each publisher are counted (a new one, counting since 1970, by default).
        grant_key: The cluster credential an extension's record is sealed with (``events.grants``; ``None``: every
            extension is refused).
    """

    def __init__(
        self,
        pack: RulePack,
        store: UnitStore,
        outbox: Outbox,
        metrics: Metrics,
        topics: Topics,
        max_record_bytes: int,
        checkpoint: Checkpoint | None = None,
        *,
        max_staged: int = 0,
        max_skew: timedelta = timedelta(days=1),
        caps: UnitCaps | None = None,
        admission: Admission | None = None,
        tally: Tally | None = None,
        grant_key: bytes | None = None,
    ) -> None:
        self._pack = pack
        self._screen = Screen(pack, max_skew, admission, grant_key)
        self._store = store
        self._outbox = outbox
        self._metrics = metrics
        self._topics = topics
        self._max_record_bytes = max_record_bytes
        self._max_staged = max_staged
        self._evaluations: list[float] = []  # of the record being handled (``_apply``)
        self._caps = caps
        metrics.registry_enforced.set(1 if admission is not None else 0)
        #: Events taken from each publisher since this worker started, hour by hour (its feedback).
        self.tally = tally if tally is not None else Tally(datetime.fromtimestamp(0, UTC))
        self.checkpoint = (
            checkpoint
            if checkpoint is not None
            else Checkpoint(store, AlertWriter(outbox, AlertLedger(), metrics), metrics)
        )
        self._rostered_by_count: dict[int, dict[int, tuple[str, ...]]] = {}
        #: Units counted again since their partition was taken over (``_recount_once``).
        self._recounted: set[str] = set()
        #: Units moving to the pack in force, in parts: where each one's move goes on (its last task moved).
        self._moving: dict[str, tuple[str, str]] = {}  # unit → (pack version, task id)

    async def on_record(
        self, record: InboundRecord, partitions: int, now: datetime, *, catching_up: bool = False
    ) -> None:
        """Handle one ingress record (which may be a batch of events).

        A fault in evaluating an event dead-letters its unit's events of the
        record; the record's other units are kept.

        Args:
            record: The consumed record.
            partitions: How many partitions the record's topic has.
            now: The current instant.
            catching_up: The record was on the broker before this worker took its partition over: each event
                is judged at its own time (``rules.engine.catch_up_instant``), not at ``now``.
        """
        await self._take([record], partitions, now, catching_up=catching_up)

    async def on_records(
        self, records: Sequence[InboundRecord], partitions: int, now: datetime, *, catching_up: bool = False
    ) -> bool:
        """Handle consecutive records of one partition and topic as one: each unit staged once, counted once.

        A record of one event costs mostly what every record costs (its unit
        staged, its events counted and observed): a run of records shares it.
        Whether they were handled: a fault in evaluating one of their events,
        or a send the broker refuses, leaves nothing of them staged or counted
        (the units they changed are read again) and returns ``False``, for the
        caller to hand them over one at a time (``on_record``); what was sent
        before the refusal is sent again then (a forwarded event is applied
        once by its unit, a dead letter is written at least once).
        ``catching_up`` as ``on_record`` takes it, for every record.
        """
        return await self._take(records, partitions, now, catching_up=catching_up)

    async def _take(
        self, records: Sequence[InboundRecord], partitions: int, now: datetime, *, catching_up: bool
    ) -> bool:
        """Decode, screen and apply ``records`` in order; then send, stage and count what they did, once."""
        first = records[0]
        run = _Run()
        self._ensure_loaded(first.partition, partitions)
        alone = len(records) == 1
        for record in records:
            try:
                decoded = decode_record(
                    record.value,
                    record.headers,
                    default_kind=self._topics.kind_of(record.topic),
                    max_bytes=self._max_record_bytes,
                )
                decoded, refused_by = self._screen.events(decoded, now, record, partitions, run.screened)
                if decoded.rejections:
                    letter = record
                    if refused_by:  # whose events were refused, and why: each publisher's feedback reads it
                        letter = dataclasses.replace(record, headers=(*record.headers, refused_header(refused_by)))
                    run.letters.append((letter, None, rejection_reason(decoded.rejections), len(decoded.rejections)))
                applied = await self._apply_record(
                    record, decoded, partitions, now, run, catching_up=catching_up, alone=alone
                )
            except Exception as exc:
                self._drop(run)
                if alone:
                    raise
                log.warning(
                    "%s[%d]@%d failed in a run of records (%r): handed over one at a time",
                    record.topic,
                    record.partition,
                    record.offset,
                    exc,
                )
                return False
            if not applied:
                self._drop(run)
                return False
        try:
            await self._send(run)
        except Exception as exc:  # the broker refused a send: nothing of the run is staged or counted
            self._drop(run)
            if alone:
                raise
            log.warning(
                "%s[%d]@%d-%d: a send failed in a run of records (%r): handed over one at a time",
                first.topic,
                first.partition,
                first.offset,
                records[-1].offset,
                exc,
            )
            return False
        for state, parts, transitions in run.changed.values():
            self._store.stage_state(state, parts, first.partition)
            self._store.stage_transitions(state.unit_id, transitions, first.partition)
        await self._flush_if_full()
        self._count(run, first.topic, now)
        return True

    async def _send(self, run: _Run) -> None:
        """What a run sends, before its units are staged: its forwards in order, then its dead letters.

        Sent first, as one record's were before runs: a send that fails leaves the run's state unstaged (read
        again), not staged beside records dead-lettered for it. Counted with the run, once it is staged.
        """
        for topic, unit_id, bodies, signed in run.forwards:
            await forward_events(self._outbox, self._max_record_bytes, topic, unit_id, bodies)
            if signed is not None:
                await self._outbox.forward(topic, unit_id.encode("utf-8"), signed)
        for letter, events, reason, count in run.letters:
            if events is None:
                log.warning("dead-lettered %s[%d]@%d: %s", letter.topic, letter.partition, letter.offset, reason)
            else:
                log.warning(
                    "dead-lettered %d events of %s[%d]@%d: %s",
                    count,
                    letter.topic,
                    letter.partition,
                    letter.offset,
                    reason,
                )
                letter = dataclasses.replace(letter, value=encode_batch(events))
            await self._outbox.dead_letter(letter, reason)

    def _drop(self, run: _Run) -> None:
        """Forget what a run did in memory: the engine updates in place, so the units it was given are read again."""
        for unit_id in run.touched:
            self._store.reload(unit_id)
        self._recounted -= run.touched  # counted again with the records' redo
        self._evaluations.clear()

    async def _apply_record(
        self,
        record: InboundRecord,
        decoded: Decoded,
        partitions: int,
        now: datetime,
        run: _Run,
        *,
        catching_up: bool,
        alone: bool,
    ) -> bool:
        """Apply a record's events to the run's units; ``False`` when one failed in a run of several records."""
        changed = run.changed
        failed: dict[str, str] = {}  # unit → why its events in this record were not applied
        seen: dict[str, list[Event]] = {}  # this record's events by unit, in order
        over_cap: list[tuple[Event, str, str]] = []  # events that would take their unit over a cap: (event, cap, why)
        forwards: dict[str, list[bytes]] = {}  # events of units another partition holds, by unit, in order
        counted = len(run.outcomes)
        for number, event in enumerate(decoded.events):
            if unit_partition(event.unit_id, partitions) != record.partition:
                # Not in its unit's partition (no key, another partitioner, a code of a merged unit): sent there,
                # a unit's events of this record in one record; a signed one alone, as it came.
                seal = decoded.seal(number)
                if seal is None:
                    forwards.setdefault(event.unit_id, []).append(encode_event(event))
                else:  # after the unit's events before it in the record: they came first
                    run.forwards.append((record.topic, event.unit_id, forwards.pop(event.unit_id, []), seal.forward))
                continue
            if event.unit_id in failed:
                seen[event.unit_id].append(event)
                continue
            pending, parts, transitions = changed.get(event.unit_id) or (self._store.get(event.unit_id), set(), [])
            refused = self._caps.refusal(pending, event) if self._caps is not None else None
            if refused is not None:
                over_cap.append((event, *refused))  # dead-lettered once, with this reason, whatever follows
                continue
            seen.setdefault(event.unit_id, []).append(event)
            run.touched.add(event.unit_id)
            try:
                at = catch_up_instant(self._pack, pending, event, now) if catching_up else now
                result = self._apply(event, pending, at)
            except Exception as exc:  # a fault in evaluation: this unit's events wait in the dead-letter topic
                log.exception("evaluating event %s of %s failed", event.event_id, event.unit_id)
                if not alone:
                    return False  # a run of records: read again, and handed over one at a time
                failed[event.unit_id] = f"internal error: {type(exc).__name__}: {exc}"
                changed.pop(event.unit_id, None)
                self._store.reload(event.unit_id)  # the engine updates in place: drop what it left half-done
                self._recounted.discard(event.unit_id)  # a recount of this record went with it: made again later
                continue
            if result.outcome is Outcome.REFUSED:
                run.letters.append((record, [event], result.reason, 1))
                continue
            run.outcomes.append((event, result.outcome))
            if catching_up and result.outcome is Outcome.DUPLICATE and await self._recount_once(pending):
                parts.add(Change.unit())  # its counts, made again from its items, are written with this record
                changed[event.unit_id] = (result.state, parts, transitions)
            if result.outcome is Outcome.ACCEPTED:
                parts |= result.changed  # in place: a batch of one unit's events is linear, not quadratic
                transitions.extend(result.transitions)
                changed[event.unit_id] = (result.state, parts, transitions)
        run.forwards.extend((record.topic, unit_id, bodies, None) for unit_id, bodies in forwards.items())
        if failed:
            run.outcomes[counted:] = [(e, o) for e, o in run.outcomes[counted:] if e.unit_id not in failed]
            run.letters.extend(
                (record, seen[unit_id], reason, len(seen[unit_id])) for unit_id, reason in failed.items()
            )
        if over_cap:  # in one dead letter, after the record's others (its units' events)
            run.over_cap.update(cap for _, cap, _ in over_cap)
            reasons = list(dict.fromkeys(why for _, _, why in over_cap))  # each once, in order
            reason = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
            run.letters.append((record, [event for event, _, _ in over_cap], reason, len(over_cap)))
        return True

    def _count(self, run: _Run, topic: str, now: datetime) -> None:
        """A run's counts and observations, once."""
        metrics = self._metrics
        run.screened.count(metrics, topic)
        rejected = sum(count for _, _, _, count in run.letters)
        if rejected:
            metrics.events.labels(topic, "rejected").inc(rejected)
        for cap, count in run.over_cap.items():
            metrics.over_cap.labels(topic, cap).inc(count)
        accepted = (e for e, o in run.outcomes if o is Outcome.ACCEPTED)
        observe_all(metrics.event_lag, (max(0.0, (now - e.occurred_at).total_seconds()) for e in accepted))
        observe_all(metrics.evaluation, self._evaluations)
        self._evaluations.clear()
        for outcome, count in Counter(outcome for _, outcome in run.outcomes).items():
            metrics.events.labels(topic, outcome.value).inc(count)
        if self._screen.admission is not None:
            self._count_publishers(run.outcomes, now)

    def _count_publishers(self, outcomes: list[tuple[Event, Outcome]], now: datetime) -> None:
        """Each publisher's events handled (once per run of records), and when it was last heard from."""
        handled: dict[str, int] = {}
        for event, _ in outcomes:
            if not isinstance(event, ExtensionEvent):
                handled[event.source] = handled.get(event.source, 0) + 1
        for publisher, count in handled.items():
            self._metrics.publisher_events.labels(publisher, "accepted").inc(count)
            self._metrics.publisher_last_seen.labels(publisher).set_to_current_time()
            self.tally.add(publisher, now, count)

    async def on_tick(self, partition: int, partitions: int, now: datetime) -> int:
        """Let time pass for the units of ``partition`` that are due; return how many were due.

        Rostered units that have never reported get their state here, on their
        partition's first tick, so that expectations about them run like any other.
        """
        began = time.perf_counter()
        self._ensure_loaded(partition, partitions)
        for unit_id in self._rostered(partitions).get(partition, ()):
            if self._store.get(unit_id) is None:
                self._stage(seed(self._pack, unit_id, now), partition)
        instant = now.timestamp()
        version = self._pack.version
        due = parts = 0
        for unit_id in self._store.units(partition):
            state = self._store.get(unit_id)
            if state is None:
                continue
            at = state.next_wakeup
            if state.pack_version == version and (at is None or at > instant):
                continue  # nothing due, and evaluated under the pack in force
            due += 1
            started = time.perf_counter()
            try:
                if state.pack_version == version:
                    self._stage(advance(self._pack, state, now), partition)
                else:
                    parts += await self._move(state, now, partition, began + MOVE_SECONDS, first=parts == 0)
            except Exception:  # a fault in evaluation: the partition's other units still move on
                log.exception("evaluating %s at %s failed", unit_id, now.isoformat())
                self._moving.pop(unit_id, None)
                self._store.reload(unit_id)  # the engine updates in place: drop what it left half-done
                continue
            self._metrics.evaluation.observe(time.perf_counter() - started)
        await self._flush_if_full()
        self._metrics.tick.observe(time.perf_counter() - began)
        return due

    async def _move(self, state: UnitState, now: datetime, partition: int, until: float, *, first: bool) -> int:
        """Move a unit to the pack in force in parts of ``MOVE_PART`` tasks until ``until`` (``perf_counter``).

        What is due is evaluated whatever the time left, and the tick's ``first``
        part is moved whatever the time spent; the rest of the move goes on at
        the partition's next tick, from the last task moved. The event loop
        turns after each part (the web server, the heartbeats; records wait for
        the tick). How many parts.
        """
        version, unit_id = self._pack.version, state.unit_id
        held = self._moving.get(unit_id)
        after = held[1] if held is not None and held[0] == version else None
        parts = 0
        while True:
            limit = MOVE_PART if (first and not parts) or time.perf_counter() < until else 0
            result, after = move(self._pack, state, now, after, limit)
            self._stage(result, partition)
            parts += limit > 0
            if after is None:
                self._moving.pop(unit_id, None)
                return parts
            self._moving[unit_id] = (version, after)
            if limit == 0:
                return parts
            await asyncio.sleep(0)

    async def _flush_if_full(self) -> None:
        if not self._max_staged or self._store.staged() > self._max_staged:
            await self.checkpoint.flush()

    def _ensure_loaded(self, partition: int, partitions: int) -> None:
        if not self._store.is_loaded(partition):
            self.load({partition}, partitions)

    def load(self, owned: set[int], partitions: int) -> None:
        """Read the units of the ``owned`` partitions not in memory yet, in one pass over the table."""
        missing = {p for p in owned if not self._store.is_loaded(p)}
        if missing:
            started = time.monotonic()
            items = self._store.load(missing, lambda unit: unit_partition(unit, partitions))
            self._metrics.items_loaded.inc(items)
            self._metrics.load_seconds.set(time.monotonic() - started)

    def use_admission(self, admission: Admission | None) -> None:
        """Admit events by ``admission`` from the next record (``None``: open mode; call between records)."""
        self._screen.admission = admission
        self._metrics.registry_enforced.set(1 if admission is not None else 0)

    def use_pack(self, pack: RulePack, admission: Admission | None = None) -> None:
        """Evaluate under ``pack``, admitting events by ``admission``, from the next record (call between records).

        Each unit is evaluated again under it at its partition's next tick: its
        state says which pack its wake-ups were computed for.
        """
        self._pack = self._screen.pack = pack
        self.use_admission(admission)
        self._rostered_by_count.clear()

    def _rostered(self, partitions: int) -> dict[int, tuple[str, ...]]:
        """Rostered units by partition (computed once per partition count)."""
        cached = self._rostered_by_count.get(partitions)
        if cached is None:
            by_partition: dict[int, list[str]] = {}
            for unit in sorted(self._pack.rostered_units):
                by_partition.setdefault(unit_partition(unit, partitions), []).append(unit)
            cached = {p: tuple(units) for p, units in by_partition.items()}
            self._rostered_by_count[partitions] = cached
        return cached

    async def reject(self, record: InboundRecord, reason: str, events: int = 1) -> None:
        """Count ``events`` of a record as rejected and send the record to the dead-letter topic."""
        self._metrics.events.labels(record.topic, "rejected").inc(events)
        await self._outbox.dead_letter(record, reason)

    def unit_state(self, unit_id: str) -> UnitState | None:
        """The stored state of one unit."""
        return self._store.get(unit_id)

    def owned_states(self, partitions: set[int]) -> Iterator[UnitState]:
        """The states of every unit in the given partitions."""
        for partition in sorted(partitions):
            yield from self.partition_states(partition)

    def _apply(self, event: Event, state: UnitState | None, now: datetime) -> Result:
        """Apply one event to ``state``; the caller stages the new state and the transitions."""
        started = time.perf_counter()
        result = apply_event(self._pack, state, event, now)
        self._evaluations.append(time.perf_counter() - started)  # observed once the record is done
        return result

    def keep(self, partitions: set[int]) -> None:
        """Forget the in-memory units of every partition not in ``partitions``."""
        self._store.keep(partitions)
        self._recounted.clear()  # whatever is kept is read again, and may be taken over again
        self._moving.clear()  # a move read again from the store starts again: its parts not flushed are lost

    async def _recount_once(self, state: UnitState | None) -> bool:
        """Count a unit's tasks again from its items, once per takeover, when its backlog holds an event already applied.

        An event read again after a takeover and found applied was applied by
        the partition's last owner, who may have been killed while it wrote the
        checkpoint: the tasks' items reached the changelog, the unit's own
        fields (its counts, its newest event; written last) may not have. The
        counts are made again from the items, and written. Whether it was done.
        The event loop turns every ``RECOUNT_PART`` tasks (a unit of 100,000
        dossiers held it 1.4 to 2.4 s); the record waits, nothing else changes
        the unit meanwhile, and the scan reads the store as it was when it began.
        """
        if state is None or state.unit_id in self._recounted:
            return False
        self._recounted.add(state.unit_id)
        started = time.perf_counter()
        counted = Recount()
        for number, task in enumerate(state.tasks.values(), 1):
            counted.add(task)
            if not number % RECOUNT_PART:
                await asyncio.sleep(0)
        state.recount(counted)
        log.info(
            "%s: an event read again was already applied (the partition's last owner stopped mid-checkpoint): "
            "its %d tasks counted again from their items in %.2fs",
            state.unit_id,
            state.task_count(),
            time.perf_counter() - started,
        )
        return True

    def partition_states(self, partition: int) -> list[UnitState]:
        """The states of the units of a partition in memory."""
        return [s for s in (self._store.get(u) for u in self._store.units(partition)) if s is not None]

    def _stage(self, result: Result, partition: int) -> None:
        if result.changed:
            self._store.stage_state(result.state, result.changed, partition)
        self._store.stage_transitions(result.state.unit_id, result.transitions, partition)
