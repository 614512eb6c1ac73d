from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from monitor.delivery.alertmanager import AlertmanagerSink, am_alert
from monitor.delivery.webhook import group_key, webhook_payloads
from monitor.metrics import DeliveryMetrics
from monitor.targets import parse_targets
from rules.state import AlertState
from tests.conftest import vn
from tests.rules.fixtures import transition as _transition

NOW = datetime(2024, 7, 21, tzinfo=UTC)


def _sink() -> AlertmanagerSink:
    targets = parse_targets("alertmanager", "MONITOR_ALERTMANAGER_URL", ["http://am:9093"])
    return AlertmanagerSink(targets, "http://monitor:6066", DeliveryMetrics(CollectorRegistry()), lambda: NOW)


def _queued(sink: AlertmanagerSink) -> list[dict]:  # type: ignore[type-arg]
    """The alerts queued, as Alertmanager will get them (each queued with the transition it tells of, if any)."""
    return [alert for alert, _ in sink.queues[0]._items.values()]


def test_am_alert_has_the_api_v2_fields() -> None:
    alert = am_alert({"alertname": "x"}, {"summary": "s"}, vn(2024, 7, 20), None, "http://m/?unit=VN-22")
    assert alert == {
        "labels": {"alertname": "x"},
        "annotations": {"summary": "s"},
        "startsAt": "2024-07-20T00:00:00+07:00",
        "generatorURL": "http://m/?unit=VN-22",
    }
    resolved = am_alert({"alertname": "x"}, {}, vn(2024, 7, 20), vn(2024, 7, 22), "g")
    assert resolved["endsAt"] == "2024-07-22T00:00:00+07:00"


def test_escalation_resolves_the_old_label_set_in_alertmanager() -> None:
    sink = _sink()
    sink.on_transition(_transition(stage="due_soon", severity="warning"))
    sink.on_transition(_transition(stage="overdue", severity="critical"))
    sent = _queued(sink)
    assert [(a["labels"]["severity"], "endsAt" in a) for a in sent] == [("warning", True), ("critical", False)]
    assert sent[0]["endsAt"] == NOW.isoformat()
    assert sent[1]["generatorURL"] == "http://monitor:6066/?unit=VN-22"


def test_resolution_carries_ends_at() -> None:
    sink = _sink()
    sink.on_transition(_transition())
    sink.on_transition(_transition(status="resolved", ends_at=vn(2024, 7, 25)))
    (alert,) = _queued(sink)  # the same label set: the resolution replaced the firing one
    assert alert["endsAt"] == "2024-07-25T00:00:00+07:00"


def test_webhook_payload_is_alertmanager_version_4_one_group_per_rule_and_unit() -> None:
    firing = _transition()
    other = _transition(fingerprint="fp2", labels={**firing.labels, "task_id": "NV-01"})
    resolved = _transition(status="resolved", ends_at=vn(2024, 7, 25), fingerprint="fp3")
    elsewhere = _transition(status="resolved", fingerprint="fp4", labels={**firing.labels, "unit_id": "VN-40"})
    first, second = webhook_payloads([firing, other, resolved, elsewhere], "http://monitor:6066")
    assert first["version"] == "4" and first["status"] == "firing" and first["receiver"] == "compliance-monitor"
    assert {
        "groupKey",
        "truncatedAlerts",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    } <= set(first)
    assert first["groupKey"] == '{}:{alertname="task-overdue", unit_id="VN-22"}'
    assert first["groupLabels"] == {"alertname": "task-overdue", "unit_id": "VN-22"}
    assert first["commonLabels"] == {"alertname": "task-overdue", "unit_id": "VN-22", "severity": "critical"}
    assert [a["labels"]["task_id"] for a in first["alerts"]] == ["NV-27", "NV-01", "NV-27"]
    assert [a["status"] for a in first["alerts"]] == ["firing", "firing", "resolved"]  # a group fires while any does
    assert first["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert first["alerts"][2]["endsAt"] == "2024-07-25T00:00:00+07:00"
    assert second["groupKey"] == '{}:{alertname="task-overdue", unit_id="VN-40"}' and second["status"] == "resolved"
    assert [a["generatorURL"] for a in second["alerts"]] == ["http://monitor:6066/?unit=VN-40"]


def test_a_group_key_quotes_label_values_as_alertmanager_does() -> None:
    assert (
        group_key({"unit_id": 'VN "22"\\\n', "alertname": "hạn"})
        == '{}:{alertname="hạn", unit_id="VN \\"22\\"\\\\\\n"}'
    )


def test_a_resent_alert_carries_every_annotation_it_fired_with() -> None:
    sink = _sink()
    alert = AlertState(
        fingerprint="fp1",
        rule_id="task-overdue",
        stage="overdue",
        severity="critical",
        labels={"alertname": "task-overdue", "unit_id": "VN-22", "task_id": "NV-27", "severity": "critical"},
        starts_at=vn(2024, 7, 13),
        subject="task:NV-27",
        summary="Nghệ An: nhiệm vụ quá hạn",
        details={"due": "2024-07-13 00:00", "days_overdue": "8"},
    )
    assert sink.resend([alert]) == 1
    (sent,) = _queued(sink)
    assert sent["annotations"] == {
        "summary": "Nghệ An: nhiệm vụ quá hạn",
        "due": "2024-07-13 00:00",
        "days_overdue": "8",
    }
    assert "endsAt" not in sent
