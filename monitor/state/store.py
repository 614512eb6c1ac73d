"""Unit state kept item by item in a durable log, with the working copy in memory.

A unit's state is not one value: every task, indicator, firing alert and
pending breach is its own entry, so an event costs one small write (its
task, with the task's next wake-up) however many items the unit tracks. The
worker works on an in-memory copy of the units of the partitions it owns,
read when it takes a partition over; the deadline index (each unit's heap of
wake-ups, see ``UnitState``) is rebuilt from that copy.

*Durable before visible.* Changes are staged, then written in one batch per
partition by ``flush``, which returns once the ``ItemLog`` holds them (in the
worker: the changelog acknowledged them, then the local store). The alert
transitions an evaluation caused are staged with the state, as *outbox*
entries, and published only after the flush; once the alerts topic has them
they are confirmed and their entries deleted. So a crash never leaves a
transition the state does not explain, and the next owner of a partition
publishes exactly what the outbox says the topic still lacks.

Keys are ``unit ␟ part``: ``␟`` alone for the unit's own fields, ``␟s`` +
subject, ``␟a`` + fingerprint for a firing alert, ``␟p`` + fingerprint for a
pending breach, ``␟o`` + fingerprint for transitions not yet confirmed on the
alerts topic. Within a batch, outbox entries are written first and subjects
(which carry the dedup keys of the events applied) last: when a batch is only
partly durable, an event is either seen as applied with all its transitions
in the outbox, or applied again.

Over 400 lines: the item codec and the staging, flushing and outbox
bookkeeping work on the same keys, and are read together.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Protocol

import msgspec

from events.text import SEPARATOR
from monitor.state.heap import bulk_read
from rules.state import (
    AlertState,
    AlertTransition,
    Change,
    ChangePart,
    IndicatorState,
    Instant,
    Subject,
    SubjectKind,
    TaskState,
    UnitState,
)

__all__ = ["ItemLog", "ItemStore", "OutboxEntry", "UnitStore", "Write", "decode_unit", "encode_changes"]

log = logging.getLogger(__name__)

SEP = SEPARATOR
_UNIT, _SUBJECT, _ALERT, _PENDING, _OUTBOX = "", "s", "a", "p", "o"
_PARTS = {ChangePart.UNIT: _UNIT, ChangePart.SUBJECT: _SUBJECT, ChangePart.ALERT: _ALERT, ChangePart.PENDING: _PENDING}
# Write order within a batch: outbox first, subjects (the dedup keys) and the unit's own fields last.
_RANK = {_OUTBOX: 0, _ALERT: 1, _PENDING: 2, _SUBJECT: 3, _UNIT: 4}

#: One write to the log: (key, value); a ``None`` value deletes the key.
Write = tuple[bytes, bytes | None]


class SubjectItem(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """The stored form of one subject: its task or indicator, and when its rules next change."""

    task: TaskState | None = None
    indicator: IndicatorState | None = None
    wakeup: float | None = None


class UnitItem(msgspec.Struct, frozen=True):
    """The stored form of a unit's own fields."""

    pack_version: str = ""


_ENCODER = msgspec.json.Encoder()
_SUBJECT_ITEM = msgspec.json.Decoder(SubjectItem)
_ALERT_ITEM = msgspec.json.Decoder(AlertState)
_UNIT_ITEM = msgspec.json.Decoder(UnitItem)
_INSTANT = msgspec.json.Decoder(Instant)


def _key(unit_id: str, part: str, name: str = "") -> bytes:
    return f"{unit_id}{SEP}{part}{name}".encode()


def encode_changes(state: UnitState, changed: Iterable[Change]) -> Iterator[tuple[bytes, bytes | None]]:
    """The table writes for the changed parts of ``state``: (key, value), a ``None`` value deletes."""
    unit = state.unit_id
    for part, name in changed:
        key = _key(unit, _PARTS[part], name)
        if part == ChangePart.SUBJECT:
            subject = Subject.parse(name)
            stored = SubjectItem(
                task=state.tasks.get(subject.name) if subject.kind is SubjectKind.TASK else None,
                indicator=state.indicators.get(subject.name) if subject.kind is SubjectKind.INDICATOR else None,
                wakeup=state.wakeups.get(name),
            )
            empty = stored.task is None and stored.indicator is None and stored.wakeup is None
            yield key, None if empty else _ENCODER.encode(stored)
        elif part == ChangePart.ALERT:
            alert = state.alerts.get(name)
            yield key, _ENCODER.encode(alert) if alert is not None else None
        elif part == ChangePart.PENDING:
            since = state.pending.get(name)
            yield key, _ENCODER.encode(since) if since is not None else None
        else:
            yield key, _ENCODER.encode(UnitItem(pack_version=state.pack_version))


def decode_unit(unit_id: str, items: Iterable[tuple[str, bytes]]) -> UnitState:
    """A unit's state from its stored items, given as (key without the unit prefix, value)."""
    tasks: dict[str, TaskState] = {}
    indicators: dict[str, IndicatorState] = {}
    alerts: dict[str, AlertState] = {}
    pending: dict[str, datetime] = {}
    wakeups: dict[str, float] = {}
    pack_version = ""
    for rest, raw in items:
        part, name = rest[:1], rest[1:]
        if part == _SUBJECT:
            stored = _SUBJECT_ITEM.decode(raw)
            if stored.task is not None:
                tasks[stored.task.task_id] = stored.task
            if stored.indicator is not None:
                indicators[stored.indicator.indicator] = stored.indicator
            if stored.wakeup is not None:
                wakeups[name] = stored.wakeup
        elif part == _ALERT:
            alerts[name] = _ALERT_ITEM.decode(raw)
        elif part == _PENDING:
            pending[name] = _INSTANT.decode(raw)
        elif part == _OUTBOX:
            continue  # transitions on their way to the alerts topic: the store keeps them apart
        else:
            pack_version = _UNIT_ITEM.decode(raw).pack_version
    # The newest event is the newest of what each task and indicator last reported.
    reported = [t.occurred_at for t in tasks.values()] + [i.occurred_at for i in indicators.values()]
    return UnitState(
        unit_id=unit_id,
        tasks=tasks,
        indicators=indicators,
        alerts=alerts,
        pending=pending,
        wakeups=wakeups,
        last_event_at=max(reported, default=None),
        pack_version=pack_version,
    )


def encode_outbox(transitions: Sequence[AlertTransition]) -> bytes:
    """An outbox entry's value: the transitions of one fingerprint, in order."""
    return b"[" + b",".join(t.model_dump_json().encode("utf-8") for t in transitions) + b"]"


def decode_outbox(raw: bytes) -> list[AlertTransition]:
    """The transitions of an outbox entry."""
    return [AlertTransition.model_validate(item) for item in json.loads(raw)]


class ItemLog(Protocol):
    """Durable storage of items: a write is durable once ``write`` returns."""

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        """Every item held (for the partitions this worker owns)."""

    async def write(self, partition: int, writes: Sequence[Write]) -> None:
        """Make ``writes`` durable, in order; raise ``StoreUnavailable`` when they could not be."""


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
    """Unit states, durable item by item, with the owned partitions' units in memory."""

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
        """Drop the in-memory copy of the unit's state for what durable storage holds."""

    def keep(self, partitions: set[int]) -> None:
        """Forget the in-memory units of every partition not in ``partitions``."""


def _part_of(key: bytes) -> str:
    position = key.find(SEP.encode())
    return chr(key[position + 1]) if 0 <= position < len(key) - 1 else _UNIT


def _rank(write: Write) -> int:
    return _RANK.get(_part_of(write[0]), 4)


class ItemStore:
    """``UnitStore`` over an ``ItemLog``, with the owned units, and their outbox, in memory.

    Args:
        log: Durable storage (the changelog-backed table in the worker, a dict in tests).
    """

    def __init__(self, log: ItemLog) -> None:
        self._log = log
        self._units: dict[str, UnitState] = {}
        self._by_partition: dict[int, set[str]] = {}
        self._outbox: dict[int, dict[bytes, _Outbox]] = {}
        self._staged: dict[int, dict[bytes, bytes | None]] = {}

    def is_loaded(self, partition: int) -> bool:
        """Whether the partition's units are in memory."""
        return partition in self._by_partition

    def load(self, partitions: Iterable[int], partition_of: Callable[[str], int]) -> int:
        """Read the units of ``partitions`` (those not in memory yet) from the log; return how many items."""
        wanted = set(partitions) - set(self._by_partition)
        if not wanted:
            return 0
        with bulk_read():
            return self._load(wanted, partition_of)

    def _load(self, wanted: set[int], partition_of: Callable[[str], int]) -> int:
        started = time.monotonic()
        items: dict[str, list[tuple[str, bytes]]] = {}
        outboxes: dict[int, dict[bytes, _Outbox]] = {partition: {} for partition in wanted}
        owner: dict[str, int] = {}
        count = 0
        for raw_key, raw in self._log.items():
            unit, _, rest = raw_key.decode().partition(SEP)
            partition = owner.get(unit)
            if partition is None:
                partition = owner[unit] = partition_of(unit)
            if partition not in wanted:
                continue
            count += 1
            if rest[:1] == _OUTBOX:
                outboxes[partition][raw_key] = _Outbox(raw_key, decode_outbox(raw))
            else:
                items.setdefault(unit, []).append((rest, raw))
        for partition in wanted:
            self._by_partition[partition] = set()
            self._outbox[partition] = outboxes[partition]
        for unit, unit_items in items.items():
            self._units[unit] = decode_unit(unit, unit_items)
            self._by_partition[owner[unit]].add(unit)
        log.info(
            "partitions %s: %d units, %d items read in %.1f s",
            sorted(wanted),
            len(items),
            count,
            time.monotonic() - started,
        )
        return count

    def keep(self, partitions: set[int]) -> None:
        """Forget the in-memory units of every partition not in ``partitions`` (they moved away).

        What was staged for them and not flushed is forgotten too: the next owner redoes it.
        """
        for partition in set(self._by_partition) - partitions:
            for unit in self._by_partition.pop(partition):
                self._units.pop(unit, None)
            self._outbox.pop(partition, None)
            self._staged.pop(partition, None)

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
        """Stage the changed parts of the unit's state and keep it as the working copy."""
        for key, value in encode_changes(state, changed):
            self._stage(partition, key, value)
        self._units[state.unit_id] = state
        self._by_partition.setdefault(partition, set()).add(state.unit_id)

    def stage_transitions(self, unit_id: str, transitions: Iterable[AlertTransition], partition: int) -> None:
        """Stage alert transitions as outbox entries, one per fingerprint, written with the state."""
        outbox = self._outbox.setdefault(partition, {})
        touched: set[bytes] = set()
        for transition in transitions:
            key = _key(unit_id, _OUTBOX, transition.fingerprint)
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
        failed = {
            p: staged[p] for p, result in zip(partitions, results, strict=True) if isinstance(result, BaseException)
        }
        self._restage(failed)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure

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
        """Replace the working copy of one unit with what the log holds (after a failed evaluation)."""
        prefix = f"{unit_id}{SEP}".encode()
        items = [(k[len(prefix) :].decode(), v) for k, v in self._log.items() if k.startswith(prefix)]
        items = [(rest, v) for rest, v in items if rest[:1] != _OUTBOX]
        if items:
            self._units[unit_id] = decode_unit(unit_id, items)
        else:
            self._units.pop(unit_id, None)
