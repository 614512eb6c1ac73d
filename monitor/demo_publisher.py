"""Publishes the demo data set once the worker is ready (``monitor up``)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from events.models import TaskStatusEvent
from monitor.demo import demo_events
from monitor.ticks import utc_now

if TYPE_CHECKING:
    from monitor.app import Monitor

__all__ = ["publish_demo_when_ready"]

log = logging.getLogger(__name__)

_READY_WAIT_SECONDS = 120.0


async def publish_demo_when_ready(monitor: Monitor) -> None:
    """Wait for the worker to be ready, then publish the demo events keyed by unit."""
    waited = 0.0
    while not monitor.is_ready():
        if waited >= _READY_WAIT_SECONDS:
            log.error("worker not ready after %.0fs; demo data not published", waited)
            return
        await asyncio.sleep(0.2)
        waited += 0.2
    names = monitor.pack.unit_names
    provinces = sorted(u for u in names if u.startswith("VN-"))
    ministries = sorted(u for u in names if not u.startswith("VN-"))
    events = demo_events(utc_now(), provinces, ministries)
    records = [
        (
            monitor.topics.task_status if isinstance(event, TaskStatusEvent) else monitor.topics.indicators,
            event.unit_id.encode("utf-8"),
            event.model_dump_json().encode("utf-8"),
        )
        for event in events
    ]
    await monitor.publish_acked(records)
    log.warning(
        "published %d demo events; metrics at http://%s:%d/metrics, alerts on %s",
        len(events),
        monitor.settings.web_host,
        monitor.settings.web_port,
        monitor.topics.alerts,
    )
