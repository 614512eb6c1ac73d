"""A worker killed while it wrote a checkpoint leaves part of the batch on the changelog: the next owner must not
take that part as written.

A checkpoint's writes go to the changelog as one batch, the unit's own fields
(its tasks counted by status) last, then a marker. A worker killed mid-batch
has sent some task items and not the unit's fields, and its consumer offsets
were never committed: the next owner reads the events again. Had it taken the
task items in, it would find each event already applied (a duplicate) and
never count the unit's tasks again: completed tasks shown in progress, as the
crash-then-failover fault once showed. Here the crashed worker's partial
batch is written to the changelog by hand, exactly as that worker would have.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from events.models import TaskStatusEvent
from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.records import unit_partition
from monitor.kafka.topics import Topics
from monitor.state.keys import ENCODER, SUBJECT, SUBJECT_ITEM, SubjectItem, item_key
from rules.state import TaskState, task_key
from tests.integration.kafka import produce, read_all, task_event, unit_listed, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()
CHANGELOG = "compliance-monitor-items-changelog"
TASKS = 12


async def _send(bootstrap: str, partition: int, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(CHANGELOG, value, key=key, partition=partition)
    finally:
        await producer.stop()


def test_a_partial_checkpoint_batch_on_the_changelog_is_not_taken_as_written(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    deadline = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with worker_process(broker.url, tmp_path / "a") as first:
        first.wait_ready(90)
        for n in range(TASKS):
            event = task_event(f"start-{n}", f"NV-{n}", "in_progress", deadline=deadline)
            produce(broker.bootstrap, TOPICS.task_status, event, b"VN-22")
        wait_for(
            "every task in progress",
            lambda: (u := unit_listed(first.base_url)) is not None and u["tasks"].get("in_progress") == TASKS,
            log=first.log,
        )

    # The completions the crashed worker was applying, and the task items it had sent when it was killed.
    completions = [task_event(f"done-{n}", f"NV-{n}", "completed", deadline=deadline) for n in range(TASKS)]
    partition = unit_partition("VN-22", 2)
    latest = {r.key: r.value for r in read_all(broker.bootstrap, CHANGELOG) if r.partition == partition}
    partial = []
    for body in completions:
        event = TaskStatusEvent.model_validate_json(body)
        key = item_key("VN-22", SUBJECT, task_key(event.task_id))
        raw = latest[key]
        assert raw is not None
        before = SUBJECT_ITEM.decode(raw).task
        partial.append((key, ENCODER.encode(SubjectItem(task=TaskState.from_event(event, before)))))
    asyncio.run(_send(broker.bootstrap, partition, partial))  # no unit item, no marker: killed mid-batch
    for body in completions:  # never marked as read: the next owner reads them again
        produce(broker.bootstrap, TOPICS.task_status, body, b"VN-22")

    with worker_process(broker.url, tmp_path / "b") as second:  # a new worker, on an empty data directory
        second.wait_ready(90)

        def counted() -> dict[str, Any] | None:
            unit = unit_listed(second.base_url)
            return unit if unit is not None and unit["tasks_total"] == TASKS and unit["last_event_at"] else None

        wait_for("the unit counted", counted, log=second.log)

        seen: list[dict[str, Any] | None] = [None]

        def settled() -> bool:
            seen[0] = unit_listed(second.base_url)
            return seen[0] is not None and seen[0]["tasks"].get("completed") == TASKS

        deadline_at = time.monotonic() + 30
        while not settled() and time.monotonic() < deadline_at:
            time.sleep(0.5)
        # Counted as the task items say: every one completed (the crashed worker's items were not taken in).
        assert seen[0] is not None and seen[0]["tasks"] == {"completed": TASKS}, seen[0]
