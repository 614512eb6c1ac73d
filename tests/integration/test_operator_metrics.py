"""What an operator reads in /metrics: consumer lag in records, changelog recovery, the process, the pack.

A worker on a fresh data directory, taking over partitions another worker
filled, replays their changelog: it must say how many records that was,
that none are left, how long it took, and how many items it read back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from rules.loading import BUNDLED_PACK, load_pack
from tests.integration.kafka import _produce, _run, sample, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()
UNITS = ("VN-01", "VN-22", "VN-40", "VN-79")
PER_UNIT = 150
_STORE_PARTS = ("write_buffers", "block_cache", "table_readers")
_HEAP_PARTS = ("small_objects", "small_objects_free", "malloc_in_use", "malloc_free")


def _batches() -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    now = datetime.now(UTC)
    records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []
    for unit in UNITS:
        events = [
            {
                "event_id": f"{unit}-{n}",
                "source": "metrics-test",
                "unit_id": unit,
                "task_id": f"HS-{n}",
                "kind": "dossier",
                "status": "in_progress",
                "deadline": (now + timedelta(days=30)).date().isoformat(),
                "occurred_at": now.isoformat(),
            }
            for n in range(PER_UNIT)
        ]
        records.append((unit.encode(), json.dumps(events).encode(), []))
    return records


def _accepted(text: str) -> float:
    return sample(text, "compliance_events_total", outcome="accepted") or 0.0


def test_a_taken_over_worker_reports_recovery_lag_memory_and_pack(broker: EmbeddedBroker, tmp_path: Path) -> None:
    total = PER_UNIT * len(UNITS)
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    with worker_process(broker.url, tmp_path / "first") as first:
        first.wait_ready(90)
        _run(_produce(broker.bootstrap, TOPICS.task_status, _batches()))
        wait_for("every event accepted", lambda: _accepted(first.metrics()) >= total, timeout=90, log=first.log)
        wait_for(
            "no records behind in any owned partition",
            lambda: all(
                sample(first.metrics(), "compliance_consumer_lag_records", topic=topic, partition=str(p)) == 0
                for topic in (TOPICS.task_status, TOPICS.indicators)
                for p in (0, 1)
            ),
            timeout=60,
            log=first.log,
        )
    with worker_process(broker.url, tmp_path / "second") as second:  # a new data directory: recovery
        second.wait_ready(120)
        text = second.metrics()
        expected = sample(text, "compliance_recovery_records_expected")
        assert expected is not None and expected >= total, text  # one changelog record per task, at least
        assert sample(text, "compliance_recovery_records_remaining") == 0
        assert sample(text, "compliance_recovery_active") == 0
        duration = sample(text, "compliance_recovery_last_duration_seconds")
        assert duration is not None and 0 < duration < 120
        loaded = sample(text, "compliance_state_items_loaded_total")  # each unit's head: its tasks stay in the store
        assert loaded is not None and len(UNITS) <= loaded < total
        dossiers = [line for line in text.splitlines() if line.startswith("compliance_tasks{") and "dossier" in line]
        assert sum(float(line.rpartition(" ")[2]) for line in dossiers) == total  # counted without reading them
        resident = sample(text, "process_resident_memory_bytes")
        assert resident is not None and resident > 20 * 1024 * 1024
        store = {part: sample(text, "compliance_state_store_memory_bytes", part=part) for part in _STORE_PARTS}
        assert (store["write_buffers"] or 0) > 0, store  # the replayed items, not flushed to files yet
        assert all(size is not None and 0 <= size < resident for size in store.values()), store
        heap = {part: sample(text, "compliance_process_memory_bytes", part=part) for part in _HEAP_PARTS}
        assert all(size is not None and 0 <= size < resident for size in heap.values()), heap
        assert (heap["small_objects"] or 0) > 10 << 20 and (heap["malloc_in_use"] or 0) > 0, heap  # the worker's code
        assert (sample(text, "process_open_fds") or 0) > 0
        assert sample(text, "compliance_rule_pack_info", version=load_pack([BUNDLED_PACK]).version) == 1
        assert "_created" not in text
