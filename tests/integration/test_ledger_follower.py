"""The alert ledger reads everything already on the alerts topic before a worker takes a partition over."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics, ensure_topics
from monitor.state.ledger import AlertLedger, LedgerFollower
from rules.state import AlertTransition

pytestmark = pytest.mark.integration
TOPICS = Topics()


def _firing(n: int) -> AlertTransition:
    return AlertTransition(
        fingerprint=f"fp-{n}",
        status="firing",
        stage="overdue",
        rule_id="task-overdue",
        severity="critical",
        labels={"alertname": "task-overdue", "unit_id": "VN-22", "task_id": f"T-{n}"},
        annotations={},
        starts_at=datetime(2024, 7, 20, tzinfo=UTC),
        event_ids=[f"e-{n}"],
        rule_version="v1",
    )


async def _scenario(bootstrap: str) -> AlertLedger:
    await ensure_topics(bootstrap, TOPICS, 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        # One produce request carrying one batch of several records, as a busy worker writes them.
        sent = [
            await producer.send(TOPICS.alerts, _firing(n).model_dump_json().encode(), partition=0) for n in range(5)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    ledger = AlertLedger()
    follower = LedgerFollower(ledger, bootstrap, TOPICS.alerts, {})
    await follower.start()
    try:
        assert await follower.catch_up(timeout=20)
    finally:
        await follower.stop()
    return ledger


def test_catch_up_sees_every_record_of_the_last_batch(broker: EmbeddedBroker) -> None:
    ledger = asyncio.run(_scenario(broker.bootstrap))
    assert [ledger.last(f"fp-{n}") is not None for n in range(5)] == [True] * 5


class _Counted(LedgerFollower):
    """A ledger follower that notes how many records each of its reads brought."""

    rest = 30.0

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.reads: list[int] = []

    def take(self, records):  # type: ignore[no-untyped-def]
        self.reads.append(len(records))
        super().take(records)


async def _resting(bootstrap: str) -> tuple[list[int], bool]:
    await ensure_topics(bootstrap, TOPICS, 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    follower = _Counted(AlertLedger(), bootstrap, TOPICS.alerts, {})
    await follower.start()
    try:
        assert await follower.catch_up(timeout=20)  # read through: from now on it rests after each read
        await (await producer.send(TOPICS.alerts, _firing(1).model_dump_json().encode(), partition=0))
        for _ in range(200):
            if follower.reads:
                break
            await asyncio.sleep(0.05)
        for n in (2, 3, 4):  # one batch each, while the follower rests
            await (await producer.send(TOPICS.alerts, _firing(n).model_dump_json().encode(), partition=0))
        caught_up = await follower.catch_up(timeout=10)  # wakes it: not 30 s
        return follower.reads, caught_up
    finally:
        await follower.stop()
        await producer.stop()


def test_a_follower_at_rest_reads_the_batches_that_came_meanwhile_at_once_and_wakes_for_catch_up(
    broker: EmbeddedBroker,
) -> None:
    reads, caught_up = asyncio.run(_resting(broker.bootstrap))
    assert caught_up
    assert reads == [1, 3]


class _Resting(_Counted):
    """Rests a second and a half after each read."""

    rest = 1.5


async def _through_a_rest(bootstrap: str) -> list[int]:
    await ensure_topics(bootstrap, TOPICS, 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    follower = _Resting(AlertLedger(), bootstrap, TOPICS.alerts, {})
    await follower.start()
    try:
        assert await follower.catch_up(timeout=20)
        await (await producer.send(TOPICS.alerts, _firing(1).model_dump_json().encode(), partition=0))
        for _ in range(200):
            if follower.reads:
                break
            await asyncio.sleep(0.05)
        for n in (2, 3, 4):  # one batch each, 0.3 s apart, while the follower rests
            await asyncio.sleep(0.3)
            await (await producer.send(TOPICS.alerts, _firing(n).model_dump_json().encode(), partition=0))
        await asyncio.sleep(2.5)  # the rest ends (no catch-up to wake it), and the next read is done
        return follower.reads
    finally:
        await follower.stop()
        await producer.stop()


def test_the_read_after_a_rest_brings_every_record_that_came_during_it(broker: EmbeddedBroker) -> None:
    # Not only the first: a consumer left to fetch during the rest would hold that one, and the others
    # would wait for a rest more.
    assert asyncio.run(_through_a_rest(broker.bootstrap)) == [1, 3]
