"""The items of a unit's state: tasks, indicators and firing alerts, as the worker stores them.

A worker holds millions of tasks, so the items are ``msgspec`` structs, not
pydantic models: no ``__dict__``, no GC tracking, built from an event without
validating it a second time, and read back from the store five times faster.
They are the monitor's own records, never input: pydantic stays the schema of
everything that comes from outside (events, rule files, the API). Items are
frozen: a new version of a task is a new item, and an item is shared between
the versions of a unit that hold it.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Protocol, Self, TypeAlias
from zoneinfo import ZoneInfo

import msgspec
from msgspec.structs import force_setattr

from events.models import ExtensionEvent, IndicatorEvent, TaskStatus, TaskStatusEvent, dedup_key

__all__ = [
    "EARLIER_REPORTS",
    "INDEX_MARGIN",
    "SEEN_KEPT",
    "AlertState",
    "Extension",
    "IndicatorState",
    "Instant",
    "Reached",
    "TaskState",
    "has_seen",
    "indexed_due",
    "parse_deadline",
    "seen_keys",
]

#: An aware instant (one without a UTC offset is refused when an item is read back).
Instant: TypeAlias = Annotated[datetime, msgspec.Meta(tz=True)]

#: How many (source, event_id) keys each task or indicator remembers, to drop redelivered events.
SEEN_KEPT = 8

#: How many reports before the latest each indicator keeps (a year of monthly reports, and one): what a review
#: report needs to say where an indicator stood at the start and at the end of a period.
EARLIER_REPORTS = 13
_REPORT = struct.Struct("<dd")

if TYPE_CHECKING:
    Deadline: TypeAlias = datetime | date
else:
    # msgspec decodes no union of two string-encoded types: a stored deadline is read as its
    # ISO text and turned into a date or an aware datetime by ``TaskState.__post_init__``.
    Deadline = str


class _Reported(Protocol):
    """A task or an indicator: what remembers the events that updated it."""

    @property
    def source(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def seen(self) -> tuple[str, ...]: ...


def _own_key(item: _Reported) -> str | None:
    # Items stored before ``source`` was kept have no source, and their own key in ``seen``.
    return dedup_key(item.source, item.event_id) if item.source else None


def seen_keys(item: _Reported) -> tuple[str, ...]:
    """The dedup keys of the latest events that updated ``item``, oldest first, its own last (at most ``SEEN_KEPT``)."""
    own = _own_key(item)
    return item.seen if own is None else (*item.seen, own)


def has_seen(item: _Reported, event: TaskStatusEvent | IndicatorEvent | ExtensionEvent) -> bool:
    """Whether ``event`` is among the latest that updated ``item``."""
    return (event.event_id == item.event_id and event.source == item.source) or event.dedup_key in item.seen


def _earlier(previous: _Reported | None) -> tuple[str, ...]:
    """The dedup keys a new version of ``previous`` keeps besides its own: the latest ``SEEN_KEPT - 1``."""
    if previous is None:
        return ()
    return seen_keys(previous)[-(SEEN_KEPT - 1) :]


def _known(event: TaskStatusEvent | IndicatorEvent, previous: TaskState | IndicatorState | None, name: str) -> Any:
    """The event's field ``name``; the one ``previous`` holds when the event left it out.

    An event says what changed: a field it omits is not a field it clears
    (an explicit ``null`` is). pydantic's ``model_fields_set`` tells the two apart.
    """
    if previous is not None and name not in event.model_fields_set:
        return getattr(previous, name)
    return getattr(event, name)


def parse_deadline(text: str) -> datetime | date:
    """A stored deadline: a bare date (``2024-07-19``) or an aware instant."""
    if len(text) == 10:
        return date.fromisoformat(text)
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"stored deadline {text!r} has no UTC offset")
    return instant


#: How far (seconds) a deadline's place in an index by due instant (``indexed_due``) may be from its instant.
INDEX_MARGIN = 86_400.0


def indexed_due(due: datetime | date) -> float:
    """Where a deadline sorts in an index by due instant (epoch seconds), whatever time zone its rules are in.

    An instant is itself; a bare date is the end of that day in UTC, within 14 hours of its end in any zone.
    So an index asked for [first - ``INDEX_MARGIN``, last + ``INDEX_MARGIN``] holds every deadline due
    between ``first`` and ``last``, in any zone (and a few beside, which the asker judges and passes over).
    """
    if isinstance(due, datetime):
        return due.timestamp()
    return datetime.combine(due + timedelta(days=1), time(0), tzinfo=UTC).timestamp()


# Shared by every item that has none: items are never changed once built.
_NO_LABELS: dict[str, str] = {}


def _share(item: TaskState | IndicatorState) -> None:
    """Make a new item hold what items share instead of a copy of its own.

    A handful of sources (and kinds, and label maps) are held by a million
    items: one copy each, not a million.
    """
    force_setattr(item, "source", sys.intern(item.source))
    if not item.labels and item.labels is not _NO_LABELS:
        force_setattr(item, "labels", _NO_LABELS)


class Reached(msgspec.Struct, frozen=True, gc=False, omit_defaults=True, forbid_unknown_fields=True):
    """When a task first reached each status (``None``: not yet).

    Stored as the JSON object ``{"in_progress": "2024-07-05T16:00:00+07:00", …}``;
    held as a struct of five slots (56 bytes) rather than a dict (224 bytes
    with one entry), a million times over.
    """

    not_started: Instant | None = None
    in_progress: Instant | None = None
    completed: Instant | None = None
    ongoing: Instant | None = None
    cancelled: Instant | None = None

    @classmethod
    def of(cls, reached: Mapping[TaskStatus, datetime]) -> Reached:
        """The instants given per status."""
        return cls(**{status.value: at for status, at in reached.items()})

    def get(self, status: TaskStatus) -> datetime | None:
        """When the task first reached ``status``, if it has."""
        at: datetime | None = getattr(self, status.value)
        return at

    def reaching(self, status: TaskStatus, at: datetime) -> Reached:
        """These instants, with ``status`` reached at ``at`` unless it was reached before."""
        if getattr(self, status.value) is not None:
            return self
        return msgspec.structs.replace(self, **{status.value: at})


assert set(Reached.__struct_fields__) == {status.value for status in TaskStatus}, "a slot per status"
_NOTHING_REACHED = Reached()


class Extension(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """A new deadline granted (``ExtensionEvent``), as a task or a unit's roster deadline keeps it."""

    due: Deadline
    reference: str
    granted_by: str
    granted_at: Instant
    event_id: str
    granted_by_name: str = ""
    note: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.due, str):
            force_setattr(self, "due", parse_deadline(self.due))

    @classmethod
    def from_event(cls, event: ExtensionEvent) -> Self:
        """What ``event`` grants."""
        return cls(
            due=event.due,
            reference=event.reference,
            granted_by=event.granted_by,
            granted_at=event.occurred_at,
            event_id=event.event_id,
            granted_by_name=event.granted_by_name,
            note=event.note,
        )

    def instant(self, tz: ZoneInfo) -> datetime:
        """The new due instant; a bare date means the end of that day in ``tz``."""
        due = self.due
        return due if isinstance(due, datetime) else _day_end(due, tz)

    def as_json(self) -> dict[str, str | None]:
        """The extension as the API and the reports show it."""
        return {
            "due": self.due.isoformat(),
            "reference": self.reference,
            "granted_by": self.granted_by,
            "granted_by_name": self.granted_by_name or None,
            "granted_at": self.granted_at.isoformat(),
            "note": self.note,
        }


class TaskState(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """The latest known status of one task, and when it first reached each status."""

    task_id: str
    kind: str
    status: TaskStatus
    occurred_at: Instant
    event_id: str
    deadline: Deadline | None = None
    title: str | None = None
    labels: dict[str, str] = _NO_LABELS
    first_reached: Reached = _NOTHING_REACHED
    source: str = ""  # of the latest event: with ``event_id``, its dedup key
    seen: tuple[str, ...] = ()  # dedup keys of the events before it (``seen_keys``)
    unit_code: str = ""  # the code the latest event named the unit by, when not its id (``Event.unit_code``)
    extension: Extension | None = None  # the latest extension granted: its due replaces the task's under every rule

    def __post_init__(self) -> None:
        _share(self)
        force_setattr(self, "kind", sys.intern(self.kind))
        if isinstance(self.deadline, str):
            force_setattr(self, "deadline", parse_deadline(self.deadline))
        reached = self.first_reached.get(self.status)
        if reached is not None and reached is not self.occurred_at and reached == self.occurred_at:
            force_setattr(self.first_reached, self.status.value, self.occurred_at)  # one instant object, not two

    @classmethod
    def from_event(cls, event: TaskStatusEvent, previous: TaskState | None = None) -> Self:
        """The task as the event reports it, keeping when earlier statuses were first reached.

        A field the event leaves out (``kind``, ``deadline``, ``title``,
        ``labels``) keeps its value from ``previous``: a completion that does
        not repeat the deadline is judged against the deadline in force. An
        explicit ``null`` removes a deadline or a title, ``labels: {}`` the labels.
        """
        reached = (previous.first_reached if previous is not None else _NOTHING_REACHED).reaching(
            event.status, event.occurred_at
        )
        return cls(
            task_id=event.task_id,
            kind=_known(event, previous, "kind"),
            status=event.status,
            deadline=_known(event, previous, "deadline"),
            title=_known(event, previous, "title"),
            labels=_known(event, previous, "labels"),
            occurred_at=event.occurred_at,
            event_id=event.event_id,
            first_reached=reached,
            source=event.source,
            seen=_earlier(previous),
            unit_code=event.unit_code or "",
            extension=previous.extension if previous is not None else None,  # a status report never undoes one
        )

    def extended(self, event: ExtensionEvent) -> TaskState:
        """This task with the extension ``event`` grants in force (and ``event`` remembered, to drop it if it comes again)."""
        return msgspec.structs.replace(
            self, extension=Extension.from_event(event), seen=(*self.seen, event.dedup_key)[-(SEEN_KEPT - 1) :]
        )

    def fields(self, unit_id: str) -> dict[str, str]:
        """The fields rule matchers can test."""
        return {"kind": self.kind, "task_id": self.task_id, "status": self.status.value, "unit_id": unit_id}

    def own_due(self, tz: ZoneInfo) -> datetime | None:
        """The task's own deadline as an instant; a bare date means the end of that day in ``tz``."""
        deadline = self.deadline
        if deadline is None or isinstance(deadline, datetime):
            return deadline
        return _day_end(deadline, tz)

    def indexed_due(self) -> float | None:
        """Where the deadline in force (an extension's, else the task's own) sorts by due instant (``indexed_due``)."""
        extension = self.extension
        due = extension.due if extension is not None else self.deadline
        return indexed_due(due) if due is not None else None

    def due_in_force(self, tz: ZoneInfo) -> datetime | None:
        """The deadline in force: an extension's, else the task's own (``own_due``)."""
        extension = self.extension
        return extension.instant(tz) if extension is not None else self.own_due(tz)


@lru_cache(maxsize=4096)
def _day_end(day: date, tz: ZoneInfo) -> datetime:
    """The end of ``day`` in ``tz`` (the next day's midnight): asked for every dated task on every event."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


class IndicatorState(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """The latest reported value of one indicator, and the ``EARLIER_REPORTS`` reports before it."""

    indicator: str
    value: float
    occurred_at: Instant
    event_id: str
    period: str | None = None
    labels: dict[str, str] = _NO_LABELS
    source: str = ""  # of the latest report: with ``event_id``, its dedup key
    seen: tuple[str, ...] = ()  # dedup keys of the reports before it (``seen_keys``)
    unit_code: str = ""  # the code the latest report named the unit by, when not its id (``Event.unit_code``)
    # (epoch seconds, value) of the reports before the latest, oldest first, as packed doubles:
    # 16 bytes a report rather than a tuple of two objects (what a review report reads back).
    earlier: bytes = b""

    def __post_init__(self) -> None:
        _share(self)

    @classmethod
    def from_event(cls, event: IndicatorEvent, previous: IndicatorState | None = None) -> Self:
        """The indicator as the event reports it (after the reports before it).

        ``period`` and ``labels`` left out of the event keep their values from
        ``previous``; an explicit ``null`` period removes it.
        """
        earlier = b""
        if previous is not None:
            mark = _REPORT.pack(previous.occurred_at.timestamp(), previous.value)
            earlier = (previous.earlier + mark)[-EARLIER_REPORTS * _REPORT.size :]
        return cls(
            indicator=event.indicator,
            value=event.number,
            period=_known(event, previous, "period"),
            labels=_known(event, previous, "labels"),
            occurred_at=event.occurred_at,
            event_id=event.event_id,
            source=event.source,
            seen=_earlier(previous),
            earlier=earlier,
            unit_code=event.unit_code or "",
        )

    def reports(self) -> list[tuple[datetime, float]]:
        """Every report known, oldest first: the earlier ones (in UTC), then the latest."""
        known = [(datetime.fromtimestamp(at, tz=UTC), value) for at, value in _REPORT.iter_unpack(self.earlier)]
        known.append((self.occurred_at, self.value))
        return known

    def value_at(self, instant: datetime) -> tuple[datetime, float] | None:
        """The last report made at or before ``instant``; ``None`` if none known was (or it is older than those kept)."""
        found = None
        for at, value in self.reports():
            if at > instant:
                break
            found = (at, value)
        return found

    def fields(self, unit_id: str) -> dict[str, str]:
        """The fields rule matchers can test."""
        return {"indicator": self.indicator, "unit_id": unit_id}


_DUE_SOON = "due_soon"  # the stage of a deadline's warnings (``rules.language.base.DUE_SOON``)


class AlertState(msgspec.Struct, frozen=True, gc=False):
    """An alert that is firing now; removed from the state when it resolves."""

    fingerprint: str
    rule_id: str
    stage: str
    severity: str
    labels: dict[str, str]
    starts_at: Instant
    subject: str  # key of the task, indicator or unit the alert is about
    step: str | None = None
    summary: str = ""
    details: dict[str, str] = {}  # the rest of its firing record's annotations (due, days overdue, target…)
    kind: str = ""  # its task's kind, for an alert about a task (overdue counts by kind read no task); else ""

    @property
    def annotations(self) -> dict[str, str]:
        """The annotations it fired with: what every re-send and restatement of it carries."""
        annotations = {"summary": self.summary, **self.details}
        if self.step is not None:  # a warning's step, or in the breach stage an escalation's
            annotations["warn_before" if self.stage == _DUE_SOON else "escalated_after"] = self.step
        return annotations
