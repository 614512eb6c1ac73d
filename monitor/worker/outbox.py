"""Where the worker's records go: the outbox (alerts, dead letters, re-routed events) and the alert writer.

The processor and the takeover never talk to a producer: they write through
``AlertWriter``, which consults the ledger so that an alert transition the
topic already ends with is not written twice, and through an ``Outbox``,
which the worker implements over faust topics and tests over a list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from monitor.kafka.records import InboundRecord, dead_letter_headers
from monitor.kafka.topics import Topics
from monitor.metrics import Metrics
from monitor.state.ledger import AlertLedger
from rules.alerts import AlertTransition

__all__ = ["RAW", "AlertListener", "AlertWriter", "FaustOutbox", "Outbox"]

#: faust topic options for byte keys and values, passed through untouched.
RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}

#: Called with every transition written to the alerts topic; must not block (the feed, the sinks' queues).
AlertListener = Callable[[AlertTransition], None]


class Outbox(Protocol):
    """Where the processor's records go."""

    async def alert(self, transition: AlertTransition) -> None:
        """Write an alert transition to the alerts topic."""

    async def dead_letter(self, record: InboundRecord, reason: str) -> None:
        """Write a refused record, with the reason, to the dead-letter topic."""

    async def forward(self, topic: str, key: bytes, value: bytes) -> None:
        """Re-send an event keyed by its unit, so it lands in its unit's partition."""


class AlertWriter:
    """Writes alert transitions through an outbox, once each.

    Alerts leave before the state that records them; the ledger drops a
    transition the topic already ends with, so redoing work after a crash
    does not write it twice.
    """

    def __init__(self, outbox: Outbox, ledger: AlertLedger, metrics: Metrics) -> None:
        self._outbox = outbox
        self._ledger = ledger
        self._metrics = metrics

    @property
    def ledger(self) -> AlertLedger:
        """What the alerts topic says."""
        return self._ledger

    async def write(self, transition: AlertTransition) -> bool:
        """Write ``transition`` unless the topic already ends with it; return whether it was written."""
        if not self._ledger.is_new(transition):
            self._metrics.suppressed.inc()
            return False
        await self._outbox.alert(transition)
        self._ledger.observe(transition)
        self._metrics.transitions.labels(transition.rule_id, transition.severity, transition.status).inc()
        return True


class FaustOutbox:
    """``Outbox`` over faust topics (the app's producer), telling in-process listeners of each alert."""

    def __init__(self, app: Any, topics: Topics, listeners: Sequence[AlertListener]) -> None:
        self._app = app
        self._alerts = app.topic(topics.alerts, **RAW)
        self._dead_letter = app.topic(topics.dead_letter, **RAW)
        self._listeners = listeners

    async def alert(self, transition: AlertTransition) -> None:
        """Send the transition, keyed by its fingerprint, and tell the listeners."""
        await self._alerts.send(key=transition.fingerprint.encode(), value=transition.model_dump_json().encode("utf-8"))
        for listener in self._listeners:
            listener(transition)

    async def dead_letter(self, record: InboundRecord, reason: str) -> None:
        """Send the original bytes with where they came from and why they were refused."""
        await self._dead_letter.send(
            key=record.key, value=record.value or b"", headers=dead_letter_headers(record, reason)
        )

    async def forward(self, topic: str, key: bytes, value: bytes) -> None:
        """Send an event again, keyed by its unit."""
        await self._app.topic(topic, **RAW).send(key=key, value=value)
