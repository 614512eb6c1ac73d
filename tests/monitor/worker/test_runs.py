"""A run of records handled at once (``Processor.on_records``) does what the same records do one at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.kafka.records import InboundRecord, partition_for
from tests.conftest import vn
from tests.monitor.worker.fixtures import PARTITIONS, TOPICS, WorkerParts, deadline_parts, fault_on
from tests.monitor.worker.fixtures import neighbour_of as _neighbour_of
from tests.rules.fixtures import task

_UNIT = "VN-40"
_PART = partition_for(_UNIT.encode(), PARTITIONS)
_NEIGHBOUR = _neighbour_of(_UNIT)
_ELSEWHERE = next(u for u in (f"VN-{n:02d}" for n in range(1, 99)) if partition_for(u.encode(), PARTITIONS) != _PART)


def _records() -> list[InboundRecord]:
    """A partition's records: alerts fired and resolved, duplicates, refusals, a forward, a batch, a bad record."""
    at, due = vn(2024, 7, 25), vn(2024, 7, 20)
    events = [
        task(at, task_id="A", deadline=due, event_id="a"),
        task(at, task_id="B", deadline=due, event_id="b", unit=_NEIGHBOUR),
        task(at, task_id="A", deadline=due, event_id="a"),  # read again: a duplicate
        task(at, "completed", task_id="A", deadline=due, event_id="a-done"),
        task(at, task_id="C", deadline=vn(2024, 7, 26), event_id="c"),  # due soon
        task(at, task_id="F", deadline=due, event_id="f", unit=_ELSEWHERE),  # its unit's partition is another
    ]
    values = [e.model_dump_json().encode() for e in events]
    good = json.loads(task(at, task_id="D", deadline=due, event_id="d").model_dump_json())
    values.insert(3, b"{not json")
    values.append(json.dumps([good, {**good, "event_id": "x", "status": "done"}]).encode())  # one item refused
    values.append(
        task(at, task_id="B", deadline=due, event_id="b2", unit=_NEIGHBOUR, status="completed")
        .model_dump_json()
        .encode()
    )
    return [InboundRecord(TOPICS.task_status, _PART, offset, b"", value) for offset, value in enumerate(values)]


def _seen(parts: WorkerParts, registry: CollectorRegistry) -> dict[str, object]:
    """Everything the records left: alerts, dead letters, forwards, the durable items, the counts."""
    outbox = parts.outbox
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in registry.collect()
        for s in metric.samples
        if s.name.startswith(("test_events", "test_unit_codes", "test_publisher")) and not s.name.endswith("_created")
    }
    alerts: dict[str, list[tuple[str, str, object]]] = {}  # each alert's transitions in order (alerts interleave)
    for a in outbox.alerts:
        alerts.setdefault(a.fingerprint, []).append((a.status, a.stage, a.starts_at))
    return {
        "alerts": alerts,
        "dead": sorted((r.offset, r.value, reason) for r, reason in outbox.dead),
        "forwarded": outbox.forwarded,
        "items": dict(parts.store._log.table),  # type: ignore[attr-defined]
        "counts": samples,
    }


@pytest.mark.parametrize("catching_up", [False, True])
@pytest.mark.parametrize("size", [2, 3, 10])
async def test_records_handled_in_runs_leave_exactly_what_they_leave_one_at_a_time(
    tmp_path: Path, size: int, catching_up: bool
) -> None:
    """Caught up too: after a takeover, each event judged at its own time, a unit's counts made again once."""
    records = _records()
    alone, runs = deadline_parts(tmp_path), deadline_parts(tmp_path)
    now = vn(2024, 7, 25, 9)
    for record in records:
        await alone.processor.on_record(record, PARTITIONS, now, catching_up=catching_up)
    for start in range(0, len(records), size):
        assert await runs.processor.on_records(records[start : start + size], PARTITIONS, now, catching_up=catching_up)
    for parts in (alone, runs):  # the outbox entries confirmed by the last checkpoint are deleted with the next
        await parts.processor.checkpoint.flush()
    expected = _seen(alone, alone.registry)
    assert expected["alerts"] and expected["dead"] and expected["forwarded"], "the records do a bit of everything"
    assert _seen(runs, runs.registry) == expected


async def test_a_fault_in_a_run_leaves_nothing_of_it_and_one_at_a_time_the_fault_costs_its_units_events_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records before the run were staged, not flushed: the units the run changed in place go back to them."""
    parts = deadline_parts(tmp_path, max_staged=1000)
    fault_on(monkeypatch, "boom")
    at, due = vn(2024, 7, 25), vn(2024, 7, 20)

    def record(offset: int, *events: object) -> InboundRecord:
        value = json.dumps([json.loads(e.model_dump_json()) for e in events]).encode()  # type: ignore[attr-defined]
        return InboundRecord(TOPICS.task_status, _PART, offset, b"", value)

    before = record(0, task(at, task_id="A", deadline=due, event_id="a"))
    assert await parts.processor.on_records([before], PARTITIONS, at)  # staged: nothing flushed yet
    run = [
        record(
            1, task(at, task_id="B", deadline=due, event_id="b"), task(at, task_id="N", unit=_NEIGHBOUR, event_id="n")
        ),
        record(
            2, task(at, task_id="C", deadline=due, event_id="c"), task(at, task_id="X", deadline=due, event_id="boom")
        ),
    ]
    assert not await parts.processor.on_records(run, PARTITIONS, at)
    state = parts.store.get(_UNIT)
    assert state is not None and sorted(state.tasks) == ["A"] and state.task_count() == 1
    assert parts.store.get(_NEIGHBOUR) is None
    assert parts.outbox.dead == [] and parts.processor.checkpoint is not None
    for record_ in run:
        await parts.processor.on_record(record_, PARTITIONS, at)
    await parts.processor.checkpoint.flush()
    state = parts.store.get(_UNIT)
    assert state is not None and sorted(state.tasks) == ["A", "B"] and state.task_count() == 2
    assert sorted(parts.store.get(_NEIGHBOUR).tasks) == ["N"]  # type: ignore[union-attr]
    ((dead, reason),) = parts.outbox.dead
    assert dead.offset == 2 and "internal error: RuntimeError: engine fault" in reason
    assert [e["event_id"] for e in json.loads(dead.value)] == ["c", "boom"]
    fired = {a.labels.get("task_id") for a in parts.outbox.alerts if a.status == "firing"}
    assert fired == {"A", "B"}


async def test_a_send_refused_in_a_run_leaves_it_unstaged_and_uncounted_and_one_at_a_time_it_leaves_what_it_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forward the broker refuses (its producer's buffer full, a partition without a leader) after the run is
    applied: nothing of it staged beside records dead-lettered for it; handed over one at a time once it accepts."""
    records = _records()
    alone, runs = deadline_parts(tmp_path), deadline_parts(tmp_path)
    now = vn(2024, 7, 25, 9)
    for record in records:
        await alone.processor.on_record(record, PARTITIONS, now)
    accepting = runs.outbox.forward
    refusals = [RuntimeError("the broker refused the send")]

    async def refusing(topic: str, key: bytes, value: bytes) -> None:
        if refusals:
            raise refusals.pop()
        await accepting(topic, key, value)

    monkeypatch.setattr(runs.outbox, "forward", refusing)
    untouched = _seen(runs, runs.registry)
    assert not await runs.processor.on_records(records, PARTITIONS, now)
    assert _seen(runs, runs.registry) == untouched and runs.store.get(_UNIT) is None
    for record in records:
        await runs.processor.on_record(record, PARTITIONS, now)
    for parts in (alone, runs):
        await parts.processor.checkpoint.flush()
    assert _seen(runs, runs.registry) == _seen(alone, alone.registry)
