from __future__ import annotations

from pathlib import Path

from monitor.state.store import ItemStore, decode_unit
from rules.engine import apply_event
from rules.subjects import Change
from tests.conftest import vn
from tests.monitor.state.fixtures import DictItemLog
from tests.rules.fixtures import DEADLINE_RULES, pack, task


async def test_what_an_evaluation_changed_is_written_item_by_item_and_read_back(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    result = apply_event(rules, None, task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)), vn(2024, 7, 25))
    assert Change.subject("task:T-1") in result.changed and Change.unit() in result.changed
    table: dict[bytes, bytes] = {}
    store = ItemStore(DictItemLog(table))
    store.commit(result.state, result.changed, 0)
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
    store.commit(fired.state, fired.changed, 0)
    await store.flush()
    done = task(vn(2024, 7, 26), status="completed", deadline=vn(2024, 7, 20), event_id="b")
    resolved = apply_event(rules, fired.state, done, vn(2024, 7, 26))
    store.commit(resolved.state, resolved.changed, 0)
    await store.flush()
    assert not [key for key in table if b"\x1fa" in key]
    assert store.get("VN-40") is resolved.state and store.units(0) == ["VN-40"]
