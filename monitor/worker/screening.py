"""What a record's events must pass before the engine.

A unit to be placed on, a publisher allowed to report it, a time the worker
can believe, rules that take them. The processor (``monitor.worker.processor``) screens each record it decodes
here; what is refused becomes a rejection at its place in the record, with
its reason, and goes to the dead-letter topic with the record's provenance.
What was placed or refused is counted once per run of records
(``ScreenCounts``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime, timedelta

from events.codec import Decoded, screen
from events.grants import UNSEALED_EXTENSION, is_granted
from events.models import Event, ExtensionEvent
from events.signing import Seal
from monitor.kafka.records import InboundRecord, unit_partition
from monitor.metrics import UNREGISTERED, Metrics
from monitor.publishers import Admission
from rules.language import RulePack
from rules.units import Refused, place

__all__ = ["Screen", "ScreenCounts"]


@dataclasses.dataclass
class ScreenCounts:
    """What screening found in a run of records, counted once the run is handled."""

    #: Events from further ahead of the worker's clock than it allows.
    from_future: int = 0
    #: Events the publisher registry refused, by (publisher, cause).
    refused_by: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)
    #: Events placed on their unit (or not), by (kind of code, lineage).
    codes: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)

    def count(self, metrics: Metrics, topic: str) -> None:
        """Add them to the worker's metrics."""
        if self.from_future:
            metrics.from_future.labels(topic).inc(self.from_future)
        for (publisher, cause), count in self.refused_by.items():
            metrics.publisher_refusals.labels(publisher, cause).inc(count)
            metrics.publisher_events.labels(publisher, "refused").inc(count)
        for (kind, lineage), count in self.codes.items():
            metrics.unit_codes.labels(kind, lineage).inc(count)


class Screen:
    """Screens each record's events under the pack and the publisher registry in force.

    Args:
        pack: The rules, with their unit registry (placing) and refusals.
        max_skew: How far ahead of ``now`` an event's ``occurred_at`` may lie; events further ahead are refused
            (one far-future event would make every later one of its subject stale).
        admission: Which publisher may report which unit (``None``: open mode, every publisher every unit).
        grant_key: The cluster credential an extension's record is sealed with (``events.grants``; ``None``: every
            extension is refused).
    """

    def __init__(
        self,
        pack: RulePack,
        max_skew: timedelta,
        admission: Admission | None = None,
        grant_key: bytes | None = None,
    ) -> None:
        self.pack = pack
        self.admission = admission
        self._max_skew = max_skew
        self._grant_key = grant_key

    def events(
        self, decoded: Decoded, now: datetime, record: InboundRecord, partitions: int, counts: ScreenCounts
    ) -> tuple[Decoded, dict[tuple[str, str], int]]:
        """Place each event on its unit; refuse what cannot be placed, admitted, believed or evaluated.

        Placed by the pack's unit registry; refused: those it cannot place, those the publisher registry
        refuses, those from too far ahead of ``now``, and those the rules refuse. An extension is taken only in
        a record of its own sealed by a worker (``events.grants``), whoever else may write to the topic.

        Returns the events left, and how many of this record's the registry refused by publisher (the
        registry's id, or ``UNREGISTERED``) and cause; ``counts`` counts them with those from the future and
        the codes placed.
        """
        horizon = now + self._max_skew
        partition = record.partition
        refusal = self.pack.refusal
        admission = self.admission
        units = self.pack.units if len(self.pack.units) else None
        refused_by: dict[tuple[str, str], int] = {}
        codes = counts.codes  # (kind, lineage) → events

        def check(event: Event, seal: Seal | None) -> str | Event | None:
            came = event
            named = None
            if units is not None:
                placed = place(event, units)
                if isinstance(placed, Refused):
                    codes[("refused", "refused")] = codes.get(("refused", "refused"), 0) + 1
                    return placed.reason
                event, named = placed.event, placed.named
                if unit_partition(event.unit_id, partitions) == partition:  # else counted where it is forwarded
                    key = (placed.kind, "former" if placed.former else "current")
                    codes[key] = codes.get(key, 0) + 1
            if isinstance(event, ExtensionEvent):
                return None if granted() else UNSEALED_EXTENSION
            if admission is not None:
                refused = admission.refusal(event.source, event.unit_id, seal, named)
                if refused is not None:
                    publisher = event.source if admission.publisher(event.source) is not None else UNREGISTERED
                    key = (publisher, refused.cause.value)
                    refused_by[key] = refused_by.get(key, 0) + 1
                    return refused.reason
            if event.occurred_at > horizon:
                counts.from_future += 1
                ahead = event.occurred_at - now
                return (
                    f"field 'occurred_at': {event.occurred_at.isoformat()} is {ahead} ahead of the worker's clock "
                    f"({now.isoformat()}), more than MONITOR_MAX_CLOCK_SKEW allows ({self._max_skew}); "
                    "check the publisher's clock"
                )
            said = refusal(event)
            return said if said is not None or event is came else event

        def granted() -> bool:
            return not decoded.is_batch and is_granted(self._grant_key, record.value, record.headers)

        screened, _ = screen(decoded, check)
        counts.refused_by.update(refused_by)
        return screened, refused_by
