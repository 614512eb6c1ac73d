"""``monitor replay``: a recorded event history through the engine on a simulated clock.

Events are delivered at their ``occurred_at``, in order; time advances from
one due instant to the next exactly as in ``monitor rules test``, so the
output is the alert transitions a worker would have written live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from events.files import read_rows
from events.models import Event, EventKind
from rules.alerts import AlertTransition
from rules.pack import RulePack
from rules.testing import Simulation

__all__ = ["ReplayResult", "replay"]


@dataclass
class ReplayResult:
    """Transitions in the order they happened, with the instant of each; rows that could not be read."""

    transitions: list[tuple[datetime, AlertTransition]] = field(default_factory=list)
    events: int = 0
    bad_rows: list[str] = field(default_factory=list)


def replay(
    paths: Sequence[Path],
    pack: RulePack,
    *,
    start: datetime | None = None,
    until: datetime | None = None,
    kind: EventKind | None = None,
) -> ReplayResult:
    """Replay the events of the files between ``start`` and ``until`` (default: first and last event)."""
    result = ReplayResult()
    events: list[Event] = []
    for path in paths:
        for row in read_rows(path, kind):
            if row.error is not None:
                result.bad_rows.append(f"{path}:{row.line}: {row.error}")
            events.extend(row.events)
    events.sort(key=lambda e: e.occurred_at)  # stable: equal instants keep file order
    if start is not None:
        events = [e for e in events if e.occurred_at >= start]
    if until is not None:
        events = [e for e in events if e.occurred_at <= until]
    if not events and (start is None or until is None):
        return result
    begin = start or events[0].occurred_at
    end = until or events[-1].occurred_at
    simulation = Simulation.start(pack, begin)
    for event in events:
        simulation.deliver(event, event.occurred_at)
    simulation.run_until(end)
    result.transitions = simulation.transitions
    result.events = len(events)
    return result
