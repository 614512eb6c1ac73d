"""The faust application: one agent over the partitioned topics, state in tables."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import faust
from faust.types import TP
from prometheus_client import CollectorRegistry

from monitor.feed import AlertFeed
from monitor.kafka_auth import client_options, faust_credentials
from monitor.ledger import AlertLedger, LedgerFollower
from monitor.metrics import Metrics, StateCollector
from monitor.processor import Processor
from monitor.records import InboundRecord, dead_letter_headers, encode_tick
from monitor.settings import Settings
from monitor.sinks.alertmanager import AlertmanagerSink
from monitor.sinks.delivery import DeliveryMetrics
from monitor.sinks.webhook import WebhookSink
from monitor.store import ItemStore
from monitor.ticks import TickSource, utc_now
from monitor.topics import Topics
from monitor.version import VERSION
from monitor.webapp import MonitorApp
from rules.alerts import AlertTransition
from rules.pack import RulePack
from rules.state import AlertState, UnitState

__all__ = ["Monitor"]

log = logging.getLogger(__name__)

_RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}


def _headers(raw: Any) -> tuple[tuple[str, bytes], ...]:
    if not raw:
        return ()
    items = raw.items() if isinstance(raw, dict) else raw
    return tuple((str(k), bytes(v or b"")) for k, v in items)


class _FaustOutbox:
    """``Outbox`` over faust topics (the app's producer), and the in-process listeners of alerts."""

    def __init__(self, app: faust.App, topics: Topics, listeners: Sequence[Callable[[AlertTransition], None]]) -> None:
        self._app = app
        self._alerts = app.topic(topics.alerts, **_RAW)
        self._dead_letter = app.topic(topics.dead_letter, **_RAW)
        self._listeners = listeners

    async def alert(self, transition: AlertTransition) -> None:
        await self._alerts.send(key=transition.fingerprint.encode(), value=transition.model_dump_json().encode("utf-8"))
        for listener in self._listeners:  # non-blocking: the feed and the sinks' bounded queues
            listener(transition)

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
        self.app = MonitorApp(
            settings.app_id,
            broker=settings.broker,
            store=settings.store,
            topic_partitions=settings.partitions,
            datadir=str(settings.data_dir),
            web_bind=settings.web_host,
            web_host=settings.web_host,
            web_port=settings.web_port,
            broker_session_timeout=settings.session_timeout,
            broker_heartbeat_interval=settings.heartbeat_interval,
            broker_rebalance_timeout=settings.session_timeout,
            consumer_auto_offset_reset="earliest",
            broker_credentials=faust_credentials(settings),
            autodiscover=False,
            table_standby_replicas=0,
            # Tansu can report a changelog's highwater one below the offset faust
            # persisted locally; the check would crash the worker on takeover, while
            # recovery from the persisted offset loses nothing.
            recovery_consistency_check=False,
            loghandlers=[],
        )
        self._ingress = self.app.topic(*self.topics.partitioned, partitions=settings.partitions, **_RAW)
        self._ticks = self.app.topic(self.topics.ticks, partitions=settings.partitions, **_RAW)
        items = self.app.Table("items", partitions=settings.partitions, key_type=bytes, value_type=bytes)
        self.feed = AlertFeed()
        delivery = DeliveryMetrics(self.registry)
        limit = settings.delivery_queue_limit
        self.alertmanager = (
            AlertmanagerSink(settings.alertmanager_url, settings.base_url, delivery, clock, limit=limit)
            if settings.alertmanager_url
            else None
        )
        token = settings.webhook_token.get_secret_value() if settings.webhook_token else None
        self.webhook = (
            WebhookSink(settings.webhook_url, settings.base_url, delivery, token, limit=limit)
            if settings.webhook_url
            else None
        )
        self.sinks: list[AlertmanagerSink | WebhookSink] = [
            s for s in (self.alertmanager, self.webhook) if s is not None
        ]
        listeners = [self.feed.publish, *(sink.on_transition for sink in self.sinks)]
        self.ledger = AlertLedger()
        self._ledger_follower = LedgerFollower(
            self.ledger, settings.bootstrap_servers, self.topics.alerts, client_options(settings)
        )
        self._settled: set[int] = set()  # partitions reconciled with the alerts topic since the last rebalance
        # Per partition taken over: when, and the alerts the topic shows firing that the state did not hold.
        self._suspects: dict[int, tuple[float, set[str]]] = {}
        self._processed: dict[tuple[str, int], int] = {}  # last offset processed per data topic-partition
        self._assigned_tick: asyncio.Task[None] | None = None
        self.processor = Processor(
            pack,
            ItemStore(items),
            _FaustOutbox(self.app, self.topics, listeners),
            self.metrics,
            self.topics,
            settings.max_record_bytes,
            self.ledger,
        )
        self.ticks = TickSource(self._send_tick, self.owned_partitions, settings.tick_interval, clock)
        self.registry.register(StateCollector(self._owned_states, pack, clock, settings.max_unlisted_units))
        self.app.agent(self._ingress, name="compliance-process")(self._process)
        self.app.task(self._start_background)
        if self.alertmanager is not None:
            self.app.timer(settings.alert_resend_interval)(self._resend_firing)
        from monitor.web import install_routes

        install_routes(self)

    @staticmethod
    def topics_for(settings: Settings) -> Topics:
        """The topic names a worker with these settings uses."""
        return Topics(settings.topic_prefix)

    async def publish_acked(self, records: Sequence[tuple[str, bytes, bytes]]) -> None:
        """Produce records and return once the broker acknowledged every one (HTTP ingestion, demo data)."""
        futures = [await self.app.topic(topic, **_RAW).send(key=key, value=value) for topic, key, value in records]
        for future in futures:
            await future

    def owned_partitions(self) -> set[int]:
        """Partitions of the data topics this worker owns now."""
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.topics.ticks}

    def is_ready(self) -> bool:
        """Whether the worker has joined its group, restored its tables and read its units into memory.

        A partition's units are read, and its alerts reconciled with the alerts
        topic, on its first record after assignment: within one tick interval.
        """
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]
        if not recovery.completed.is_set() or self.app.rebalancing:
            return False
        return self.owned_partitions() <= self._settled

    def _owned_states(self) -> Any:
        return self.processor.owned_states(self.owned_partitions())

    def owned_states(self) -> list[UnitState]:
        """The states of the units in this worker's partitions."""
        return list(self._owned_states())

    def unit_state(self, unit_id: str) -> UnitState | None:
        """One unit's state, if this worker holds it."""
        return self.processor.unit_state(unit_id)

    def firing_alerts(self) -> list[AlertState]:
        """Every alert firing now in this worker's partitions."""
        return [alert for state in self._owned_states() for alert in state.alerts.values()]

    async def _start_background(self) -> None:
        await self._ledger_follower.start()
        self.ticks.start()
        for sink in self.sinks:
            sink.start()
        self.app.on_before_shutdown.connect(self._stop_background)
        self.app.on_partitions_assigned.connect(self._on_assigned)

    async def _on_assigned(self, *args: Any, **kwargs: Any) -> None:
        self._settled.clear()  # partitions may have moved: check each against the topic again
        self._suspects.clear()
        self.processor.keep(self.owned_partitions())
        # Tick the new partitions now rather than at the next interval: their units are
        # read into memory and reconciled on their first record, and only then is the worker ready.
        self._assigned_tick = asyncio.get_running_loop().create_task(self.ticks.tick(), name="tick-on-assignment")

    async def _settle(self, partition: int, partitions: int, now: datetime) -> None:
        await self._ledger_follower.catch_up()
        self.processor.load(self.owned_partitions() | {partition}, partitions)  # every new partition, one pass
        _, suspects = await self.processor.reconcile(partition, partitions, now)
        if suspects:
            self._suspects[partition] = (time.monotonic(), suspects)
        self._settled.add(partition)

    async def _settle_suspects(self, partition: int, now: datetime) -> None:
        """Resolve a taken-over partition's suspects once the records the previous owner left are redone.

        Redone means: a grace period of a few ticks has passed and, for each data
        topic, the last record processed is the last one the broker reported.
        """
        since, suspects = self._suspects[partition]
        if time.monotonic() - since < max(10.0, 3 * self.settings.tick_interval):
            return
        for topic in (self.topics.task_status, self.topics.indicators):
            done = self._processed.get((topic, partition))
            try:
                end: int | None = self.app.consumer.highwater(TP(topic, partition))
            except Exception:  # not known yet: the grace period alone decides
                end = None
            if done is not None and end is not None and done + 1 < end:
                return
        del self._suspects[partition]
        await self.processor.resolve_unheld(partition, suspects, now)

    async def _stop_background(self, *args: Any, **kwargs: Any) -> None:
        self.ticks.stop()
        await self._ledger_follower.stop()
        for sink in self.sinks:
            await sink.stop()

    async def _resend_firing(self) -> None:
        if self.alertmanager is not None and self.is_ready():
            count = self.alertmanager.resend(self.firing_alerts())
            log.debug("re-sent %d firing alerts to Alertmanager", count)

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
                if record.partition not in self._settled:
                    await self._settle(record.partition, partitions, now)
                if record.topic == self.topics.ticks:
                    await self.processor.on_tick(record.partition, partitions, now)
                    if record.partition in self._suspects:
                        await self._settle_suspects(record.partition, now)
                else:
                    await self.processor.on_record(record, partitions, now)
            except Exception as exc:  # one bad record must never stop the worker
                log.exception("failed to process %s[%d]@%d", record.topic, record.partition, record.offset)
                if record.topic != self.topics.ticks:
                    self.metrics.events.labels(record.topic, "rejected").inc()
                    await self.processor.dead_letter(record, f"internal error: {type(exc).__name__}: {exc}")
            if record.topic != self.topics.ticks:
                self._processed[(record.topic, record.partition)] = record.offset  # handled, one way or the other
