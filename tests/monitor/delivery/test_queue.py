from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from monitor.delivery.queue import DeliveryError, DeliveryQueue
from monitor.metrics import DeliveryMetrics


class Peer:
    """A peer that refuses the first ``failures`` deliveries."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.received: list[str] = []

    async def send(self, batch: list[str]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise DeliveryError("503 Service Unavailable")
        self.received.extend(batch)


def _queue(peer: Peer, registry: CollectorRegistry, limit: int = 100) -> DeliveryQueue[str]:
    return DeliveryQueue(
        "test",
        peer.send,
        key=lambda item: item.split("=")[0],
        metrics=DeliveryMetrics(registry),
        limit=limit,
        backoff=(0.01, 0.05),
    )


def _count(registry: CollectorRegistry, outcome: str) -> float:
    return registry.get_sample_value("compliance_notifications_total", {"sink": "test", "outcome": outcome}) or 0.0


async def _drain(queue: DeliveryQueue[str]) -> None:
    for _ in range(200):
        if not len(queue):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("queue did not drain")


async def test_a_peer_that_fails_three_times_still_gets_everything() -> None:
    registry = CollectorRegistry()
    peer = Peer(failures=3)
    queue = _queue(peer, registry)
    queue.start()
    for item in ("a=1", "b=1", "c=1"):
        queue.offer(item)
    await _drain(queue)
    await queue.stop()
    assert sorted(peer.received) == ["a=1", "b=1", "c=1"]
    assert peer.calls == 4
    assert _count(registry, "failed") == 9 and _count(registry, "sent") == 3


async def test_items_with_the_same_key_coalesce_latest_wins() -> None:
    registry = CollectorRegistry()
    peer = Peer(failures=0)
    queue = _queue(peer, registry)
    for item in ("a=1", "b=1", "a=2"):
        queue.offer(item)
    assert len(queue) == 2
    queue.start()
    await _drain(queue)
    await queue.stop()
    assert peer.received == ["b=1", "a=2"]


async def test_memory_is_bounded_oldest_dropped_and_counted() -> None:
    registry = CollectorRegistry()
    queue = _queue(Peer(failures=0), registry, limit=3)
    for n in range(10):
        queue.offer(f"k{n}=v")
    assert len(queue) == 3
    assert _count(registry, "dropped") == 7


async def test_the_ledger_hears_the_first_attempt_each_new_answer_and_the_last() -> None:
    from monitor.delivery.queue import DeliveryRejected

    answers: list[tuple[str, int, str, int | None]] = []
    calls = {"n": 0}

    async def send(batch: list[str]) -> int:
        calls["n"] += 1
        if batch == ["bad=1"]:
            raise DeliveryRejected("answered 400: bad labels", 400)
        if calls["n"] <= 3:  # down three times the same way, then busy, then fine
            raise DeliveryError("answered 503: down", 503)
        if calls["n"] == 4:
            raise DeliveryError("Timeout", None)
        return 200

    queue = DeliveryQueue(
        "test",
        send,
        key=lambda item: item.split("=")[0],
        metrics=DeliveryMetrics(CollectorRegistry()),
        backoff=(0.01, 0.05),
        on_attempt=lambda item, attempt, outcome, status, answer: answers.append((item, attempt, outcome, status)),
    )
    queue.start()
    queue.offer("ok=1")
    await _drain(queue)
    queue.offer("bad=1")
    await _drain(queue)
    await queue.stop()
    assert answers == [
        ("ok=1", 1, "failed", 503),  # the first attempt
        ("ok=1", 4, "failed", None),  # attempts 2 and 3 said the same as 1: not told again
        ("ok=1", 5, "delivered", 200),  # the last
        ("bad=1", 1, "rejected", 400),
    ]
