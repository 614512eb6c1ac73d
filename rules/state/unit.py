"""One unit's state: what the engine reads and updates when an event arrives or time passes.

``UnitState`` holds what a worker keeps in memory for every unit it owns —
its indicators, firing alerts, pending breaches, newest event, the pack its
wake-ups were computed for, and its tasks counted by kind and status — and
reaches its tasks and their wake-ups through ``Tasks`` and ``Wakeups``
(``rules.state.sources``), which a worker keeps in its store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

from rules.state.items import AlertState, Extension, IndicatorState, TaskState
from rules.state.sources import TaskMap, Tasks, WakeupMap, Wakeups

__all__ = ["AlertMap", "Recount", "TaskIndex", "UnitState"]


class TaskIndex(Protocol):
    """A view derived from a unit's tasks (a rule's counts, say), kept up to date task by task."""

    def add(self, task: TaskState) -> None:
        """A task arrived (or its new version did)."""

    def remove(self, task: TaskState) -> None:
        """A task went (or its old version did)."""


_Index = TypeVar("_Index", bound=TaskIndex)


class Recount:
    """A unit's tasks counted again, one at a time (``add``): by (kind, status), and the newest report among them.

    What ``UnitState.recount`` puts in force; a worker feeds it in slices, the
    event loop turning in between, when a unit holds hundreds of thousands.
    """

    __slots__ = ("newest", "tally")

    def __init__(self) -> None:
        self.tally: Tally = Counter()
        self.newest: datetime | None = None

    def add(self, task: TaskState) -> None:
        """Count one task."""
        self.tally[(task.kind, task.status.value)] += 1
        if self.newest is None or task.occurred_at > self.newest:
            self.newest = task.occurred_at


class AlertMap(dict[str, AlertState]):
    """A unit's firing alerts by fingerprint, and which fingerprints each subject holds (``of``).

    The subjects' index is built on the first ``of`` and kept as the map changes, in the map itself: two states
    over one map (a worker's store adopts a unit built in memory, over its alerts) never disagree on it. A change
    of many at once (``update``, ``clear``…) drops the index, built again when next asked.
    """

    __slots__ = ("_subjects",)

    def __init__(self, alerts: Mapping[str, AlertState] | None = None) -> None:
        super().__init__(alerts or {})
        self._subjects: dict[str, dict[str, None]] | None = None  # subject → its fingerprints, in order put

    def of(self, subject: str) -> Collection[str]:
        """The fingerprints of the alerts about ``subject``; O(1) after the first call (a walk of the alerts)."""
        subjects = self._subjects
        if subjects is None:
            subjects = self._subjects = {}
            for fingerprint, alert in self.items():
                subjects.setdefault(alert.subject, {})[fingerprint] = None
        return subjects.get(subject, ())

    def _forget(self, fingerprint: str, alert: AlertState) -> None:
        subjects = self._subjects
        if subjects is not None:
            held = subjects[alert.subject]
            held.pop(fingerprint, None)
            if not held:
                del subjects[alert.subject]

    def __setitem__(self, fingerprint: str, alert: AlertState) -> None:
        previous = self.get(fingerprint)
        if previous is not None:
            self._forget(fingerprint, previous)
        super().__setitem__(fingerprint, alert)
        if self._subjects is not None:
            self._subjects.setdefault(alert.subject, {})[fingerprint] = None

    def __delitem__(self, fingerprint: str) -> None:
        alert = self[fingerprint]
        super().__delitem__(fingerprint)
        self._forget(fingerprint, alert)

    def pop(self, fingerprint: str, *default: Any) -> Any:
        if fingerprint in self:
            alert = super().pop(fingerprint)
            self._forget(fingerprint, alert)
            return alert
        return super().pop(fingerprint, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._subjects = None
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self._subjects = None
        super().clear()

    def setdefault(self, fingerprint: str, alert: AlertState) -> AlertState:
        self._subjects = None
        return super().setdefault(fingerprint, alert)

    def popitem(self) -> tuple[str, AlertState]:
        self._subjects = None
        return super().popitem()

    def __ior__(self, other: Any) -> AlertMap:  # type: ignore[override,misc]
        self._subjects = None
        return super().__ior__(other)


class _Unread:
    """The type of ``UNREAD``: the caller has not read the task (``None`` says it read and found none)."""


UNREAD = _Unread()

#: Tasks by (kind, status): what ``/metrics`` and ``/api/v1/units`` count.
Tally = Counter[tuple[str, str]]


class UnitState:
    """Everything the monitor knows about one unit.

    The maps are updated in place by the engine (see ``rules.engine.apply_event``);
    ``tasks`` only through ``put_task``, ``wakeups`` only through
    ``set_wakeup`` and ``alerts`` only through ``put_alert``, which keep the
    tally, the task indexes and the alerts by subject in step.

    Args:
        unit_id: The unit.
        tasks: Its tasks by id (a dict or ``Tasks``; kept in memory when a dict).
        indicators: Its indicators' latest reports by name.
        alerts: Its firing alerts by fingerprint.
        pending: Breaches waiting out a rule's ``for``, by fingerprint: since when.
        wakeups: Subject → the next instant (epoch seconds) its rules change (a dict or ``Wakeups``).
        last_event_at: When its newest event happened.
        pack_version: The rule pack the wake-ups were computed for.
        tally: Its tasks by (kind, status), when known without counting them (a store keeps it).
        newest_task: With ``tally``, its tasks' newest report (``newest_task_report``), if known.
        extensions: Its roster deadlines extended, by rule id (a task's own extension is the task's).
    """

    __slots__ = (
        "_indexes",
        "_kinds",
        "_newest",
        "_tally",
        "alerts",
        "extensions",
        "indicators",
        "last_event_at",
        "pack_version",
        "pending",
        "tasks",
        "unit_id",
        "wakeups",
    )

    def __init__(
        self,
        unit_id: str,
        tasks: Tasks | Mapping[str, TaskState] | None = None,
        indicators: dict[str, IndicatorState] | None = None,
        alerts: dict[str, AlertState] | None = None,
        pending: dict[str, datetime] | None = None,
        wakeups: Wakeups | Mapping[str, float] | None = None,
        last_event_at: datetime | None = None,
        pack_version: str = "",
        tally: Mapping[tuple[str, str], int] | None = None,
        extensions: dict[str, Extension] | None = None,
        newest_task: datetime | _Unread | None = UNREAD,
    ) -> None:
        self.unit_id = unit_id
        self.tasks: Tasks = _tasks(tasks)
        self.indicators: dict[str, IndicatorState] = indicators if indicators is not None else {}
        self.alerts: AlertMap = alerts if type(alerts) is AlertMap else AlertMap(alerts)
        self.pending: dict[str, datetime] = pending if pending is not None else {}
        self.wakeups: Wakeups = _wakeups(wakeups)
        self.last_event_at = last_event_at
        self.pack_version = pack_version
        self.extensions: dict[str, Extension] = extensions if extensions is not None else {}
        # Tasks by (kind, status): counted once (or given), then kept by ``put_task``.
        self._tally: Tally | None = Counter(tally) if tally is not None else None
        self._kinds: Counter[str] | None = None  # tasks by kind, from the tally once asked (``tracks_kind``)
        # Its tasks' newest report: found once (or given), then kept by ``put_task``.
        empty = tasks is None or (isinstance(tasks, dict) and not tasks)  # in memory, none yet: none has reported
        self._newest: datetime | _Unread | None = None if empty else newest_task
        # Views over the tasks (``task_index``): built once, then kept by ``put_task``.
        self._indexes: dict[str, TaskIndex] | None = None

    def __repr__(self) -> str:
        return (
            f"UnitState(unit_id={self.unit_id!r}, {self.task_count()} tasks, {len(self.indicators)} indicators, "
            f"{len(self.alerts)} alerts, pack_version={self.pack_version!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UnitState):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _COMPARED) and dict(
            self.tasks.items()
        ) == dict(other.tasks.items())

    __hash__ = None  # type: ignore[assignment]  # mutable

    def put_task(self, task: TaskState, previous: TaskState | _Unread | None = UNREAD) -> None:
        """Add or replace a task (in place); ``previous``, the version it replaces, if the caller has just read it."""
        if isinstance(previous, _Unread):
            previous = self.tasks.get(task.task_id)
        self.tasks.put(task)
        newest = self._newest
        if newest is None or (not isinstance(newest, _Unread) and task.occurred_at > newest):
            self._newest = task.occurred_at
        tally = self._tally
        if tally is not None:
            if previous is not None:
                tally[(previous.kind, previous.status.value)] -= 1
            tally[(task.kind, task.status.value)] += 1
            kinds = self._kinds
            if kinds is not None:
                if previous is not None:
                    kinds[previous.kind] -= 1
                kinds[task.kind] += 1
        indexes = self._indexes
        if indexes:
            for index in indexes.values():
                if previous is not None:
                    index.remove(previous)
                index.add(task)

    def put_alert(self, fingerprint: str, alert: AlertState | None) -> None:
        """Add, replace or (``None``) remove the alert ``fingerprint`` (in place)."""
        if alert is None:
            self.alerts.pop(fingerprint, None)
        else:
            self.alerts[fingerprint] = alert

    def alert_rules_of(self, subject: str) -> list[str]:
        """The rules (ids) whose alerts about ``subject`` the unit holds; O(1) after the first call (``AlertMap.of``).

        A unit moving to a new pack asks for each subject of each event.
        """
        alerts = self.alerts
        return [alerts[fingerprint].rule_id for fingerprint in alerts.of(subject)]

    def task_index(self, key: str, build: Callable[[], _Index], kinds: Callable[[str], bool] | None = None) -> _Index:
        """The view ``key`` of the unit's tasks, kept up to date by ``put_task`` (O(1) per task changed).

        Built by ``build`` and fed, on first use, every task, or only those of
        the kinds ``kinds`` admits (what the view selects: its cost is theirs,
        not the unit's); ``key`` must change whenever what ``build`` makes would.
        """
        indexes = self._indexes
        if indexes is None:
            indexes = self._indexes = {}
        index = indexes.get(key)
        if index is None:
            index = build()
            for task in self.tasks_of(kinds):
                index.add(task)
            indexes[key] = index
        return index  # type: ignore[return-value]

    def tasks_of(self, kinds: Callable[[str], bool] | None) -> Iterable[TaskState]:
        """The unit's tasks of the kinds ``kinds`` admits (``None``: every task); costs those tasks, not the unit's."""
        if kinds is None:
            return self.tasks.values()
        held = {kind for kind, _ in self.task_tally() if kinds(kind)}
        return self.tasks.of_kinds(held) if held else ()  # none held: the store is not asked

    def tracks_kind(self, kind: str) -> bool:
        """Whether the unit holds a task of ``kind`` (O(1) once the tally is built: asked for every event)."""
        kinds = self._kinds
        if kinds is None:
            kinds = self._kinds = Counter()
            for (known, _), count in self._counted().items():
                kinds[known] += count
        return kinds.get(kind, 0) > 0

    def kind_count(self) -> int:
        """How many task kinds the unit holds."""
        return len({kind for kind, _ in self.task_tally()})

    def task_count(self) -> int:
        """How many tasks the unit holds (from the tally: no scan)."""
        return sum(self._counted().values())

    def task_tally(self) -> Mapping[tuple[str, str], int]:
        """How many tasks the unit has of each (kind, status); O(1) after the first call."""
        return {key: n for key, n in self._counted().items() if n > 0}

    def recount(self, counted: Recount | None = None) -> None:
        """Count the unit's tasks again from the tasks themselves, and its newest event from its items.

        What a worker does when its stored tally may lag its items: a worker
        killed while it wrote a checkpoint can leave the tasks' items on the
        changelog without the unit's own fields, written last (the next owner
        then finds those events already applied). Costs a read of every task,
        here (one pass), or by the caller (``counted``: every task added).
        """
        if counted is None:
            counted = Recount()
            for task in self.tasks.values():
                counted.add(task)
        self._tally = counted.tally
        self._kinds = None
        self._newest = counted.newest
        reported = [i.occurred_at for i in self.indicators.values()]
        if counted.newest is not None:
            reported.append(counted.newest)
        if reported and (self.last_event_at is None or max(reported) > self.last_event_at):
            self.last_event_at = max(reported)

    def newest_task_report(self) -> datetime | None:
        """When any of the unit's tasks last reported (``None``: none has); O(1) after the first call.

        A task's reports are its events, whose instants only grow (an older one is refused as stale), so this
        is the newest task event: no task has a report after it, and a review report judged at or after it
        finds the unit's last report here without reading its tasks.
        """
        newest = self._newest
        if isinstance(newest, _Unread):
            newest = self._newest = max((task.occurred_at for task in self.tasks.values()), default=None)
        return newest

    def _counted(self) -> Tally:
        tally = self._tally
        if tally is None:  # one pass counts the tasks, and finds their newest report if not known yet
            counted = Recount()
            for task in self.tasks.values():
                counted.add(task)
            tally = self._tally = counted.tally
            if isinstance(self._newest, _Unread):
                self._newest = counted.newest
        return tally

    def set_wakeup(self, subject: str, at: float | None) -> bool:
        """Set (or clear, with ``None``) when ``subject`` next needs a look; return whether it changed."""
        return self.wakeups.put(subject, at)

    @property
    def next_wakeup(self) -> float | None:
        """The earliest instant (epoch seconds) at which any rule's view of this unit changes."""
        return self.wakeups.first()

    def due(self, instant: float) -> list[str]:
        """Subjects whose wake-up is at or before ``instant``; costs the subjects due, not every subject."""
        return self.wakeups.due(instant)


def _tasks(tasks: Tasks | Mapping[str, TaskState] | None) -> Tasks:
    if tasks is None:
        return TaskMap()
    return TaskMap(tasks) if type(tasks) is dict else tasks  # type: ignore[return-value]


def _wakeups(wakeups: Wakeups | Mapping[str, float] | None) -> Wakeups:
    if wakeups is None:
        return WakeupMap()
    return WakeupMap(wakeups.items()) if type(wakeups) is dict else wakeups  # type: ignore[return-value]


#: What two unit states must agree on to be equal, besides their tasks (the indexes are derived from them).
_COMPARED = ("unit_id", "indicators", "alerts", "pending", "wakeups", "last_event_at", "pack_version", "extensions")
