"""``monitor replay`` gives the transitions the live worker wrote for the same history."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import alert_records, breach_shape, produce, replay_records, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()


def test_replay_of_a_recorded_history_matches_the_live_worker(broker: EmbeddedBroker, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    with worker_process(broker.url, tmp_path) as worker, history.open("w", encoding="utf-8") as recording:
        worker.wait_ready()

        def seeded() -> bool:  # the worker's first ticks gave every rostered province in force today its state
            records = alert_records(broker.bootstrap)
            return len({r["labels"]["unit_id"] for r in records if r["rule_id"] == "indicator-stale"}) == 34

        wait_for("the rostered units to be seeded", seeded, log=worker.log)

        def publish(body: dict[str, Any]) -> None:
            event = {"source": "replay-test", "occurred_at": datetime.now(UTC).isoformat(), **body}
            topic = TOPICS.indicators if "indicator" in event else TOPICS.task_status
            data = json.dumps(event, ensure_ascii=False)
            produce(broker.bootstrap, topic, data.encode(), key=event["unit_id"].encode())
            recording.write(data + "\n")
            recording.flush()

        soon = datetime.now(UTC) + timedelta(seconds=3)
        publish(
            {
                "event_id": "1",
                "unit_id": "VN-22",
                "task_id": "NV-1",
                "status": "in_progress",
                "deadline": soon.isoformat(),
            }
        )
        publish({"event_id": "2", "unit_id": "VN-22", "indicator": "online_dossier_ratio", "value": 0.458})
        time.sleep(1)
        publish(
            {
                "event_id": "3",
                "unit_id": "VN-02",
                "task_id": "NV-2",
                "status": "in_progress",
                "deadline": soon.isoformat(),
            }
        )
        time.sleep(4)
        publish(
            {
                "event_id": "4",
                "unit_id": "VN-22",
                "task_id": "NV-1",
                "status": "completed",
                "deadline": soon.isoformat(),
            }
        )
        publish({"event_id": "5", "unit_id": "VN-22", "indicator": "online_dossier_ratio", "value": 0.6})

        def live() -> list[dict[str, Any]]:
            return alert_records(broker.bootstrap)

        def settled() -> bool:
            records = live()
            resolved = {(r["rule_id"], r["labels"]["unit_id"]) for r in records if r["status"] == "resolved"}
            overdue = {
                r["labels"].get("task_id")
                for r in records
                if r["stage"] == "overdue" and r["rule_id"] == "task-overdue"
            }
            return {("task-overdue", "VN-22"), ("online-dossier-ratio-low", "VN-22")} <= resolved and overdue >= {
                "NV-1",
                "NV-2",
            }

        wait_for("the live worker to write every transition", settled, log=worker.log)
        time.sleep(2)  # two more ticks: nothing else may come
        written = live()
        until = datetime.now(UTC).isoformat()

    records = replay_records(history, until)
    assert len(records) > 80  # the rostered units' alerts (34 provinces in force, 86 units' 2024 plans), the timeline's
    assert any(r["rule_id"] == "task-overdue" and r["stage"] == "overdue" for r in records)
    assert breach_shape(records) == breach_shape(written)
