"""HTTP ingestion on a real worker: refusals say exactly what is wrong; an accepted event is processed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import sample, task_event, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"{}")


def test_http_ingestion(broker: EmbeddedBroker, tmp_path: Path) -> None:
    env = {"MONITOR_INGEST_TOKEN": "tinh-nghe-an", "MONITOR_INGEST_MAX_BYTES": "20000"}
    with worker_process(broker.url, tmp_path, env=env) as worker:
        worker.wait_ready()
        url = worker.base_url + "/api/v1/events"
        good = task_event("http-1", "NV-27", "in_progress")
        auth = {"Authorization": "Bearer tinh-nghe-an"}

        status, body = _post(url, good, {})
        assert status == 401 and "bearer token" in body["error"]
        status, body = _post(url, good, {"Authorization": "Bearer wrong"})
        assert status == 403

        oversize = json.dumps([json.loads(good)] * 100).encode()
        assert len(oversize) > 20000
        status, body = _post(url, oversize, auth)
        assert status == 413 and "over the limit of 20000" in body["error"]

        invalid = json.dumps([json.loads(good), {**json.loads(good), "event_id": "x", "status": "done"}]).encode()
        status, body = _post(url, invalid, auth)
        assert status == 422
        assert body["errors"] == [{"index": 1, "reason": body["errors"][0]["reason"]}]
        assert "field 'status'" in body["errors"][0]["reason"]

        indicator = {
            "specversion": "1.0",
            "type": "compliance.indicator",
            "id": "ce-1",
            "source": "nghean-dvc",
            "time": json.loads(good)["occurred_at"],
            "data": {"unit_id": "VN-22", "indicator": "online_dossier_ratio", "value": 0.458},
        }
        status, body = _post(url, json.dumps([json.loads(good), indicator]).encode(), auth)
        assert (status, body) == (202, {"accepted": 2, "records": 2})

        def processed() -> bool:
            metrics = worker.metrics()
            return (
                sample(metrics, "compliance_tasks_overdue", unit_id="VN-22", kind="task") == 1
                and sample(metrics, "compliance_indicator_value", unit_id="VN-22", indicator="online_dossier_ratio")
                == 0.458
            )

        wait_for("the ingested events to be processed", processed, log=worker.log)
        assert sample(worker.metrics(), "compliance_events_total", topic=TOPICS.task_status, outcome="accepted") == 1
