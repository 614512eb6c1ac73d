"""Unit state kept in a faust table item by item, with the working copy in memory.

A unit's state is not one value: every task, indicator, firing alert and
pending breach is its own table entry, so an event costs one small write (its
task, with the task's next wake-up) however many items the unit tracks. The
worker works on an in-memory copy of the units of the partitions it owns,
read from the table when it takes a partition over; the deadline index (each
unit's heap of wake-ups, see ``UnitState``) is rebuilt from that copy.

Keys are ``unit ␟ part``: ``␟`` alone for the unit's own fields, ``␟s`` +
subject, ``␟a`` + fingerprint for a firing alert, ``␟p`` + fingerprint for a
pending breach. Writes go to the changelog partition of the record being
processed, which is the unit's partition, so a partition's items move between
workers together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from datetime import datetime
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, TypeAdapter

from rules.state import AlertState, IndicatorState, TaskState, UnitState
from rules.subjects import Change, ChangePart, Subject, SubjectKind

__all__ = ["ItemStore", "UnitStore", "decode_unit", "encode_changes"]

log = logging.getLogger(__name__)

SEP = "\x1f"
_UNIT, _SUBJECT, _ALERT, _PENDING = "", "s", "a", "p"
_PARTS = {ChangePart.UNIT: _UNIT, ChangePart.SUBJECT: _SUBJECT, ChangePart.ALERT: _ALERT, ChangePart.PENDING: _PENDING}
_INSTANT = TypeAdapter(AwareDatetime)


class SubjectItem(BaseModel):
    """The stored form of one subject: its task or indicator, and when its rules next change."""

    model_config = ConfigDict(frozen=True)

    task: TaskState | None = None
    indicator: IndicatorState | None = None
    wakeup: float | None = None


class UnitItem(BaseModel):
    """The stored form of a unit's own fields."""

    model_config = ConfigDict(frozen=True)

    pack_version: str = ""


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
            yield key, None if empty else stored.model_dump_json(exclude_none=True).encode()
        elif part == ChangePart.ALERT:
            alert = state.alerts.get(name)
            yield key, alert.model_dump_json().encode() if alert is not None else None
        elif part == ChangePart.PENDING:
            since = state.pending.get(name)
            yield key, _INSTANT.dump_json(since) if since is not None else None
        else:
            yield key, UnitItem(pack_version=state.pack_version).model_dump_json().encode()


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
            stored = SubjectItem.model_validate_json(raw)
            if stored.task is not None:
                tasks[stored.task.task_id] = stored.task
            if stored.indicator is not None:
                indicators[stored.indicator.indicator] = stored.indicator
            if stored.wakeup is not None:
                wakeups[name] = stored.wakeup
        elif part == _ALERT:
            alerts[name] = AlertState.model_validate_json(raw)
        elif part == _PENDING:
            pending[name] = _INSTANT.validate_json(raw)
        else:
            pack_version = UnitItem.model_validate_json(raw).pack_version
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


class ItemStore:
    """``UnitStore`` over one byte-valued table of items, with the owned units in memory.

    Args:
        table: The table (a faust ``Table`` in the worker, a dict in tests).
    """

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self._table = table
        self._units: dict[str, UnitState] = {}
        self._by_partition: dict[int, set[str]] = {}

    def is_loaded(self, partition: int) -> bool:
        """Whether the partition's units are in memory."""
        return partition in self._by_partition

    def load(self, partitions: Iterable[int], partition_of: Callable[[str], int]) -> int:
        """Read the units of ``partitions`` (those not in memory yet) from the table; return how many items."""
        wanted = set(partitions) - set(self._by_partition)
        if not wanted:
            return 0
        started = time.monotonic()
        items: dict[str, list[tuple[str, bytes]]] = {}
        owner: dict[str, int] = {}
        count = 0
        for raw_key, raw in self._table.items():
            unit, _, rest = raw_key.decode().partition(SEP)
            partition = owner.get(unit)
            if partition is None:
                partition = owner[unit] = partition_of(unit)
            if partition in wanted:
                items.setdefault(unit, []).append((rest, raw))
                count += 1
        for partition in wanted:
            self._by_partition[partition] = set()
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
        """Forget the in-memory units of every partition not in ``partitions`` (they moved away)."""
        for partition in set(self._by_partition) - partitions:
            for unit in self._by_partition.pop(partition):
                self._units.pop(unit, None)

    def get(self, unit_id: str) -> UnitState | None:
        """The unit's state, if any."""
        return self._units.get(unit_id)

    def units(self, partition: int) -> list[str]:
        """The units of a partition that is in memory."""
        return list(self._by_partition.get(partition, ()))

    def commit(self, state: UnitState, changed: Iterable[Change], partition: int) -> None:
        """Write the changed parts of the unit's state and keep it as the working copy."""
        for key, value in encode_changes(state, changed):
            if value is None:
                self._table.pop(key, None)
            else:
                self._table[key] = value
        self._units[state.unit_id] = state
        self._by_partition.setdefault(partition, set()).add(state.unit_id)

    def reload(self, unit_id: str) -> None:
        """Replace the working copy of one unit with what the table holds (after a failed evaluation)."""
        prefix = f"{unit_id}{SEP}".encode()
        items = [(k[len(prefix) :].decode(), v) for k, v in self._table.items() if k.startswith(prefix)]
        if items:
            self._units[unit_id] = decode_unit(unit_id, items)
        else:
            self._units.pop(unit_id, None)
