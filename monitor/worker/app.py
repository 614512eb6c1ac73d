"""The faust app: configured from the settings, with the monitor's own web front and a consumer that loses nothing.

Faust mounts a JSON index at ``/`` and pages that expose raw table contents;
the monitor's web server carries none of them: its routes are registered
from outside (``monitor.http``) by whoever builds the worker.

faust skips the events it fetched under an older consumer generation, or
while a rebalance holds the flow, without handing them to the agent, and
still acknowledges them: the next commit then moves past records no one
processed (seen on the embedded broker when a worker joins while another is
frozen or dead). The monitor's consumer acknowledges only what the agent was
handed; a skipped record is read again after the rebalance. And where faust
seeks the partitions back to their committed offsets after a recovery,
partitions the group never committed are sought back too
(``monitor.kafka.positions``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AiokafkaConsumer
from faust.transport.drivers.aiokafka import Transport as AiokafkaTransport
from faust.web.drivers.aiohttp import Web as AiohttpWeb

from monitor.kafka.client import faust_credentials
from monitor.kafka.positions import rewind_uncommitted
from monitor.settings import Settings

__all__ = ["MonitorApp", "build_app"]


class _MonitorWeb(AiohttpWeb):
    default_blueprints: ClassVar[list[Any]] = []
    production_blueprints: ClassVar[list[Any]] = []
    debug_blueprints: ClassVar[list[Any]] = []


class _Consumer(AiokafkaConsumer):
    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def ack(self, message: Any) -> bool:
        if not message.tracked:  # skipped by the stream, never handed to the agent: not processed
            return False
        acked: bool = super().ack(message)
        return acked


class _ConsumerThread(AIOKafkaConsumerThread):
    async def seek_to_committed(self) -> Mapping[Any, int]:
        return await self.call_thread(self._seek_to_committed)  # type: ignore[no-any-return]

    async def _seek_to_committed(self) -> Mapping[Any, int]:
        consumer = self._ensure_consumer()
        committed: Mapping[Any, int] = await consumer.seek_to_committed()
        streams = {tp: offset for tp, offset in committed.items() if not self.consumer._is_changelog_tp(tp)}
        rewound = await rewind_uncommitted(consumer, streams)  # changelogs: recovery sets their positions
        if rewound:
            names = ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in rewound))
            self.log.info("Read from the beginning (no committed offset): %s", names)
        return committed


class _Transport(AiokafkaTransport):
    Consumer = _Consumer


class MonitorApp(faust.App):
    """A faust app whose web server carries only the routes registered on it."""

    def _new_web(self) -> Any:
        return _MonitorWeb(self)

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def build_app(settings: Settings) -> MonitorApp:
    """The faust app for a worker with these settings (constructing it does no I/O)."""
    return MonitorApp(
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
        # Tansu reports a changelog's end offset short of its last batch (see monitor/state/changelog.py)
        # and below the offset faust persisted locally; the check would crash the worker on takeover, while
        # recovery from the persisted offset loses nothing.
        recovery_consistency_check=False,
        loghandlers=[],
    )
