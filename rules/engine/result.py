"""What the engine answers: the unit's new state, the alert transitions it caused, what changed.

``Result`` is what every entry point of ``rules.engine.evaluate`` returns,
built by reconciliation (``rules.engine.reconciliation``) once the unit's
alerts are in line with its conditions, or directly when there is nothing to
evaluate: an event refused as a duplicate or stale (``Outcome``), a tick
with nothing due.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from enum import StrEnum

from rules.state import AlertTransition, Change, UnitState

__all__ = ["Outcome", "Result"]


class Outcome(StrEnum):
    """What became of an input event."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STALE = "stale"
    #: An extension of a task the unit does not hold, or of no roster deadline of the unit (``Result.reason``).
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Result:
    """The engine's answer: the unit's new state, the alert transitions it caused, what changed."""

    state: UnitState
    transitions: tuple[AlertTransition, ...]
    outcome: Outcome = Outcome.ACCEPTED
    #: The parts of the state written (the engine's own set, handed over: not copied for every event).
    changed: Set[Change] = frozenset()
    #: Why the input was refused (``Outcome.REFUSED``).
    reason: str = ""
