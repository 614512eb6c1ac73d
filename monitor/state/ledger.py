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
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from monitor.state.follower import TopicFollower
from rules.state import AlertTransition, TransitionKey, transition_key

__all__ = ["KEEP_RESOLVED", "AlertLedger", "LedgerFollower"]

log = logging.getLogger(__name__)


class Index(Protocol):
    """Where the ledger finds the last records it no longer holds: the history index (``AlertHistory``)."""

    def indexed(self, partition: int) -> int: ...
    def last_record(self, fingerprint: str) -> AlertTransition | None: ...


#: Resolved alerts a ledger with an index keeps in memory (the feed's "resolved" list shows up to 1,000).
KEEP_RESOLVED = 2000


class AlertLedger:
    """Last published transition per fingerprint (and the unit it is about).

    Alone, it holds every alert the topic ever named. Given the history index
    (``keep_on_disk``), it holds the alerts firing and the ``keep_resolved``
    resolved last, and leaves the other resolved ones to the index once the
    index has them: memory grows with the alerts firing, not with every alert
    ever raised. A firing record is never left to the index, so an alert the
    ledger does not hold is resolved on the topic, or was never raised; the
    index is read only when that difference matters (``last_record``).

    What this worker wrote (``wrote``) stands until its follower reads it
    back: a record the follower reads before that is an older one of the same
    alert (all of an alert's records are in one partition, in order), and
    does not replace it.
    """

    def __init__(self, keep_resolved: int = KEEP_RESOLVED) -> None:
        self._last: dict[str, AlertTransition] = {}
        self._keep = keep_resolved
        self._index: Index | None = None
        #: Resolved records read from the topic, oldest first, with where they are: the ones that may leave.
        self._ended: deque[tuple[AlertTransition, int, int]] = deque()
        #: This worker's records not read back yet, with the number of ``wrote`` calls before each.
        self._unread: dict[str, tuple[AlertTransition, int]] = {}
        self._written = 0

    def keep_on_disk(self, index: Index) -> None:
        """Leave resolved alerts beyond ``keep_resolved`` to ``index`` once it has indexed them."""
        self._index = index

    def wrote(self, transition: AlertTransition) -> None:
        """Record that this worker wrote ``transition`` and the broker took it; it stands until read back."""
        if self._last.get(transition.fingerprint) != transition:  # else the follower was quicker than the ack
            self._unread[transition.fingerprint] = (transition, self._written)
        self._written += 1
        self._last[transition.fingerprint] = transition

    @property
    def written(self) -> int:
        """How many transitions this worker wrote so far (a mark for ``forget_unread``)."""
        return self._written

    def forget_unread(self, mark: int) -> int:
        """Stop waiting to read back the records written before ``mark``; how many were still unread.

        Called once the follower has read the topic to the end it had after
        they were written: one still unread is not on the topic any more (a
        broker back empty), and what the topic says stands again.
        """
        stale = [fingerprint for fingerprint, (_, n) in self._unread.items() if n < mark]
        for fingerprint in stale:
            del self._unread[fingerprint]
        return len(stale)

    def observe(self, transition: AlertTransition, partition: int | None = None, offset: int | None = None) -> None:
        """Record that ``transition`` is on the topic (at ``offset`` of ``partition``, when read from it).

        A record of an alert this worker wrote since is older than that, and is passed over until the follower
        reaches what it wrote.
        """
        unread = self._unread.get(transition.fingerprint)
        if unread is not None:
            if unread[0] != transition:
                return
            del self._unread[transition.fingerprint]
        self._last[transition.fingerprint] = transition
        if transition.status == "resolved" and partition is not None and offset is not None:
            self._ended.append((transition, partition, offset))

    def trim(self) -> int:
        """Forget the oldest resolved records beyond ``keep_resolved`` that the index has; how many."""
        index, ended, forgotten = self._index, self._ended, 0
        if index is None:
            return 0
        while len(ended) > self._keep:
            transition, partition, offset = ended[0]
            if offset >= index.indexed(partition):
                break  # not in the index yet: held until it is
            ended.popleft()
            if self._last.get(transition.fingerprint) is transition:  # not raised again since
                del self._last[transition.fingerprint]
                forgotten += 1
        return forgotten

    def is_new(self, transition: AlertTransition) -> bool:
        """Whether the topic does not already end with this very transition for its fingerprint."""
        last = self._last.get(transition.fingerprint)
        if last is None and transition.status == "firing":
            return True  # the topic ends with a resolution of it, or says nothing of it: firing is new either way
        last = self.last_record(transition.fingerprint) if last is None else last
        return last is None or transition_key(last) != transition_key(transition)

    def last(self, fingerprint: str) -> TransitionKey | None:
        """The last transition published for a fingerprint."""
        entry = self.last_record(fingerprint)
        return transition_key(entry) if entry is not None else None

    def last_record(self, fingerprint: str) -> AlertTransition | None:
        """The last record published for a fingerprint (from the index when the ledger no longer holds it)."""
        entry = self._last.get(fingerprint)
        if entry is None and self._index is not None:
            return self._index.last_record(fingerprint)
        return entry

    def last_before(self, transitions: Sequence[AlertTransition]) -> AlertTransition | None:
        """``last_record`` of the alert of ``transitions`` as far as they can tell it from none.

        Transitions that are all firing find in memory every last record equal to one of them (a firing one
        is always held): the index is read only for a resolution.
        """
        fingerprint = transitions[0].fingerprint
        if all(t.status == "firing" for t in transitions):
            return self._last.get(fingerprint)
        return self.last_record(fingerprint)

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
        """The alerts held in memory."""
        return len(self._last)


class LedgerFollower(TopicFollower):
    """Reads the alerts topic into a ledger (from the beginning, or from a history index's snapshot), then follows it.

    It tells ``listeners`` of each record it reads.

    Every worker follows the whole topic, so each one's ledger and listeners
    (the feed page's live stream) see every unit's alerts, whoever owns it.
    """

    what = "alert ledger"
    #: Two seconds between reads once current: what other workers publish reaches this worker's ledger and
    #: live feed within about two seconds (a takeover's catch-up does not wait). Reading each batch as it came
    #: cost the embedded broker, at 20 minutes of ``make soak``, as much as all the rest of its work (see
    #: ``rest``). Read every second by each worker's ledger and history index, the alerts topic's partitions were
    #: the ones it listed most often that held the most batches (three a second each, against one for each
    #: input partition, in a 12-minute soak).
    rest = 2.0

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
            known: The last record of the alerts firing and of those resolved last, as of ``positions`` (the
                history index's, checked against the topic: ``monitor.state.indexer.index_matches_topic``).
        """
        for transition in known:
            self._ledger.observe(transition)
        await super().start(positions)

    async def catch_up(self, timeout: float = 30.0, *, stalled_reads: int = 30) -> bool:
        """``TopicFollower.catch_up``; then every record this worker wrote before it began has been read back.

        One that was not is not on the topic (``AlertLedger.forget_unread``): said, and the topic's word stands.
        """
        mark = self._ledger.written
        caught_up = await super().catch_up(timeout, stalled_reads=stalled_reads)
        if caught_up and (lost := self._ledger.forget_unread(mark)):
            log.warning("alert ledger: %d alert records this worker wrote are not on the topic read to its end", lost)
        return caught_up

    def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Each record that is an alert transition goes into the ledger and to the listeners."""
        for record in records:
            try:
                transition = AlertTransition.model_validate_json(record.value or b"")
            except ValidationError:
                continue
            self._ledger.observe(transition, record.partition, record.offset)
            for listener in self._listeners:
                listener(transition)
        self._ledger.trim()
