"""A flood of made-up task kinds and indicator names, through a real worker: bounded memory, series and answers.

On the landed product, 50,000 distinct kinds then 50,000 indicator names took
``/metrics`` from 1,107 to 201,107 series and ``/api/v1/units`` to 11.4 MB.
Here one unit gets 3,000 of each, at the default caps (50 kinds, 200
indicators per unit): the worker refuses what is over the caps, counts and
dead-letters it, keeps its metrics to names the pack knows, and pages its
list answers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import _produce, _run, http_get, read_all, sample, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()
FLOOD = 3_000
KINDS, INDICATORS = 50, 200  # the worker's default caps


def _series(metrics_text: str) -> int:
    return sum(1 for line in metrics_text.splitlines() if line and not line.startswith("#"))


def _batches(events: list[dict[str, object]]) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    return [(b"VN-22", json.dumps(events[i : i + 500]).encode(), []) for i in range(0, len(events), 500)]


def test_made_up_kinds_and_indicators_are_capped_counted_and_kept_out_of_metrics(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    tasks = [
        {
            "event_id": f"k-{n}",
            "source": "flood",
            "unit_id": "VN-22",
            "task_id": f"T-{n}",
            "kind": f"made-up-{n}",
            "status": "in_progress",
            "deadline": (now + timedelta(days=30)).date().isoformat(),
            "occurred_at": now.isoformat(),
        }
        for n in range(FLOOD)
    ]
    indicators = [
        {
            "event_id": f"i-{n}",
            "source": "flood",
            "unit_id": "VN-22",
            "indicator": f"made_up_{n}",
            "value": 0.5,
            "occurred_at": now.isoformat(),
        }
        for n in range(FLOOD)
    ]
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready(90)
        baseline = _series(worker.metrics())
        _run(_produce(broker.bootstrap, TOPICS.task_status, _batches(tasks)))
        _run(_produce(broker.bootstrap, TOPICS.indicators, _batches(indicators)))

        def outcome(text: str, name: str) -> float:
            return sum(
                sample(text, "compliance_events_total", topic=topic, outcome=name) or 0
                for topic in (TOPICS.task_status, TOPICS.indicators)
            )

        def settled() -> bool:
            text = worker.metrics()
            return outcome(text, "accepted") + outcome(text, "rejected") >= 2 * FLOOD

        wait_for("every event accepted or refused", settled, timeout=120, log=worker.log)
        text = worker.metrics()
        assert outcome(text, "accepted") == KINDS + INDICATORS
        assert sample(text, "compliance_events_over_unit_cap_total", cap="kinds") == FLOOD - KINDS
        assert sample(text, "compliance_events_over_unit_cap_total", cap="indicators") == FLOOD - INDICATORS
        # No series per made-up name: kinds no rule names count as "other", unknown indicators get no value series.
        assert "made-up-" not in text and "made_up_" not in text
        assert sample(text, "compliance_tasks", unit_id="VN-22", kind="other", status="in_progress") == KINDS
        assert sample(text, "compliance_indicators_unlisted") == INDICATORS
        assert _series(text) < baseline + 100, (baseline, _series(text))

        status, body = http_get(worker.base_url + "/api/v1/units?limit=5000")
        every = json.loads(body)
        assert status == 200 and every["next_offset"] is None and len(every["units"]) == every["count"] > 2
        nghe_an = next(u for u in every["units"] if u["unit_id"] == "VN-22")
        assert len(nghe_an["indicators"]) == INDICATORS  # what the unit holds: capped
        first, second = (json.loads(http_get(f"{worker.base_url}/api/v1/units?limit=2&offset={o}")[1]) for o in (0, 2))
        assert first["next_offset"] == 2 and first["units"] + second["units"] == every["units"][:4]
        assert http_get(worker.base_url + "/api/v1/units?limit=0")[0] == 400
        assert http_get(worker.base_url + "/api/v1/alerts?offset=-1")[0] == 400
        # A typo in a filter is an error naming what is allowed, not an empty answer.
        status, body = http_get(worker.base_url + "/api/v1/alerts?severity=critcal")
        assert status == 400 and "critical" in json.loads(body)["error"]
        status, body = http_get(worker.base_url + "/api/v1/alerts?rule_id=task-overdu")
        assert status == 400 and "task-overdue" in json.loads(body)["error"]
        assert http_get(worker.base_url + "/api/v1/alerts?severity=critical&rule_id=task-overdue")[0] == 200

    reasons = [dict(r.headers)["dlq_reason"].decode() for r in read_all(broker.bootstrap, TOPICS.dead_letter)]
    refused = [json.loads(r.value) for r in read_all(broker.bootstrap, TOPICS.dead_letter)]
    assert sum(len(batch) for batch in refused) == 2 * FLOOD - KINDS - INDICATORS  # each refused event, once
    assert any("MONITOR_MAX_KINDS_PER_UNIT" in reason for reason in reasons)
    assert any("MONITOR_MAX_INDICATORS_PER_UNIT" in reason for reason in reasons)
