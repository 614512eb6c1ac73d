"""What the processor refuses in a record, and that the rest of the record is applied all the same."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from monitor.kafka.records import InboundRecord, dead_letter_headers, partition_for
from rules.simulation import replay
from tests.conftest import vn
from tests.monitor.worker.fixtures import PARTITIONS, TOPICS, deadline_parts, worker_parts
from tests.monitor.worker.fixtures import count as _count
from tests.monitor.worker.fixtures import record as _record
from tests.rules.fixtures import THRESHOLD_RULES, indicator, pack, task

NOW = vn(2024, 7, 25, 12)
BOUNDS = "indicators:\n  online_dossier_ratio: {min: 0, max: 1}\n"


def _task_json(**fields: object) -> dict[str, object]:
    event = json.loads(task(NOW, deadline=vn(2024, 7, 20)).model_dump_json(exclude_none=True))
    return {**event, **fields}


def _indicator_record(*values: float) -> InboundRecord:
    events = [json.loads(indicator(NOW, 0.5).model_dump_json(exclude_none=True)) | {"value": v} for v in values]
    return InboundRecord(
        TOPICS.indicators, partition_for(b"VN-40", PARTITIONS), 0, b"VN-40", json.dumps(events).encode()
    )


async def test_a_lone_surrogate_refuses_its_item_only_with_a_reason_a_header_can_carry(tmp_path: Path) -> None:
    parts = deadline_parts(tmp_path)
    batch = [_task_json(task_id="T-1"), _task_json(task_id="T-2", title="a\ud800"), _task_json(task_id="T-3")]
    record = _record(json.dumps(batch).encode())
    await parts.processor.on_record(record, PARTITIONS, NOW)
    ((dead, reason),) = parts.outbox.dead
    assert "item 1: field 'title'" in reason and "internal error" not in reason
    assert dict(dead_letter_headers(dead, reason))["dlq_reason"].decode() == reason  # encodable as it is
    state = parts.store.get("VN-40")
    assert state is not None and sorted(state.tasks) == ["T-1", "T-3"]
    assert _count(parts.registry, "accepted") == 2 and _count(parts.registry, "rejected") == 1


async def test_deadlines_at_the_ends_of_the_calendar_get_a_schema_reason_not_an_internal_error(tmp_path: Path) -> None:
    parts = deadline_parts(tmp_path)
    batch = [
        _task_json(task_id="T-1"),
        _task_json(task_id="T-2", deadline="0001-01-01"),
        _task_json(task_id="T-3", deadline="9999-12-31T23:59:59-12:00"),
    ]
    await parts.processor.on_record(_record(json.dumps(batch).encode()), PARTITIONS, NOW)
    ((_dead, reason),) = parts.outbox.dead
    assert "internal error" not in reason
    assert "item 1: field 'deadline': must lie between" in reason and "item 2: field 'deadline'" in reason
    state = parts.store.get("VN-40")
    assert state is not None and sorted(state.tasks) == ["T-1"]


async def test_an_event_from_too_far_ahead_is_refused_counted_and_does_not_make_later_ones_stale(
    tmp_path: Path,
) -> None:
    parts = deadline_parts(tmp_path)
    ahead = (NOW + timedelta(days=2)).isoformat()
    near = (NOW + timedelta(hours=1)).isoformat()
    batch = [
        _task_json(event_id="far", occurred_at=ahead, status="completed"),
        _task_json(event_id="near", occurred_at=near),
    ]
    await parts.processor.on_record(_record(json.dumps(batch).encode()), PARTITIONS, NOW)
    ((_dead, reason),) = parts.outbox.dead
    assert reason.startswith("item 0: field 'occurred_at': ") and "ahead of the worker's clock" in reason
    assert "MONITOR_MAX_CLOCK_SKEW" in reason
    sample = parts.registry.get_sample_value("compliance_events_from_future_total", {"topic": TOPICS.task_status})
    assert sample == 1
    # The far-future event left nothing behind: an event of now is accepted, not stale.
    later = _task_json(event_id="now", occurred_at=(NOW + timedelta(hours=2)).isoformat(), status="completed")
    await parts.processor.on_record(_record(json.dumps(later).encode(), offset=1), PARTITIONS, NOW + timedelta(hours=2))
    assert _count(parts.registry, "stale") == 0 and _count(parts.registry, "accepted") == 2
    state = parts.store.get("VN-40")
    assert state is not None and state.tasks["T-1"].status == "completed"


async def test_indicator_values_outside_their_declared_bounds_are_refused_naming_value_and_bounds(
    tmp_path: Path,
) -> None:
    parts = worker_parts(pack(tmp_path, BOUNDS + THRESHOLD_RULES))
    await parts.processor.on_record(_indicator_record(-5, 1e300, 0.7), PARTITIONS, NOW)
    ((_dead, reason),) = parts.outbox.dead
    assert reason == (
        "item 0: indicator 'online_dossier_ratio': value -5 is outside its bounds [0, 1] declared in the rules; "
        "item 1: indicator 'online_dossier_ratio': value 1e+300 is outside its bounds [0, 1] declared in the rules"
    )
    assert parts.outbox.alerts == []  # -5 used to fire a breach
    state = parts.store.get("VN-40")
    assert state is not None and state.indicators["online_dossier_ratio"].value == 0.7


def test_replay_leaves_out_what_a_worker_refuses(tmp_path: Path) -> None:
    delivered, transitions = replay(pack(tmp_path, BOUNDS + THRESHOLD_RULES), [indicator(NOW, -5)])
    assert (delivered, transitions) == (0, [])
