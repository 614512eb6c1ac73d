"""A local store that breaks under a running worker: its data directory removed, a data block corrupt on disk.

Each ends with the worker rebuilding its partitions from their changelogs
in place (logged, counted), and every unit counted as before; never a worker
going on with a store that no longer exists, nor a record dead-lettered for
the store's fault.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import (
    http_get,
    produce,
    read_all,
    sample,
    task_event,
    unit_listed,
    wait_for,
    worker_process,
)

pytestmark = pytest.mark.integration
TOPICS = Topics()
DEADLINE = (datetime.now(UTC) + timedelta(days=30)).isoformat()


def _report(broker: EmbeddedBroker, first: int, last: int) -> None:
    for n in range(first, last):
        produce(
            broker.bootstrap,
            TOPICS.task_status,
            task_event(f"e-{n}", f"NV-{n}", "in_progress", deadline=DEADLINE),
            b"VN-22",
        )


def _history(base_url: str) -> list[tuple[str, str]] | None:
    """The intervals the history index answers with (fingerprint, start), or ``None`` when it does not answer."""
    status, body = http_get(f"{base_url}/api/v1/alerts/history?from=2000-01-01T00:00:00Z&limit=500")
    if status != 200:
        return None
    return sorted((i["fingerprint"], i["started_at"]) for i in json.loads(body)["intervals"])


def _counted(base_url: str, tasks: int) -> bool:
    unit = unit_listed(base_url)
    return unit is not None and unit["tasks"] == {"in_progress": tasks}


def test_a_data_directory_removed_under_the_worker_is_rebuilt_from_the_changelogs(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready(90)
        _report(broker, 0, 10)
        wait_for("the first tasks counted", lambda: _counted(worker.base_url, 10), log=worker.log)
        wait_for("the history to answer", lambda: _history(worker.base_url), log=worker.log)
        history = _history(worker.base_url)
        shutil.rmtree(data)
        wait_for(
            "both partitions rebuilt",
            lambda: sample(worker.metrics(), "compliance_state_store_rebuilds_total", cause="data_dir_removed") == 2,
            30,
            log=worker.log,
        )
        assert sorted(p.name for p in data.rglob("items-*.db")) == ["items-0.db", "items-1.db"]
        _report(broker, 10, 20)
        wait_for("every task counted", lambda: _counted(worker.base_url, 20), log=worker.log)
        # The history index was in the directory too: indexed again from the topic, it answers as before.
        wait_for("the history to answer again", lambda: _history(worker.base_url) == history, 30, log=worker.log)
        worker.wait_ready(30)
        log = worker.log.read_text()
    assert "was removed: rebuilding partitions [0, 1] of the state store from their changelogs" in log, log[-3000:]
    assert read_all(broker.bootstrap, TOPICS.dead_letter) == []
    # The store rebuilt in place is the one the next start reads: nothing is left for the changelog to bring.
    with worker_process(broker.url, tmp_path) as again:
        again.wait_ready(90)
        assert _counted(again.base_url, 20)
        ahead = re.findall(r"read (\d+) changelog records ahead", again.log.read_text())
    assert ahead == ["0"], ahead


def test_a_data_block_found_corrupt_on_reading_has_its_partition_rebuilt_not_its_records_dead_lettered(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready(90)
        _report(broker, 0, 200)
        wait_for("the tasks counted", lambda: _counted(worker.base_url, 200), log=worker.log)
    with worker_process(broker.url, tmp_path) as again:  # opening replays the write-ahead log into table files
        again.wait_ready(90)
    tables = sorted(data.rglob("items-*.db/*.sst"))
    # A table file or more in each partition's database (how many depends on when RocksDB flushed).
    assert {p.parent.name for p in tables} == {"items-0.db", "items-1.db"}, sorted(map(str, data.rglob("*.db/*")))
    for table in tables:  # the first data block of each table file, where opening the database never reads
        with table.open("r+b") as file:
            file.seek(64)
            file.write(b"\xff" * 256)
    with worker_process(broker.url, tmp_path) as damaged:
        damaged.wait_ready(90)  # a read fails, the partitions are rebuilt, and the records read again
        wait_for("the tasks counted again", lambda: _counted(damaged.base_url, 200), log=damaged.log)
        _report(broker, 200, 210)
        wait_for("new tasks counted", lambda: _counted(damaged.base_url, 210), log=damaged.log)
        rebuilt = sample(damaged.metrics(), "compliance_state_store_rebuilds_total", cause="corrupt")
        log = damaged.log.read_text()
    assert "the local state store failed a read" in log and "Corruption" in log, log[-3000:]
    assert rebuilt is not None and rebuilt >= 1, log[-3000:]
    assert len(list(data.rglob("items-*.db.corrupt-*"))) == rebuilt
    assert read_all(broker.bootstrap, TOPICS.dead_letter) == [], "no record pays for the store's fault"
