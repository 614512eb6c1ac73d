"""The rule engine on a simulated clock: what ``monitor rules test`` and ``monitor replay`` run.

The simulation is the same engine the worker runs (``apply_event``,
``advance``, ``seed``), driven by a clock that jumps from one instant at
which something is due to the next, so it finds every transition a worker
ticking continuously would. The rules may change on the way (``use_pack``,
a ``PackTimeline`` in ``replay``), as they do when a pack is applied to
running workers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from events.models import Event
from rules.engine import Result, advance, apply_event, seed
from rules.language import RulePack
from rules.loading import PackTimeline
from rules.state import AlertTransition, UnitState
from rules.units import Refused, place

__all__ = ["Simulation", "TimedTransition", "replay", "simulate"]

_MAX_STEPS = 1_000_000  # a timeline that needs more wake-ups than this is a bug, not a test
_ALWAYS = datetime.min.replace(tzinfo=UTC)  # when a plain pack, replayed alone, was applied

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

    @property
    def reporting_units(self) -> set[str]:
        """Units an event was delivered to; the others are here only because a roster lists them."""
        return {unit for unit, state in self.states.items() if state.last_event_at is not None}

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

    def use_pack(self, pack: RulePack, at: datetime) -> None:
        """Switch to ``pack`` at ``at``, as a worker does when a pack is applied.

        Time runs to ``at`` under the old pack. Then rostered units of the new
        pack that have no state yet are seeded, and every unit is evaluated
        under it at once: rules added fire, alerts of removed rules resolve
        (``rule_removed``), units off a roster resolve (``no_longer_rostered``).
        """
        self.run_until(at)
        self.pack = pack
        for unit in sorted(pack.rostered_units - self.states.keys()):
            self._record(at, seed(pack, unit, at))
        for unit in sorted(self.states):
            self._record(at, advance(pack, self.states[unit], at))

    def deliver(self, event: Event, at: datetime) -> bool:
        """Deliver an event at ``at`` (and evaluate what it made due, as the next tick would).

        The event is placed on its unit as a worker places it (``rules.units.place``: a former province's code
        on its successor); one the unit registry refuses is not delivered (``False``), as a worker dead-letters it.
        """
        self.run_until(at)
        placed = place(event, self.pack.units) if len(self.pack.units) else None
        if isinstance(placed, Refused):
            return False
        if placed is not None:
            event = placed.event
        self._record(at, apply_event(self.pack, self.states.get(event.unit_id), event, at))
        self.run_until(at)
        return True


def replay(
    pack: RulePack | PackTimeline,
    events: Iterable[Event],
    *,
    start: datetime | None = None,
    until: datetime | None = None,
) -> tuple[int, list[TimedTransition]]:
    """Deliver recorded events at their ``occurred_at`` between ``start`` and ``until``.

    Both default to the first and the last event. With a ``PackTimeline``, the
    simulation starts under the pack in force at the start (the first pack if
    the start is before it) and switches to each later one at its
    ``applied_at`` up to ``until``; a switch at an event's instant comes first.
    Returns how many events were delivered and the transitions a worker would
    have written, in order.
    """
    delivered, simulation = simulate(pack, events, start=start, until=until)
    return delivered, simulation.transitions if simulation is not None else []


def simulate(
    pack: RulePack | PackTimeline,
    events: Iterable[Event],
    *,
    start: datetime | None = None,
    until: datetime | None = None,
) -> tuple[int, Simulation | None]:
    """``replay``, returning the simulation itself (its units' states, its pack, its transitions); ``None`` if empty."""
    timeline = pack if isinstance(pack, PackTimeline) else PackTimeline([(_ALWAYS, pack)])
    if not timeline.entries:
        raise ValueError("a timeline with no packs")
    first = timeline.entries[0][1]
    # Events the pack in force refuses (an indicator out of its bounds) are dead-lettered by a worker: never delivered.
    ordered = sorted(
        (e for e in events if (timeline.at(e.occurred_at) or first).refusal(e) is None),
        key=lambda e: e.occurred_at,  # stable
    )
    if start is not None:
        ordered = [e for e in ordered if e.occurred_at >= start]
    if until is not None:
        ordered = [e for e in ordered if e.occurred_at <= until]
    if not ordered and (start is None or until is None):
        return 0, None
    begin, end = start or ordered[0].occurred_at, until or ordered[-1].occurred_at
    in_force = max((n for n, (at, _) in enumerate(timeline.entries) if at <= begin), default=0)
    switches = [(at, p) for at, p in timeline.entries[in_force + 1 :] if at <= end]
    simulation = Simulation.start(timeline.entries[in_force][1], begin)
    for event in ordered:
        while switches and switches[0][0] <= event.occurred_at:
            at, next_pack = switches.pop(0)
            simulation.use_pack(next_pack, at)
        simulation.deliver(event, event.occurred_at)
    for at, next_pack in switches:
        simulation.use_pack(next_pack, at)
    simulation.run_until(end)
    return len(ordered), simulation
