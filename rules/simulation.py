"""The rule engine on a simulated clock: what ``monitor rules test`` and ``monitor replay`` run.

The simulation is the same engine the worker runs (``apply_event``,
``advance``, ``seed``), driven by a clock that jumps from one instant at
which something is due to the next, so it finds every transition a worker
ticking continuously would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from events.models import Event
from rules.alerts import AlertTransition
from rules.engine import Result, advance, apply_event, seed
from rules.pack import RulePack
from rules.state import UnitState

__all__ = ["Simulation", "TimedTransition", "replay"]

_MAX_STEPS = 1_000_000  # a timeline that needs more wake-ups than this is a bug, not a test

#: An alert transition and the simulated instant it happened at.
TimedTransition = tuple[datetime, AlertTransition]


@dataclass
class Simulation:
    """Unit states advanced by the engine on a simulated clock."""

    pack: RulePack
    clock: datetime
    states: dict[str, UnitState] = field(default_factory=dict)
    transitions: list[TimedTransition] = field(default_factory=list)

    @classmethod
    def start(cls, pack: RulePack, at: datetime) -> Simulation:
        """A simulation at ``at`` with every rostered unit seeded, as a worker does on its first tick."""
        simulation = cls(pack, at)
        for unit in sorted(pack.rostered_units):
            simulation._record(at, seed(pack, unit, at))
        return simulation

    def _record(self, at: datetime, result: Result) -> None:
        self.states[result.state.unit_id] = result.state
        self.transitions.extend((at, t) for t in result.transitions)

    def run_until(self, until: datetime) -> None:
        """Let time pass to ``until``, stopping at every instant something was due."""
        for _ in range(_MAX_STEPS):
            due = [(s.next_wakeup, unit) for unit, s in self.states.items() if s.next_wakeup is not None]
            due = [(at, unit) for at, unit in due if at <= until.timestamp()]
            if not due:
                break
            at_epoch, unit = min(due)
            self.clock = max(self.clock, datetime.fromtimestamp(at_epoch, tz=until.tzinfo))
            self._record(self.clock, advance(self.pack, self.states[unit], self.clock))
        else:
            raise RuntimeError(f"simulation did not settle before {until}")
        self.clock = max(self.clock, until)

    def deliver(self, event: Event, at: datetime) -> None:
        """Deliver an event at ``at`` (and evaluate what it made due, as the next tick would)."""
        self.run_until(at)
        self._record(at, apply_event(self.pack, self.states.get(event.unit_id), event, at))
        self.run_until(at)


def replay(
    pack: RulePack, events: Iterable[Event], *, start: datetime | None = None, until: datetime | None = None
) -> tuple[int, list[TimedTransition]]:
    """Deliver recorded events at their ``occurred_at`` between ``start`` and ``until``.

    Both default to the first and the last event. Returns how many events were
    delivered and the transitions a worker would have written, in order.
    """
    # Events the rules refuse (an indicator out of its bounds) are dead-lettered by a worker: never delivered.
    ordered = sorted((e for e in events if pack.refusal(e) is None), key=lambda e: e.occurred_at)  # stable
    if start is not None:
        ordered = [e for e in ordered if e.occurred_at >= start]
    if until is not None:
        ordered = [e for e in ordered if e.occurred_at <= until]
    if not ordered and (start is None or until is None):
        return 0, []
    simulation = Simulation.start(pack, start or ordered[0].occurred_at)
    for event in ordered:
        simulation.deliver(event, event.occurred_at)
    simulation.run_until(until or ordered[-1].occurred_at)
    return len(ordered), simulation.transitions
