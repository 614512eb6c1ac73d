"""A state store damaged on disk while the worker was stopped: the worker moves it aside and rebuilds the partitions
from their changelogs, counting every task again, instead of exiting at every start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import produce, task_event, unit_listed, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()
TASKS = 20


def test_a_store_corrupt_on_disk_is_moved_aside_and_rebuilt_from_the_changelog(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    deadline = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready(90)
        for n in range(TASKS):
            produce(
                broker.bootstrap,
                TOPICS.task_status,
                task_event(f"e-{n}", f"NV-{n}", "in_progress", deadline=deadline),
                b"VN-22",
            )
        wait_for(
            "every task counted",
            lambda: (u := unit_listed(worker.base_url)) and u["tasks_total"] == TASKS,
            log=worker.log,
        )
    # Every partition's database damaged while the worker is stopped (a disk fault, a bad copy).
    currents = [p for p in (tmp_path / "data").rglob("CURRENT") if "items" in str(p.parent)]
    assert currents, sorted(str(p) for p in (tmp_path / "data").rglob("*"))[:40]
    for current in currents:
        current.write_text("garbage\n")
    with worker_process(broker.url, tmp_path) as again:
        again.wait_ready(90)  # it used to exit at every start: "Corruption: CURRENT file corrupted"
        wait_for(
            "every task counted again",
            lambda: (
                (u := unit_listed(again.base_url))
                and u["tasks_total"] == TASKS
                and u["tasks"] == {"in_progress": TASKS}
            ),
            log=again.log,
        )
        log = again.log.read_text()
    assert log.count("is corrupt (Corruption: CURRENT file corrupted): moved to") == len(currents), log[-3000:]
    assert len([p for p in (tmp_path / "data").rglob("*.corrupt-*") if p.is_dir()]) == len(currents)
