"""Subjects and changes: what a rule's alert is about, and which part of a unit's state changed.

A *subject* is a task, an indicator, "no indicator ever" or the unit as a
whole. Its key is a short string (``task:T-12``, ``indicator:online_ratio``,
``indicator:*``, ``unit:``) because it is stored: in every alert, in the
table of wake-ups and as part of table keys. Keys are built and read here
only; everything else asks ``Subject`` what a key means.

A *change* names one part of a unit's state that an evaluation wrote, so
that storage writes that part alone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple, TypeAlias

__all__ = [
    "NO_INDICATOR",
    "UNIT",
    "Change",
    "ChangePart",
    "Subject",
    "SubjectKey",
    "SubjectKind",
    "indicator_key",
    "task_key",
    "task_named",
]

#: The stored form of a subject: ``<kind>:<name>``.
SubjectKey: TypeAlias = str


class SubjectKind(StrEnum):
    """What a subject is."""

    TASK = "task"
    INDICATOR = "indicator"
    UNIT = "unit"


class Subject(NamedTuple):
    """A subject read from its key."""

    kind: SubjectKind
    name: str

    @classmethod
    def parse(cls, key: SubjectKey) -> Subject:
        """The subject a key names (an unknown kind reads as the unit itself)."""
        kind, _, name = key.partition(":")
        known = _KINDS.get(kind)
        return cls(known, name) if known is not None else _THE_UNIT

    @property
    def key(self) -> SubjectKey:
        """The stored form."""
        return f"{self.kind.value}:{self.name}"

    @property
    def task_id(self) -> str | None:
        """The task, when the subject is one."""
        return self.name if self.kind is SubjectKind.TASK else None

    @property
    def indicator(self) -> str | None:
        """The indicator (``*`` for "any indicator"), when the subject is one."""
        return self.name if self.kind is SubjectKind.INDICATOR else None


# Looked up, not constructed: ``SubjectKind(text)`` costs more than the rest of a parse.
_KINDS = {kind.value: kind for kind in SubjectKind}
_THE_UNIT = Subject(SubjectKind.UNIT, "")


def task_key(task_id: str) -> SubjectKey:
    """The key of a task's subject."""
    return f"{_TASK_PREFIX}{task_id}"


def task_named(key: SubjectKey) -> str | None:
    """The task ``key`` names, ``None`` for another subject: ``Subject.parse`` for tasks alone, without a parse.

    Asked for every subject an event touches and every alert a scrape counts.
    """
    return key[len(_TASK_PREFIX) :] if key.startswith(_TASK_PREFIX) else None


_TASK_PREFIX = f"{SubjectKind.TASK.value}:"


def indicator_key(indicator: str) -> SubjectKey:
    """The key of an indicator's subject."""
    return f"indicator:{indicator}"


#: The unit as a whole: roster deadlines, aggregates, unit staleness.
UNIT: SubjectKey = "unit:"
#: "Has this unit ever reported an indicator?" (staleness of a unit that never did).
NO_INDICATOR: SubjectKey = indicator_key("*")


class ChangePart(StrEnum):
    """The parts a unit's state is stored in."""

    UNIT = "unit"  # the unit's own fields
    SUBJECT = "subject"  # a task or indicator, with its next wake-up
    ALERT = "alert"  # a firing alert, by fingerprint
    PENDING = "pending"  # a breach waiting out a rule's ``for``, by fingerprint


class Change(NamedTuple):
    """One part of a unit's state that changed: (part, subject key or fingerprint; empty for the unit)."""

    part: ChangePart
    name: str = ""

    @classmethod
    def unit(cls) -> Change:
        """The unit's own fields changed."""
        return _UNIT_CHANGED

    @classmethod
    def subject(cls, key: SubjectKey) -> Change:
        """A subject's task or indicator, or its wake-up, changed."""
        return cls(_SUBJECT, key)

    @classmethod
    def alert(cls, fingerprint: str) -> Change:
        """An alert started, changed or stopped firing."""
        return cls(_ALERT, fingerprint)

    @classmethod
    def pending(cls, fingerprint: str) -> Change:
        """A pending breach was set or cleared."""
        return cls(_PENDING, fingerprint)


#: ``Change.unit()``: one tuple, written with every event.
_UNIT_CHANGED = Change(ChangePart.UNIT)
# An enum's member is slow to reach through its class (Python 3.11): a change is made for every event.
_SUBJECT, _ALERT, _PENDING = ChangePart.SUBJECT, ChangePart.ALERT, ChangePart.PENDING
