"""Unit state kept item by item in a durable log; in memory, only what every question about a unit needs.

A unit's state is not one value: every task, indicator, firing alert and
pending breach is its own entry (``monitor.state.keys``), so an event costs
one small write (its task, with the task's next wake-up) however many items
the unit tracks. In memory the worker keeps, for each unit of the partitions
it owns, its *head*: indicators, firing alerts, pending breaches, newest
event, pack, tasks counted by kind and status. Tasks stay in the store and
are read when an event or a due wake-up asks for one (``monitor.state.stored``),
so memory grows with units and alerts, not with tasks held; taking a
partition over reads its heads, not its tasks.

*Durable before visible.* Changes are staged, then written in one batch per
partition by ``flush``, which returns once the ``ItemLog`` holds them (in the
worker: the changelog acknowledged them, then the local store). The alert
transitions an evaluation caused are staged with the state, as *outbox*
entries, and published only after the flush; once the alerts topic has them
they are confirmed and their entries deleted. So a crash never leaves a
transition the state does not explain, and the next owner of a partition
publishes exactly what the outbox says the topic still lacks. Within a
batch, outbox entries are written first and subjects (which carry the dedup
keys of the events applied) last: when a batch is only partly durable, an
event is either seen as applied with all its transitions in the outbox, or
applied again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from monitor.state.heads import LocalStore, head_of, heads, migrate
from monitor.state.heap import bulk_read
from monitor.state.keys import (
    OUTBOX,
    SEP,
    SUBJECT,
    UnitParts,
    Write,
    encode_changes,
    encode_unit,
    is_task,
    item_key,
    unit_prefix,
)
from monitor.state.reads import ItemCache, Overlaid, PartitionItems
from monitor.state.stored import StoredTasks, StoredWakeups
from rules.state import AlertTransition, Change, UnitState, WakeupMap, encode_transition, task_key

__all__ = ["DEFAULT_CACHE", "ItemLog", "ItemStore", "OutboxEntry", "UnitStore"]

log = logging.getLogger(__name__)

#: Subject items (tasks, mostly) a worker keeps decoded by default: about 50 MiB.
DEFAULT_CACHE = 50_000

_SEP = SEP.encode()
# Write order within a batch: outbox first, subjects (the dedup keys) and the unit's own fields last.
_RANK = {"o": 0, "a": 1, "p": 2, "s": 3, "": 4}


def encode_outbox(transitions: Sequence[AlertTransition]) -> bytes:
    """An outbox entry's value: the transitions of one fingerprint, in order."""
    return b"[" + b",".join(encode_transition(t) for t in transitions) + b"]"


def decode_outbox(raw: bytes) -> list[AlertTransition]:
    """The transitions of an outbox entry."""
    return [AlertTransition.model_validate(item) for item in json.loads(raw)]


class ItemLog(LocalStore, Protocol):
    """Durable storage of items, read partition by partition: a write is durable once ``write`` returns."""

    async def write(self, partition: int, writes: Sequence[Write]) -> None:
        """Make ``writes`` durable, in order, with their derived keys; raise ``StoreUnavailable`` if they could not be."""


class OutboxEntry(Protocol):
    """Transitions of one alert staged with the state, not yet confirmed on the alerts topic."""

    key: bytes
    transitions: list[AlertTransition]


class _Outbox:
    __slots__ = ("key", "transitions")

    def __init__(self, key: bytes, transitions: list[AlertTransition]) -> None:
        self.key = key
        self.transitions = transitions


class UnitStore(Protocol):
    """Unit states, durable item by item, with the owned partitions' heads in memory."""

    def is_loaded(self, partition: int) -> bool:
        """Whether the partition's units are in memory."""

    def load(self, partitions: Iterable[int], partition_of: Callable[[str], int]) -> int:
        """Read the units of ``partitions`` from durable storage; return how many items that was."""

    def get(self, unit_id: str) -> UnitState | None:
        """The unit's state, if any."""

    def units(self, partition: int) -> list[str]:
        """The units of a loaded partition."""

    def stage_state(self, state: UnitState, changed: Iterable[Change], partition: int) -> None:
        """Stage the changed parts of the unit's state (in the current record's partition)."""

    def stage_transitions(self, unit_id: str, transitions: Iterable[AlertTransition], partition: int) -> None:
        """Stage alert transitions, to be written with the state and published after it."""

    def outbox(self, partition: int) -> list[OutboxEntry]:
        """The partition's transitions not yet confirmed on the alerts topic, oldest first."""

    def outbox_partitions(self) -> list[int]:
        """The partitions whose outbox holds transitions not confirmed on the alerts topic."""

    def confirm(self, partition: int, entries: Iterable[OutboxEntry]) -> None:
        """The alerts topic has these entries' transitions: stage their deletion."""

    async def flush(self) -> None:
        """Make every staged write durable; raise ``StoreUnavailable`` (and keep them staged) if it cannot."""

    def staged(self) -> int:
        """How many writes wait for the next flush."""

    def reload(self, unit_id: str) -> None:
        """Drop the in-memory copy of the unit's state for what is staged for it, else what durable storage holds."""

    def keep(self, partitions: set[int]) -> None:
        """Forget the in-memory units of every partition not in ``partitions``."""


def _part_of(key: bytes) -> str:
    position = key.find(_SEP)
    return chr(key[position + 1]) if 0 <= position < len(key) - 1 else ""


def _rank(write: Write) -> int:
    return _RANK.get(_part_of(write[0]), 4)


def _unit_of(key: bytes) -> str:
    position = key.find(_SEP)
    return key[:position].decode() if position > 0 else ""


class ItemStore:
    """``UnitStore`` over an ``ItemLog``: heads and outboxes in memory, tasks read on demand.

    Args:
        log: Durable storage (the changelog-backed table in the worker).
        cache: How many subject items (tasks, mostly) to keep decoded across the partitions.
    """

    def __init__(self, log: ItemLog, cache: int = DEFAULT_CACHE) -> None:
        self._log = log
        self._cache = ItemCache(cache)
        self._units: dict[str, UnitState] = {}
        self._by_partition: dict[int, set[str]] = {}
        self._items: dict[int, PartitionItems] = {}
        self._outbox: dict[int, dict[bytes, _Outbox]] = {}
        self._staged: dict[int, dict[bytes, bytes | None]] = {}

    def is_loaded(self, partition: int) -> bool:
        """Whether the partition's units are in memory."""
        return partition in self._by_partition

    def load(self, partitions: Iterable[int], partition_of: Callable[[str], int]) -> int:
        """Read the heads of ``partitions`` (those not in memory yet); return how many items were read.

        A partition stored by an older version is brought to this one first
        (``FORMAT``): its derived keys built, its units counted.
        """
        wanted = sorted(set(partitions) - set(self._by_partition))
        if not wanted:
            return 0
        started, units, count = time.monotonic(), 0, 0
        with bulk_read():
            for partition in wanted:
                migrate(self._log, partition)
                read = self._load(partition, partition_of)
                units, count = units + read[0], count + read[1]
        log.info("partitions %s: %d units, %d items read in %.1f s", wanted, units, count, time.monotonic() - started)
        return count

    def _partition(self, partition: int) -> PartitionItems:
        items = self._items.get(partition)
        if items is None:
            items = self._items[partition] = PartitionItems(self._log, partition, self._cache)
        return items

    def _load(self, partition: int, partition_of: Callable[[str], int]) -> tuple[int, int]:
        """Read a partition's heads (its tasks are passed over); (units, items read)."""
        items = self._partition(partition)
        units: set[str] = set()
        outbox: dict[bytes, _Outbox] = {}
        read = 0
        for unit, parts in heads(self._log, partition):
            if partition_of(unit) != partition:
                continue
            read += len(parts.alerts) + len(parts.pending) + len(parts.outbox) + len(parts.wakeups) + 1
            for fingerprint, raw in parts.outbox:
                key = item_key(unit, OUTBOX, fingerprint)
                outbox[key] = _Outbox(key, decode_outbox(raw))
            self._units[unit] = self._head(unit, parts, items, partition)
            units.add(unit)
        self._by_partition[partition] = units
        self._outbox[partition] = outbox
        return len(units), read

    def _head(self, unit: str, parts: UnitParts, items: PartitionItems, partition: int) -> UnitState:
        """A unit's state from its head parts; one stored in an older format is written again in this one."""
        state, outdated = head_of(unit, parts, items)
        if outdated:  # with the next flush
            self._stage(partition, item_key(unit, ""), encode_unit(state))
        return state

    def keep(self, partitions: set[int]) -> None:
        """Forget the in-memory units of every partition not in ``partitions`` (they moved away).

        What was staged for them and not flushed is forgotten too: the next owner redoes it.
        """
        gone = (set(self._by_partition) | set(self._items)) - partitions
        for partition in gone:
            for unit in self._by_partition.pop(partition, ()):
                self._units.pop(unit, None)
            self._outbox.pop(partition, None)
            self._staged.pop(partition, None)
            self._items.pop(partition, None)
        if gone:
            self._cache.clear()

    def get(self, unit_id: str) -> UnitState | None:
        """The unit's state, if any."""
        return self._units.get(unit_id)

    def units(self, partition: int) -> list[str]:
        """The units of a partition that is in memory."""
        return list(self._by_partition.get(partition, ()))

    def _stage(self, partition: int, key: bytes, value: bytes | None) -> None:
        staged = self._staged.setdefault(partition, {})
        staged.pop(key, None)
        staged[key] = value

    def stage_state(self, state: UnitState, changed: Iterable[Change], partition: int) -> None:
        """Stage the changed parts of the unit's state, and keep its head (a unit new to the store becomes one)."""
        if not isinstance(state.tasks, StoredTasks):
            state = self._adopt(state, partition)
        for key, value in encode_changes(state, changed, self._partition(partition).item):
            self._stage(partition, key, value)
        self._units[state.unit_id] = state
        self._by_partition.setdefault(partition, set()).add(state.unit_id)

    def _adopt(self, state: UnitState, partition: int) -> UnitState:
        """A unit built in memory (its first events, a seeded roster unit) as a head over the store."""
        items = self._partition(partition)
        others = WakeupMap((subject, at) for subject, at in state.wakeups.items() if not is_task(subject))
        head = UnitState(
            unit_id=state.unit_id,
            tasks=StoredTasks(state.unit_id, items),
            indicators=state.indicators,
            alerts=state.alerts,
            pending=state.pending,
            wakeups=StoredWakeups(state.unit_id, items, others),
            last_event_at=state.last_event_at,
            pack_version=state.pack_version,
            tally=state.task_tally(),
            extensions=state.extensions,
            newest_task=state.newest_task_report(),
        )
        for task in state.tasks.values():
            head.tasks.put(task)
            head.wakeups.put(task_key(task.task_id), state.wakeups.get(task_key(task.task_id)))
        return head

    def stage_transitions(self, unit_id: str, transitions: Iterable[AlertTransition], partition: int) -> None:
        """Stage alert transitions as outbox entries, one per fingerprint, written with the state."""
        outbox = self._outbox.setdefault(partition, {})
        touched: set[bytes] = set()
        for transition in transitions:
            key = item_key(unit_id, OUTBOX, transition.fingerprint)
            entry = outbox.get(key)
            if entry is None:
                entry = outbox[key] = _Outbox(key, [])
            entry.transitions.append(transition)
            touched.add(key)
        for key in touched:
            self._stage(partition, key, encode_outbox(outbox[key].transitions))

    def outbox(self, partition: int) -> list[OutboxEntry]:
        """The partition's transitions not yet confirmed on the alerts topic, oldest entry first."""
        return list(self._outbox.get(partition, {}).values())

    def confirm(self, partition: int, entries: Iterable[OutboxEntry]) -> None:
        """Drop confirmed entries and stage their deletion (written with the next flush)."""
        outbox = self._outbox.get(partition, {})
        for entry in entries:
            if outbox.get(entry.key) is entry:
                del outbox[entry.key]
                self._stage(partition, entry.key, None)

    async def flush(self) -> None:
        """Write what is staged, one ordered batch per partition, the partitions at once.

        A partition whose batch failed keeps it staged (under anything staged
        since), and the first failure is raised once every batch has settled.
        """
        staged = {partition: writes for partition, writes in self._staged.items() if writes}
        if not staged:
            return
        self._staged = {}
        partitions = sorted(staged)
        try:
            results = await asyncio.gather(
                *(self._log.write(p, sorted(staged[p].items(), key=_rank)) for p in partitions),
                return_exceptions=True,
            )
        except BaseException:  # cancelled while the batches were on their way: all of them stay staged
            self._restage({p: staged[p] for p in partitions})
            raise
        failed = {}
        for partition, result in zip(partitions, results, strict=True):
            if isinstance(result, BaseException):
                failed[partition] = staged[partition]
            else:
                self._flushed(partition, staged[partition])
        self._restage(failed)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure

    def _flushed(self, partition: int, writes: dict[bytes, bytes | None]) -> None:
        """A partition's batch is durable: its subject items move to the cache, its units' wake-ups to the store."""
        items = self._items.get(partition)
        if items is None:  # the partition moved away meanwhile
            return
        items.flushed(writes.keys())
        for unit in {_unit_of(key) for key in writes if _part_of(key) == SUBJECT}:
            head = self._units.get(unit)
            if head is not None and isinstance(head.wakeups, StoredWakeups):
                head.wakeups.flushed()

    def _restage(self, writes: dict[int, dict[bytes, bytes | None]]) -> None:
        """Put back writes that are not known to be durable, under anything staged since."""
        for partition, kept in writes.items():
            for key, value in self._staged.get(partition, {}).items():
                kept.pop(key, None)
                kept[key] = value
            self._staged[partition] = kept

    def outbox_partitions(self) -> list[int]:
        """The partitions whose outbox holds transitions not confirmed on the alerts topic."""
        return sorted(p for p, entries in self._outbox.items() if entries)

    def staged(self) -> int:
        """How many writes wait for the next flush."""
        return sum(len(s) for s in self._staged.values())

    def reload(self, unit_id: str) -> None:
        """Replace the working copy of one unit with what is staged for it, else what the log holds (after a fault).

        Its subject items changed in memory go back to what is staged for them, else to what the store holds;
        its head is read from the store with the staged writes laid over it.
        """
        partition = next((p for p, units in self._by_partition.items() if unit_id in units), None)
        if partition is None:
            return
        items = self._partition(partition)
        prefix = unit_prefix(unit_id)
        staged = self._staged.get(partition, {})
        items.restore([key for key in items.overlay if key.startswith(prefix)], staged)
        found = list(heads(Overlaid(self._log, partition, staged), partition, prefix))
        if found:
            self._units[unit_id] = self._head(unit_id, found[0][1], items, partition)
        else:
            self._units.pop(unit_id, None)
            self._by_partition[partition].discard(unit_id)
