"""The broker watch on a stepping clock: a lost broker or lost topics are reported, then given up on."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.worker.broker_watch import BrokerWatch
from monitor.worker.health import Health


class _Broker:
    def __init__(self) -> None:
        self.topics: list[str] | None = ["a", "b", "c"]  # None: does not answer
        self.now = 0.0

    async def list_topics(self) -> Iterable[str]:
        if self.topics is None:
            raise ConnectionRefusedError("connection refused")
        return self.topics


def _watch(broker: _Broker, health: Health, gave_up: list[str]) -> BrokerWatch:
    return BrokerWatch(
        broker.list_topics, ["a", "b"], health, give_up_after=30, give_up=gave_up.append, monotonic=lambda: broker.now
    )


async def test_a_broker_with_every_topic_is_fine() -> None:
    broker, health, gave_up = _Broker(), Health(), []  # type: ignore[var-annotated]
    assert await _watch(broker, health, gave_up).check() is None and health.problems() == {} and gave_up == []


async def test_a_lost_broker_is_reported_at_once_and_given_up_on_after_the_timeout() -> None:
    broker, health, gave_up = _Broker(), Health(), []  # type: ignore[var-annotated]
    watch = _watch(broker, health, gave_up)
    broker.topics = None
    assert "does not answer" in (await watch.check() or "")
    assert "does not answer" in health.problems()["broker"]
    broker.now = 29
    await watch.check()
    assert gave_up == []
    broker.now = 30
    await watch.check()
    assert len(gave_up) == 1 and "30s" in gave_up[0]


async def test_missing_topics_are_named_and_a_return_clears_the_problem() -> None:
    broker, health, gave_up = _Broker(), Health(), []  # type: ignore[var-annotated]
    watch = _watch(broker, health, gave_up)
    broker.topics = ["c"]  # restarted empty, then something else created a topic
    assert await watch.check() == "topics missing on the broker: a, b"
    broker.now = 20
    broker.topics = ["a", "b"]
    assert await watch.check() is None and health.problems() == {}
    broker.now = 60
    broker.topics = None
    await watch.check()
    assert gave_up == []  # the clock restarted when the broker came back
