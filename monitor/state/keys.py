"""How a unit's state is laid out in the worker's store: keys, stored forms, and the keys derived from them.

Keys are ``unit ␟ part name``, so each unit's items are one contiguous,
ordered range, its parts in this order:

- ``␟`` alone: the unit's own fields (``UnitItem``: pack, newest event, tasks by kind and status);
- ``␟a`` + fingerprint: a firing alert;
- ``␟d`` + instant (8 sortable bytes) + task id: *derived*, the unit's tasks by the deadline in force;
- ``␟k`` + kind ␟ task id: *derived*, the unit's tasks by kind;
- ``␟o`` + fingerprint: transitions not yet confirmed on the alerts topic;
- ``␟p`` + fingerprint: a breach pending a rule's ``for``;
- ``␟s`` + subject: a task (``task:ID``) or indicator with its next wake-up, or a wake-up alone;
- ``␟w`` + instant (8 sortable bytes) + subject: *derived*, the unit's wake-ups in order.

The changelog holds every part but the derived ones: those are written to
the local store beside the items they come from (``derived``), by the worker
and by a rebuild from the changelog alike, so a tick reads only what is due,
a rule over one kind of task reads only those tasks, and a review report
only the tasks due in its period. A derived key is only ever added: one that
no longer matches its item (the task's deadline moved, its kind changed) is
passed over, or dropped, by whoever reads it (``stale_wakeup``).

``FORMAT`` versions this layout. A unit written before it (format 1: no
counts in ``UnitItem``; format 2: no newest task report) is counted once
when read and written again; a store marked with an older format, or none
(``FORMAT_KEY``), has its derived keys built before its first read
(``monitor.state.store``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TypeAlias

import msgspec

from events.text import SEPARATOR
from rules.state import (
    AlertState,
    Change,
    ChangePart,
    Extension,
    IndicatorState,
    Instant,
    Subject,
    SubjectKind,
    TaskState,
    UnitState,
    indexed_due,
    parse_deadline,
    task_key,
)

__all__ = [
    "FORMAT",
    "FORMAT_KEY",
    "RESTORING_KEY",
    "SEP",
    "SubjectItem",
    "UnitItem",
    "Write",
    "derived",
    "due_key",
    "due_prefix",
    "encode_changes",
    "in_changelog",
    "item_key",
    "kind_prefix",
    "task_prefix",
    "wake_prefix",
]

#: The layout written by this version: 1 had no per-unit counts and no derived keys, 2 no index by due instant
#: and no newest task report.
FORMAT = 3
_COUNTED = 2  # the first format whose units keep their tally and newest event

SEP = SEPARATOR
_SEP = SEP.encode()
UNIT, ALERT, DUES, KINDS, OUTBOX, PENDING, SUBJECT, WAKEUPS = "", "a", "d", "k", "o", "p", "s", "w"
PARTS = {ChangePart.UNIT: UNIT, ChangePart.SUBJECT: SUBJECT, ChangePart.ALERT: ALERT, ChangePart.PENDING: PENDING}
#: Parts that never go to the changelog: each is derived from the items beside it.
DERIVED = (DUES, KINDS, WAKEUPS)
#: A key of the local store alone, outside every unit's range: the format its derived keys are built for.
FORMAT_KEY = _SEP + b"format"
#: A key of the local store alone: its items are being written back to a changelog the broker lost (``in_changelog``).
RESTORING_KEY = _SEP + b"restoring"

#: One write: (key, value); a ``None`` value deletes the key.
Write: TypeAlias = tuple[bytes, bytes | None]

_TASK = task_key("")  # what every task subject key begins with (``rules.state.subjects`` says)


class SubjectItem(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """The stored form of one subject: its task or indicator, and when its rules next change."""

    task: TaskState | None = None
    indicator: IndicatorState | None = None
    wakeup: float | None = None


class UnitItem(msgspec.Struct, frozen=True, omit_defaults=True):
    """The stored form of a unit's own fields.

    ``tally`` (kind, status, tasks), ``last_event_at`` and ``newest_task``
    (``UnitState.newest_task_report``) are kept so that a worker knows them
    without reading the unit's tasks; a unit stored in format 1 has none of
    them, in format 2 no ``newest_task``, and is counted when read.
    """

    pack_version: str = ""
    format: int = 1
    tally: list[tuple[str, str, int]] = []
    last_event_at: Instant | None = None
    extensions: dict[str, Extension] = {}  # its roster deadlines extended, by rule id
    newest_task: Instant | None = None


ENCODER = msgspec.json.Encoder()


class _IndexedExtension(msgspec.Struct, frozen=True, gc=False):
    due: str


class _IndexedTask(msgspec.Struct, frozen=True, gc=False):
    task_id: str
    kind: str
    deadline: str | None = None
    extension: _IndexedExtension | None = None

    def indexed_due(self) -> float | None:
        """``TaskState.indexed_due`` of the task this is part of."""
        extension = self.extension
        due = extension.due if extension is not None else self.deadline
        return indexed_due(parse_deadline(due)) if due is not None else None


class _Indexed(msgspec.Struct, frozen=True, gc=False):
    """What the derived keys need of a stored subject (``derived``): its task's id, kind and deadline, its wake-up.

    Decoding only these skips the rest of the item (its instants, its deadline,
    the strings a whole item interns): half the cost of the whole item.
    """

    task: _IndexedTask | None = None
    wakeup: float | None = None


SUBJECT_ITEM = msgspec.json.Decoder(SubjectItem)
_INDEXED = msgspec.json.Decoder(_Indexed)
ALERT_ITEM = msgspec.json.Decoder(AlertState)
UNIT_ITEM = msgspec.json.Decoder(UnitItem)
INSTANT = msgspec.json.Decoder(Instant)
_ORDERED = struct.Struct(">Q")
_DOUBLE = struct.Struct(">d")


def item_key(unit_id: str, part: str, name: str = "") -> bytes:
    """The key of one part of a unit's state."""
    return f"{unit_id}{SEP}{part}{name}".encode()


def unit_prefix(unit_id: str) -> bytes:
    """Where a unit's range of keys begins."""
    return f"{unit_id}{SEP}".encode()


def task_prefix(unit_id: str) -> bytes:
    """Where a unit's tasks begin (they end at ``after(task_prefix(...))``)."""
    return item_key(unit_id, SUBJECT, _TASK)


def kind_prefix(unit_id: str, kind: str) -> bytes:
    """Where the derived keys of a unit's tasks of ``kind`` begin."""
    return item_key(unit_id, KINDS, f"{kind}{SEP}")


def due_prefix(unit_id: str) -> bytes:
    """Where a unit's derived keys by due instant begin, earliest first."""
    return item_key(unit_id, DUES)


def due_key(unit_id: str, at: float, task_id: str) -> bytes:
    """The derived key that says the unit's task ``task_id`` is due at ``at`` (``TaskState.indexed_due``)."""
    return due_prefix(unit_id) + ordered(at) + task_id.encode()


def wake_prefix(unit_id: str) -> bytes:
    """Where a unit's derived wake-up keys begin, earliest first."""
    return item_key(unit_id, WAKEUPS)


def after(prefix: bytes) -> bytes:
    """The first key after every key that starts with ``prefix``."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


def ordered(at: float) -> bytes:
    """An instant as 8 bytes that sort as the instants do (negative ones too)."""
    (bits,) = _ORDERED.unpack(_DOUBLE.pack(at))
    return _ORDERED.pack(bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | 1 << 63)


def instant_of(raw: bytes) -> float:
    """The instant ``ordered`` wrote."""
    (bits,) = _ORDERED.unpack(raw)
    (at,) = _DOUBLE.unpack(_ORDERED.pack(bits & ~(1 << 63) if bits >> 63 else bits ^ 0xFFFF_FFFF_FFFF_FFFF))
    return float(at)


def wake_key(unit_id: str, at: float, subject: str) -> bytes:
    """The derived key that says ``subject`` of the unit wakes at ``at``."""
    return wake_prefix(unit_id) + ordered(at) + subject.encode()


def wake_end(unit_id: str, instant: float) -> bytes:
    """The first derived wake-up key of the unit after every one at or before ``instant``."""
    return ordered_end(wake_prefix(unit_id), instant)


def ordered_end(prefix: bytes, instant: float) -> bytes:
    """The first key under ``prefix`` after every ``prefix`` + ``ordered(at)`` + name with ``at`` ≤ ``instant``."""
    (bits,) = _ORDERED.unpack(ordered(instant))
    return prefix + _ORDERED.pack(bits + 1)  # no instant orders as 2**64 - 1: it is a NaN


def split_wake_key(key: bytes, prefix: bytes) -> tuple[float, str]:
    """(instant, subject) of a derived wake-up key under ``prefix`` (``wake_prefix``)."""
    return instant_of(key[len(prefix) : len(prefix) + 8]), key[len(prefix) + 8 :].decode()


def derived(key: bytes, value: bytes | None) -> Iterator[Write]:
    """The derived keys a write of ``key`` adds: a task's kind and due instant, and a subject's wake-up.

    Costs a decode of the subject items among the writes; other parts derive nothing.
    """
    if value is None:
        return
    position = key.find(_SEP)
    if position < 1 or key[position + 1 : position + 2] != b"s":
        return
    unit, subject = key[:position].decode(), key[position + 2 :].decode()
    item = _INDEXED.decode(value)
    task = item.task
    if task is not None:
        yield kind_prefix(unit, task.kind) + task.task_id.encode(), b""
        due = task.indexed_due()
        if due is not None:
            yield due_key(unit, due, task.task_id), b""
    if item.wakeup is not None and is_task(subject):  # other subjects' wake-ups are few, and held in memory
        yield wake_key(unit, item.wakeup, subject), b""


def in_changelog(key: bytes) -> bool:
    """Whether a key of the local store is an item the changelog holds: not derived, and in a unit's range.

    The local store's own keys (faust's offset, ``FORMAT_KEY``, ``RESTORING_KEY``) are in no unit's range.
    """
    position = key.find(_SEP)
    return position > 0 and key[position + 1 : position + 2].decode("ascii", "replace") not in DERIVED


def is_task(subject: str) -> bool:
    """Whether a subject key names a task."""
    return subject.startswith(_TASK)


def encode_changes(
    state: UnitState, changed: Iterable[Change], held: Callable[[bytes], SubjectItem | None] | None = None
) -> Iterator[Write]:
    """The writes for the changed parts of ``state``: (key, value), a ``None`` value deletes.

    ``held``: the subject item a key holds, task and wake-up together, where the state's tasks are kept
    (a task's item is then encoded as held, not built again from its task and its wake-up).
    """
    unit = state.unit_id
    for part, name in changed:
        key = item_key(unit, PARTS[part], name)
        if part == ChangePart.SUBJECT:
            if held is not None and name.startswith(_TASK):
                item = held(key)
                yield key, ENCODER.encode(item) if item is not None else None
                continue
            subject = Subject.parse(name)
            stored = SubjectItem(
                task=state.tasks.get(subject.name) if subject.kind is SubjectKind.TASK else None,
                indicator=state.indicators.get(subject.name) if subject.kind is SubjectKind.INDICATOR else None,
                wakeup=state.wakeups.get(name),
            )
            empty = stored.task is None and stored.indicator is None and stored.wakeup is None
            yield key, None if empty else ENCODER.encode(stored)
        elif part == ChangePart.ALERT:
            alert = state.alerts.get(name)
            yield key, ENCODER.encode(alert) if alert is not None else None
        elif part == ChangePart.PENDING:
            since = state.pending.get(name)
            yield key, ENCODER.encode(since) if since is not None else None
        else:
            yield key, encode_unit(state)


def encode_unit(state: UnitState) -> bytes:
    """The stored form of a unit's own fields, in this version's format."""
    tally = [(kind, status, count) for (kind, status), count in sorted(state.task_tally().items())]
    unit = UnitItem(
        state.pack_version, FORMAT, tally, state.last_event_at, state.extensions, state.newest_task_report()
    )
    return ENCODER.encode(unit)


def read_instant(raw: bytes) -> datetime:
    """A stored instant (a pending breach's start)."""
    return INSTANT.decode(raw)


class UnitParts:
    """A unit's stored parts as they are read, one (part and name, value) at a time; see ``decode_unit``."""

    __slots__ = ("alerts", "indicators", "outbox", "pending", "tasks", "unit", "wakeups")

    def __init__(self) -> None:
        self.unit: UnitItem | None = None
        self.tasks: dict[str, TaskState] = {}
        self.indicators: dict[str, IndicatorState] = {}
        self.alerts: dict[str, AlertState] = {}
        self.pending: dict[str, datetime] = {}
        self.wakeups: dict[str, float] = {}
        self.outbox: list[tuple[str, bytes]] = []  # (fingerprint, value): the store keeps them apart

    def add(self, rest: str, raw: bytes) -> None:
        """One stored part: ``rest`` is its key without the unit and separator."""
        part, name = rest[:1], rest[1:]
        if part == SUBJECT:
            stored = SUBJECT_ITEM.decode(raw)
            if stored.task is not None:
                self.tasks[stored.task.task_id] = stored.task
            if stored.indicator is not None:
                self.indicators[stored.indicator.indicator] = stored.indicator
            if stored.wakeup is not None:
                self.wakeups[name] = stored.wakeup
        elif part == ALERT:
            self.alerts[name] = ALERT_ITEM.decode(raw)
        elif part == PENDING:
            self.pending[name] = INSTANT.decode(raw)
        elif part == OUTBOX:
            self.outbox.append((name, raw))
        elif part == UNIT:
            self.unit = UNIT_ITEM.decode(raw)
        # derived parts (due instants, kinds, wake-ups) say nothing their items do not

    def last_event_at(self, tasks: Iterable[TaskState]) -> datetime | None:
        """The unit's newest event: stored with it, else (format 1) the newest its tasks and indicators report."""
        if self.unit is not None and self.unit.format >= _COUNTED:
            return self.unit.last_event_at
        reported = [t.occurred_at for t in tasks] + [i.occurred_at for i in self.indicators.values()]
        return max(reported, default=None)


def decode_unit(unit_id: str, items: Iterable[tuple[str, bytes]]) -> UnitState:
    """A unit's whole state, in memory, from its stored parts given as (key without the unit prefix, value)."""
    parts = UnitParts()
    for rest, raw in items:
        parts.add(rest, raw)
    return UnitState(
        unit_id=unit_id,
        tasks=parts.tasks,
        indicators=parts.indicators,
        alerts=parts.alerts,
        pending=parts.pending,
        wakeups=parts.wakeups,
        last_event_at=parts.last_event_at(parts.tasks.values()),
        pack_version=parts.unit.pack_version if parts.unit is not None else "",
        extensions=dict(parts.unit.extensions) if parts.unit is not None else None,
    )
