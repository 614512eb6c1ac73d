"""How many task kinds and indicators one unit may have: a bound on what a careless or hostile provider can make us hold.

A unit's task ids are many by nature (a province's dossiers); its task
kinds and indicator names are few (a rule pack names a handful). A
provider that sends 50,000 made-up kinds or indicator names made the
worker hold, and ``/metrics`` and ``/api/v1/units`` show, 50,000 of each.
Beyond the cap, an event that would add one more is refused with a reason
(dead-lettered) and counted; events about kinds and indicators the unit
already has are unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.models import Event, ExtensionEvent, IndicatorEvent
from rules.state import UnitState

__all__ = ["UnitCaps"]


@dataclass(frozen=True, slots=True)
class UnitCaps:
    """The most task kinds and indicators one unit may hold."""

    max_kinds: int
    max_indicators: int

    def refusal(self, state: UnitState | None, event: Event) -> tuple[str, str] | None:
        """Why ``event`` would take its unit over a cap, as (cap, reason), or ``None`` if it may be applied."""
        if state is None or isinstance(event, ExtensionEvent):  # an extension adds nothing a cap counts
            return None
        if isinstance(event, IndicatorEvent):
            if event.indicator in state.indicators or len(state.indicators) < self.max_indicators:
                return None
            return "indicators", (
                f"unit {event.unit_id} already reports {len(state.indicators)} indicators, the most one unit may "
                f"(MONITOR_MAX_INDICATORS_PER_UNIT); indicator '{event.indicator}' is not tracked"
            )
        # A task of the unit already of this kind is counted in it: no read of the task (a point read in the store).
        if state.tracks_kind(event.kind) or state.kind_count() < self.max_kinds:
            return None
        return "kinds", (
            f"unit {event.unit_id} already has tasks of {state.kind_count()} kinds, the most one unit may "
            f"(MONITOR_MAX_KINDS_PER_UNIT); kind '{event.kind}' is not tracked"
        )
