"""The faust application: one agent over the partitioned topics, state in tables."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from monitor.metrics import Metrics, StateCollector
from monitor.processor import Processor
from monitor.records import InboundRecord, dead_letter_headers, encode_tick
from monitor.settings import Settings
from monitor.store import TableStore
from monitor.ticks import TickSource, utc_now
from monitor.topics import Topics
from monitor.version import VERSION
from rules.alerts import AlertTransition
from rules.pack import RulePack

__all__ = ["Monitor"]

log = logging.getLogger(__name__)

_RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}


def _headers(raw: Any) -> tuple[tuple[str, bytes], ...]:
    if not raw:
        return ()
    items = raw.items() if isinstance(raw, dict) else raw
    return tuple((str(k), bytes(v or b"")) for k, v in items)


class _FaustOutbox:
    """``Outbox`` over faust topics (the app's producer)."""

    def __init__(self, app: faust.App, topics: Topics) -> None:
        self._app = app
        self._alerts = app.topic(topics.alerts, **_RAW)
        self._dead_letter = app.topic(topics.dead_letter, **_RAW)

    async def alert(self, transition: AlertTransition) -> None:
        await self._alerts.send(key=transition.fingerprint.encode(), value=transition.model_dump_json().encode("utf-8"))

    async def dead_letter(self, record: InboundRecord, reason: str) -> None:
        await self._dead_letter.send(
            key=record.key, value=record.value or b"", headers=dead_letter_headers(record, reason)
        )

    async def forward(self, topic: str, key: bytes, value: bytes) -> None:
        await self._app.topic(topic, **_RAW).send(key=key, value=value)


class Monitor:
    """The worker: a faust app wired to the processor, ticks, metrics and HTTP."""

    def __init__(
        self,
        settings: Settings,
        pack: RulePack,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.pack = pack
        self.topics = self.topics_for(settings)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = Metrics(self.registry, VERSION)
        self._clock = clock
        self.app = faust.App(
            settings.app_id,
            broker=settings.broker,
            store="memory://",
            topic_partitions=settings.partitions,
            datadir=str(settings.data_dir),
            web_bind=settings.web_host,
            web_host=settings.web_host,
            web_port=settings.web_port,
            broker_session_timeout=settings.session_timeout,
            broker_heartbeat_interval=settings.heartbeat_interval,
            broker_rebalance_timeout=settings.session_timeout,
            consumer_auto_offset_reset="earliest",
            autodiscover=False,
            table_standby_replicas=0,
            loghandlers=[],
        )
        self._ingress = self.app.topic(*self.topics.partitioned, partitions=settings.partitions, **_RAW)
        self._ticks = self.app.topic(self.topics.ticks, partitions=settings.partitions, **_RAW)
        units = self.app.Table("units", partitions=settings.partitions, key_type=bytes, value_type=bytes)
        wakeups = self.app.Table("wakeups", partitions=settings.partitions, key_type=bytes, value_type=bytes)
        self.processor = Processor(
            pack,
            TableStore(units, wakeups),
            _FaustOutbox(self.app, self.topics),
            self.metrics,
            self.topics,
            settings.max_record_bytes,
        )
        self.ticks = TickSource(self._send_tick, self.owned_partitions, settings.tick_interval, clock)
        self.registry.register(StateCollector(self._owned_states, pack.unit_names))
        self.app.agent(self._ingress, name="compliance-process")(self._process)
        self.app.task(self._start_ticks)
        from monitor.web import install_routes

        install_routes(self)

    @staticmethod
    def topics_for(settings: Settings) -> Topics:
        """The topic names a worker with these settings uses."""
        return Topics(settings.topic_prefix)

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Produce a record through the app's producer (demo data, HTTP ingestion)."""
        await self.app.topic(topic, **_RAW).send(key=key, value=value)

    def owned_partitions(self) -> set[int]:
        """Partitions of the data topics this worker owns now."""
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.topics.ticks}

    def is_ready(self) -> bool:
        """Whether the worker has joined its group and restored its state."""
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]
        return bool(recovery.completed.is_set() and not self.app.rebalancing)

    def _owned_states(self) -> Any:
        return self.processor.owned_states(self.owned_partitions())

    async def _start_ticks(self) -> None:
        self.ticks.start()
        self.app.on_before_shutdown.connect(self._stop_ticks)

    async def _stop_ticks(self, *args: Any, **kwargs: Any) -> None:
        self.ticks.stop()

    async def _send_tick(self, partition: int, now: datetime) -> None:
        await self._ticks.send(key=b"tick", value=encode_tick(now), partition=partition)

    async def _process(self, stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            now = self._clock()
            record = InboundRecord(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                value=message.value,
                headers=_headers(message.headers),
                timestamp=message.timestamp,
            )
            try:
                partitions = self.app.consumer.topic_partitions(record.topic) or self.settings.partitions
                if record.topic == self.topics.ticks:
                    await self.processor.on_tick(record.partition, partitions, now)
                else:
                    await self.processor.on_record(record, partitions, now)
            except Exception as exc:  # one bad record must never stop the worker
                log.exception("failed to process %s[%d]@%d", record.topic, record.partition, record.offset)
                if record.topic != self.topics.ticks:
                    self.metrics.events.labels(record.topic, "rejected").inc()
                    await self.processor.dead_letter(record, f"internal error: {type(exc).__name__}: {exc}")
