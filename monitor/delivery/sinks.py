"""The sinks a worker delivers alert transitions to, built from its settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple, TypeAlias

import aiohttp

from monitor.clock import Clock
from monitor.delivery.alertmanager import AlertmanagerSink
from monitor.delivery.http import Recorder
from monitor.delivery.webhook import WebhookSink
from monitor.metrics import DeliveryMetrics
from monitor.settings import Settings
from monitor.silences import Silence

__all__ = ["Sink", "Sinks", "build_sinks"]

#: A sink the worker starts, stops and hands every transition of the units it owns.
Sink: TypeAlias = AlertmanagerSink | WebhookSink


class Sinks(NamedTuple):
    """The sinks the settings ask for: one per kind of peer, ``None`` where no peer of that kind is set."""

    alertmanager: AlertmanagerSink | None
    webhook: WebhookSink | None

    @property
    def active(self) -> list[Sink]:
        """The sinks there are, Alertmanager's first."""
        return [sink for sink in self if sink is not None]


def build_sinks(
    settings: Settings,
    metrics: DeliveryMetrics,
    clock: Clock,
    *,
    session: aiohttp.ClientSession | None = None,
    record: Recorder | None = None,
    silencing: Callable[[Mapping[str, str]], Silence | None] = lambda labels: None,
) -> Sinks:
    """The Alertmanager and webhook sinks of ``settings`` (their targets were checked when the settings were built).

    Builds only: no connection is opened, no task started (each sink opens its session at ``start``).

    Args:
        settings: The worker's settings: targets, webhook token, queue limit, where the feed page is.
        metrics: The delivery metrics every sink counts in.
        clock: The wall clock.
        session: One session for every sink to send through (the caller's to close); by default each opens its own.
        record: Told of every delivery attempt worth keeping (the delivery ledger).
        silencing: The silence an alert is under now, if any (a webhook does not get it; Alertmanager is told of
            the silences themselves, ``monitor.delivery.silences``).
    """
    limit = settings.delivery_queue_limit
    alertmanager = (
        AlertmanagerSink(
            settings.alertmanager_url, settings.base_url, metrics, clock, limit=limit, session=session, record=record
        )
        if settings.alertmanager_url
        else None
    )
    token = settings.webhook_token.get_secret_value() if settings.webhook_token else None
    webhook = (
        WebhookSink(
            settings.webhook_url,
            settings.base_url,
            metrics,
            token,
            limit=limit,
            session=session,
            clock=clock,
            record=record,
            silencing=silencing,
        )
        if settings.webhook_url
        else None
    )
    return Sinks(alertmanager, webhook)
