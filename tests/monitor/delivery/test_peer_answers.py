"""What a sink does with each answer of its peer: 2xx delivered, 4xx dropped once, 5xx and 429 retried.

The peer is a small local HTTP server that answers as a real one would (its
behaviour is simulated, not the sink's); the sinks, queues and metrics are real.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from prometheus_client import CollectorRegistry

from monitor.delivery.alertmanager import AlertmanagerSink
from monitor.devtools.broker import free_port
from monitor.metrics import DeliveryMetrics
from monitor.targets import parse_targets
from tests.monitor.delivery.test_payloads import NOW
from tests.rules.fixtures import transition


class Peer:
    """Answers ``status`` to every POST (400 to any batch holding an alert labelled ``bad``)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.port = free_port()
        self.requests: list[tuple[str, list[dict[str, Any]]]] = []
        self.accepted: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        alerts = await request.json()
        self.requests.append((str(request.rel_url), alerts))
        if any("bad" in a["labels"] for a in alerts):
            return web.Response(status=400, text='{"code":400,"message":"1 error occurred:\\n\\t* bad label"}')
        if self.status >= 300:
            return web.Response(status=self.status, text="busy, try later")
        self.accepted += [a["labels"]["task_id"] for a in alerts]
        return web.Response(status=200)


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    answering = Peer()
    app = web.Application()
    app.router.add_post("/{tail:.*}", answering.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", answering.port).start()
    yield answering
    await runner.cleanup()


def _sink(peer: Peer, registry: CollectorRegistry, limit: int = 100) -> AlertmanagerSink:
    url = f"http://monitor:pw@127.0.0.1:{peer.port}/am/?token=s3cret"
    targets = parse_targets("alertmanager", "MONITOR_ALERTMANAGER_URL", [url])
    return AlertmanagerSink(targets, "http://monitor:6066", DeliveryMetrics(registry), lambda: NOW, limit=limit)


def _alert(task_id: str, **labels: str) -> Any:
    common = {"alertname": "task-overdue", "unit_id": "VN-22", "severity": "critical"}
    return transition(fingerprint=task_id, labels={**common, "task_id": task_id, **labels})


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {"sink": "alertmanager/127.0.0.1", **labels})


async def _until(what: str, probe: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if probe():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_an_alert_the_peer_rejects_is_logged_once_counted_and_dropped(
    peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    sink = _sink(peer, registry)
    for alert in (_alert("NV-01"), _alert("NV-02", bad="true"), _alert("NV-03")):
        sink.on_transition(alert)
    with caplog.at_level(logging.WARNING, logger="monitor.delivery"):
        sink.start()
        try:
            await _until("the queue to empty", lambda: not len(sink.queues[0]))
            requests = len(peer.requests)
            await asyncio.sleep(0.7)  # longer than the first retry's backoff: nothing is sent again
        finally:
            await sink.stop()
    assert len(peer.requests) == requests
    assert sorted(peer.accepted) == ["NV-01", "NV-03"]  # the rest of the batch goes on
    assert peer.requests[0][0] == "/am/api/v2/alerts?token=s3cret"
    assert _value(registry, "compliance_delivery_rejected_total") == 1
    assert _value(registry, "compliance_notifications_total", outcome="sent") == 2
    (logged,) = [r.getMessage() for r in caplog.records]
    assert "alertmanager/127.0.0.1: 1 notification(s) rejected" in logged and "bad label" in logged
    assert "s3cret" not in logged and "pw" not in logged


@pytest.mark.parametrize("status", [503, 429])
async def test_a_peer_down_or_busy_is_retried_within_a_queue_limit_shown_in_metrics(
    peer: Peer, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    peer.status = status
    registry = CollectorRegistry()
    sink = _sink(peer, registry, limit=2)
    for task_id in ("NV-01", "NV-02", "NV-03"):
        sink.on_transition(_alert(task_id))
    assert _value(registry, "compliance_delivery_queue_limit") == 2
    assert _value(registry, "compliance_delivery_queue_length") == 2
    assert _value(registry, "compliance_notifications_total", outcome="dropped") == 1
    with caplog.at_level(logging.WARNING, logger="monitor.delivery"):
        sink.start()
        try:
            await _until("a retry", lambda: len(peer.requests) >= 2)
            assert _value(registry, "compliance_delivery_queue_length") == 2  # kept while the peer is down
            peer.status = 200
            await _until("the queue to empty", lambda: not len(sink.queues[0]))
        finally:
            await sink.stop()
    assert peer.accepted[-2:] == ["NV-02", "NV-03"]
    assert _value(registry, "compliance_delivery_queue_length") == 0
    assert not _value(registry, "compliance_delivery_rejected_total")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"answered {status}: busy, try later" in logged and "s3cret" not in logged
    assert json.dumps(peer.requests).count("NV-01") == 0  # the oldest, dropped past the limit


class _ToPeer(AbstractResolver):
    """Resolves every host name to the local peer: a session built on it reaches the peer whatever a URL names."""

    def __init__(self, peer: Peer) -> None:
        self._port = peer.port

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": self._port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        pass


async def test_a_sink_sends_through_the_session_it_is_given_and_leaves_it_open(peer: Peer) -> None:
    registry = CollectorRegistry()
    targets = parse_targets("alertmanager", "MONITOR_ALERTMANAGER_URL", ["am-1=http://alertmanager.test:9093/"])
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=_ToPeer(peer))) as session:
        sink = AlertmanagerSink(targets, "http://monitor:6066", DeliveryMetrics(registry), lambda: NOW, session=session)
        sink.on_transition(_alert("NV-01"))
        sink.start()
        try:
            await _until("the alert to reach the peer", lambda: peer.accepted == ["NV-01"])
        finally:
            await sink.stop()
        assert not session.closed  # the caller's: the sink closes only a session it opened itself
    assert peer.requests[0][0] == "/api/v2/alerts"
    assert (
        registry.get_sample_value("compliance_notifications_total", {"sink": "alertmanager/am-1", "outcome": "sent"})
        == 1
    )
