from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from events.models import TaskStatusEvent
from monitor.state.keys import Write, decode_unit
from monitor.state.store import ItemStore
from rules.engine import apply_event
from rules.language import RulePack
from rules.state import Change, TaskMap, UnitState
from tests.conftest import vn
from tests.monitor.state.fixtures import DictItemLog
from tests.rules.fixtures import DEADLINE_RULES, pack, task
from tests.rules.test_extensions import extension


async def test_what_an_evaluation_changed_is_written_item_by_item_and_read_back(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    result = apply_event(rules, None, task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)), vn(2024, 7, 25))
    assert Change.subject("task:T-1") in result.changed and Change.unit() in result.changed
    table: dict[bytes, bytes] = {}
    store = ItemStore(DictItemLog(table))
    store.stage_state(result.state, result.changed, 0)
    await store.flush()
    (alert,) = result.state.alerts
    assert sorted(table) == sorted([b"VN-40\x1f", b"VN-40\x1fstask:T-1", f"VN-40\x1fa{alert}".encode()])
    items = [(key.decode().partition("\x1f")[2], value) for key, value in table.items()]
    again = decode_unit("VN-40", items)
    assert (again.tasks, again.alerts, again.wakeups) == (result.state.tasks, result.state.alerts, result.state.wakeups)


async def test_a_resolved_alert_is_deleted_from_the_table(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    table: dict[bytes, bytes] = {}
    store = ItemStore(DictItemLog(table))
    fired = apply_event(rules, None, task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), event_id="a"), vn(2024, 7, 25))
    store.stage_state(fired.state, fired.changed, 0)
    await store.flush()
    done = task(vn(2024, 7, 26), status="completed", deadline=vn(2024, 7, 20), event_id="b")
    resolved = apply_event(rules, fired.state, done, vn(2024, 7, 26))
    store.stage_state(resolved.state, resolved.changed, 0)
    await store.flush()
    assert not [key for key in table if b"\x1fa" in key]
    assert store.get("VN-40") == resolved.state and store.units(0) == ["VN-40"]


class _StalledLog(DictItemLog):
    """A log whose writes wait until released: a flush caught on its way."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def write(self, partition: int, writes: Sequence[Write]) -> None:
        await self.release.wait()
        await super().write(partition, writes)


async def test_a_flush_cancelled_on_its_way_keeps_every_write_staged(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    log = _StalledLog()
    store = ItemStore(log)
    first = apply_event(rules, None, task(vn(2024, 7, 19), deadline=vn(2024, 7, 30), event_id="a"), vn(2024, 7, 19))
    store.stage_state(first.state, first.changed, 0)
    staged = store.staged()
    flushing = asyncio.create_task(store.flush())
    await asyncio.sleep(0)  # the batch is on its way
    done = task(vn(2024, 7, 20), status="completed", deadline=vn(2024, 7, 30), event_id="b")
    later = apply_event(rules, first.state, done, vn(2024, 7, 20))
    store.stage_state(later.state, later.changed, 0)  # staged while the flush waits
    flushing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await flushing
    assert store.staged() >= staged and log.table == {}
    log.release.set()
    await store.flush()
    assert json.loads(log.table[b"VN-40\x1fstask:T-1"])["task"]["status"] == "completed"  # the newer write won
    assert store.staged() == 0


def test_a_partition_is_read_with_the_garbage_collector_paused_and_resumed_after() -> None:
    paused: list[bool] = []

    class _Watching(DictItemLog):
        def cursor(self, partition: int) -> Any:
            paused.append(not gc.isenabled())
            return super().cursor(partition)

    assert gc.isenabled()
    store = ItemStore(_Watching({b"VN-22\x1f": b'{"pack_version": "v", "format": 2}'}))
    assert store.load({0}, lambda unit: 0) == 1
    assert paused and all(paused) and gc.isenabled()  # the format migration, then the heads


async def test_tasks_read_back_equal_what_was_written_and_share_what_they_can(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    table: dict[bytes, bytes] = {}
    store = ItemStore(DictItemLog(table))
    state = None
    for n in range(3):
        event = task(vn(2024, 7, 19), task_id=f"T-{n}", kind="dossier", deadline=vn(2024, 7, 30), event_id=f"e-{n}")
        state = apply_event(rules, state, event, vn(2024, 7, 19)).state
        store.stage_state(state, {Change.subject(f"task:T-{n}")}, 0)
    await store.flush()
    assert state is not None
    items = [(key.decode().partition("\x1f")[2], value) for key, value in table.items()]
    again = decode_unit("VN-40", items)
    assert again.tasks == state.tasks
    first, second = again.tasks["T-0"], again.tasks["T-1"]
    assert first.kind is second.kind  # one string for all
    assert first.labels is second.labels  # no labels: one empty map for all
    assert first.first_reached.get(first.status) is first.occurred_at  # one instant object, not two equal ones


async def _read_back(rules: RulePack, events: Sequence[TaskStatusEvent]) -> tuple[DictItemLog, ItemStore, UnitState]:
    """Bình Thuận's tasks of ``events`` applied (each at its instant), flushed, and the unit read back by a new store."""
    log = DictItemLog()
    store = ItemStore(log)
    state = None
    for event in events:
        state = apply_event(rules, state, event, event.occurred_at).state
        store.stage_state(state, {Change.subject(f"task:{event.task_id}"), Change.unit()}, 0)
    await store.flush()
    again = ItemStore(log)
    again.load([0], lambda unit: 0)
    stored = again.get("VN-40")
    assert stored is not None and type(stored.tasks).__name__ == "StoredTasks"
    return log, again, stored


async def test_a_units_stored_task_ids_are_walked_in_parts_in_id_order_with_the_unflushed_ones(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    at = vn(2024, 7, 19)
    opened = [task(at, task_id=f"T-{n:02d}", deadline=vn(2024, 7, 30), event_id=f"e-{n}") for n in range(20)]
    _, again, stored = await _read_back(rules, opened)
    for task_id in ("T-05a", "T-99", "A-1"):  # reported since the last flush: in the overlay, not the store yet
        result = apply_event(rules, stored, task(at, task_id=task_id, deadline=vn(2024, 7, 30)), at)
        again.stage_state(result.state, result.changed, 0)
    every = sorted([f"T-{n:02d}" for n in range(20)] + ["T-05a", "T-99", "A-1"])
    assert stored.tasks.ids_after(None, None) == every
    walked: list[str] = []
    after: str | None = None
    while ids := stored.tasks.ids_after(after, 4):
        walked += ids
        after = ids[-1]
    assert walked == every, "in parts of 4, each id once, the unflushed ones in their place"
    assert stored.tasks.ids_after("T-05", 2) == ["T-05a", "T-06"]
    assert stored.tasks.ids_after("T-99", 5) == []


async def test_a_units_tasks_due_in_a_span_are_found_by_their_deadline_in_force_with_the_unflushed_ones(
    tmp_path: Path,
) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    at = vn(2024, 7, 1)
    dues: list[date | datetime] = [  # a day apart from 2/7, some as dates, some as instants
        date(2024, 7, 2) + timedelta(days=n) if n % 2 else vn(2024, 7, 2 + n, 17) for n in range(30)
    ]
    log, again, stored = await _read_back(
        rules, [task(at, task_id=f"T-{n:02d}", deadline=due, event_id=f"e-{n}") for n, due in enumerate(dues)]
    )
    later = vn(2024, 7, 3)
    changes = [  # flushed: T-03's deadline moved to September (its key of July stays), T-04 extended to August
        task(later, task_id="T-03", deadline=date(2024, 9, 10), event_id="m-3"),
        extension(later, vn(2024, 8, 20), task_id="T-04", unit="VN-40"),
    ]
    for event in changes:
        result = apply_event(rules, stored, event, later)
        again.stage_state(result.state, result.changed, 0)
    await again.flush()
    for task_id, due in (("T-05", date(2024, 8, 21)), ("N-1", date(2024, 7, 10))):  # unflushed: in the overlay
        result = apply_event(rules, stored, task(later, task_id=task_id, deadline=due, event_id=f"u-{task_id}"), later)
        again.stage_state(result.state, result.changed, 0)
    assert b"VN-40\x1fstask:N-1" not in log.table
    every = TaskMap(stored.tasks.items())
    for first, last in [
        (vn(2024, 7, 5), vn(2024, 7, 12)),
        (vn(2024, 8, 1), vn(2024, 9, 30)),
        (vn(2025, 1, 1), vn(2025, 2, 1)),
    ]:
        span = (first.timestamp(), last.timestamp())
        found = [t.task_id for t in stored.tasks.due_within(*span)]
        assert len(found) == len(set(found)), "each task once"
        assert sorted(found) == sorted(t.task_id for t in every.due_within(*span)), (first, last)
    august = {t.task_id for t in stored.tasks.due_within(vn(2024, 8, 1).timestamp(), vn(2024, 9, 30).timestamp())}
    assert {"T-03", "T-04", "T-05"} <= august and "N-1" not in august


async def test_a_scan_of_the_tasks_due_in_a_span_leaves_the_cache_to_what_events_read(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    log = DictItemLog()
    store = ItemStore(log)
    state = None
    for n in range(40):
        event = task(vn(2024, 7, 1), task_id=f"T-{n:02d}", deadline=date(2024, 7, 10), event_id=f"e-{n}")
        state = apply_event(rules, state, event, vn(2024, 7, 1)).state
        store.stage_state(state, {Change.subject(f"task:T-{n:02d}"), Change.unit()}, 0)
    await store.flush()
    reads: list[bytes] = []
    read = log.get
    log.get = lambda partition, key: reads.append(key) or read(partition, key)  # type: ignore[method-assign]
    again = ItemStore(log, cache=8)
    again.load([0], lambda unit: 0)
    stored = again.get("VN-40")
    assert stored is not None
    hot = [stored.tasks[f"T-{n:02d}"] for n in range(8)]  # what events read lately: the cache's 8
    span = (vn(2024, 7, 1).timestamp(), vn(2024, 7, 31).timestamp())
    reads.clear()
    assert len(list(stored.tasks.due_within(*span))) == 40
    assert len(reads) == 32, "the 8 cached are not read again"
    reads.clear()
    assert [stored.tasks[f"T-{n:02d}"] for n in range(8)] == hot
    assert reads == [], "the scan's 32 others did not push them out"
    stored.tasks["T-20"]
    assert len(reads) == 1, "nor took their place"


async def test_a_units_newest_task_report_is_stored_with_it_and_read_back_without_its_tasks(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    instants = [vn(2024, 7, 3), vn(2024, 7, 9), vn(2024, 7, 5)]
    opened = [task(at, task_id=f"T-{n}", deadline=vn(2024, 7, 30), event_id=f"e-{n}") for n, at in enumerate(instants)]
    _, _, stored = await _read_back(rules, opened)
    stored.tasks = TaskMap()  # were the tasks read for it, none would be found
    assert stored.newest_task_report() == vn(2024, 7, 9)


async def test_a_unit_read_again_after_a_fault_is_what_was_staged_for_it_not_only_what_was_flushed(
    tmp_path: Path,
) -> None:
    """A fault in evaluation reads the unit again: its staged, unflushed changes (the records before) are kept."""
    rules = pack(tmp_path, DEADLINE_RULES)
    store = ItemStore(DictItemLog({}))
    first = apply_event(
        rules, None, task(vn(2024, 7, 25), task_id="A", deadline=vn(2024, 7, 20), event_id="a"), vn(2024, 7, 25)
    )
    store.stage_state(first.state, first.changed, 0)
    await store.flush()
    second = apply_event(
        rules,
        store.get("VN-40"),
        task(vn(2024, 7, 25), task_id="B", deadline=vn(2024, 7, 20), event_id="b"),
        vn(2024, 7, 25),
    )
    store.stage_state(second.state, second.changed, 0)  # staged, not flushed: a record handled before the fault
    half_done = apply_event(
        rules,
        store.get("VN-40"),
        task(vn(2024, 7, 25), task_id="C", deadline=vn(2024, 7, 20), event_id="c"),
        vn(2024, 7, 25),
    )
    assert sorted(half_done.state.tasks) == ["A", "B", "C"]  # changed in place, never staged
    store.reload("VN-40")
    again = store.get("VN-40")
    assert again is not None and sorted(again.tasks) == ["A", "B"]
    assert again.task_count() == 2 and len(again.alerts) == 2  # the head as staged: its counts, its alerts


async def test_a_unit_first_staged_and_not_flushed_is_kept_when_read_again(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    store = ItemStore(DictItemLog({}))
    first = apply_event(rules, None, task(vn(2024, 7, 25), task_id="A", deadline=vn(2024, 7, 20)), vn(2024, 7, 25))
    store.stage_state(first.state, first.changed, 0)
    store.reload("VN-40")
    again = store.get("VN-40")
    assert again is not None and list(again.tasks) == ["A"]
