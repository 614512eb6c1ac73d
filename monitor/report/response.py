"""How fast alerts were answered in a period: time to acknowledge and time to resolve, per unit and severity. Pure.

An alert counts in the period its firing interval began in. Its time to
acknowledge is from the start of the interval to the first acknowledgement
of it (``monitor.actions``), its time to resolve from the start to the end of
the interval; one that was not acknowledged, or had not ended, by the instant
the report judges is counted as such, never given a time. Figures are the
median and the longest, per unit and severity, and per severity over every
unit in the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median_low
from typing import Any

from monitor.actions import ActionKind, AlertAction
from rules.language import SEVERITIES, urgency

__all__ = ["Begun", "ResponseRow", "ResponseTally", "response_rows"]

#: A unit id, or the whole report's (one row per severity over every unit).
EVERY_UNIT = ""


@dataclass(frozen=True, slots=True)
class Begun:
    """One firing interval that began in the period: what the history index says of it."""

    fingerprint: str
    unit_id: str
    severity: str
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """The response figures of one unit (``""``: every unit) and one severity."""

    unit_id: str
    severity: str
    alerts: int
    acknowledged: int
    to_acknowledge: tuple[timedelta, ...]  # each acknowledged alert's, shortest first
    ended: int
    to_resolve: tuple[timedelta, ...]  # each ended alert's, shortest first

    @property
    def median_to_acknowledge(self) -> timedelta | None:
        """The median time to acknowledge (the lower middle of an even count), if any was."""
        return median_low(self.to_acknowledge) if self.to_acknowledge else None

    @property
    def median_to_resolve(self) -> timedelta | None:
        """The median time to resolve, if any ended."""
        return median_low(self.to_resolve) if self.to_resolve else None

    def as_json(self) -> dict[str, Any]:
        """The row as the report's JSON gives it (seconds)."""

        def seconds(value: timedelta | None) -> float | None:
            return round(value.total_seconds()) if value is not None else None

        return {
            "unit_id": self.unit_id or None,
            "severity": self.severity,
            "alerts": self.alerts,
            "acknowledged": self.acknowledged,
            "median_to_acknowledge_seconds": seconds(self.median_to_acknowledge),
            "longest_to_acknowledge_seconds": seconds(max(self.to_acknowledge, default=None)),
            "ended": self.ended,
            "median_to_resolve_seconds": seconds(self.median_to_resolve),
            "longest_to_resolve_seconds": seconds(max(self.to_resolve, default=None)),
        }


def _acknowledged_at(actions: Sequence[AlertAction], judged_at: datetime) -> datetime | None:
    """When the interval was first acknowledged, no later than ``judged_at``."""
    return next((a.at for a in actions if a.action is ActionKind.ACKNOWLEDGE and a.at <= judged_at), None)


class ResponseTally:
    """The response figures gathered one interval at a time (``add``), then given per unit and severity (``rows``).

    Args:
        actions_of: Every action on an interval, in the order taken (fingerprint, start).
        judged_at: The instant the report judges: later acknowledgements and ends do not count yet.
    """

    def __init__(self, actions_of: Callable[[str, datetime], Sequence[AlertAction]], judged_at: datetime) -> None:
        self.actions_of = actions_of
        self.judged_at = judged_at
        self._gathered: dict[tuple[str, str], tuple[list[int], list[timedelta], list[timedelta]]] = {}

    def add(self, interval: Begun) -> None:
        """Count one interval that began in the period, under its unit and under every unit."""
        judged_at = self.judged_at
        acked = _acknowledged_at(self.actions_of(interval.fingerprint, interval.started_at), judged_at)
        ended = interval.ended_at if interval.ended_at is not None and interval.ended_at <= judged_at else None
        for unit in (interval.unit_id, EVERY_UNIT):
            count, to_ack, to_resolve = self._gathered.setdefault((unit, interval.severity), ([0], [], []))
            count[0] += 1
            if acked is not None:
                to_ack.append(max(acked - interval.started_at, timedelta(0)))
            if ended is not None:
                to_resolve.append(max(ended - interval.started_at, timedelta(0)))

    def rows(self) -> list[ResponseRow]:
        """Every unit's rows first (by unit id), the whole report's last; the most urgent severity first in each."""
        rows = [
            ResponseRow(
                unit, severity, count[0], len(to_ack), tuple(sorted(to_ack)), len(to_resolve), tuple(sorted(to_resolve))
            )
            for (unit, severity), (count, to_ack, to_resolve) in self._gathered.items()
        ]
        return sorted(rows, key=lambda r: (r.unit_id == EVERY_UNIT, r.unit_id, urgency(SEVERITIES, r.severity)))


def response_rows(
    begun: Iterable[Begun], actions_of: Callable[[str, datetime], Sequence[AlertAction]], judged_at: datetime
) -> list[ResponseRow]:
    """Per unit and severity, then per severity over every unit (``unit_id`` ``""``): the response figures.

    Args:
        begun: The intervals that began in the period.
        actions_of: Every action on an interval, in the order taken (fingerprint, start).
        judged_at: The instant the report judges: later acknowledgements and ends do not count yet.
    """
    tally = ResponseTally(actions_of, judged_at)
    for interval in begun:
        tally.add(interval)
    return tally.rows()
