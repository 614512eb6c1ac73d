"""The broker comes back empty (its topics recreated, offsets gone) while the worker's data directory holds the state.

The rule: the local store is the only copy left, and it is a prefix of the
changelog the broker lost, so the worker writes it back to the new changelog;
the alerts topic is made to agree with it (each firing alert restated once).
Nothing the state holds is lost by a later rebuild from the changelog.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import (
    alert_records,
    http_get,
    produce,
    sample,
    task_event,
    unit_listed,
    wait_for,
    worker_process,
)

pytestmark = pytest.mark.integration
TOPICS = Topics()


def _firing(bootstrap: str) -> dict[str, str]:
    """The last record of each alert on the topic that says firing: fingerprint → stage."""
    last: dict[str, dict[str, object]] = {}
    for record in alert_records(bootstrap):
        last[str(record["fingerprint"])] = record
    return {fp: str(r["stage"]) for fp, r in last.items() if r["status"] == "firing"}


def _history(base_url: str) -> list[dict[str, Any]]:
    status, body = http_get(f"{base_url}/api/v1/alerts/history?from=2000-01-01T00:00:00Z&limit=500")
    assert status == 200, body
    intervals: list[dict[str, Any]] = json.loads(body)["intervals"]
    return intervals


def _ended(base_url: str) -> list[tuple[str, str]]:
    return sorted((i["fingerprint"], i["ended_at"]) for i in _history(base_url) if i["ended_at"] is not None)


def test_a_broker_back_empty_gets_the_state_written_back_and_every_alert_restated_once(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready(90)
        for n in range(12):
            status = "completed" if n % 3 == 0 else "in_progress"
            produce(broker.bootstrap, TOPICS.task_status, task_event(f"e-{n}", f"NV-{n}", status), b"VN-22")
        wait_for(
            "every task counted", lambda: (u := unit_listed(worker.base_url)) and u["tasks_total"] == 12, log=worker.log
        )
        wait_for("the overdue tasks to fire", lambda: len(_firing(broker.bootstrap)) >= 8, log=worker.log)
        produce(broker.bootstrap, TOPICS.task_status, task_event("e-done", "NV-1", "completed"), b"VN-22")
        wait_for("NV-1's alert to end", lambda: len(_ended(worker.base_url)) == 1, log=worker.log)
        ended = _ended(worker.base_url)
        before = unit_listed(worker.base_url)
        firing_before = _firing(broker.bootstrap)
    broker.stop()
    broker.start()  # the same address, empty: every topic, record and committed offset gone
    with worker_process(broker.url, tmp_path) as again:
        again.wait_ready(120)
        assert unit_listed(again.base_url) == before
        # Every alert the state holds is on the new topic, once, at its stage; nothing else is.
        wait_for("the alerts restated", lambda: _firing(broker.bootstrap) == firing_before, 40, log=again.log)
        # The history index keeps what ended on the old topic, and the open intervals come back from the new one.
        wait_for("the history indexed", lambda: len(_history(again.base_url)) == len(firing_before) + 1, 20)
        assert _ended(again.base_url) == ended
        written_back = again.log.read_text()
        assert sample(again.metrics(), "compliance_state_written_back_partitions_total") == 2, "both partitions"
    records = alert_records(broker.bootstrap)
    assert len(records) == len(firing_before), [(r["status"], r["fingerprint"]) for r in records]
    assert all(r["annotations"].get("reconciled") == "true" for r in records)
    # The changelog holds the state again: a worker that loses its data directory rebuilds the same units.
    shutil.rmtree(tmp_path / "data")
    with worker_process(broker.url, tmp_path) as rebuilt:
        rebuilt.wait_ready(120)
        assert unit_listed(rebuilt.base_url) == before  # it used to hold no task: {'tasks': {}, 'tasks_total': 0}
        log = rebuilt.log.read_text()
    assert "reconciled" not in {r["annotations"].get("resolution") for r in alert_records(broker.bootstrap)}, log[
        -3000:
    ]
    assert "holds nothing of what the local store read to offset" in written_back, written_back[-3000:]
    assert "items written back in" in written_back
