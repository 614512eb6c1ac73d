"""The ledger of published alert transitions: what ``compliance.alerts`` already says.

Kafka without transactions cannot write an alert record and the state that
remembers it atomically. After a crash either may be missing. The ledger —
the last record per fingerprint, read from the alerts topic and kept up to
date by following it — turns that into effects that happen once: a
transition the topic already shows is not written again, and state that
says "firing" while the topic does not (or the reverse) is reconciled when a
worker takes a partition over.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from monitor.state.follower import TopicFollower
from rules.state import AlertTransition, TransitionKey, transition_key

__all__ = ["AlertLedger", "LedgerFollower"]

log = logging.getLogger(__name__)


class AlertLedger:
    """Last published transition per fingerprint (and the unit it is about)."""

    def __init__(self) -> None:
        self._last: dict[str, AlertTransition] = {}

    def observe(self, transition: AlertTransition) -> None:
        """Record that ``transition`` is on the topic."""
        self._last[transition.fingerprint] = transition

    def is_new(self, transition: AlertTransition) -> bool:
        """Whether the topic does not already end with this very transition for its fingerprint."""
        last = self._last.get(transition.fingerprint)
        return last is None or transition_key(last) != transition_key(transition)

    def last(self, fingerprint: str) -> TransitionKey | None:
        """The last transition published for a fingerprint."""
        entry = self._last.get(fingerprint)
        return transition_key(entry) if entry is not None else None

    def last_record(self, fingerprint: str) -> AlertTransition | None:
        """The last record published for a fingerprint."""
        return self._last.get(fingerprint)

    def firing(self) -> list[AlertTransition]:
        """Last records that say firing: every alert firing now, as far as the topic has been read."""
        return [t for t in self._last.values() if t.status == "firing"]

    def resolved(self, limit: int) -> list[AlertTransition]:
        """The ``limit`` alerts resolved last (by when they ended), as far as the topic has been read."""
        ended = (t for t in self._last.values() if t.status == "resolved")
        return heapq.nlargest(limit, ended, key=lambda t: (t.ends_at or t.starts_at, t.fingerprint))

    def firing_in(self, units: set[str]) -> list[AlertTransition]:
        """Last records that say firing, for alerts about the given units."""
        return [t for t in self._last.values() if t.status == "firing" and t.unit_id in units]

    def __len__(self) -> int:
        return len(self._last)


class LedgerFollower(TopicFollower):
    """Reads the alerts topic into a ledger (from the beginning, or from a history index's snapshot), then follows it.

    It tells ``listeners`` of each record it reads.

    Every worker follows the whole topic, so each one's ledger and listeners
    (the feed page's live stream) see every unit's alerts, whoever owns it.
    """

    what = "alert ledger"

    def __init__(
        self,
        ledger: AlertLedger,
        bootstrap: str,
        topic: str,
        client: dict[str, Any],
        listeners: Sequence[Callable[[AlertTransition], None]] = (),
    ) -> None:
        super().__init__(bootstrap, topic, client)
        self._ledger = ledger
        self._listeners = tuple(listeners)

    async def start(self, positions: Mapping[int, int] | None = None, known: Iterable[AlertTransition] = ()) -> None:
        """Connect and start following (returns at once; ``catch_up`` waits for the backlog).

        Args:
            positions: Where to start reading each partition (from its beginning where none is given).
            known: The last record per fingerprint of the records before ``positions`` (the history index's,
                checked against the topic: ``monitor.state.indexer.index_matches_topic``).
        """
        for transition in known:
            self._ledger.observe(transition)
        await super().start(positions)

    def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Each record that is an alert transition goes into the ledger and to the listeners."""
        for record in records:
            try:
                transition = AlertTransition.model_validate_json(record.value or b"")
            except ValidationError:
                continue
            self._ledger.observe(transition)
            for listener in self._listeners:
                listener(transition)
