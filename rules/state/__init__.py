"""What the engine keeps and writes: a unit's state, the subjects of its alerts, the alert transitions.

``items``: a unit's stored items (``TaskState``, ``IndicatorState``,
``AlertState``, ``Extension``); ``unit``: ``UnitState``, what the engine reads and updates;
``sources``: where a unit's tasks and wake-ups are kept (``Tasks``,
``Wakeups``; in memory, or in a worker's store); ``subjects``: what an alert
is about and which part of a state changed; ``alerts``: ``AlertTransition``
(the records of the alerts topic), ``fingerprint`` (``identity_fingerprint``), ``AlertFilter``.
"""

from rules.state.alerts import (
    AlertFilter,
    AlertTransition,
    TransitionKey,
    due_instant,
    encode_transition,
    fingerprint,
    identity_fingerprint,
    record_key,
    transition_key,
)
from rules.state.items import (
    EARLIER_REPORTS,
    INDEX_MARGIN,
    SEEN_KEPT,
    AlertState,
    Extension,
    IndicatorState,
    Instant,
    Reached,
    TaskState,
    has_seen,
    indexed_due,
    parse_deadline,
    seen_keys,
)
from rules.state.sources import TaskMap, Tasks, WakeupMap, Wakeups
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
    task_named,
)
from rules.state.unit import AlertMap, Recount, TaskIndex, UnitState

__all__ = [
    "EARLIER_REPORTS",
    "INDEX_MARGIN",
    "NO_INDICATOR",
    "SEEN_KEPT",
    "UNIT",
    "AlertFilter",
    "AlertMap",
    "AlertState",
    "AlertTransition",
    "Change",
    "ChangePart",
    "Extension",
    "IndicatorState",
    "Instant",
    "Reached",
    "Recount",
    "Subject",
    "SubjectKey",
    "SubjectKind",
    "TaskIndex",
    "TaskMap",
    "TaskState",
    "Tasks",
    "TransitionKey",
    "UnitState",
    "WakeupMap",
    "Wakeups",
    "due_instant",
    "encode_transition",
    "fingerprint",
    "has_seen",
    "identity_fingerprint",
    "indexed_due",
    "indicator_key",
    "parse_deadline",
    "record_key",
    "seen_keys",
    "task_key",
    "task_named",
    "transition_key",
]
