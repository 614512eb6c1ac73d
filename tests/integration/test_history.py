"""The alert history index through a real worker: the history endpoint, and a restart that reads only newer records."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics, ensure_topics
from monitor.state.history import AlertHistory, HistoryRecord
from monitor.state.indexer import index_matches_topic
from tests.integration.kafka import (
    alert_records,
    http_get,
    produce,
    read_all,
    task_event,
    wait_for,
    worker_process,
)

pytestmark = pytest.mark.integration
TOPICS = Topics()
MINE = "unit_id=VN-22&rule_id=task-overdue"  # the tasks below (every rostered unit also misses its inspection plan)


def _history(base: str, query: str = "") -> dict[str, Any]:
    """The history answer, once the worker's index has read the topic through (503 until then)."""
    answered: list[tuple[int, str]] = []
    wait_for(
        "the history to answer",
        lambda: answered.append(http_get(f"{base}/api/v1/alerts/history?{query}")) or answered[-1][0] != 503,
        timeout=30,
    )
    status, body = answered[-1]
    assert status == 200, body
    return dict(json.loads(body))


def test_history_shows_each_interval_and_survives_a_restart_that_reads_only_newer_records(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    worker = worker_process(broker.url, tmp_path)
    now = datetime.now(UTC)
    overdue = (now - timedelta(days=3)).date().isoformat()
    with worker:
        worker.wait_ready()
        produce(
            broker.bootstrap, TOPICS.task_status, task_event("e1", "NV-1", "in_progress", deadline=overdue), b"VN-22"
        )
        produce(
            broker.bootstrap, TOPICS.task_status, task_event("e2", "NV-2", "in_progress", deadline=overdue), b"VN-22"
        )
        wait_for("two alerts in the history", lambda: _history(worker.base_url, MINE).get("count") == 2, timeout=30)
        completion = {**json.loads(task_event("e3", "NV-1", "completed", deadline=overdue)), "source": "nghean-dvc"}
        produce(broker.bootstrap, TOPICS.task_status, json.dumps(completion).encode(), b"VN-22")
        wait_for(
            "NV-1's interval to end",
            lambda: any(i["ended_at"] for i in _history(worker.base_url, MINE)["intervals"]),
            timeout=30,
        )
        before = _history(worker.base_url, MINE)
        everything = _history(worker.base_url, "limit=5000")
        records_before = alert_records(broker.bootstrap)
    ended = next(i for i in before["intervals"] if i["ended_at"])
    assert ended["labels"]["task_id"] == "NV-1" and ended["resolution"] == "completed_late"
    assert ended["late_days"] is not None and ended["late_days"] >= 2
    assert ended["duration_seconds"] >= 0 and ended["stages"][0]["stage"] == "overdue"
    # Whose reports it rests on: the overdue one's, and the completion's, each with its publisher and time.
    assert ended["stages"][0]["reported_by"] == "test-dvc" and ended["stages"][0]["reported_at"]
    assert ended["resolved_by"] == "nghean-dvc" and ended["resolved_reported_at"]
    ongoing = next(i for i in before["intervals"] if not i["ended_at"])
    assert ongoing["labels"]["task_id"] == "NV-2" and ongoing["duration_seconds"] is None

    with worker:  # the same data directory
        worker.wait_ready()
        assert _history(worker.base_url, MINE) == before, "the index kept every interval"
        assert _history(worker.base_url, "limit=5000") == everything
        status, body = http_get(f"{worker.base_url}/api/v1/alerts/history?{MINE}&format=csv")
        rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
        assert status == 200 and {r["task_id"] for r in rows} == {"NV-1", "NV-2"}
        assert {r["task_id"]: r["resolved_by"] for r in rows} == {"NV-1": "nghean-dvc", "NV-2": ""}
        assert all("(test-dvc)" in r["stages"] for r in rows)
        assert _history(worker.base_url, f"{MINE}&from=2000-01-01&to=2000-02-01")["count"] == 0
        assert http_get(f"{worker.base_url}/api/v1/alerts/history?from=soon")[0] == 400
    log = worker.log.read_text(errors="replace")
    known = [int(n) for n in re.findall(r"alert ledger: (\d+) alerts known from the history index", log)]
    alerts = {record["fingerprint"] for record in records_before}
    assert known[-1] == len(alerts), "the restart read the last record of each alert from its index"
    assert alert_records(broker.bootstrap) == records_before, "and published nothing twice"


def test_an_index_is_checked_against_the_topic_it_claims_to_have_read(broker: EmbeddedBroker, tmp_path: Path) -> None:
    asyncio.run(ensure_topics(broker.bootstrap, TOPICS, 2))
    for n in range(3):
        produce(broker.bootstrap, TOPICS.alerts, f'{{"n": {n}}}'.encode(), key=b"fp")  # one partition: one key
    records = read_all(broker.bootstrap, TOPICS.alerts)
    last = records[-1]
    index = AlertHistory(tmp_path / "h.sqlite3")
    index.append([HistoryRecord(r.partition, r.offset, r.timestamp, r.value or b"") for r in records])
    marks = index.marks()
    assert marks == {last.partition: (last.offset + 1, last.timestamp)}

    def matches(marks: dict[int, tuple[int, int]]) -> bool:
        return asyncio.run(index_matches_topic(broker.bootstrap, TOPICS.alerts, {}, marks, timeout=2.0))

    assert matches(marks)
    assert matches({}), "an empty index matches any topic"
    assert not matches({last.partition: (last.offset + 1, last.timestamp - 1)}), "another record at that offset"
    assert not matches({last.partition: (last.offset + 50, last.timestamp)}), "the topic ends before the index"
    assert not matches({7: (1, last.timestamp)}), "a partition the topic lacks"
