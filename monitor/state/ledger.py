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

import asyncio
import heapq
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from monitor.background import Background
from monitor.kafka.client import whole_topic_reader
from rules.alerts import AlertTransition, TransitionKey, transition_key

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


class LedgerFollower:
    """Reads the alerts topic into a ledger (from the beginning, or from a history index's snapshot), then follows it.

    It tells ``listeners`` of each record it reads.

    Every worker follows the whole topic, so each one's ledger and listeners
    (the feed page's live stream) see every unit's alerts, whoever owns it.
    """

    def __init__(
        self,
        ledger: AlertLedger,
        bootstrap: str,
        topic: str,
        client: dict[str, Any],
        listeners: Sequence[Callable[[AlertTransition], None]] = (),
    ) -> None:
        self._ledger = ledger
        self._listeners = tuple(listeners)
        self._bootstrap = bootstrap
        self._topic = topic
        self._client = client
        self._consumer: AIOKafkaConsumer | None = None
        self._follower = Background("alert-ledger", self._follow)
        self._started = asyncio.Event()
        self._reads = 0  # reads done, empty or not
        self._read_once = False  # the topic has been read to the end it had at some point since start

    async def start(self, positions: Mapping[int, int] | None = None, known: Iterable[AlertTransition] = ()) -> None:
        """Connect and start following (returns at once; ``catch_up`` waits for the backlog).

        Args:
            positions: Where to start reading each partition (from its beginning where none is given).
            known: The last record per fingerprint of the records before ``positions`` (the history index's,
                checked against the topic: ``monitor.state.indexer.index_matches_topic``).
        """
        self._consumer = await whole_topic_reader(self._bootstrap, self._topic, self._client)
        tps = sorted(self._consumer.assignment())
        if not tps:
            log.warning("alert ledger: topic %s not found; duplicates after a crash are possible", self._topic)
        positions = positions or {}
        for transition in known:
            self._ledger.observe(transition)
        for tp in tps:
            if tp.partition in positions:
                self._consumer.seek(tp, positions[tp.partition])
            else:
                await self._consumer.seek_to_beginning(tp)
        self._follower.start()
        self._started.set()

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=100, max_records=5000)
            except Exception:  # a broker hiccup: the consumer reconnects by itself
                log.exception("alert ledger: read failed; retrying")
                await asyncio.sleep(1)
                continue
            self._reads += 1
            for record in (r for records in batches.values() for r in records):
                try:
                    transition = AlertTransition.model_validate_json(record.value or b"")
                except ValidationError:
                    continue
                self._ledger.observe(transition)
                for listener in self._listeners:
                    listener(transition)

    async def catch_up(self, timeout: float = 30.0, *, stalled_reads: int = 30) -> bool:
        """Wait until everything on the topic now has been read; ``False`` if that took too long.

        The end is reached when every position is at the end offset the broker
        reports, or when ``stalled_reads`` reads in a row have moved no
        position: a broker can report an end it cannot serve (the embedded one,
        restarted empty while a producer still retried, reports records it
        never stored), and a read that returns nothing is the last word.
        """
        await self._started.wait()
        consumer = self._consumer
        assert consumer is not None
        tps = list(consumer.assignment())
        ends = await consumer.end_offsets(tps)
        deadline = asyncio.get_running_loop().time() + timeout
        reached: int | None = None
        last: tuple[list[int], int] | None = None  # positions, and the read count when they last moved
        while asyncio.get_running_loop().time() < deadline:
            if reached is None:
                positions = [await consumer.position(tp) for tp in tps]
                if last is None or last[0] != positions:
                    last = (positions, self._reads)
                if all(pos >= ends[tp] for pos, tp in zip(positions, tps, strict=True)):
                    reached = self._reads
                elif self._reads >= last[1] + stalled_reads:
                    log.warning(
                        "alert ledger: the broker reports records it does not serve; taking %s as the end", positions
                    )
                    reached = self._reads
            elif self._reads >= reached + 2:
                # The embedded broker reports an end offset short of its last batch's records,
                # which a read still returns: caught up once a read begun after the end was reached is done.
                self._read_once = True
                return True
            await asyncio.sleep(0.05)
        log.warning("alert ledger did not catch up within %.0fs; duplicates are possible", timeout)
        return False

    @property
    def current(self) -> bool:
        """Whether the topic has been read to its end once since start: what the ledger says is the topic's word."""
        return self._read_once

    async def read_through(self) -> None:
        """Catch up once, however long it takes (``current`` is true after)."""
        while not await self.catch_up():
            pass

    async def stop(self) -> None:
        """Stop following."""
        await self._follower.stop()
        if self._consumer is not None:
            await self._consumer.stop()
