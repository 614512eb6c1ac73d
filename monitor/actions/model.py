"""What an operator did to an alert: acknowledged it, took it back, gave it an owner, wrote a note. No I/O.

An action is about one firing interval of one alert: its fingerprint and the
instant it started firing (``starts_at``), as the alerts topic says. It
remembers the alert's stage and severity when it was taken, so an
acknowledgement holds only until the alert escalates (``monitor.actions.book``).
Each is one record of the actions topic, keyed by its id: compaction keeps
every action, and an action published twice is one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from events.models import ExtensionTerms

__all__ = ["MAX_NOTE_CHARS", "MAX_OWNER_CHARS", "ActionKind", "ActionRequest", "AlertAction", "ExtensionRequest"]

#: The longest note and owner an action may carry (characters, after trimming).
MAX_NOTE_CHARS = 2000
MAX_OWNER_CHARS = 200

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE_CHARS)]
Owner = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_OWNER_CHARS)]


class ActionKind(StrEnum):
    """What an action does."""

    ACKNOWLEDGE = "acknowledge"  # seen, someone is on it (with a note, optionally)
    UNACKNOWLEDGE = "unacknowledge"  # the acknowledgement taken back
    ASSIGN = "assign"  # an owner given (an empty owner: none any more)
    NOTE = "note"  # a note added


class ActionRequest(BaseModel):
    """What a viewer asks for (``POST /api/v1/alerts/{fingerprint}/actions``, ``monitor alerts ack``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: ActionKind = Field(description="acknowledge, unacknowledge, assign or note.")
    owner: Owner | None = Field(default=None, description="Who owns the alert (assign; empty: nobody any more).")
    note: Note | None = Field(default=None, description="A note (required by note; optional with acknowledge).")

    @model_validator(mode="after")
    def _fits_the_action(self) -> Self:
        if self.action is ActionKind.ASSIGN and self.owner is None:
            raise ValueError("assign needs an owner ('owner': '' gives the alert back to nobody)")
        if self.action is not ActionKind.ASSIGN and self.owner is not None:
            raise ValueError(f"{self.action.value} takes no owner: assign does")
        if self.action is ActionKind.NOTE and self.note is None:
            raise ValueError("note needs its text: 'note'")
        if self.action in (ActionKind.ASSIGN, ActionKind.UNACKNOWLEDGE) and self.note is not None:
            raise ValueError(f"{self.action.value} takes no note: add one with note, or with acknowledge")
        return self


#: A new deadline a viewer grants one unit (``POST /api/v1/units/{unit_id}/extensions``, ``monitor alerts extend``):
#: the terms the ``ExtensionEvent`` recorded holds, with the viewer's identity.
ExtensionRequest = ExtensionTerms


class AlertAction(BaseModel):
    """One action on one firing interval of an alert, as the actions topic holds it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] = Field(description="Unique (a UUID, hex).")
    action: ActionKind
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    starts_at: AwareDatetime = Field(description="When the firing interval acted on began (the alert's starts_at).")
    unit_id: str = Field(description="The alert's unit (a viewer acts on its own units' alerts only).")
    stage: str = Field(description="The alert's stage when the action was taken.")
    severity: str = Field(description="The alert's severity when the action was taken.")
    by: str = Field(min_length=1, description="The viewer who acted (its id in the viewers file).")
    by_name: str = Field(description="What people call that viewer.")
    user: str | None = Field(default=None, description="The person, as the authenticating proxy named them.")
    at: AwareDatetime = Field(description="When, by the clock of the worker that took it.")
    owner: Owner | None = None
    note: Note | None = None

    def as_json(self) -> dict[str, Any]:
        """As the API shows it (no empty fields)."""
        return {**self.model_dump(mode="json", exclude_none=True), "who": self.who}

    @property
    def who(self) -> str:
        """Who acted, in a few words: the person (through the proxy) or the viewer."""
        return f"{self.user} ({self.by_name})" if self.user else self.by_name
