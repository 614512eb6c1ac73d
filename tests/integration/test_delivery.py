"""Alerts reach a real Alertmanager and a webhook, including after the peers were down."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import http_get, produce, sample, task_event, wait_for, worker_process
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


def test_the_delivery_ledger_holds_every_send_with_the_peer_s_answer(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Alertmanager takes every notification; one webhook answers 503 twice before 200; another refuses one task."""
    with (
        Alertmanager(tmp_path) as am,
        WebhookReceiver(failures=2, fail_task="NV-27") as busy,  # other alerts (a roster's) may come first
        WebhookReceiver(refuse_task="NV-BAD") as picky,
    ):
        env = {"MONITOR_ALERTMANAGER_URL": am.url, "MONITOR_WEBHOOK_URL": f"ops={busy.url},audit={picky.url}"}
        with worker_process(broker.url, tmp_path, env=env) as worker:
            worker.wait_ready()
            produce(broker.bootstrap, TOPICS.task_status, task_event("l-1", "NV-27", "in_progress"), key=b"VN-22")
            produce(broker.bootstrap, TOPICS.task_status, task_event("l-2", "NV-BAD", "in_progress"), key=b"VN-22")

            def ledger(task_id: str) -> list[dict[str, Any]]:
                status, body = http_get(worker.base_url + "/api/v1/alerts/history?unit_id=VN-22&limit=100")
                if status != 200:
                    return []
                intervals = [i for i in json.loads(body)["intervals"] if i["labels"].get("task_id") == task_id]
                return intervals[0]["deliveries"] if intervals else []

            def settled() -> bool:
                sinks = {(d["sink"], d["outcome"]) for d in ledger("NV-27")}
                return {
                    ("alertmanager/127.0.0.1", "delivered"),  # named after its host
                    ("webhook/ops", "delivered"),
                    ("webhook/audit", "delivered"),
                } <= sinks and (
                    "webhook/audit",
                    "rejected",
                ) in {(d["sink"], d["outcome"]) for d in ledger("NV-BAD")}

            wait_for("every peer's answer in the ledger", settled, timeout=60, log=worker.log)
            sent = ledger("NV-27")
            ops = [(d["attempt"], d["outcome"], d["http_status"]) for d in sent if d["sink"] == "webhook/ops"]
            assert ops[0] == (1, "failed", 503) and ops[-1][1:] == ("delivered", 200) and ops[-1][0] >= 2, ops
            (am_sent,) = [d for d in sent if d["sink"] == "alertmanager/127.0.0.1"]  # named after its host
            assert (am_sent["attempt"], am_sent["http_status"], am_sent["status"]) == (1, 200, "firing")
            (refused,) = [d for d in ledger("NV-BAD") if d["sink"] == "webhook/audit"]
            assert refused["http_status"] == 400 and "not ours" in refused["answer"]
            assert all(d["fingerprint"] for d in sent) and {d["unit_id"] for d in sent} == {"VN-22"}

            # The quarter's report says when Nghệ An was first told of its overdue task, by whom, and the answer.
            status, body = http_get(worker.base_url + "/reports?format=json&unit=VN-22")
            assert status == 200, body
            (card,) = [u for u in json.loads(body)["units"] if u["unit_id"] == "VN-22"]
            (item,) = [i for i in card["items"] if i["task_id"] == "NV-27"]
            first = min((d for d in sent if d["outcome"] == "delivered"), key=lambda d: d["at"])
            assert item["outcome"] == "overdue" and item["notified"] == {
                "at": first["at"].replace("Z", "+00:00"),
                "sink": first["sink"],
                "http_status": 200,
            }
            status, html = http_get(worker.base_url + "/reports?unit=VN-22")
            assert status == 200 and "Đã thông báo" in html and first["sink"] in html
