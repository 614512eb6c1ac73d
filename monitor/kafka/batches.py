"""Events grouped into records: one JSON-array record per (topic, unit), keyed by the unit.

``monitor publish`` and HTTP ingestion both send events this way, so a
worker handles a batch of one unit as one record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from events.codec import encode_event, join_batch
from events.models import Event
from events.signing import Seal
from monitor.kafka.topics import Topics

__all__ = ["MAX_BATCH_BYTES", "EventBatcher", "OutboundRecord", "batch_records"]

MAX_BATCH_BYTES = 900 * 1024  # under the worker's 1 MiB record limit


class OutboundRecord(NamedTuple):
    """A record to produce."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class EventBatcher:
    """Per (topic, unit) buffers of encoded events, flushed as one record when full.

    Args:
        topics: Where each kind of event goes.
        batch_size: Most events per record.
        max_bytes: Most bytes per record value.
    """

    def __init__(self, topics: Topics, batch_size: int, max_bytes: int = MAX_BATCH_BYTES) -> None:
        self._topics = topics
        self._batch_size = batch_size
        self._max_bytes = max_bytes
        self._buffers: dict[tuple[str, str], list[bytes]] = {}
        self._sizes: dict[tuple[str, str], int] = {}

    def add(self, event: Event, body: bytes | None = None) -> OutboundRecord | None:
        """Buffer an event; return the record its buffer filled, if it did.

        ``body``: the event as these bytes (a signed CloudEvent as it came), rather than encoded anew.
        """
        key = (self._topics.for_event(event), event.unit_id)
        if body is None:
            body = encode_event(event)
        buffer = self._buffers.get(key)
        flushed = None
        if buffer and (len(buffer) >= self._batch_size or self._sizes[key] + len(body) > self._max_bytes):
            flushed = self._record(key)
        self._buffers.setdefault(key, []).append(body)
        self._sizes[key] = self._sizes.get(key, 0) + len(body) + 1
        return flushed

    def _record(self, key: tuple[str, str]) -> OutboundRecord:
        items = self._buffers.pop(key)
        self._sizes.pop(key, None)
        return OutboundRecord(key[0], key[1].encode("utf-8"), join_batch(items))

    def drain(self) -> list[OutboundRecord]:
        """Every buffered event, as records."""
        return [self._record(key) for key in list(self._buffers)]


def batch_records(topics: Topics, events: list[Event], seals: Sequence[Seal | None] = ()) -> list[OutboundRecord]:
    """All ``events`` as one record per (topic, unit), however many there are.

    A signed one (its seal given in ``seals``, in the same order) goes as the CloudEvent it came as, so that its
    signature is checked again where it lands.
    """
    batcher = EventBatcher(topics, batch_size=len(events) + 1, max_bytes=1 << 62)
    for number, event in enumerate(events):
        seal = seals[number] if seals else None
        batcher.add(event, seal.forward if seal is not None else None)
    return batcher.drain()
