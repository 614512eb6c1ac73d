"""The fence on the producer: records a worker handed its producer before it froze are not sent once it lost its group.

A real aiokafka producer on the embedded broker, with the fence installed as
the worker installs it; the worker's clock and its consumer's generation are
the test's. ``linger_ms`` keeps the records in the producer long enough for
the test to "freeze" the worker between handing them over and their leaving,
the window the soak found (records sent by a worker 25 s frozen, after its
partitions' new owner had written the same alerts).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from monitor.devtools.broker import EmbeddedBroker
from monitor.exceptions import Fenced
from monitor.kafka.client import whole_topic_reader
from monitor.kafka.topics import Topics, ensure_topics
from monitor.state.changelog import ChangelogItemLog
from monitor.worker.health import Health
from monitor.worker.membership import Membership

pytestmark = pytest.mark.integration
TOPICS = Topics()


class _Worker:
    """The worker's clock (which the test stops) and its consumer's group generation (which the test changes)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.generation = 7

    def freeze(self, seconds: float) -> None:
        self.now += seconds


async def _on_topic(bootstrap: str) -> list[bytes]:
    consumer = await whole_topic_reader(bootstrap, TOPICS.alerts, {})
    try:
        found: list[bytes] = []
        for _ in range(20):
            batches = await consumer.getmany(timeout_ms=200)
            found += [r.value or b"" for batch in batches.values() for r in batch]
        return found
    finally:
        await consumer.stop()


async def _scenario(bootstrap: str) -> tuple[list[bytes], BaseException | None, float]:
    await ensure_topics(bootstrap, TOPICS, 1)
    worker = _Worker()
    health = Health()
    member = Membership(10.0, 0.1, lambda: worker.generation, health, monotonic=lambda: worker.now)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=300)
    await producer.start()
    try:
        member.fence_producer(producer)
        await (await producer.send(TOPICS.alerts, b"before", partition=0))  # a member: it goes out

        # Frozen after the fence let it through, while the record waits in the producer; the group moves on.
        held = await producer.send(TOPICS.alerts, b"zombie", partition=0)
        worker.freeze(25)
        worker.generation = -1
        try:
            await held
            refused: BaseException | None = None
        except Fenced as exc:
            refused = exc
        worker.generation = 8
        member.assigned()  # partitions assigned again: a member once more

        # Frozen while still a member (a stall the heartbeats outlived): held until that is known, then sent.
        stalled = await producer.send(TOPICS.alerts, b"after a stall", partition=0)
        worker.freeze(25)
        began = asyncio.get_running_loop().time()
        await stalled
        waited = asyncio.get_running_loop().time() - began
    finally:
        await producer.stop()
    return await _on_topic(bootstrap), refused, waited


def test_records_held_by_the_producer_of_a_worker_that_lost_its_group_are_not_sent(broker: EmbeddedBroker) -> None:
    on_topic, refused, waited = asyncio.run(_scenario(broker.bootstrap))
    assert isinstance(refused, Fenced), "whoever waits for the record is told it was not sent"
    assert on_topic == [b"before", b"after a stall"], "the record held when the group moved on never reaches the topic"
    assert waited >= 0.25, "after a stall the request waits for the heartbeats' verdict (three intervals of 0.1 s)"


class _FaustProducer:
    """faust's producer over the real one, as the changelog writer uses it (``send``, ``_ensure_producer``)."""

    def __init__(self, client: AIOKafkaProducer) -> None:
        self._client = client

    def _ensure_producer(self) -> AIOKafkaProducer:
        return self._client

    async def send(self, topic: str, key: bytes | None, value: bytes | None, partition: int, *_: Any) -> Any:
        return await self._client.send(topic, value, key=key, partition=partition)


async def _changelog_write(bootstrap: str) -> BaseException:
    await ensure_topics(bootstrap, TOPICS, 1)
    worker = _Worker()
    member = Membership(10.0, 0.1, lambda: worker.generation, Health(), monotonic=lambda: worker.now)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=300)
    await producer.start()
    try:
        member.fence_producer(producer)
        table = SimpleNamespace(changelog_topic=SimpleNamespace(get_topic_name=lambda: TOPICS.alerts))
        log = ChangelogItemLog(SimpleNamespace(producer=_FaustProducer(producer)), table)
        writing = asyncio.get_running_loop().create_task(log.write(0, [(b"VN-22\x1fstask:T-1", b"{}")]))
        await asyncio.sleep(0.05)  # handed to the producer, lingering
        worker.freeze(25)
        worker.generation = -1
        try:
            await writing
        except BaseException as exc:
            return exc
        raise AssertionError("the write went through although the worker lost its group")
    finally:
        await producer.stop()


def test_a_changelog_write_the_fence_stopped_says_the_worker_was_fenced_not_that_the_store_failed(
    broker: EmbeddedBroker,
) -> None:
    raised = asyncio.run(_changelog_write(broker.bootstrap))
    assert isinstance(raised, Fenced), f"not a store failure (no 'state store failing', no retry): {raised!r}"
