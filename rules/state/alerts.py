"""Alert transitions: the records the monitor writes to the alerts topic."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from json.encoder import encode_basestring as _quote  # what json.dumps uses, ensure_ascii=False
from typing import Literal, Protocol, TypeAlias

import msgspec
from pydantic import AwareDatetime, BaseModel, ConfigDict

__all__ = [
    "IDENTITY_LABELS",
    "AlertFilter",
    "AlertTransition",
    "TransitionKey",
    "due_instant",
    "encode_transition",
    "fingerprint",
    "identity_fingerprint",
    "record_key",
    "transition_key",
]


def fingerprint(identity: Mapping[str, str]) -> str:
    """A stable hash of the identity labels (rule + unit + task or indicator).

    The hash is of the labels' compact JSON, ``[["name","value"],…]`` sorted
    by name, built here directly (the same bytes ``json.dumps`` writes, at a
    fraction of the cost: this runs for every rule on every event).
    """
    canonical = ",".join(f"[{_quote(name)},{_quote(value)}]" for name, value in sorted(identity.items()))
    return hashlib.sha256(f"[{canonical}]".encode()).hexdigest()[:16]


#: The labels an alert's identity may hold besides ``alertname`` and ``unit_id``: each sorts between the two.
IDENTITY_LABELS = ("indicator", "task_id")


@lru_cache(maxsize=16384)  # asked again for the same subject within an event (its catch-up instant, then its rules)
def identity_fingerprint(alertname: str, unit_id: str, label: str | None = None, value: str = "") -> str:
    """``fingerprint`` of the identity ``{alertname, unit_id}``, with ``label: value`` if given (one of ``IDENTITY_LABELS``).

    The same hash without building, sorting and joining a mapping: the engine asks it for every rule of
    every subject an event or a tick touches.
    """
    middle = f"[{_quote(label)},{_quote(value)}]," if label is not None else ""
    canonical = f'[["alertname",{_quote(alertname)}],{middle}["unit_id",{_quote(unit_id)}]]'
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class AlertTransition(BaseModel):
    """One change of an alert: it started firing, changed stage, or resolved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fingerprint: str
    status: Literal["firing", "resolved"]
    stage: str
    rule_id: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    value: float | None = None
    event_ids: list[str]
    rule_version: str
    #: The publisher (the event's ``source``) whose report this transition rests on, and when it reported.
    reported_by: str | None = None
    reported_at: AwareDatetime | None = None
    #: The code that report named the unit by, when not its id (a former province's, a national code).
    reported_as: str | None = None

    @property
    def unit_id(self) -> str:
        """The unit the alert is about."""
        return self.labels.get("unit_id", "")


_JSON = msgspec.json.Encoder()


def encode_transition(transition: AlertTransition) -> bytes:
    """``transition.model_dump_json()``, UTF-8: the same JSON, written by msgspec from the model's fields in order.

    Every transition is encoded twice (staged in the outbox, then published): pydantic's serializer was the
    larger part of both. The same bytes too, but for a value from 1e16 on (``1e16``, not ``1e+16``): a
    property test holds them so.
    """
    return _JSON.encode(transition.__dict__)


def due_instant(annotations: Mapping[str, str]) -> datetime | None:
    """The ``due`` annotation of a deadline alert as an instant; ``None`` when absent or not an aware ISO instant."""
    text = annotations.get("due")
    if not text:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:  # a record from elsewhere: no due instant to count from
        return None
    return instant if instant.tzinfo is not None else None


#: What makes two records of one fingerprint the same transition: status, stage, step and due instant.
TransitionKey: TypeAlias = tuple[str, str, str, str]


def record_key(status: str, stage: str, annotations: Mapping[str, str]) -> TransitionKey:
    """``transition_key`` of a record's parts (a record read as JSON has no model).

    The step is a warning's (``warn_before``) or an escalation's (``escalated_after``); the due instant is a
    deadline's (``due``): a deadline moved while still missed is a new transition in the same stage.
    """
    step = annotations.get("warn_before") or annotations.get("escalated_after") or ""
    return status, stage, step, annotations.get("due", "")


def transition_key(transition: AlertTransition) -> TransitionKey:
    """Status, stage, step and due instant: a record that repeats all four repeats the transition."""
    return record_key(transition.status, transition.stage, transition.annotations)


class _Alert(Protocol):
    """What an alert filter reads: a firing alert or a transition."""

    @property
    def rule_id(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def labels(self) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to show: each given field must match (the API's and ``alerts tail``'s filter)."""

    unit_id: str | None = None
    rule_id: str | None = None
    severity: str | None = None

    def admits(self, unit_id: str | None, rule_id: str | None, severity: str | None) -> bool:
        """Whether an alert with these fields passes every given filter."""
        return (
            (self.unit_id is None or unit_id == self.unit_id)
            and (self.rule_id is None or rule_id == self.rule_id)
            and (self.severity is None or severity == self.severity)
        )

    def matches(self, alert: _Alert) -> bool:
        """Whether the alert passes every given filter."""
        return self.admits(alert.labels.get("unit_id", ""), alert.rule_id, alert.severity)
