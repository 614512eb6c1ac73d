"""Where an event belongs: the unit its code meant at its ``occurred_at``, through lineage.

The one place the hot path asks the registry. An event naming a unit by any
of its codes is placed on the unit that code meant when the event occurred,
then on its successor if that unit had been merged by then; the code it came
with stays with it (``Event.unit_code``). A code the registry does not know is
left as it is (whether such a unit may report is the publisher registry's
question); a code that named no unit then, or a unit that had ended without a
single successor, refuses the event with the registry's reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.models import Event
from rules.units.model import CodeKind
from rules.units.registry import Refused, Resolved, UnitRegistry

__all__ = ["UNREGISTERED_CODE", "Placed", "place"]

#: How an event whose code the registry does not know is counted.
UNREGISTERED_CODE = "unregistered"


@dataclass(frozen=True, slots=True)
class Placed:
    """An event on its unit, and how its code was read.

    ``kind``: id, national, iso, other or unregistered; ``named``: the unit the code meant (a predecessor of the
    event's unit when ``former``: the code, or the unit it named, was no longer in use at the event's instant).
    """

    event: Event
    kind: str
    named: str
    former: bool = False


def place(event: Event, registry: UnitRegistry) -> Placed | Refused:
    """The event on the unit it belongs to, or why it belongs to none."""
    found = registry.resolve(event.unit_id, event.occurred_at)
    if found is None:
        return Placed(event, UNREGISTERED_CODE, event.unit_id)
    if isinstance(found, Refused):
        return Refused(f"field 'unit_id': {found.reason}")
    assert isinstance(found, Resolved)
    kind = found.kind.value if found.kind is not CodeKind.ID else "id"
    return Placed(event.readdressed(found.unit), kind, found.named, found.former or found.through_lineage)
