"""The walking skeleton end to end: real broker, real worker process, plain Kafka clients."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from events.codec import encode_batch
from events.models import Event, IndicatorEvent, TaskStatus, TaskStatusEvent
from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics, ensure_topics
from rules.loading import BUNDLED_PACK, load_pack
from tests.integration.kafka import (
    alert_records,
    http_get,
    produce,
    publish_events,
    publish_records,
    read_all,
    sample,
    task_event,
    wait_for,
    worker_process,
)

pytestmark = pytest.mark.integration
TOPICS = Topics()


def _dossiers(batch: int, now: datetime) -> list[Event]:
    """A thousand dossiers of one unit, as a bulk publisher sends them."""
    return [
        TaskStatusEvent(
            event_id=f"hs-{batch}-{n}",
            source="test-dvc",
            unit_id="VN-01",
            task_id=f"HS-{batch}-{n}",
            kind="dossier",
            status=TaskStatus.IN_PROGRESS,
            deadline=(now + timedelta(days=30)).date(),
            occurred_at=now - timedelta(hours=2),
        )
        for n in range(1000)
    ]


def _alerts(broker: EmbeddedBroker, rule_id: str = "task-overdue") -> list[dict[str, Any]]:
    """Alert records of one rule (the bundled pack also raises roster and staleness alerts)."""
    records = [json.loads(r.value) for r in read_all(broker.bootstrap, TOPICS.alerts) if r.value]
    return [a for a in records if a["rule_id"] == rule_id]


def test_overdue_fires_once_resolves_and_bad_records_are_dead_lettered(broker: EmbeddedBroker, tmp_path: Path) -> None:
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        past = datetime.now(UTC) - timedelta(days=3)
        produce(
            broker.bootstrap,
            TOPICS.task_status,
            task_event("e-1", "NV-27", "in_progress", deadline=past.isoformat()),
            key=b"VN-22",
        )

        def firing() -> list[dict[str, Any]]:
            return [a for a in _alerts(broker) if a["status"] == "firing"]

        wait_for("a firing alert", firing, log=worker.log)
        time.sleep(3)  # three ticks: none may repeat the alert
        (alert,) = firing()
        assert alert["labels"] == {
            "alertname": "task-overdue",
            "unit_id": "VN-22",
            "task_id": "NV-27",
            "severity": "critical",
        }
        assert alert["stage"] == "overdue" and alert["rule_id"] == "task-overdue"
        assert alert["event_ids"] == ["e-1"] and alert["rule_version"]
        assert "Rà soát, cắt giảm thủ tục hành chính" in alert["annotations"]["summary"]

        # (c) A malformed record is dead-lettered and the next record is still processed.
        produce(broker.bootstrap, TOPICS.task_status, b'{"event_id": "broken"', key=b"VN-22")
        produce(
            broker.bootstrap,
            TOPICS.task_status,
            task_event("e-2", "NV-27", "completed", deadline=past.isoformat()),
            key=b"VN-22",
        )

        def resolved() -> list[dict[str, Any]]:
            return [a for a in _alerts(broker) if a["status"] == "resolved"]

        (done,) = wait_for("a resolved alert", resolved, log=worker.log)  # type: ignore[misc]
        assert done["fingerprint"] == alert["fingerprint"]
        assert done["ends_at"] is not None and done["annotations"]["resolution"] == "completed_late"
        (dead,) = read_all(broker.bootstrap, TOPICS.dead_letter)
        assert dead.value == b'{"event_id": "broken"'
        headers = dict(dead.headers)
        assert b"not JSON" in headers["dlq_reason"]
        assert headers["dlq_topic"] == TOPICS.task_status.encode()

        # (d) The metrics count all of it.
        metrics = worker.metrics()
        assert sample(metrics, "compliance_events_total", topic=TOPICS.task_status, outcome="accepted") == 2
        assert sample(metrics, "compliance_events_total", topic=TOPICS.task_status, outcome="rejected") == 1
        assert sample(metrics, "compliance_tasks", unit_id="VN-22", kind="task", status="completed") == 1
        assert sample(metrics, "compliance_tasks_overdue", unit_id="VN-22", kind="task") == 0
        assert sample(metrics, "compliance_alert_transitions_total", rule_id="task-overdue", status="firing") == 1
        assert sample(metrics, "compliance_alert_transitions_total", rule_id="task-overdue", status="resolved") == 1
        assert sample(metrics, "compliance_build_info") == 1
    assert _alerts(broker)[-1]["status"] == "resolved"

    # `monitor alerts tail` reads the same records back, filtered, as JSON lines.
    tail = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "alerts",
            "tail",
            "--broker",
            broker.url,
            "--from-beginning",
            "--rule",
            "task-overdue",
            "--unit",
            "VN-22",
            "--json",
            "--max",
            "2",
        ],
        capture_output=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in tail.stdout.decode().splitlines()]
    assert [(r["status"], r["fingerprint"]) for r in lines] == [
        ("firing", alert["fingerprint"]),
        ("resolved", alert["fingerprint"]),
    ]


def test_deadline_passing_with_no_events_fires_once_on_a_tick(broker: EmbeddedBroker, tmp_path: Path) -> None:
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        due = datetime.now(UTC) + timedelta(seconds=4)
        produce(
            broker.bootstrap,
            TOPICS.task_status,
            task_event("t-1", "NV-05", "in_progress", deadline=due.isoformat()),
            key=b"VN-22",
        )

        def overdue() -> list[dict[str, Any]]:
            return [a for a in _alerts(broker) if a["stage"] == "overdue"]

        wait_for("the overdue alert from a tick", overdue, timeout=20, log=worker.log)
        time.sleep(3)
        stages = [(a["status"], a["stage"]) for a in _alerts(broker)]
        assert stages == [("firing", "due_soon"), ("firing", "overdue")]
        metrics = worker.metrics()
        assert sample(metrics, "compliance_tasks_overdue", unit_id="VN-22", kind="task") == 1
        assert sample(metrics, "compliance_alerts_firing", rule_id="task-overdue", severity="critical") == 1


def test_unkeyed_record_is_routed_to_its_unit(broker: EmbeddedBroker, tmp_path: Path) -> None:
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        past = datetime.now(UTC) - timedelta(days=1)
        for n, unit in enumerate(["VN-22", "VN-02", "VN-37", "VN-HN", "VN-SG"]):
            produce(
                broker.bootstrap,
                TOPICS.task_status,
                task_event(f"u-{n}", "NV-27", "in_progress", unit=unit, deadline=past.isoformat()),
            )

        def all_units() -> bool:
            return len({a["labels"]["unit_id"] for a in _alerts(broker)}) == 5

        wait_for("alerts of all five units", all_units, log=worker.log)
        metrics = worker.metrics()
        assert sample(metrics, "compliance_events_total", topic=TOPICS.task_status, outcome="accepted") == 5


def test_a_worker_that_stops_leaves_the_group_so_the_next_one_is_not_kept_waiting(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # The embedded broker numbers the first generation 0, from which aiokafka alone never leaves:
    # the closed member would hold the group until its session timed out.
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        assert _members(broker) == 1
    assert _members(broker) == 0


def _members(broker: EmbeddedBroker) -> int:
    async def describe() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            (response,) = await admin.describe_consumer_groups(["compliance-monitor"])
        finally:
            await admin.close()
        ((_error, _group, _state, _protocol_type, _protocol, members),) = response.groups
        return len(members)

    return asyncio.run(describe())


def test_a_completion_that_omits_the_deadline_title_and_kind_resolves_late_and_the_report_counts_it_late(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # The README's NV-99 sequence, placed ten days ago: its completion repeats none of deadline, title, kind.
    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    deadline = datetime.now(vn).date() - timedelta(days=10)
    started = datetime.combine(deadline - timedelta(days=10), datetime.min.time(), tzinfo=vn) + timedelta(hours=9)
    completed = datetime.combine(deadline + timedelta(days=5), datetime.min.time(), tzinfo=vn) + timedelta(hours=10)
    base = {"source": "nghean-dvc", "unit_id": "VN-22", "task_id": "NV-99"}
    first = {
        **base,
        **{"event_id": "nv99-1", "status": "in_progress", "deadline": deadline.isoformat()},
        **{"occurred_at": started.isoformat(), "title": "Rà soát, cắt giảm thủ tục hành chính"},
    }
    done = {**base, "event_id": "nv99-2", "status": "completed", "occurred_at": completed.isoformat()}
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        produce(broker.bootstrap, TOPICS.task_status, json.dumps(first, ensure_ascii=False).encode(), key=b"VN-22")
        wait_for("NV-99 overdue", lambda: [a for a in _alerts(broker) if a["status"] == "firing"], log=worker.log)
        produce(broker.bootstrap, TOPICS.task_status, json.dumps(done).encode(), key=b"VN-22")

        def resolved() -> list[dict[str, Any]]:
            return [a for a in _alerts(broker) if a["status"] == "resolved"]

        (alert,) = wait_for("NV-99 resolved", resolved, log=worker.log)  # type: ignore[misc]
        assert alert["annotations"]["resolution"] == "completed_late"
        assert alert["annotations"]["late_days"] == "4"
        assert "Rà soát, cắt giảm thủ tục hành chính" in alert["annotations"]["summary"]  # the title stayed
        period = f"{started.date().isoformat()}..{completed.date().isoformat()}"
        url = f"{worker.base_url}/reports?period={period}&unit=VN-22&format=json"

        def report() -> str | None:
            status, body = http_get(url)  # 503 while the history index is still being read
            return body if status == 200 else None

        body = wait_for("the report", report, log=worker.log)
    (unit,) = json.loads(str(body))["units"]
    (item,) = [i for i in unit["items"] if i["task_id"] == "NV-99"]
    assert (item["outcome"], item["days"], item["title"]) == ("late", 4, "Rà soát, cắt giảm thủ tục hành chính")
    assert unit["deadlines"]["late"] >= 1


def test_a_worker_judges_no_absence_before_it_has_read_what_the_broker_held_at_its_start(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # Every rostered unit has issued its 2024 inspection plan and every province has reported an indicator,
    # in records published before the worker starts, behind 40,000 other events: none of them may ever be
    # judged missing (an alert fired at start and resolved once the worker reads on).
    pack = load_pack([BUNDLED_PACK])
    units = sorted(pack.rostered_units)
    now = datetime.now(UTC)
    plans = [
        TaskStatusEvent(
            event_id=f"{unit}-plan",
            source="test-dvc",
            unit_id=unit,
            task_id="KH-2024",
            kind="inspection_plan",
            status=TaskStatus.COMPLETED,
            occurred_at=datetime(2024, 7, 10, 9, tzinfo=UTC),
        )
        for unit in units
    ]
    reports = [
        IndicatorEvent(
            event_id=f"{unit}-online",
            source="test-dvc",
            unit_id=unit,
            indicator="online_dossier_ratio",
            value=0.6,
            occurred_at=now - timedelta(hours=1),
        )
        for unit in units
        if unit.startswith("VN-")
    ]
    asyncio.run(ensure_topics(broker.bootstrap, TOPICS, 2))
    filler = [
        (TOPICS.task_status, b"VN-01", encode_batch(_dossiers(batch, now)))  # Lai Châu: one of each partition's units
        for batch in range(40)
    ]
    publish_records(broker.bootstrap, filler)
    publish_events(broker.bootstrap, [*plans, *reports])
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()

        def all_read() -> bool:
            metrics = worker.metrics()
            tasks = sample(metrics, "compliance_events_total", topic=TOPICS.task_status, outcome="accepted")
            indicators = sample(metrics, "compliance_events_total", topic=TOPICS.indicators, outcome="accepted")
            return (tasks, indicators) == (40_000 + len(plans), len(reports))

        wait_for("every event applied", all_read, timeout=120, log=worker.log)
        time.sleep(3)  # three ticks after the backlog
        judged = [
            (a["rule_id"], a["labels"]["unit_id"], a["status"])
            for a in alert_records(broker.bootstrap)
            if a["rule_id"] in ("inspection-plan-2024", "indicator-stale")
        ]
    assert judged == [], "\n".join(map(str, judged))
