"""Event models: the ingress contract (README "Publishing an event"), as pydantic models.

These models are the only schema source; ``events.schema`` exports them as
JSON Schema for publishers.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, Strict, model_validator

from events.text import IDENTIFIER_PATTERN, MAX_IDENTIFIER_CHARS, SEPARATOR

__all__ = [
    "EARLIEST",
    "EXTENSION_SOURCE",
    "LATEST",
    "MAX_LABEL_NAME_CHARS",
    "MAX_LABEL_VALUE_CHARS",
    "MAX_PERIOD_CHARS",
    "MAX_TITLE_CHARS",
    "Event",
    "EventKind",
    "ExtensionEvent",
    "ExtensionNote",
    "ExtensionTerms",
    "IndicatorEvent",
    "NewDeadline",
    "Reference",
    "TaskStatus",
    "TaskStatusEvent",
    "dedup_key",
]

#: The instants an event may name (``occurred_at``, ``deadline``): wide enough for any real plan, and far
#: enough from datetime's limits (years 1 and 9999) that the engine's date arithmetic cannot overflow.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
#: The longest label name and value, title and period an event may carry (in characters, after trimming).
MAX_LABEL_NAME_CHARS = 100
MAX_LABEL_VALUE_CHARS = 500
MAX_TITLE_CHARS = 1000
MAX_PERIOD_CHARS = 50


def _deadline_in_range(value: datetime | date | None) -> datetime | date | None:
    # Compared as instants: 9999-12-31T23:59:59-12:00 is a valid datetime whose UTC instant is not.
    if isinstance(value, datetime):
        if not EARLIEST <= value <= LATEST:
            raise ValueError(f"must lie between {EARLIEST.date()} and {LATEST.date()} (UTC)")
    elif value is not None and not EARLIEST.date() <= value < LATEST.date():
        raise ValueError(f"must lie between {EARLIEST.date()} and {LATEST.date()}")
    return value


# No control character (``events.text``): an identifier reaches logs, terminals, metric labels and headers.
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_IDENTIFIER_CHARS, pattern=IDENTIFIER_PATTERN)]
Instant = Annotated[AwareDatetime, Field(ge=EARLIEST, le=LATEST)]
# Strict: a boolean or a string is not a number (``true`` was read as 1.0, ``"0.1"`` as 0.1).
Number = Annotated[float, Strict()]
LabelMap = dict[
    Annotated[str, Field(max_length=MAX_LABEL_NAME_CHARS)], Annotated[str, Field(max_length=MAX_LABEL_VALUE_CHARS)]
]


class TaskStatus(StrEnum):
    """Status vocabulary of a task, as units report it."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    ONGOING = "ongoing"  # "performed regularly": recurring, no end date
    CANCELLED = "cancelled"


class EventKind(StrEnum):
    """The two kinds of event a provider publishes; also their CloudEvents ``type``."""

    TASK_STATUS = "compliance.task-status"
    INDICATOR = "compliance.indicator"
    #: An extension the working group granted: written by the monitor itself, never by a publisher.
    EXTENSION = "compliance.extension"


def dedup_key(source: str, event_id: str) -> str:
    """The (source, event_id) pair that identifies an event, as one string."""
    return f"{source}{SEPARATOR}{event_id}"


class _EventBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    event_id: Identifier = Field(description="Unique per source; (source, event_id) is the dedup key.")
    source: Identifier = Field(description="Publishing system, e.g. nghean-dvc.")
    unit_id: Identifier = Field(description="Reporting unit, e.g. VN-40.")
    occurred_at: Instant = Field(description="Event time, with UTC offset (between 1900 and 3000).")
    labels: LabelMap = Field(
        default_factory=dict,
        description="e.g. program: de-an-06. Left out, the labels known from earlier events are kept; {} removes them.",
    )

    #: The code the publisher named the unit by, when the unit registry placed the event on another id
    #: (a national code, a former province's code); not part of the contract: set by ``readdressed``.
    _unit_code: str | None = PrivateAttr(default=None)

    @property
    def dedup_key(self) -> str:
        """The (source, event_id) pair as one string."""
        return dedup_key(self.source, self.event_id)

    @property
    def unit_code(self) -> str | None:
        """The code the event named its unit by, when that is not ``unit_id`` (the unit it was placed on)."""
        private = self.__pydantic_private__  # read directly: through pydantic's ``__getattr__`` it cost 1 µs per event
        return private.get("_unit_code") if private else None

    def readdressed(self, unit_id: str) -> Self:
        """The same event placed on ``unit_id``, remembering the code it came with."""
        if unit_id == self.unit_id:
            return self
        moved = self.model_copy(update={"unit_id": unit_id})
        moved._unit_code = self._unit_code or self.unit_id
        return moved


#: What a field left out of an event means, said once for the schemas' descriptions.
_KEPT = " Left out, the value known from the task's earlier events is kept"


class TaskStatusEvent(_EventBase):
    """A unit reports the current status of one of its tasks.

    An event says what changed: ``kind``, ``deadline``, ``title`` and
    ``labels`` left out keep the values known from the task's earlier events
    (a completion need not repeat the deadline to be judged against it);
    ``null`` removes a deadline or a title, ``{}`` the labels.
    """

    task_id: Identifier
    kind: Identifier = Field(
        default="task", description="e.g. task, inspection_plan, dossier." + _KEPT + " ('task' for a new task)."
    )
    status: TaskStatus
    deadline: Annotated[AwareDatetime | date | None, AfterValidator(_deadline_in_range)] = Field(
        default=None,
        description="A date means the end of that day in the rule's time zone (between 1900 and 3000)."
        + _KEPT
        + "; null removes it.",
    )
    title: Annotated[str, Field(max_length=MAX_TITLE_CHARS)] | None = Field(
        default=None, description="Vietnamese text allowed." + _KEPT + "; null removes it."
    )


class IndicatorEvent(_EventBase):
    """A unit reports the value of an indicator (ratios are 0..1).

    ``period`` and ``labels`` left out keep the values known from the
    indicator's earlier reports; a ``null`` period removes it.
    """

    indicator: Identifier
    value: Number | None = None
    numerator: Number | None = None
    denominator: Number | None = None
    period: Annotated[str, Field(max_length=MAX_PERIOD_CHARS)] | None = Field(
        default=None,
        description="e.g. 2024-H1. Left out, the period known from the indicator's earlier reports is kept; "
        "null removes it.",
    )

    @model_validator(mode="after")
    def _derive_value(self) -> Self:
        if self.value is None:
            if self.numerator is None or self.denominator is None:
                raise ValueError("give value, or both numerator and denominator")
            if self.denominator == 0:
                raise ValueError("denominator must not be 0")
            object.__setattr__(self, "value", self.numerator / self.denominator)
        assert self.value is not None
        if not math.isfinite(self.value):
            raise ValueError("value must be a finite number")
        return self

    @property
    def number(self) -> float:
        """The value, which the validator guarantees is set."""
        assert self.value is not None
        return self.value


#: The ``source`` of every extension: the monitor records them, on a viewer's request (``ExtensionEvent``).
EXTENSION_SOURCE = "monitor"
#: The longest reference of an extension's decision, and the longest note.
MAX_REFERENCE_CHARS = 200
MAX_NOTE_CHARS = 1000
#: A new deadline: an instant with its UTC offset, or a date (the end of that day in the rule's time zone).
NewDeadline = Annotated[AwareDatetime | date, AfterValidator(_deadline_in_range)]
#: A decision's reference (the working group's document number), and a note on an extension.
Reference = Annotated[str, Field(min_length=1, max_length=MAX_REFERENCE_CHARS)]
ExtensionNote = Annotated[str, Field(max_length=MAX_NOTE_CHARS)]


class ExtensionTerms(BaseModel):
    """What an extension grants: a new deadline for a task, or for the unit under a roster rule, and on what decision.

    What a viewer asks for (``POST /api/v1/units/{unit_id}/extensions``); the
    ``ExtensionEvent`` recorded holds it with who granted it and when.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    task_id: Identifier | None = Field(default=None, description="The task whose deadline moves.")
    rule_id: Identifier | None = Field(
        default=None, description="Or: the roster deadline rule whose due instant moves, for this unit alone."
    )
    due: NewDeadline = Field(description="The new deadline; a date means the end of that day in the rule's time zone.")
    reference: Reference = Field(description="The decision's reference, e.g. 125/QĐ-BCĐ06.")
    note: ExtensionNote | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.task_id is None) == (self.rule_id is None):
            raise ValueError("give either task_id (a task's deadline) or rule_id (a roster deadline), not both")
        return self


class ExtensionEvent(_EventBase, ExtensionTerms):
    """A new deadline granted to one unit: for one of its tasks, or for its deadline under a roster rule.

    Granted by a viewer who may (``extends: true``), with the decision's
    reference (the working group's document number). The monitor writes it on
    the unit's partition of the events topic, signed with the cluster
    credential (``events.grants``): a publisher cannot grant itself one. It
    replaces the due instant of the task under every deadline rule that judges
    the task (or the unit's due instant under the roster rule), until another
    extension replaces it; the deadline the task came with is kept, to judge a
    completion as kept on time or within the extension.
    """

    granted_by: Identifier = Field(description="The viewer who recorded it.")
    granted_by_name: Annotated[str, Field(max_length=200)] = Field(default="", description="What people call it.")


Event = TaskStatusEvent | IndicatorEvent | ExtensionEvent
