"""Where a unit's tasks and their wake-ups are kept: in memory here, in a worker's store elsewhere.

A unit may track hundreds of thousands of tasks (dossiers), each with the
instant its rules next change. ``UnitState`` reaches them through two small
protocols, ``Tasks`` and ``Wakeups``, so the engine reads a task the same way
whether it is a dict entry (``TaskMap``: rule tests, replay, simulation) or a
key in the worker's RocksDB store (``monitor.state``), where only the working
set is in memory.

Costs the engine relies on: ``get``, ``put`` and ``Wakeups.first`` are cheap
(a dict lookup, or a cache or point read); ``due`` costs the subjects due;
iterating every task (``values``, ``__iter__``) is a scan, done only when the
rules themselves change; ``of_kinds`` costs the tasks of those kinds, and
``due_within`` the tasks whose deadline in force is due in that span.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterable, Iterator
from typing import Protocol

from rules.state.items import TaskState

__all__ = ["TaskMap", "Tasks", "WakeupMap", "Wakeups"]


class Tasks(Protocol):
    """A unit's tasks by id."""

    def get(self, task_id: str, /) -> TaskState | None:
        """The task, if the unit has it."""

    def __getitem__(self, task_id: str, /) -> TaskState: ...
    def __contains__(self, task_id: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...

    def values(self) -> Iterable[TaskState]:
        """Every task (a scan of the unit's tasks)."""

    def items(self) -> Iterable[tuple[str, TaskState]]:
        """Every task by id (a scan)."""

    def of_kinds(self, kinds: Collection[str]) -> Iterable[TaskState]:
        """The tasks of the given kinds (costs those tasks, not the unit's)."""

    def due_within(self, first: float, last: float) -> Iterable[TaskState]:
        """The tasks whose deadline in force sorts between ``first`` and ``last`` (``TaskState.indexed_due``), each once.

        Costs those tasks, not the unit's (a review report asks for its period's, with ``INDEX_MARGIN`` either side).
        """

    def ids_after(self, after_id: str | None, limit: int | None) -> list[str]:
        """The first ``limit`` task ids after ``after_id`` in id order (all of them: ``None``), to walk the tasks in parts."""

    def put(self, task: TaskState) -> None:
        """Add or replace a task (``UnitState.put_task`` keeps its counters in step)."""


class Wakeups(Protocol):
    """When each subject of a unit next needs a look (epoch seconds), with an index by instant."""

    def get(self, subject: str, /) -> float | None:
        """The subject's next wake-up, if it has one."""

    def __getitem__(self, subject: str, /) -> float: ...
    def __contains__(self, subject: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...

    def items(self) -> Iterable[tuple[str, float]]:
        """Every subject's wake-up (a scan)."""

    def put(self, subject: str, at: float | None) -> bool:
        """Set (or clear, with ``None``) a subject's wake-up; whether it changed."""

    def first(self) -> float | None:
        """The earliest wake-up of any subject."""

    def due(self, instant: float) -> list[str]:
        """The subjects whose wake-up is at or before ``instant``; they stay indexed until ``put`` moves them."""


class TaskMap(dict[str, TaskState]):
    """``Tasks`` in memory."""

    def of_kinds(self, kinds: Collection[str]) -> Iterator[TaskState]:
        """The tasks of the given kinds (a pass over every task: in memory, that is cheap)."""
        return (task for task in self.values() if task.kind in kinds)

    def due_within(self, first: float, last: float) -> Iterator[TaskState]:
        """The tasks whose deadline in force sorts between ``first`` and ``last`` (a pass over every task)."""
        return (task for task in self.values() if first <= (task.indexed_due() or math.nan) <= last)

    def ids_after(self, after_id: str | None, limit: int | None) -> list[str]:
        """The first ``limit`` task ids after ``after_id`` in id order (a pass over every id)."""
        ids = (task_id for task_id in self if after_id is None or task_id > after_id)
        return sorted(ids) if limit is None else heapq.nsmallest(limit, ids)

    def put(self, task: TaskState) -> None:
        """Add or replace a task."""
        self[task.task_id] = task


class WakeupMap(dict[str, float]):
    """``Wakeups`` in memory, with a heap of (instant, subject) whose stale entries are dropped lazily."""

    __slots__ = ("_heap",)

    def __init__(self, wakeups: Iterable[tuple[str, float]] = ()) -> None:
        super().__init__(wakeups)
        self._heap: list[tuple[float, str]] | None = None  # built on first use

    def _index(self) -> list[tuple[float, str]]:
        heap = self._heap
        if heap is None or len(heap) > 2 * len(self) + 64:  # first use, or mostly dead entries
            heap = [(at, subject) for subject, at in self.items()]
            heapq.heapify(heap)
            self._heap = heap
        return heap

    def put(self, subject: str, at: float | None) -> bool:
        """Set (or clear, with ``None``) a subject's wake-up; whether it changed."""
        if self.get(subject) == at:
            return False
        if at is None:
            del self[subject]
        else:
            self[subject] = at
            heapq.heappush(self._index(), (at, subject))
        return True

    def first(self) -> float | None:
        """The earliest wake-up of any subject."""
        heap = self._index()
        while heap and self.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def due(self, instant: float) -> list[str]:
        """Subjects whose wake-up is at or before ``instant``; costs O(due · log n), not O(subjects)."""
        heap = self._index()
        due: dict[str, float] = {}
        while heap and heap[0][0] <= instant:
            at, subject = heapq.heappop(heap)
            if self.get(subject) == at:
                due[subject] = at
        for subject, at in due.items():  # they stay indexed until the evaluation moves them
            heapq.heappush(heap, (at, subject))
        return list(due)
