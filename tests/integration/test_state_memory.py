"""A worker's memory grows with the units it owns, not with the items they hold.

Items rest in RocksDB (``monitor.state.stored``): the worker keeps each
unit's head in memory and a bounded cache of tasks, and RocksDB's own memory
is bounded by its write buffers and one block cache. So loading three times
as many dossiers again adds at most a fixed margin to the worker's resident
memory: 100 MiB, for 2 partitions with 2 write buffers of 2 MiB each, an 8 MiB
block cache and the allocator's own growth under a load of 600 records of 500
events (measured: 30 to 65 MiB). Held in memory, as up to 72f2c26, the 300,000
dossiers more cost about 250 MiB.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.devtools.broker import EmbeddedBroker
from tests.integration.dossiers import dossier_records, publish, rss_bytes, wait_accepted
from tests.integration.kafka import sample, worker_process

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
BOUNDS = {"MONITOR_ROCKSDB_WRITE_BUFFER": str(2 * MiB), "MONITOR_ROCKSDB_BLOCK_CACHE": str(8 * MiB)}
MARGIN = 100 * MiB


def _settled_rss(worker_pid: int) -> int:
    time.sleep(3)  # the last flush and the ticks after the load have run
    return rss_bytes(worker_pid)


def test_resident_memory_does_not_grow_with_the_items_held(broker: EmbeddedBroker, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    worker = worker_process(broker.url, tmp_path, {**BOUNDS, "MONITOR_ITEM_CACHE": "10000"}).start()
    try:
        worker.wait_ready()
        assert worker.process is not None
        publish(broker.bootstrap, dossier_records(100_000, now))
        wait_accepted(worker.web_port, 100_000, limit=240)
        at_100k = _settled_rss(worker.process.pid)
        publish(broker.bootstrap, dossier_records(300_000, now, first=1_000_000))
        wait_accepted(worker.web_port, 400_000, limit=600)
        at_400k = _settled_rss(worker.process.pid)
        tasks = sample(worker.metrics(), "compliance_tasks", unit_id="VN-22", kind="dossier", status="in_progress")
        assert tasks == -(-100_000 // 63) + -(-300_000 // 63)  # every dossier of Nghệ An's held, and counted
    finally:
        worker.stop()
    grew = at_400k - at_100k
    assert grew <= MARGIN, f"RSS {at_100k / MiB:.0f} MiB at 100,000 items, {at_400k / MiB:.0f} MiB at 400,000"
