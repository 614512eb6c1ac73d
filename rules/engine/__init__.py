"""Evaluation: the pure rule engine, (pack, state, input, now) → (state, transitions).

``evaluate``: ``apply_event`` when an event arrives, ``advance`` when time
passes, ``seed`` for a rostered unit that never reported; ``restate``: the
firing record of an alert the state holds; whether an alert is overdue, and
what of a unit is (``overdue_by_kind``).
"""

from rules.engine.evaluate import (
    Outcome,
    Result,
    advance,
    apply_event,
    catch_up_instant,
    is_overdue,
    is_unit_overdue,
    overdue_by_kind,
    restate,
    seed,
)

__all__ = [
    "Outcome",
    "Result",
    "advance",
    "apply_event",
    "catch_up_instant",
    "is_overdue",
    "is_unit_overdue",
    "overdue_by_kind",
    "restate",
    "seed",
]
