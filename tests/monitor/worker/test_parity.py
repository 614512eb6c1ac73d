"""The worker's processor and the rule test runner give the same alerts for the same timeline."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry

from events.models import Event, IndicatorEvent, TaskStatus
from monitor.kafka.records import InboundRecord, partition_for
from monitor.kafka.topics import Topics
from monitor.metrics import Metrics
from monitor.state.store import ItemStore
from monitor.worker.processor import Processor
from rules.loading import BUNDLED_PACK, load_pack
from rules.simulation import Simulation
from tests.conftest import vn
from tests.monitor.state.fixtures import DictItemLog
from tests.monitor.worker.fixtures import RecordingOutbox
from tests.rules.fixtures import indicator, task

PARTITIONS = 3
TOPICS = Topics()


def _timeline() -> list[tuple[datetime, Event]]:
    return [
        (vn(2024, 7, 2, 9), task(vn(2024, 7, 2, 9), unit="VN-22", task_id="KH", kind="inspection_plan")),
        (vn(2024, 7, 3, 9), indicator(vn(2024, 7, 3, 9), 0.458, unit="VN-22")),
        (vn(2024, 7, 3, 9), indicator(vn(2024, 7, 3, 9), 0.172, unit="VN-57", name="eid_activation_ratio")),
        (vn(2024, 7, 5, 8), task(vn(2024, 7, 5, 8), unit="VN-02", task_id="NV-1", deadline=vn(2024, 7, 15))),
        (
            vn(2024, 7, 6, 8),
            task(vn(2024, 7, 6, 8), unit="VN-02", task_id="HS-9", kind="dossier", deadline=vn(2024, 7, 9)),
        ),
        (
            vn(2024, 7, 10, 9),
            task(vn(2024, 7, 10, 9), TaskStatus.COMPLETED, unit="VN-02", task_id="KH", kind="inspection_plan"),
        ),
        (vn(2024, 7, 12, 9), indicator(vn(2024, 7, 12, 9), 0.55, unit="VN-22")),
        (
            vn(2024, 7, 22, 9),
            task(vn(2024, 7, 22, 9), TaskStatus.COMPLETED, unit="VN-22", task_id="KH", kind="inspection_plan"),
        ),
        (
            vn(2024, 7, 23, 9),
            task(vn(2024, 7, 23, 9), TaskStatus.COMPLETED, unit="VN-02", task_id="NV-1", deadline=vn(2024, 7, 15)),
        ),
    ]


async def test_processor_with_ticks_matches_the_simulation() -> None:
    pack = load_pack([BUNDLED_PACK])
    start, end = vn(2024, 7, 1), vn(2024, 8, 15)
    timeline = _timeline()

    simulation = Simulation.start(pack, start)
    for at, event in timeline:
        simulation.deliver(event, at)
    simulation.run_until(end)

    outbox = RecordingOutbox()
    processor = Processor(pack, ItemStore(DictItemLog()), outbox, Metrics(CollectorRegistry(), "t"), TOPICS, 1 << 20)
    pending = list(timeline)
    clock = start
    while clock <= end:  # an hourly wall-clock tick, events delivered between ticks
        while pending and pending[0][0] <= clock:
            at, event = pending.pop(0)
            key = event.unit_id.encode()
            topic = TOPICS.indicators if isinstance(event, IndicatorEvent) else TOPICS.task_status
            record = InboundRecord(topic, partition_for(key, PARTITIONS), 0, key, event.model_dump_json().encode())
            await processor.on_record(record, PARTITIONS, at)
        for partition in range(PARTITIONS):
            await processor.on_tick(partition, PARTITIONS, clock)
        clock += timedelta(hours=1)

    def shape(transitions: list) -> list[tuple[str, str, str, str | None, datetime]]:  # type: ignore[type-arg]
        return sorted(
            (t.fingerprint, t.status, t.stage, t.annotations.get("warn_before"), t.starts_at) for t in transitions
        )

    expected = shape([t for _, t in simulation.transitions])
    assert len(expected) > 150  # 86 rostered units, warnings and breaches: a real workload
    assert shape(outbox.alerts) == expected
    resolutions = {
        (t.labels["unit_id"], t.rule_id): t.annotations.get("resolution")
        for t in outbox.alerts
        if t.status == "resolved"
    }
    assert resolutions[("VN-22", "inspection-plan-2024")] == "completed_late"
    assert resolutions[("VN-02", "task-overdue")] == "completed_late"
