"""What each publisher is told of its events: how many were taken and refused lately, and why. No I/O.

Refusals are read from the dead-letter topic, where every refused record
goes (Kafka and HTTP alike) with a ``dlq_refused`` header that attributes
its refused events: ``[[publisher, cause, count], …]``, the publisher being
the registry's id (or ``_unregistered``). Every worker follows that topic
into a ``RefusalLog``, so any worker answers for every publisher. Events
taken are counted by the worker that handled them (``Tally``), per hour.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "DAY",
    "RECENT_REFUSALS",
    "REFUSED_HEADER",
    "RefusalLog",
    "Refused",
    "Tally",
    "refusals_of",
    "refused_header",
]

#: The dead-letter header that attributes a record's refused events to their publishers.
REFUSED_HEADER = "dlq_refused"
#: Refusals kept per publisher, newest last (what ``/api/v1/publishers/me`` lists).
RECENT_REFUSALS = 100
#: The window of "lately".
DAY = timedelta(days=1)
_HOUR = 3600


def refused_header(refused: Mapping[tuple[str, str], int]) -> tuple[str, bytes]:
    """The ``dlq_refused`` header of a dead-letter record: (publisher, cause) → how many of its events."""
    entries = [[publisher, cause, count] for (publisher, cause), count in sorted(refused.items())]
    return REFUSED_HEADER, json.dumps(entries, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Refused:
    """One refused record as its publisher is told of it."""

    at: datetime  # when the dead-letter record was written
    cause: str
    count: int  # how many of the publisher's events the record held
    reason: str
    topic: str  # where it was read (``http`` for a request)
    partition: int | None
    offset: int | None

    def as_json(self) -> dict[str, Any]:
        """As ``/api/v1/publishers/me`` gives it."""
        return {
            "at": self.at.isoformat(),
            "cause": self.cause,
            "events": self.count,
            "reason": self.reason,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
        }


def _position(text: str | None) -> int | None:
    """A partition or offset header's number; ``None`` when absent or not one (an HTTP request has neither)."""
    try:
        number = int(text) if text is not None else None
    except ValueError:
        return None
    return number if number is not None and number >= 0 else None


def refusals_of(headers: Sequence[tuple[str, bytes]], timestamp_ms: int) -> list[tuple[str, Refused]]:
    """(publisher, refusal) for each publisher a dead-letter record's ``dlq_refused`` header names; none without it."""
    found = {key: value.decode("utf-8", "replace") for key, value in headers}
    attributed = found.get(REFUSED_HEADER)
    if attributed is None:
        return []
    try:
        entries = json.loads(attributed)
    except json.JSONDecodeError:
        return []
    at = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    refusals = []
    for entry in entries if isinstance(entries, list) else []:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], int)):
            continue
        publisher, cause, count = str(entry[0]), str(entry[1]), entry[2]
        refusals.append(
            (
                publisher,
                Refused(
                    at,
                    cause,
                    count,
                    found.get("dlq_reason", ""),
                    found.get("dlq_topic", ""),
                    _position(found.get("dlq_partition")),
                    _position(found.get("dlq_offset")),
                ),
            )
        )
    return refusals


@dataclass
class _Hours:
    """Counts per hour (epoch hour → count), the last day's and a little more."""

    counts: dict[int, int] = field(default_factory=dict)

    def add(self, at: datetime, count: int) -> None:
        hour = int(at.timestamp()) // _HOUR
        self.counts[hour] = self.counts.get(hour, 0) + count
        oldest = hour - 26
        for stale in [h for h in self.counts if h < oldest]:
            del self.counts[stale]

    def since(self, start: datetime) -> int:
        first = int(start.timestamp()) // _HOUR
        return sum(count for hour, count in self.counts.items() if hour >= first)


class RefusalLog:
    """Every publisher's recent refusals, and its refusals by cause over the last day (hour by hour)."""

    def __init__(self, recent: int = RECENT_REFUSALS) -> None:
        self._recent: dict[str, deque[Refused]] = {}
        self._hours: dict[tuple[str, str], _Hours] = {}
        self._limit = recent

    def add(self, publisher: str, refused: Refused) -> None:
        """Remember a refusal."""
        self._recent.setdefault(publisher, deque(maxlen=self._limit)).append(refused)
        self._hours.setdefault((publisher, refused.cause), _Hours()).add(refused.at, refused.count)

    def extend(self, refusals: Iterable[tuple[str, Refused]]) -> None:
        """Remember each (publisher, refusal)."""
        for publisher, refused in refusals:
            self.add(publisher, refused)

    def recent(self, publisher: str) -> list[Refused]:
        """The publisher's last refusals, newest first."""
        return list(reversed(self._recent.get(publisher, ())))

    def last_day(self, publisher: str, now: datetime) -> dict[str, int]:
        """The publisher's refused events over the last day, by cause (whole hours: up to an hour more)."""
        start = now - DAY
        counts = {cause: hours.since(start) for (who, cause), hours in self._hours.items() if who == publisher}
        return {cause: count for cause, count in sorted(counts.items()) if count}


class Tally:
    """Events taken from each publisher, hour by hour, by this worker since it started."""

    def __init__(self, started: datetime) -> None:
        self.started = started
        self._hours: dict[str, _Hours] = {}

    def add(self, publisher: str, at: datetime, count: int) -> None:
        """Count ``count`` events of ``publisher`` taken at ``at``."""
        self._hours.setdefault(publisher, _Hours()).add(at, count)

    def last_day(self, publisher: str, now: datetime) -> int:
        """The publisher's events taken over the last day (whole hours: up to an hour more)."""
        hours = self._hours.get(publisher)
        return hours.since(now - DAY) if hours is not None else 0
