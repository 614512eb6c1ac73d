"""What the engine keeps and writes: a unit's state, the subjects of its alerts, the alert transitions.

``units``: ``UnitState`` and its items (``TaskState``, ``IndicatorState``,
``AlertState``), stored in the worker's tables; ``subjects``: what an alert
is about and which part of a state changed; ``alerts``: ``AlertTransition``
(the records of the alerts topic), ``fingerprint``, ``AlertFilter``.
"""

from rules.state.alerts import AlertFilter, AlertTransition, TransitionKey, due_instant, fingerprint, transition_key
from rules.state.subjects import (
    NO_INDICATOR,
    UNIT,
    Change,
    ChangePart,
    Subject,
    SubjectKey,
    SubjectKind,
    indicator_key,
    task_key,
)
from rules.state.units import (
    EARLIER_REPORTS,
    SEEN_KEPT,
    AlertState,
    IndicatorState,
    Instant,
    Reached,
    TaskState,
    UnitState,
    has_seen,
    seen_keys,
)

__all__ = [
    "EARLIER_REPORTS",
    "NO_INDICATOR",
    "SEEN_KEPT",
    "UNIT",
    "AlertFilter",
    "AlertState",
    "AlertTransition",
    "Change",
    "ChangePart",
    "IndicatorState",
    "Instant",
    "Reached",
    "Subject",
    "SubjectKey",
    "SubjectKind",
    "TaskState",
    "TransitionKey",
    "UnitState",
    "due_instant",
    "fingerprint",
    "has_seen",
    "indicator_key",
    "seen_keys",
    "task_key",
    "transition_key",
]
