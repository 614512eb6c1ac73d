"""Alerts reach a real Alertmanager and a webhook, including after the peers were down."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import produce, sample, task_event, wait_for, worker_process
from tests.integration.peers import Alertmanager, WebhookReceiver

pytestmark = pytest.mark.integration
TOPICS = Topics()


def _am_task(am: Alertmanager, task_id: str) -> list[dict[str, Any]]:
    return [
        a
        for a in am.alerts()
        if a["labels"].get("task_id") == task_id and a["labels"].get("alertname") == "task-overdue"
    ]


def test_alertmanager_and_webhook_get_firing_and_resolved(broker: EmbeddedBroker, tmp_path: Path) -> None:
    with Alertmanager(tmp_path) as am, WebhookReceiver(failures=3) as hook:
        worker = worker_process(
            broker.url,
            tmp_path,
            env={
                "MONITOR_ALERTMANAGER_URL": am.url,
                "MONITOR_WEBHOOK_URL": f"{hook.url}?token=hunter2",
                "MONITOR_WEBHOOK_TOKEN": "s3cret",
                "MONITOR_ALERT_RESEND_INTERVAL": "2",
            },
        )
        with worker:
            worker.wait_ready()
            produce(broker.bootstrap, TOPICS.task_status, task_event("e-1", "NV-27", "in_progress"), key=b"VN-22")

            (alert,) = wait_for("the alert in Alertmanager", lambda: _am_task(am, "NV-27"), log=worker.log)  # type: ignore[misc]
            assert alert["labels"]["unit_id"] == "VN-22" and alert["labels"]["severity"] == "critical"
            assert alert["annotations"]["summary"].startswith("Nghệ An: nhiệm vụ «Rà soát")
            assert alert["status"]["state"] == "active"
            assert alert["generatorURL"].endswith("/?unit=VN-22")

            def webhook_firing() -> list[dict[str, Any]]:
                return [a for a in hook.alerts("firing") if a["labels"].get("task_id") == "NV-27"]

            (sent,) = wait_for("the firing webhook after 3 refusals", webhook_firing, log=worker.log)  # type: ignore[misc]
            assert hook.attempts >= 4
            assert sent["labels"]["alertname"] == "task-overdue"
            assert hook.payloads[0]["version"] == "4" and hook.authorization[0] == "Bearer s3cret"
            (group,) = [p for p in hook.payloads if any(a["labels"].get("task_id") == "NV-27" for a in p["alerts"])]
            assert group["groupKey"] == '{}:{alertname="task-overdue", unit_id="VN-22"}'  # by rule and unit

            produce(broker.bootstrap, TOPICS.task_status, task_event("e-2", "NV-27", "completed"), key=b"VN-22")
            wait_for("the alert to resolve in Alertmanager", lambda: not _am_task(am, "NV-27"), log=worker.log)
            wait_for(
                "the resolved webhook",
                lambda: [a for a in hook.alerts("resolved") if a["labels"].get("task_id") == "NV-27"],
                log=worker.log,
            )

            # Alertmanager goes away; an alert fires meanwhile; it arrives once Alertmanager is back.
            am.stop()
            produce(broker.bootstrap, TOPICS.task_status, task_event("e-3", "NV-05", "in_progress"), key=b"VN-22")
            time.sleep(4)
            am.start()
            wait_for(
                "the alert raised while Alertmanager was down",
                lambda: _am_task(am, "NV-05"),
                timeout=40,
                log=worker.log,
            )
            metrics = worker.metrics()
            sink = "alertmanager/127.0.0.1"  # its host: no URL in a label
            assert (sample(metrics, "compliance_notifications_total", sink=sink, outcome="failed") or 0) > 0
            assert (sample(metrics, "compliance_notifications_total", sink=sink, outcome="sent") or 0) > 0
            assert sample(metrics, "compliance_delivery_queue_limit", sink="webhook/127.0.0.1") == 10_000
            assert sample(metrics, "compliance_delivery_queue_length", sink=sink) == 0
        # The webhook's token reached the webhook, and nothing else: no metric label, no log line.
        assert hook.queries and all(q == "token=hunter2" for q in hook.queries)
        assert "hunter2" not in metrics and "hunter2" not in worker.log.read_text(errors="replace")
        assert "webhook/127.0.0.1: delivery failed (answered 503: not yet)" in worker.log.read_text(errors="replace")


def _sent(metrics: str, kind: str) -> float:
    """Notifications sent to every sink of one kind (``alertmanager``, ``webhook``)."""
    total = 0.0
    for line in metrics.splitlines():
        head, _, value = line.rpartition(" ")
        if head.startswith("compliance_notifications_total{") and 'outcome="sent"' in head and kind in head:
            total += float(value)
    return total


def test_a_resent_alert_keeps_every_annotation_in_alertmanager(broker: EmbeddedBroker, tmp_path: Path) -> None:
    with Alertmanager(tmp_path) as am:
        env = {"MONITOR_ALERTMANAGER_URL": am.url, "MONITOR_ALERT_RESEND_INTERVAL": "1"}
        with worker_process(broker.url, tmp_path, env=env) as worker:
            worker.wait_ready()
            produce(broker.bootstrap, TOPICS.task_status, task_event("e-1", "NV-27", "in_progress"), key=b"VN-22")
            (fired,) = wait_for("the alert in Alertmanager", lambda: _am_task(am, "NV-27"), log=worker.log)  # type: ignore[misc]
            assert {"summary", "due"} <= set(fired["annotations"])
            after_first = _sent(worker.metrics(), "alertmanager")
            wait_for(
                "two re-sends of the firing alert",
                lambda: _sent(worker.metrics(), "alertmanager") >= after_first + 2,
                log=worker.log,
            )
            (resent,) = _am_task(am, "NV-27")
            assert resent["annotations"] == fired["annotations"]
            assert resent["updatedAt"] != fired["updatedAt"]  # Alertmanager took the re-send in
