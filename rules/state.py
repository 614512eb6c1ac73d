"""Per-unit state the engine keeps between inputs; serialised into the worker's tables."""

from __future__ import annotations

import heapq
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol, Self, TypeVar
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr

from events.models import IndicatorEvent, TaskStatus, TaskStatusEvent

__all__ = ["SEEN_KEPT", "AlertState", "IndicatorState", "TaskIndex", "TaskState", "UnitState"]

_FROZEN = ConfigDict(frozen=True, extra="ignore")

#: How many (source, event_id) keys each task or indicator remembers, to drop redelivered events.
SEEN_KEPT = 8


def _seen(previous: tuple[str, ...], key: str) -> tuple[str, ...]:
    return (*previous[-(SEEN_KEPT - 1) :], key)


class TaskState(BaseModel):
    """The latest known status of one task, and when it first reached each status."""

    model_config = _FROZEN

    task_id: str
    kind: str
    status: TaskStatus
    deadline: AwareDatetime | date | None = None
    title: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    occurred_at: AwareDatetime
    event_id: str
    first_reached: dict[TaskStatus, AwareDatetime] = Field(default_factory=dict)
    seen: tuple[str, ...] = Field(default=(), description="Dedup keys of the latest events about this task.")

    @classmethod
    def from_event(cls, event: TaskStatusEvent, previous: TaskState | None = None) -> Self:
        """The task as the event reports it, keeping when earlier statuses were first reached."""
        reached = dict(previous.first_reached) if previous is not None else {}
        reached.setdefault(event.status, event.occurred_at)
        # The event is validated already: construct without validating it a second time,
        # sharing what a million tasks would otherwise each hold a copy of.
        return _built(
            cls,
            _TASK_FIELDS,
            {
                "task_id": event.task_id,
                "kind": sys.intern(event.kind),  # a handful of kinds, held by a million tasks
                "status": event.status,
                "deadline": event.deadline,
                "title": event.title,
                "labels": event.labels or _NO_LABELS,
                "occurred_at": event.occurred_at,
                "event_id": event.event_id,
                "first_reached": reached,
                "seen": _seen(previous.seen if previous is not None else (), event.dedup_key),
            },
        )

    def compacted(self) -> Self:
        """This task (read back by validation), holding what tasks built from events share.

        Validation gives each task its own set of the fields it was given (728
        bytes) and its own copy of its kind's name; a million tasks read back
        at a restart need neither: the set tasks built from events share, and
        the interned name.
        """
        object.__setattr__(self, "__pydantic_fields_set__", _TASK_FIELDS)
        self.__dict__["kind"] = sys.intern(self.kind)
        return self

    def fields(self, unit_id: str) -> dict[str, str]:
        """The fields rule matchers can test."""
        return {"kind": self.kind, "task_id": self.task_id, "status": self.status.value, "unit_id": unit_id}

    def own_due(self, tz: ZoneInfo) -> datetime | None:
        """The task's own deadline as an instant; a bare date means the end of that day in ``tz``."""
        deadline = self.deadline
        if deadline is None or isinstance(deadline, datetime):
            return deadline
        return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=tz)


class IndicatorState(BaseModel):
    """The latest reported value of one indicator."""

    model_config = _FROZEN

    indicator: str
    value: float
    period: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    occurred_at: AwareDatetime
    event_id: str
    seen: tuple[str, ...] = Field(default=(), description="Dedup keys of the latest reports of this indicator.")

    @classmethod
    def from_event(cls, event: IndicatorEvent, previous: IndicatorState | None = None) -> Self:
        """The indicator as the event reports it."""
        return _built(
            cls,
            _INDICATOR_FIELDS,
            {
                "indicator": event.indicator,
                "value": event.number,
                "period": event.period,
                "labels": event.labels or _NO_LABELS,
                "occurred_at": event.occurred_at,
                "event_id": event.event_id,
                "seen": _seen(previous.seen if previous is not None else (), event.dedup_key),
            },
        )

    def fields(self, unit_id: str) -> dict[str, str]:
        """The fields rule matchers can test."""
        return {"indicator": self.indicator, "unit_id": unit_id}


_Model = TypeVar("_Model", bound=BaseModel)


def _built(cls: type[_Model], fields: set[str], values: dict[str, Any]) -> _Model:
    """A model from values already valid, every field given: what ``model_construct`` does, five times faster.

    For models with no private attributes, no extra fields and no defaults to
    fill in (every field is in ``values``); ``tests/rules/test_state.py`` holds
    this to what pydantic builds.
    """
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", fields)
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


# Shared by every state built from an event: frozen models never change either.
_NO_LABELS: dict[str, str] = {}
#: The fields of every task built from an event (or read back), one set shared by all.
_TASK_FIELDS = set(TaskState.model_fields)
_INDICATOR_FIELDS = set(IndicatorState.model_fields)


class AlertState(BaseModel):
    """An alert that is firing now; removed from the state when it resolves."""

    model_config = _FROZEN

    fingerprint: str
    rule_id: str
    stage: str
    step: str | None = None
    severity: str
    labels: dict[str, str]
    starts_at: AwareDatetime
    subject: str = Field(description="Key of the task, indicator or unit the alert is about.")
    summary: str = ""


class TaskIndex(Protocol):
    """A view derived from a unit's tasks (a rule's counts, say), kept up to date task by task."""

    def add(self, task: TaskState) -> None:
        """A task arrived (or its new version did)."""

    def remove(self, task: TaskState) -> None:
        """A task went (or its old version did)."""


_Index = TypeVar("_Index", bound=TaskIndex)


class UnitState(BaseModel):
    """Everything the monitor knows about one unit.

    The maps are updated in place by the engine (see ``rules.engine.apply_event``);
    ``tasks`` only through ``put_task`` and ``wakeups`` only through
    ``set_wakeup``, which keep the task tally and the deadline index in step.
    """

    model_config = _FROZEN

    unit_id: str
    tasks: dict[str, TaskState] = Field(default_factory=dict)
    indicators: dict[str, IndicatorState] = Field(default_factory=dict)
    alerts: dict[str, AlertState] = Field(default_factory=dict)
    pending: dict[str, AwareDatetime] = Field(default_factory=dict, description="Breaches waiting out a rule's 'for'.")
    wakeups: dict[str, float] = Field(default_factory=dict, description="Subject → next instant its rules change.")
    last_event_at: AwareDatetime | None = None
    pack_version: str = Field(default="", description="Rule pack the wake-ups were computed for.")
    # Deadline index: (instant, subject) heap over ``wakeups``; entries that no longer
    # match ``wakeups`` are dropped lazily. Built on first use.
    _heap: list[tuple[float, str]] | None = PrivateAttr(default=None)
    # Tasks by (kind, status), for metrics: counted once, then kept by ``put_task``.
    _tally: Counter[tuple[str, str]] | None = PrivateAttr(default=None)
    # Views over the tasks (``task_index``): built once, then kept by ``put_task``.
    _indexes: dict[str, TaskIndex] | None = PrivateAttr(default=None)

    def _private(self) -> dict[str, Any]:
        """The private attributes, read directly: pydantic's attribute hook costs microseconds per event."""
        private = self.__pydantic_private__
        assert private is not None  # pydantic sets it on every model that declares private attributes
        return private

    def put_task(self, task: TaskState) -> None:
        """Add or replace a task (in place)."""
        previous = self.tasks.get(task.task_id)
        self.tasks[task.task_id] = task
        private = self._private()
        tally = private["_tally"]
        if tally is not None:
            if previous is not None:
                tally[(previous.kind, previous.status.value)] -= 1
            tally[(task.kind, task.status.value)] += 1
        indexes = private["_indexes"]
        if indexes:
            for index in indexes.values():
                if previous is not None:
                    index.remove(previous)
                index.add(task)

    def task_index(self, key: str, build: Callable[[], _Index]) -> _Index:
        """The view ``key`` of the unit's tasks, kept up to date by ``put_task`` (O(1) per task changed).

        Built by ``build`` and fed every task on first use (O(tasks)); ``key``
        must change whenever what ``build`` makes would.
        """
        private = self._private()
        indexes: dict[str, TaskIndex] | None = private["_indexes"]
        if indexes is None:
            indexes = private["_indexes"] = {}
        index = indexes.get(key)
        if index is None:
            index = build()
            for task in self.tasks.values():
                index.add(task)
            indexes[key] = index
        return index  # type: ignore[return-value]

    def task_tally(self) -> Mapping[tuple[str, str], int]:
        """How many tasks the unit has of each (kind, status); O(1) after the first call."""
        if self._tally is None:
            self._tally = Counter((t.kind, t.status.value) for t in self.tasks.values())
        return {key: n for key, n in self._tally.items() if n > 0}

    def _index(self) -> list[tuple[float, str]]:
        private = self._private()
        heap: list[tuple[float, str]] | None = private["_heap"]
        if heap is None or len(heap) > 2 * len(self.wakeups) + 64:  # first use, or mostly dead entries
            heap = [(at, subject) for subject, at in self.wakeups.items()]
            heapq.heapify(heap)
            private["_heap"] = heap
        return heap

    def set_wakeup(self, subject: str, at: float | None) -> bool:
        """Set (or clear, with ``None``) when ``subject`` next needs a look; return whether it changed."""
        wakeups = self.wakeups
        if wakeups.get(subject) == at:
            return False
        if at is None:
            del wakeups[subject]
        else:
            wakeups[subject] = at
            heapq.heappush(self._index(), (at, subject))
        return True

    @property
    def next_wakeup(self) -> float | None:
        """The earliest instant (epoch seconds) at which any rule's view of this unit changes."""
        heap, wakeups = self._index(), self.wakeups
        while heap and wakeups.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def due(self, instant: float) -> list[str]:
        """Subjects whose wake-up is at or before ``instant``; costs O(due · log n), not O(subjects)."""
        heap, wakeups = self._index(), self.wakeups
        due: dict[str, float] = {}
        while heap and heap[0][0] <= instant:
            at, subject = heapq.heappop(heap)
            if wakeups.get(subject) == at:
                due[subject] = at
        for subject, at in due.items():  # they stay indexed until the evaluation moves them
            heapq.heappush(heap, (at, subject))
        return list(due)
