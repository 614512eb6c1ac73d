"""Hostile records on the real broker, through a real worker: oversize, unencodable, far-future, out of bounds."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import read_all, sample, task_event, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()
LIMIT = 1024 * 1024  # the worker's default MONITOR_MAX_RECORD_BYTES


async def _produce_large(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


def _invalid_batch(size: int) -> bytes:
    """A JSON array of numbers, none of them an event, ``size`` bytes long."""
    items = (size - 2) // 2
    return b"[" + b"1," * (items - 1) + b"1" + b" " * (size - 2 - (2 * items - 1)) + b"]"


def _dead_letters(broker: EmbeddedBroker) -> dict[int, ConsumerRecord[bytes, bytes]]:
    """Dead letters by the offset of the record they stand for."""
    return {int(dict(r.headers)["dlq_offset"]): r for r in read_all(broker.bootstrap, TOPICS.dead_letter)}


def test_oversize_records_reach_the_dead_letter_topic_and_the_worker_goes_on(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    near_limit = _invalid_batch(1_040_000)  # fits the fetch, was over the producer's 1,000,000 bytes
    huge = _invalid_batch(5_700_000)  # over every limit: cut
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        asyncio.run(_produce_large(broker.bootstrap, TOPICS.task_status, [(b"VN-22", near_limit), (b"VN-22", huge)]))
        past = (datetime.now(UTC) - timedelta(days=3)).isoformat()
        asyncio.run(
            _produce_large(
                broker.bootstrap,
                TOPICS.task_status,
                [(b"VN-22", task_event("after", "NV-1", "in_progress", deadline=past))],
            )
        )

        def accepted() -> float:
            return (
                sample(worker.metrics(), "compliance_events_total", topic=TOPICS.task_status, outcome="accepted") or 0
            )

        wait_for("the event after the oversize records", lambda: accepted() >= 1, timeout=60, log=worker.log)
        letters = wait_for("two dead letters", lambda: len(_dead_letters(broker)) >= 2 and _dead_letters(broker))
        assert isinstance(letters, dict)
        whole, cut = letters[0], letters[1]
        assert whole.value == near_limit
        assert dict(whole.headers)["dlq_size"] == b"1040000"
        headers = dict(cut.headers)
        assert cut.value is not None and huge.startswith(cut.value) and len(cut.value) > LIMIT - 16 * 1024
        assert headers["dlq_topic"] == TOPICS.task_status.encode() and headers["dlq_offset"] == b"1"
        assert headers["dlq_size"] == b"5700000"
        assert headers["dlq_cut"] == f"the first {len(cut.value)} of 5700000 bytes".encode()
        assert headers["dlq_reason"] == f"record is 5700000 bytes, over the limit of {LIMIT}".encode()
        assert "Restarting dead Agent" not in worker.log.read_text(errors="replace")


def test_a_lone_surrogate_refuses_one_item_and_the_batch_is_applied(broker: EmbeddedBroker, tmp_path: Path) -> None:
    good = [json.loads(task_event(f"g-{n}", f"NV-{n}", "in_progress")) for n in range(3)]
    bad = {**good[0], "event_id": "bad", "task_id": "NV-9", "title": "a\ud800"}
    batch = json.dumps([good[0], bad, good[1], good[2]]).encode()
    assert b"\\ud800" in batch
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        asyncio.run(_produce_large(broker.bootstrap, TOPICS.task_status, [(b"VN-22", batch)]))

        def accepted() -> float:
            return (
                sample(worker.metrics(), "compliance_events_total", topic=TOPICS.task_status, outcome="accepted") or 0
            )

        wait_for("the good events of the batch", lambda: accepted() >= 3, timeout=30, log=worker.log)
        (letter,) = wait_for("the dead letter", lambda: read_all(broker.bootstrap, TOPICS.dead_letter))  # type: ignore[misc]
        reason = dict(letter.headers)["dlq_reason"].decode("utf-8")
        assert reason.startswith("item 1: field 'title'") and "\\ud800" in reason
        assert "internal error" not in reason
