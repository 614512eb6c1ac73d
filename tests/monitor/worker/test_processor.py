from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec
import pytest
from prometheus_client import CollectorRegistry

import monitor.worker.processor
from monitor.exceptions import Fenced, StoreUnavailable
from monitor.kafka.records import partition_for
from monitor.metrics import Metrics
from monitor.publishers import admission, load_registry
from monitor.state.keys import ENCODER, UNIT, UNIT_ITEM, item_key
from monitor.state.store import ItemStore
from monitor.state.stored import StoredTasks
from monitor.worker.checkpoint import unpublished
from monitor.worker.processor import Processor
from rules.state import AlertTransition, TaskState
from tests.conftest import vn
from tests.monitor.state.fixtures import DictItemLog
from tests.monitor.worker.fixtures import (
    PARTITIONS,
    TOPICS,
    RecordingOutbox,
    deadline_parts,
    fault_on,
    worker_parts,
)
from tests.monitor.worker.fixtures import count as _count
from tests.monitor.worker.fixtures import neighbour_of as _neighbour_of
from tests.monitor.worker.fixtures import record as _record
from tests.rules.fixtures import DEADLINE_RULES, pack, task, transition


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Processor, RecordingOutbox, CollectorRegistry, ItemStore]:
    parts = deadline_parts(tmp_path)
    return parts.processor, parts.outbox, parts.registry, parts.store


async def test_overdue_event_fires_and_the_tick_does_not_repeat_it(setup) -> None:  # type: ignore[no-untyped-def]
    processor, outbox, registry, _store = setup
    event = task(vn(2024, 7, 25), deadline=vn(2024, 7, 20))
    record = _record(event.model_dump_json().encode())
    await processor.on_record(record, PARTITIONS, vn(2024, 7, 25, 9))
    assert [(a.status, a.stage) for a in outbox.alerts] == [("firing", "overdue")]
    assert await processor.on_tick(record.partition, PARTITIONS, vn(2024, 7, 26)) == 0
    assert len(outbox.alerts) == 1
    assert _count(registry, "accepted") == 1


async def test_a_deadline_passing_with_no_event_fires_on_the_tick_once(setup) -> None:  # type: ignore[no-untyped-def]
    processor, outbox, _registry, _store = setup
    record = _record(task(vn(2024, 7, 19, 12), deadline=vn(2024, 7, 20)).model_dump_json().encode())
    await processor.on_record(record, PARTITIONS, vn(2024, 7, 19, 12))
    assert [(a.stage, a.annotations.get("warn_before")) for a in outbox.alerts] == [("due_soon", "1d")]
    assert await processor.on_tick(record.partition, PARTITIONS, vn(2024, 7, 19, 23)) == 0  # nothing due yet
    assert await processor.on_tick(record.partition, PARTITIONS, vn(2024, 7, 20, 0, 0, 1)) == 1
    assert await processor.on_tick(record.partition, PARTITIONS, vn(2024, 7, 20, 0, 0, 2)) == 0
    assert [(a.status, a.stage) for a in outbox.alerts] == [("firing", "due_soon"), ("firing", "overdue")]


async def test_a_deadline_moved_while_still_missed_is_written_again_with_the_new_due(setup) -> None:  # type: ignore[no-untyped-def]
    processor, outbox, _registry, _store = setup
    first = task(vn(2024, 7, 25), deadline=vn(2024, 7, 20))
    await processor.on_record(_record(first.model_dump_json().encode()), PARTITIONS, vn(2024, 7, 25, 9))
    moved = task(vn(2024, 7, 26), deadline=vn(2024, 7, 22), event_id="e-moved")
    await processor.on_record(_record(moved.model_dump_json().encode(), offset=1), PARTITIONS, vn(2024, 7, 26, 9))
    written = [(a.stage, a.annotations["due"][:10], a.starts_at) for a in outbox.alerts]
    # Not taken for a repeat of the first record (same status and stage): the feed says the new date.
    assert written == [("overdue", "2024-07-20", vn(2024, 7, 20)), ("overdue", "2024-07-22", vn(2024, 7, 20))]
    await processor.on_record(_record(moved.model_dump_json().encode(), offset=2), PARTITIONS, vn(2024, 7, 26, 10))
    assert len(outbox.alerts) == 2  # the same deadline again is a repeat


async def test_malformed_record_goes_to_dead_letter_and_the_next_is_processed(setup) -> None:  # type: ignore[no-untyped-def]
    processor, outbox, registry, _store = setup
    bad = _record(b"{not json", offset=5)
    await processor.on_record(bad, PARTITIONS, vn(2024, 7, 25))
    good = _record(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)).model_dump_json().encode(), offset=6)
    await processor.on_record(good, PARTITIONS, vn(2024, 7, 25))
    ((record, reason),) = outbox.dead
    assert record.value == b"{not json" and record.offset == 5
    assert "not JSON" in reason
    assert _count(registry, "rejected") == 1 and _count(registry, "accepted") == 1
    assert len(outbox.alerts) == 1


async def test_event_in_the_wrong_partition_is_forwarded_not_processed(setup) -> None:  # type: ignore[no-untyped-def]
    processor, outbox, _registry, store = setup
    event = task(vn(2024, 7, 25), deadline=vn(2024, 7, 20))
    right = partition_for(b"VN-40", PARTITIONS)
    await processor.on_record(
        _record(event.model_dump_json().encode(), partition=(right + 1) % PARTITIONS), PARTITIONS, vn(2024, 7, 25)
    )
    assert outbox.alerts == [] and store.get("VN-40") is None
    ((topic, key, value),) = outbox.forwarded
    assert (topic, key) == (TOPICS.task_status, b"VN-40")
    assert json.loads(value)["event_id"] == event.event_id


async def test_a_unit_s_events_forwarded_from_one_record_go_in_one_record_in_order(setup) -> None:  # type: ignore[no-untyped-def]
    """A batch keyed wrongly (a merged province's old code, another partitioner) costs one record per unit, not
    one per event; read in their own partition, every event is applied."""
    processor, outbox, registry, store = setup
    right = partition_for(b"VN-40", PARTITIONS)
    other = next(u for u in (f"VN-{n:02d}" for n in range(1, 99)) if partition_for(u.encode(), PARTITIONS) != right)
    wrong = next(p for p in range(PARTITIONS) if p not in {right, partition_for(other.encode(), PARTITIONS)})
    events = [task(vn(2024, 7, 25), task_id=f"T-{n}", unit="VN-40" if n % 3 else other) for n in range(7)]
    batch = b"[" + b",".join(e.model_dump_json().encode() for e in events) + b"]"
    await processor.on_record(_record(batch, partition=wrong), PARTITIONS, vn(2024, 7, 25))
    assert [key for _, key, _ in outbox.forwarded] == [other.encode(), b"VN-40"]  # in the order units first came
    by_unit = {key.decode(): json.loads(value) for _, key, value in outbox.forwarded}
    assert [e["task_id"] for e in by_unit["VN-40"]] == ["T-1", "T-2", "T-4", "T-5"]
    assert [e["task_id"] for e in by_unit[other]] == ["T-0", "T-3", "T-6"]
    for offset, (_, key, value) in enumerate(outbox.forwarded):
        await processor.on_record(_record(value, unit=key.decode(), offset=10 + offset), PARTITIONS, vn(2024, 7, 25))
    assert _count(registry, "accepted") == 7
    assert sorted(store.get("VN-40").tasks) == ["T-1", "T-2", "T-4", "T-5"]
    assert sorted(store.get(other).tasks) == ["T-0", "T-3", "T-6"]


async def test_batch_with_a_bad_item_processes_the_rest(setup) -> None:  # type: ignore[no-untyped-def]
    processor, outbox, registry, store = setup
    good = json.loads(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)).model_dump_json())
    batch = json.dumps([good, {**good, "event_id": "x", "status": "done"}]).encode()
    await processor.on_record(_record(batch), PARTITIONS, vn(2024, 7, 25))
    assert len(outbox.alerts) == 1
    assert "item 1: field 'status'" in outbox.dead[0][1]
    assert _count(registry, "rejected") == 1 and _count(registry, "accepted") == 1
    assert store.get("VN-40") is not None


async def test_a_batch_keeps_every_task_and_a_new_worker_reads_the_same_state(tmp_path: Path) -> None:
    table: dict[bytes, bytes] = {}
    rules = pack(tmp_path, DEADLINE_RULES)
    processor = Processor(
        rules, ItemStore(DictItemLog(table)), RecordingOutbox(), Metrics(CollectorRegistry(), "t"), TOPICS, 1 << 20
    )
    items = [
        json.loads(task(vn(2024, 7, 18), task_id=f"T-{n}", deadline=vn(2024, 7, 20 + n)).model_dump_json())
        for n in range(3)
    ]
    record = _record(json.dumps(items).encode())
    await processor.on_record(record, PARTITIONS, vn(2024, 7, 19))
    await processor.on_tick(record.partition, PARTITIONS, vn(2024, 7, 20, 0, 0, 1))  # T-0 overdue, the others due soon
    held = processor.unit_state("VN-40")
    assert held is not None and sorted(held.tasks) == ["T-0", "T-1", "T-2"]
    assert sorted(a.stage for a in held.alerts.values()) == ["due_soon", "due_soon", "overdue"]
    # Another worker taking the partition over reads the items back: same tasks, alerts and deadline index.
    fresh = worker_parts(rules, table=table)
    await fresh.takeover.reconcile(record.partition, PARTITIONS, vn(2024, 7, 20, 0, 0, 2))
    again = fresh.processor.unit_state("VN-40")
    assert again is not None
    assert (again.tasks, again.alerts, again.wakeups) == (held.tasks, held.alerts, held.wakeups)
    assert (again.next_wakeup, again.last_event_at) == (held.next_wakeup, held.last_event_at)


async def test_an_evaluation_fault_dead_letters_that_units_events_and_keeps_the_rest(
    setup, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    processor, outbox, registry, store = setup
    partition = partition_for(b"VN-40", PARTITIONS)
    neighbour = _neighbour_of("VN-40")
    fault_on(monkeypatch, "boom")
    at, due = vn(2024, 7, 25), vn(2024, 7, 20)
    items = [
        task(at, task_id="A", deadline=due, event_id="a"),
        task(at, task_id="N", deadline=due, event_id="n", unit=neighbour),
        task(at, task_id="B", deadline=due, event_id="boom"),
        task(at, task_id="C", deadline=due, event_id="c"),
    ]
    record = _record(json.dumps([json.loads(e.model_dump_json()) for e in items]).encode(), partition=partition)
    await processor.on_record(record, PARTITIONS, at)
    ((dead, reason),) = outbox.dead
    assert [e["event_id"] for e in json.loads(dead.value)] == ["a", "boom", "c"]  # all of VN-40's, in order
    assert "internal error: RuntimeError: engine fault" in reason and dead.offset == record.offset
    assert store.get("VN-40") is None  # nothing half-done kept
    kept = store.get(neighbour)
    assert kept is not None and list(kept.tasks) == ["N"]
    assert _count(registry, "rejected") == 3 and _count(registry, "accepted") == 1  # each event counted once


async def test_an_evaluation_fault_on_a_tick_skips_only_that_unit(setup, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    processor, outbox, _registry, store = setup
    partition = partition_for(b"VN-40", PARTITIONS)
    neighbour = _neighbour_of("VN-40")
    for unit in ("VN-40", neighbour):
        event = task(vn(2024, 7, 19, 12), unit=unit, deadline=vn(2024, 7, 22))
        await processor.on_record(_record(event.model_dump_json().encode(), unit=unit), PARTITIONS, vn(2024, 7, 19, 12))
    real = monitor.worker.processor.advance

    def faulty(pack, state, now):  # type: ignore[no-untyped-def]
        if state.unit_id == "VN-40":
            raise RuntimeError("engine fault")
        return real(pack, state, now)

    monkeypatch.setattr(monitor.worker.processor, "advance", faulty)
    outbox.alerts.clear()
    assert await processor.on_tick(partition, PARTITIONS, vn(2024, 7, 22, 0, 0, 1)) == 2
    assert [(a.labels["unit_id"], a.stage) for a in outbox.alerts] == [(neighbour, "overdue")]
    held = store.get("VN-40")
    assert held is not None and "task:T-1" in held.wakeups  # still due: retried on the next tick


async def test_redelivered_record_is_a_duplicate(setup) -> None:  # type: ignore[no-untyped-def]
    processor, outbox, registry, _store = setup
    record = _record(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)).model_dump_json().encode())
    await processor.on_record(record, PARTITIONS, vn(2024, 7, 25))
    await processor.on_record(record, PARTITIONS, vn(2024, 7, 25, 1))
    assert len(outbox.alerts) == 1
    assert _count(registry, "duplicate") == 1


async def test_owned_states_lists_units_of_owned_partitions(setup) -> None:  # type: ignore[no-untyped-def]
    processor, _outbox, _registry, _store = setup
    for unit in ("VN-40", "VN-02", "VN-57"):
        record = _record(task(vn(2024, 7, 1), unit=unit).model_dump_json().encode(), unit=unit)
        await processor.on_record(record, PARTITIONS, vn(2024, 7, 1))
    everything = {s.unit_id for s in processor.owned_states(set(range(PARTITIONS)))}
    assert everything == {"VN-40", "VN-02", "VN-57"}
    only = partition_for(b"VN-40", PARTITIONS)
    assert "VN-40" in {s.unit_id for s in processor.owned_states({only})}


async def test_state_is_durable_before_its_alert_is_published(tmp_path: Path) -> None:
    parts = deadline_parts(tmp_path)
    order: list[str] = []
    write, publish = parts.log.write, parts.outbox.publish

    async def logged_write(partition: int, writes: list[tuple[bytes, bytes | None]]) -> None:
        order.append("state")
        await write(partition, writes)

    async def logged_publish(transitions: Sequence[AlertTransition]) -> None:
        order.append("alert")
        await publish(transitions)

    parts.log.write = logged_write  # type: ignore[method-assign]
    parts.outbox.publish = logged_publish  # type: ignore[method-assign]
    record = _record(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)).model_dump_json().encode())
    await parts.processor.on_record(record, PARTITIONS, vn(2024, 7, 25))
    assert order == ["state", "alert"]
    (batch,) = parts.log.batches
    parts_in_order = [key.split(b"\x1f", 1)[1][:1] for key, _ in batch]
    assert parts_in_order[0] == b"o" and parts_in_order[-2:] == [b"s", b""]  # outbox first, the dedup keys last


async def test_a_failing_store_pauses_processing_and_publishes_nothing_until_it_works(tmp_path: Path) -> None:
    waits: list[float] = []
    parts = deadline_parts(tmp_path)
    health = parts.processor.checkpoint._health

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        assert parts.outbox.alerts == [] and parts.outbox.dead == []  # nothing leaves while the store fails
        assert "store" in health.problems()
        if len(waits) == 4:
            parts.log.failing = None  # space is back

    parts.processor.checkpoint._sleep = sleep
    parts.log.failing = "No space left on device"
    record = _record(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)).model_dump_json().encode())
    await parts.processor.on_record(record, PARTITIONS, vn(2024, 7, 25))
    assert waits == [0.1, 0.2, 0.4, 0.8]  # backing off
    assert [(a.status, a.stage) for a in parts.outbox.alerts] == [("firing", "overdue")]
    assert parts.outbox.dead == [] and health.problems() == {}
    assert parts.registry.get_sample_value("compliance_state_store_failures_total") == 4
    assert _count(parts.registry, "accepted") == 1 and _count(parts.registry, "rejected") == 0


_WEEK = transition(stage="due_soon", severity="warning", annotations={"summary": "s", "warn_before": "7d"})
_OVERDUE = transition()
_DONE = transition(status="resolved", ends_at=vn(2024, 7, 26))
_EARLIER_CYCLE = transition(starts_at=vn(2024, 1, 1))


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (None, [_WEEK, _OVERDUE, _DONE]),
        (_WEEK, [_OVERDUE, _DONE]),
        (_OVERDUE, [_DONE]),
        (_DONE, []),
        (_EARLIER_CYCLE, [_WEEK, _OVERDUE, _DONE]),  # the topic ends with an older cycle: all of this one is new
    ],
)
def test_unpublished_is_what_follows_the_topics_last_record(
    last: AlertTransition | None, expected: list[AlertTransition]
) -> None:
    assert unpublished([_WEEK, _OVERDUE, _DONE], last) == expected


async def test_a_fenced_worker_writes_and_publishes_nothing(tmp_path: Path) -> None:
    async def fenced() -> bool:
        return False

    parts = deadline_parts(tmp_path, may_act=fenced)
    record = _record(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)).model_dump_json().encode())
    with pytest.raises(Fenced):
        await parts.processor.on_record(record, PARTITIONS, vn(2024, 7, 25))
    assert parts.log.batches == [] and parts.outbox.alerts == [] and parts.outbox.dead == []


async def test_gathered_writes_are_published_only_once_durable_and_a_failed_flush_loses_nothing(
    tmp_path: Path,
) -> None:
    parts = deadline_parts(tmp_path, max_staged=1_000)  # as the worker runs it: many records, one flush
    other = next(u for u in (f"VN-{n:02d}" for n in range(1, 99)) if _partition(u) != _partition("VN-40"))
    for unit in ("VN-40", other):
        event = task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), unit=unit)
        await parts.processor.on_record(
            _record(event.model_dump_json().encode(), unit=unit), PARTITIONS, vn(2024, 7, 25)
        )
    assert parts.outbox.alerts == [] and parts.log.batches == []  # handled, not durable: nothing visible
    staged = parts.store.staged()
    assert staged > 0
    parts.log.failing = "No space left on device"
    with pytest.raises(StoreUnavailable):
        await parts.processor.checkpoint.flush(retry=False)
    assert parts.outbox.alerts == [] and parts.store.staged() == staged  # still staged, whole
    parts.log.failing = None
    assert await parts.processor.checkpoint.flush() == 2
    assert sorted(a.unit_id for a in parts.outbox.alerts) == sorted(["VN-40", other])
    assert len(parts.log.batches) == 2  # one batch per partition
    again = deadline_parts(tmp_path, table=parts.log.table)  # the next owner reads what was flushed
    again.processor.load(set(range(PARTITIONS)), PARTITIONS)
    assert again.store.get("VN-40") is not None and again.store.get(other) is not None


async def test_a_partition_whose_write_failed_keeps_it_under_newer_writes(tmp_path: Path) -> None:
    parts = deadline_parts(tmp_path, max_staged=1_000)
    other = next(u for u in (f"VN-{n:02d}" for n in range(1, 99)) if _partition(u) != _partition("VN-40"))
    for unit in ("VN-40", other):
        event = task(vn(2024, 7, 19), deadline=vn(2024, 7, 30), unit=unit)
        await parts.processor.on_record(
            _record(event.model_dump_json().encode(), unit=unit), PARTITIONS, vn(2024, 7, 19)
        )
    parts.log.failing, parts.log.failing_partitions = "I/O error", {_partition(other)}
    with pytest.raises(StoreUnavailable):
        await parts.processor.checkpoint.flush(retry=False)
    assert _stored_status(parts.log.table, "VN-40") == "in_progress" and _stored_status(parts.log.table, other) is None
    done = task(vn(2024, 7, 20), deadline=vn(2024, 7, 30), unit=other, status="completed")
    await parts.processor.on_record(_record(done.model_dump_json().encode(), unit=other), PARTITIONS, vn(2024, 7, 20))
    parts.log.failing = None
    await parts.processor.checkpoint.flush()
    assert _stored_status(parts.log.table, other) == "completed"  # the newer write, not the one that failed
    assert parts.store.staged() == 0


def _partition(unit: str) -> int:
    return partition_for(unit.encode(), PARTITIONS)


def _stored_status(table: dict[bytes, bytes], unit: str) -> str | None:
    raw = table.get(f"{unit}\x1fstask:T-1".encode())
    return json.loads(raw)["task"]["status"] if raw is not None else None


@pytest.mark.parametrize(
    ("catching_up", "expected"), [(True, []), (False, [("firing", "overdue"), ("resolved", None)])]
)
async def test_a_backlog_is_judged_in_event_time_so_a_task_completed_on_time_never_fires(
    tmp_path: Path, catching_up: bool, expected: list[tuple[str, str | None]]
) -> None:
    # In progress since 1/7 with a deadline of 20/7, completed on 18/7: both on the broker when the worker took
    # the partition over on 25/7. Judged at 25/7 one by one, the first fired "overdue" and the second resolved it.
    parts = deadline_parts(tmp_path)
    started = task(vn(2024, 7, 1), deadline=vn(2024, 7, 20), event_id="e-1")
    done = task(vn(2024, 7, 18), "completed", deadline=vn(2024, 7, 20), event_id="e-2")
    for offset, event in enumerate((started, done)):
        record = _record(event.model_dump_json().encode(), offset=offset)
        await parts.processor.on_record(record, PARTITIONS, vn(2024, 7, 25), catching_up=catching_up)
    shown = [(a.status, a.stage if a.status == "firing" else None) for a in parts.outbox.alerts]
    assert shown == expected


async def test_a_task_with_a_firing_alert_is_judged_now_even_in_a_backlog(tmp_path: Path) -> None:
    parts = deadline_parts(tmp_path)
    started = task(vn(2024, 7, 1), deadline=vn(2024, 7, 20), event_id="e-1")
    await parts.processor.on_record(_record(started.model_dump_json().encode()), PARTITIONS, vn(2024, 7, 1))
    await parts.processor.on_tick(_record(b"").partition, PARTITIONS, vn(2024, 8, 10))  # overdue since 20/7
    # A later update (5/7), read from a backlog after the alert fired: judged at its own time it would take
    # the alert back in July; judged now, the task is still overdue, and nothing is published.
    update = task(vn(2024, 7, 5), deadline=vn(2024, 7, 20), event_id="e-2", title="Rà soát")
    record = _record(update.model_dump_json().encode(), offset=1)
    await parts.processor.on_record(record, PARTITIONS, vn(2024, 8, 11), catching_up=True)
    assert [(a.status, a.stage) for a in parts.outbox.alerts] == [("firing", "overdue")]


async def test_an_event_its_publisher_may_not_report_is_dead_lettered_with_the_registry_s_reason(
    tmp_path: Path,
) -> None:
    parts = deadline_parts(tmp_path)
    rules = pack(tmp_path, DEADLINE_RULES)
    text = (
        "allow_unrostered: true\npublishers:\n"
        "  - id: nghean-dvc\n    units: [VN-22]\n  - id: binhthuan-dvc\n    units: [VN-40]\n"
    )
    (tmp_path / "publishers.yaml").write_text(text, encoding="utf-8")
    parts.processor.use_pack(rules, admission(load_registry(tmp_path / "publishers.yaml", rules), rules))
    assert parts.registry.get_sample_value("compliance_publisher_registry_enforced") == 1
    # Nghệ An's system marks Bình Thuận's task complete, in one record with Bình Thuận's own report.
    own = task(vn(2024, 7, 19), deadline=vn(2024, 7, 30), source="binhthuan-dvc")
    forged = task(vn(2024, 7, 20), "completed", deadline=vn(2024, 7, 30), source="nghean-dvc")
    stranger = task(vn(2024, 7, 20), "completed", deadline=vn(2024, 7, 30), source="someone")
    batch = json.dumps([json.loads(e.model_dump_json()) for e in (own, forged, stranger)]).encode()
    await parts.processor.on_record(_record(batch), PARTITIONS, vn(2024, 7, 20))
    held = parts.store.get("VN-40")
    assert held is not None and held.tasks["T-1"].status == "in_progress"  # Bình Thuận's state is its own report
    ((letter, reason),) = parts.outbox.dead
    assert "publisher 'nghean-dvc' may not report unit 'VN-40'" in reason and "not in the publisher registry" in reason
    assert letter.value == batch and "item 1: publisher 'nghean-dvc'" in reason and "item 2:" in reason

    def sample(name: str, **labels: str) -> float | None:
        return parts.registry.get_sample_value(name, labels)

    assert sample("compliance_publisher_refusals_total", publisher="nghean-dvc", reason="not_its_unit") == 1
    assert sample("compliance_publisher_refusals_total", publisher="_unregistered", reason="unregistered") == 1
    assert sample("compliance_publisher_events_total", publisher="binhthuan-dvc", outcome="accepted") == 1
    assert sample("compliance_publisher_events_total", publisher="nghean-dvc", outcome="refused") == 1
    assert sample("compliance_publisher_last_seen_timestamp_seconds", publisher="binhthuan-dvc") is not None
    # Open mode again: the same forged event is applied (and the metric says the registry is off).
    parts.processor.use_pack(rules)
    assert parts.registry.get_sample_value("compliance_publisher_registry_enforced") == 0
    await parts.processor.on_record(_record(forged.model_dump_json().encode()), PARTITIONS, vn(2024, 7, 20))
    again = parts.store.get("VN-40")
    assert again is not None and again.tasks["T-1"].status == "completed"


async def test_a_pack_change_moves_a_unit_a_part_per_tick_and_events_meanwhile_are_judged_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(monitor.worker.processor, "MOVE_PART", 4)
    monkeypatch.setattr(monitor.worker.processor, "MOVE_SECONDS", 0.0)  # one part per tick: the first
    parts = deadline_parts(tmp_path)
    processor, outbox = parts.processor, parts.outbox
    at = vn(2024, 7, 1, 9)
    for n in range(10):  # due 20/7: no warning yet (7 days ahead at most)
        event = task(at, task_id=f"T-{n}", deadline=vn(2024, 7, 20), event_id=f"e-{n}")
        record = _record(event.model_dump_json().encode())
        await processor.on_record(record, PARTITIONS, at)
    assert outbox.alerts == []
    longer = pack(tmp_path, DEADLINE_RULES.replace("warn_before: [7d, 1d]", "warn_before: [30d, 7d, 1d]"))
    processor.use_pack(longer)
    now = vn(2024, 7, 2, 9)
    warned = lambda: sorted(a.labels["task_id"] for a in outbox.alerts)  # noqa: E731
    await processor.on_tick(record.partition, PARTITIONS, now)
    assert warned() == ["T-0", "T-1", "T-2", "T-3"], "a part of 4 tasks per tick"
    late = task(now, task_id="T-8", deadline=vn(2024, 7, 20), event_id="e-late", title="again")
    await processor.on_record(_record(late.model_dump_json().encode()), PARTITIONS, now)
    assert "T-8" in warned(), "an event's own task is judged under the new pack at once"
    state = processor.unit_state("VN-40")
    assert state is not None and state.pack_version != longer.version
    for _ in range(3):
        await processor.on_tick(record.partition, PARTITIONS, now)
    assert warned() == sorted(f"T-{n}" for n in range(10)), "every task warned once, T-8 not twice"
    state = processor.unit_state("VN-40")
    assert state is not None and state.pack_version == longer.version


async def test_a_unit_counted_again_after_a_takeover_is_counted_in_slices_the_event_loop_turning_between(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An event read again after a takeover and found applied has its unit's tasks counted again (``_recount_once``):
    1,000 at a time, the event loop turning between two (a unit of 100,000 dossiers held it 1.4 to 2.4 s at once)."""
    parts = deadline_parts(tmp_path)
    events = [task(vn(2024, 7, 1), task_id=f"T-{n}", deadline=vn(2024, 9, 20), event_id=f"e-{n}") for n in range(2_500)]
    batch = json.dumps([json.loads(e.model_dump_json()) for e in events]).encode()
    await parts.processor.on_record(_record(batch), PARTITIONS, vn(2024, 7, 1))
    again = deadline_parts(tmp_path, table=parts.log.table)  # the next owner of the partition
    again.processor.load(set(range(PARTITIONS)), PARTITIONS)
    held = again.store.get("VN-40")
    assert held is not None and isinstance(held.tasks, StoredTasks)
    held.tasks = _Counted(held.tasks)
    read_at_turns: list[int] = []  # the tasks read so far, at each turn of the event loop

    async def turning() -> None:
        while True:
            read_at_turns.append(_Counted.read)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(turning())
    await asyncio.sleep(0)
    read_again = _record(events[-1].model_dump_json().encode(), offset=1)
    with caplog.at_level(logging.INFO, logger="monitor.worker.processor"):
        await again.processor.on_record(read_again, PARTITIONS, vn(2024, 7, 2), catching_up=True)
    read_at_turns.append(_Counted.read)
    watcher.cancel()
    assert "its 2500 tasks counted again from their items" in caplog.text
    assert read_at_turns[-1] >= 2_500  # every task read
    assert max(b - a for a, b in itertools.pairwise(read_at_turns)) <= 1_000  # and never more between two turns
    assert held.task_tally() == {("task", "in_progress"): 2_500} and held.last_event_at == vn(2024, 7, 1)


async def test_a_unit_whose_recount_went_with_a_fault_in_its_record_is_counted_again_by_its_next_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault in a record drops its unit's changes there (read again), its counts made again among them: the unit
    is counted again by the next event read again, not taken as counted for the rest of the takeover."""
    parts = deadline_parts(tmp_path)
    events = [task(vn(2024, 7, 1), task_id=f"T-{n}", deadline=vn(2024, 9, 20), event_id=f"e-{n}") for n in range(3)]
    for n, event in enumerate(events):
        await parts.processor.on_record(_record(event.model_dump_json().encode(), offset=n), PARTITIONS, vn(2024, 7, 1))
    # Its last owner was killed writing its checkpoint: the tasks reached the changelog, the unit's counts did not.
    head = item_key("VN-40", UNIT)
    parts.log.table[head] = ENCODER.encode(
        msgspec.structs.replace(UNIT_ITEM.decode(parts.log.table[head]), tally=[("task", "in_progress", 1)])
    )
    again = deadline_parts(tmp_path, table=parts.log.table)
    again.processor.load(set(range(PARTITIONS)), PARTITIONS)
    counted = lambda: again.store.get("VN-40").task_tally()  # type: ignore[union-attr]  # noqa: E731
    assert counted() == {("task", "in_progress"): 1}
    fault_on(monkeypatch, "boom")
    faulty = task(vn(2024, 7, 2), task_id="X", deadline=vn(2024, 9, 20), event_id="boom")
    batch = json.dumps([json.loads(e.model_dump_json()) for e in (events[0], faulty)]).encode()
    await again.processor.on_record(_record(batch, offset=3), PARTITIONS, vn(2024, 7, 2), catching_up=True)
    assert [reason for _, reason in again.outbox.dead] == ["internal error: RuntimeError: engine fault"]
    assert counted() == {("task", "in_progress"): 1}, "counted again, and dropped with the fault"
    read_again = _record(events[1].model_dump_json().encode(), offset=4)
    await again.processor.on_record(read_again, PARTITIONS, vn(2024, 7, 2), catching_up=True)
    assert counted() == {("task", "in_progress"): 3}


class _Counted(StoredTasks):
    """A unit's stored tasks that count the tasks read by a scan."""

    read = 0

    def __init__(self, tasks: StoredTasks) -> None:
        super().__init__(tasks.unit_id, tasks._items)

    def items(self) -> Iterator[tuple[str, TaskState]]:
        for pair in super().items():
            _Counted.read += 1
            yield pair


async def test_a_checkpoint_with_work_to_do_is_timed_and_one_with_nothing_to_do_is_not(tmp_path: Path) -> None:
    parts = deadline_parts(tmp_path)
    record = _record(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)).model_dump_json().encode())
    await parts.processor.on_record(record, PARTITIONS, vn(2024, 7, 25))  # made durable, its alert published
    assert parts.registry.get_sample_value("compliance_checkpoint_seconds_count") == 1
    assert parts.registry.get_sample_value("compliance_checkpoint_seconds_sum") > 0
    await parts.processor.checkpoint.flush()  # the outbox entries the alerts topic now holds, removed
    timed = parts.registry.get_sample_value("compliance_checkpoint_seconds_count")
    assert parts.processor._store.staged() == 0
    for _ in range(3):  # the flush timer with nothing staged and nothing to publish
        await parts.processor.checkpoint.flush()
    assert parts.registry.get_sample_value("compliance_checkpoint_seconds_count") == timed
