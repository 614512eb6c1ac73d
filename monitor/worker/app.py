"""The faust app: configured from the settings, with the monitor's own web front.

Faust mounts a JSON index at ``/`` and pages that expose raw table contents;
the monitor's web server carries none of them: its routes are registered
from outside (``monitor.http``) by whoever builds the worker.
"""

from __future__ import annotations

from typing import Any, ClassVar

import faust
from faust.web.drivers.aiohttp import Web as AiohttpWeb

from monitor.kafka.client import faust_credentials
from monitor.settings import Settings

__all__ = ["MonitorApp", "build_app"]


class _MonitorWeb(AiohttpWeb):
    default_blueprints: ClassVar[list[Any]] = []
    production_blueprints: ClassVar[list[Any]] = []
    debug_blueprints: ClassVar[list[Any]] = []


class MonitorApp(faust.App):
    """A faust app whose web server carries only the routes registered on it."""

    def _new_web(self) -> Any:
        return _MonitorWeb(self)


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
        # Tansu can report a changelog's highwater one below the offset faust
        # persisted locally; the check would crash the worker on takeover, while
        # recovery from the persisted offset loses nothing.
        recovery_consistency_check=False,
        loghandlers=[],
    )
