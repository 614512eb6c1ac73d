"""A unit's tasks and wake-ups read from the worker's store on demand: ``Tasks`` and ``Wakeups`` over RocksDB.

A worker owns units that track millions of tasks between them; it keeps none
of them in memory for long. A task is read when an event or a due wake-up
asks for it, through the layers of ``monitor.state.reads`` (what changed
since the last flush, a cache, the store).

The store's derived keys (``monitor.state.keys``) give a unit's tasks by
kind and by due instant, and its wake-ups in order; a wake-up set since the
last flush is in the overlay and in a small heap here until the flush
writes its key.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterator

from monitor.state.keys import SUBJECT as SUBJECT_PART
from monitor.state.keys import (
    SUBJECT_ITEM,
    SubjectItem,
    after,
    due_prefix,
    is_task,
    item_key,
    kind_prefix,
    ordered,
    ordered_end,
    split_wake_key,
    task_prefix,
    wake_end,
    wake_prefix,
)
from monitor.state.reads import MISSING, PartitionItems, scan, scan_keys
from rules.state import TaskState, WakeupMap

__all__ = ["StoredTasks", "StoredWakeups", "task_items"]


class StoredTasks:
    """``Tasks`` of one unit, read from its partition's items.

    Args:
        unit_id: The unit.
        items: Its partition's items.
    """

    __slots__ = ("_items", "_prefix", "unit_id")

    def __init__(self, unit_id: str, items: PartitionItems) -> None:
        self.unit_id = unit_id
        self._items = items
        self._prefix = task_prefix(unit_id)

    def _key(self, task_id: str) -> bytes:
        return self._prefix + task_id.encode()

    def get(self, task_id: str, /) -> TaskState | None:
        """The task, if the unit has it (overlay, cache, then a point read)."""
        item = self._items.item(self._key(task_id))
        return item.task if item is not None else None

    def __getitem__(self, task_id: str, /) -> TaskState:
        task = self.get(task_id)
        if task is None:
            raise KeyError(task_id)
        return task

    def __contains__(self, task_id: object, /) -> bool:
        return isinstance(task_id, str) and self.get(task_id) is not None

    def put(self, task: TaskState) -> None:
        """Add or replace a task, keeping its wake-up."""
        key = self._key(task.task_id)
        known = self._items.item(key)
        self._items.put(key, SubjectItem(task=task, wakeup=known.wakeup if known is not None else None))

    def items(self) -> Iterator[tuple[str, TaskState]]:
        """Every task by id (a scan of the unit's tasks, with the overlay's newer versions)."""
        prefix = self._prefix
        for key, item in task_items(self._items, prefix):
            if item.task is not None:
                yield key[len(prefix) :].decode(), item.task

    def values(self) -> Iterator[TaskState]:
        """Every task (a scan)."""
        return (task for _, task in self.items())

    def __iter__(self) -> Iterator[str]:
        return (task_id for task_id, _ in self.items())

    def __len__(self) -> int:
        """How many tasks (a scan: ``UnitState.task_count`` knows without one)."""
        return sum(1 for _ in self.items())

    def of_kinds(self, kinds: Collection[str]) -> Iterator[TaskState]:
        """The tasks of the given kinds, through the derived keys by kind and the overlay."""
        items, unit = self._items, self.unit_id
        found: dict[str, None] = {}
        for kind in sorted(kinds):
            prefix = kind_prefix(unit, kind)
            for key in scan_keys(items.reader, items.partition, prefix, after(prefix)):
                found[key[len(prefix) :].decode()] = None
        prefix = self._prefix
        for key, item in items.overlay.items():
            if key.startswith(prefix) and item is not None and item.task is not None and item.task.kind in kinds:
                found[item.task.task_id] = None
        for task_id in found:
            task = self.get(task_id)
            if task is not None and task.kind in kinds:  # a key of its former kind is passed over
                yield task

    def due_within(self, first: float, last: float) -> Iterator[TaskState]:
        """The tasks whose deadline in force sorts between ``first`` and ``last``, each once.

        Through the derived keys by due instant in that span, and the overlay; a key of a deadline the task no
        longer has is passed over. A scan: what it reads is not put in the cache (``PartitionItems.durable``).
        """
        items, unit = self._items, self.unit_id
        prefix = due_prefix(unit)
        found: dict[str, None] = {}
        for key in scan_keys(items.reader, items.partition, prefix + ordered(first), ordered_end(prefix, last)):
            found[key[len(prefix) + 8 :].decode()] = None
        prefix = self._prefix
        for key, item in items.overlay.items():
            if key.startswith(prefix) and item is not None and item.task is not None:
                found[item.task.task_id] = None
        for task_id in found:
            item = self._items.item(self._key(task_id), keep=False)
            task = item.task if item is not None else None
            if task is not None and first <= (task.indexed_due() or math.nan) <= last:
                yield task

    def ids_after(self, after_id: str | None, limit: int | None) -> list[str]:
        """The first ``limit`` task ids after ``after_id`` in id order: a scan of keys from there, with the overlay's."""
        items, prefix = self._items, self._prefix
        start, stop = (prefix if after_id is None else self._key(after_id) + b"\0"), after(prefix)
        changed = {key: item for key, item in items.overlay.items() if start <= key < stop}
        found: list[bytes] = []
        for key in scan_keys(items.reader, items.partition, start, stop):
            if key in changed:
                continue  # the overlay's version says whether it is still there
            found.append(key)
            if limit is not None and len(found) == limit:
                break  # every key before the last one found is in, with the overlay's below
        found += [key for key, item in changed.items() if item is not None and item.task is not None]
        found.sort()
        return [key[len(prefix) :].decode() for key in (found if limit is None else found[:limit])]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredTasks | dict):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def task_items(items: PartitionItems, prefix: bytes) -> Iterator[tuple[bytes, SubjectItem]]:
    """The subject items of a unit's tasks (``prefix``: ``task_prefix``), the overlay's versions in place of the store's.

    The store's first, in key order, then the overlay's new ones: the overlay
    holds what changed since the last flush, a few thousand items at most.
    """
    changed = {key: item for key, item in items.overlay.items() if key.startswith(prefix)}
    for key, raw in scan(items.reader, items.partition, prefix, after(prefix)):
        if key not in changed:
            yield key, SUBJECT_ITEM.decode(raw)
    for key in sorted(changed):
        item = changed[key]
        if item is not None:
            yield key, item


class StoredWakeups:
    """``Wakeups`` of one unit: tasks' in their items and the store's ordered keys, others in memory.

    Args:
        unit_id: The unit.
        items: Its partition's items.
        others: The wake-ups of its other subjects (indicators, the unit itself), read with the unit.
    """

    __slots__ = ("_first", "_items", "_others", "_pending", "_prefix", "unit_id")

    def __init__(self, unit_id: str, items: PartitionItems, others: WakeupMap | None = None) -> None:
        self.unit_id = unit_id
        self._items = items
        self._others = others if others is not None else WakeupMap()
        self._prefix = wake_prefix(unit_id)
        self._first: object = MISSING  # the earliest derived key's instant, read when needed
        self._pending: list[tuple[float, str]] = []  # task wake-ups set since the last flush: (instant, subject)

    def _key(self, subject: str) -> bytes:
        return item_key(self.unit_id, SUBJECT_PART, subject)

    def get(self, subject: str, /) -> float | None:
        """The subject's next wake-up, if it has one."""
        if not is_task(subject):
            return self._others.get(subject)
        item = self._items.item(self._key(subject))
        return item.wakeup if item is not None else None

    def __getitem__(self, subject: str, /) -> float:
        at = self.get(subject)
        if at is None:
            raise KeyError(subject)
        return at

    def __contains__(self, subject: object, /) -> bool:
        return isinstance(subject, str) and self.get(subject) is not None

    def put(self, subject: str, at: float | None) -> bool:
        """Set (or clear) a subject's wake-up; whether it changed."""
        if not is_task(subject):
            return self._others.put(subject, at)
        key = self._key(subject)
        known = self._items.item(key)
        if (known.wakeup if known is not None else None) == at:
            return False
        task = known.task if known is not None else None
        self._items.put(key, SubjectItem(task=task, wakeup=at) if task is not None or at is not None else None)
        if at is not None:
            heapq.heappush(self._pending, (at, subject))
        return True

    def flushed(self) -> None:
        """The unit's task wake-ups set so far are durable, with their derived keys: read those from now on."""
        self._pending.clear()
        self._first = MISSING

    def first(self) -> float | None:
        """The earliest wake-up: of its other subjects, the overlay's, and the store's first derived key."""
        candidates = [
            at for at in (self._others.first(), self._stored_first(), self._pending_first()) if at is not None
        ]
        return min(candidates, default=None)

    def _stored_first(self) -> float | None:
        """The earliest derived key that its item still says (those that went stale are passed over, and dropped)."""
        if self._first is MISSING:
            items, prefix = self._items, self._prefix
            self._first = None
            stale: list[bytes] = []
            for key in scan_keys(items.reader, items.partition, prefix, after(prefix)):
                at, subject = split_wake_key(key, prefix)
                if self.get(subject) == at:
                    self._first = at
                    break
                if self._went_stale(subject, at):
                    stale.append(key)
            if stale:
                items.reader.forget(items.partition, stale)
        return self._first  # type: ignore[return-value]

    def _went_stale(self, subject: str, at: float) -> bool:
        """Whether the store's own item no longer wakes at ``at`` (the overlay's may differ, and be lost in a crash)."""
        durable = self._items.durable(self._key(subject))
        return durable is None or durable.wakeup != at

    def _pending_first(self) -> float | None:
        pending = self._pending
        while pending and self.get(pending[0][1]) != pending[0][0]:
            heapq.heappop(pending)
        return pending[0][0] if pending else None

    def due(self, instant: float) -> list[str]:
        """Subjects due at ``instant``: other subjects', the overlay's, and the store's derived keys up to it.

        A derived key whose item says otherwise is passed over, and deleted
        when the store's own item says otherwise too (a deadline moved, a task done).
        """
        due = dict.fromkeys(self._others.due(instant))
        for at, subject in self._pending:
            if at <= instant and self.get(subject) == at:
                due[subject] = None
        items, prefix = self._items, self._prefix
        stale: list[bytes] = []
        end = wake_end(self.unit_id, instant)
        for key in scan_keys(items.reader, items.partition, prefix, end):
            at, subject = split_wake_key(key, prefix)
            if self.get(subject) == at:
                due[subject] = None
            elif self._went_stale(subject, at):
                stale.append(key)
        if stale:
            items.reader.forget(items.partition, stale)
            self._first = MISSING
        return list(due)

    def items(self) -> Iterator[tuple[str, float]]:
        """Every subject's wake-up: the other subjects', then the tasks' (a scan of the unit's tasks)."""
        yield from self._others.items()
        start = len(item_key(self.unit_id, SUBJECT_PART))
        for key, item in task_items(self._items, task_prefix(self.unit_id)):
            if item.wakeup is not None:
                yield key[start:].decode(), item.wakeup

    def __iter__(self) -> Iterator[str]:
        return (subject for subject, _ in self.items())

    def __len__(self) -> int:
        return sum(1 for _ in self.items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredWakeups | dict):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
