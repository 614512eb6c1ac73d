"""Evaluation: the pure rule engine, (pack, state, input, now) → (state, transitions).

``evaluate``: ``apply_event`` when an event arrives, ``advance`` when time
passes, ``seed`` for a rostered unit that never reported;
``catch_up_instant``: when to judge an event read from a backlog;
``restate``: the firing record of an alert the state holds. Behind them:
``assessment`` (what one rule says of one subject at an instant),
``reconciliation`` (a unit's alerts, pending breaches and wake-ups in line
with that), ``records`` (the alert records and their texts), ``result``
(``Result``, ``Outcome``). ``overdue``: whether an alert is overdue, and
what of a unit is (``overdue_by_kind``).
"""

from rules.engine.evaluate import advance, apply_event, catch_up_instant, move, restate, seed
from rules.engine.overdue import is_overdue, is_unit_overdue, overdue_by_kind
from rules.engine.result import Outcome, Result

__all__ = [
    "Outcome",
    "Result",
    "advance",
    "apply_event",
    "catch_up_instant",
    "is_overdue",
    "is_unit_overdue",
    "move",
    "overdue_by_kind",
    "restate",
    "seed",
]
