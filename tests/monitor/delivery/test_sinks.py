"""The sinks a worker's settings ask for, built without I/O: no session is opened until a sink starts."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.delivery.alertmanager import AlertmanagerSink
from monitor.delivery.sinks import build_sinks
from monitor.delivery.webhook import WebhookSink
from monitor.metrics import DeliveryMetrics
from monitor.settings import Settings
from tests.monitor.delivery.test_payloads import NOW


def test_no_peer_set_means_no_sink() -> None:
    sinks = build_sinks(Settings(), DeliveryMetrics(CollectorRegistry()), lambda: NOW)
    assert sinks == (None, None) and sinks.active == []


def test_each_kind_of_peer_set_gets_one_sink_with_a_queue_per_peer_and_no_session_yet() -> None:
    registry = CollectorRegistry()
    settings = Settings(
        alertmanager_url="http://am-0:9093,http://am-1:9093",
        webhook_url="ops=https://hooks.example.org/h",
        webhook_token="s3cret",
        delivery_queue_limit=7,
    )
    alertmanager, webhook = sinks = build_sinks(settings, DeliveryMetrics(registry), lambda: NOW)
    assert isinstance(alertmanager, AlertmanagerSink) and isinstance(webhook, WebhookSink)
    assert sinks.active == [alertmanager, webhook]
    assert [q.name for q in alertmanager.queues] == ["alertmanager/am-0", "alertmanager/am-1"]
    assert [q.name for q in webhook.queues] == ["webhook/ops"]
    assert registry.get_sample_value("compliance_delivery_queue_limit", {"sink": "webhook/ops"}) == 7
    with pytest.raises(RuntimeError, match="start"):  # built outside any loop: nothing opened yet
        webhook.client()


async def test_a_session_given_is_every_sink_s_and_stays_open() -> None:
    settings = Settings(alertmanager_url="http://am:9093", webhook_url="http://hooks/h")
    async with aiohttp.ClientSession() as session:
        sinks = build_sinks(settings, DeliveryMetrics(CollectorRegistry()), lambda: NOW, session=session)
        for sink in sinks.active:
            sink.start()
            assert sink.client() is session
            await sink.stop()
        assert not session.closed


async def test_a_sink_without_a_session_opens_one_at_start_and_closes_it_at_stop() -> None:
    (alertmanager, _) = build_sinks(
        Settings(alertmanager_url="http://am:9093"), DeliveryMetrics(CollectorRegistry()), lambda: NOW
    )
    assert alertmanager is not None
    alertmanager.start()
    session = alertmanager.client()
    await alertmanager.stop()
    assert session.closed
