"""Where the worker's records go: the outbox (alerts, dead letters, re-routed events) and the alert writer.

The processor and the takeover never talk to a producer: they write through
``AlertWriter``, which consults the ledger so that an alert transition the
topic already ends with is not written twice, waits for the broker, and only
then records the transitions in the ledger and tells the listeners; and
through an ``Outbox``, which the worker implements over faust topics and
tests over a list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from events.codec import DEFAULT_MAX_RECORD_BYTES, batch_records
from monitor.kafka.batches import OutboundRecord
from monitor.kafka.produce import send_keyed
from monitor.kafka.records import InboundRecord, dead_letter
from monitor.kafka.topics import Topics
from monitor.metrics import Metrics
from monitor.state.ledger import AlertLedger
from rules.state import AlertTransition, encode_transition, transition_key

__all__ = [
    "GENERATION_HEADER",
    "RAW",
    "AlertListener",
    "AlertWriter",
    "FaustOutbox",
    "Outbox",
    "forward_events",
    "retrieved",
]

#: faust topic options for byte keys and values, passed through untouched.
RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}

#: Called with every transition written to the alerts topic; must not block (the feed, the sinks' queues).
AlertListener = Callable[[AlertTransition], None]


class Outbox(Protocol):
    """Where the processor's records go."""

    async def publish(self, transitions: Sequence[AlertTransition]) -> None:
        """Send alert transitions to the alerts topic, in order; return once the broker has each, or raise."""

    async def dead_letter(self, record: InboundRecord, reason: str) -> None:
        """Write a refused record, with the reason, to the dead-letter topic."""

    async def forward(self, topic: str, key: bytes, value: bytes) -> None:
        """Re-send an event keyed by its unit, so it lands in its unit's partition."""


async def forward_events(outbox: Outbox, max_bytes: int, topic: str, unit_id: str, bodies: Sequence[bytes]) -> None:
    """Send a unit's encoded events to its partition, in order, in as few records of ``max_bytes`` as they fit.

    One record per event cost the unit's partition a record's whole round (decoding, screening, a flush) for
    each: a batch of a merged province's events, forwarded one by one, halved a worker's rate.
    """
    key = unit_id.encode("utf-8")
    for value in batch_records(bodies, max_bytes):
        await outbox.forward(topic, key, value)


class AlertWriter:
    """Writes alert transitions through an outbox, once each.

    A transition the alerts topic already ends with (the ledger says so) is
    dropped: redoing work after a crash does not write it twice. The ledger
    and the listeners hear of a transition only once the broker has it.
    """

    def __init__(
        self, outbox: Outbox, ledger: AlertLedger, metrics: Metrics, listeners: Sequence[AlertListener] = ()
    ) -> None:
        self._outbox = outbox
        self._ledger = ledger
        self._metrics = metrics
        self._listeners = listeners

    @property
    def ledger(self) -> AlertLedger:
        """What the alerts topic says."""
        return self._ledger

    async def write(self, transitions: Sequence[AlertTransition]) -> int:
        """Write the transitions the topic does not already end with, in order; return how many were written."""
        fresh: list[AlertTransition] = []
        last: dict[str, AlertTransition] = {}
        for transition in transitions:
            previous = last.get(transition.fingerprint)
            repeated = (
                transition_key(previous) == transition_key(transition)
                if previous is not None
                else not self._ledger.is_new(transition)
            )
            if repeated:
                self._metrics.suppressed.inc()
                continue
            last[transition.fingerprint] = transition
            fresh.append(transition)
        if not fresh:
            return 0
        await self._outbox.publish(fresh)
        for transition in fresh:
            self._ledger.wrote(transition)
            self._metrics.transitions.labels(transition.rule_id, transition.severity, transition.status).inc()
            for listener in self._listeners:
                listener(transition)
        return len(fresh)


def retrieved(sent: asyncio.Future[Any]) -> None:
    """Mark the outcome of a send as seen (a done callback of the send's future).

    A send nobody waits for that failed (the fence, a broker gone) is not
    logged as an exception never retrieved; whatever depends on a send (an
    alert, a changelog write) waits for it and is told.
    """
    if not sent.cancelled():
        sent.exception()


#: The header that says under which consumer group generation an alert record was written.
GENERATION_HEADER = "monitor-generation"


class FaustOutbox:
    """``Outbox`` over the faust app's producer.

    Records go straight to the producer, not through faust's ``Topic.send``:
    that one waits for the producer to be started on every call (three
    event-loop turns each), which cost more than the send itself. Keys are
    partitioned the same way (the client's default partitioner).

    Each alert record carries the consumer group generation its writer held
    (``monitor-generation``): a record written under an older generation than
    one before it on the same partition was written by a worker the group had
    moved on from (a zombie), which the fault suite counts on its own.
    """

    def __init__(
        self,
        app: Any,
        topics: Topics,
        generation: Callable[[], int | None] = lambda: None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        self._app = app
        self._max_record_bytes = max_record_bytes
        self._generation = generation
        self._alerts = topics.alerts
        self._dead_letter = topics.dead_letter

    async def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
    ) -> Awaitable[Any]:
        sent: asyncio.Future[Any] = await self._app.producer.send(topic, key, value, partition, None, headers)
        sent.add_done_callback(retrieved)  # whoever waits for it is told; nobody waiting is no error to log
        return sent

    async def publish(self, transitions: Sequence[AlertTransition]) -> None:
        """Send the transitions, keyed by fingerprint, as record batches (``send_keyed``); wait for the broker.

        A checkpoint's transitions leave in one batch per partition, with one
        future per batch, not per record (as the changelog's items do).
        """
        held = [(t.fingerprint.encode(), encode_transition(t)) for t in transitions]
        generation = self._generation()
        headers = [(GENERATION_HEADER, str(generation).encode())] if generation is not None else []
        sent = await send_keyed(self._app.producer._ensure_producer(), self._alerts, held, headers)
        for future in sent:  # each failure is seen; the first is raised
            asyncio.ensure_future(future).add_done_callback(retrieved)
        await asyncio.gather(*sent)

    async def dead_letter(self, record: InboundRecord, reason: str, *, wait: bool = False) -> None:
        """Send the original bytes with where they came from and why they were refused (cut to the record limit).

        With ``wait``, return once the broker has it (HTTP ingestion answers then).
        """
        letter = dead_letter(record, reason, self._max_record_bytes)
        sent = await self._send(self._dead_letter, letter.key, letter.value, letter.headers)
        if wait:
            await sent

    async def send_all_now(self, records: Sequence[OutboundRecord]) -> None:
        """Send records and return once the broker has every one (HTTP ingestion)."""
        await asyncio.gather(*[await self._send(r.topic, r.key, r.value, list(r.headers) or None) for r in records])

    async def send_now(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one record and return once the broker has it (an operator's action)."""
        await (await self._send(topic, key, value))

    async def forward(self, topic: str, key: bytes, value: bytes) -> None:
        """Send an event again, keyed by its unit."""
        await self._send(topic, key, value)

    async def tick(self, topic: str, partition: int, value: bytes) -> None:
        """Send a tick to one partition; nobody waits for it.

        A tick lost (to the fence, a broker gone) is made up by the next. It
        goes straight to the producer as every record of the outbox does:
        through faust's ``Topic.send``, a failed one was logged as a
        ``FutureMessage`` exception never retrieved (after each freeze).
        """
        await self._send(topic, b"tick", value, partition=partition)
