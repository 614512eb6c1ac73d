"""The items store takes changelog records in bulk: one atomic batch, derived keys and offset included, while it holds the partition."""

from __future__ import annotations

import asyncio
from pathlib import Path

import faust
from faust.types import TP

from monitor.state.keys import FORMAT_KEY, SUBJECT, derived, item_key
from monitor.state.rocks import item_table

TASK = item_key("VN-01", SUBJECT, "task:T1")
VALUE = (
    b'{"task":{"task_id":"T1","kind":"dossier","status":"in_progress",'
    b'"occurred_at":"2026-01-01T00:00:00+00:00","event_id":"e1"},"wakeup":1800000000.0}'
)
GONE = item_key("VN-01", SUBJECT, "task:T0")


def test_records_land_with_their_derived_keys_and_offset_and_never_once_the_partition_went(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()  # the app's services take the current loop: one the test closes
    asyncio.set_event_loop(loop)
    try:
        app = faust.App("writer-test", datadir=str(tmp_path), store="rocksdb://", autodiscover=False)
        table = item_table(app, "items", 2, write_buffer=1 << 20, block_cache=1 << 20)
        store = table.data
        tp = TP(table.changelog_topic.get_topic_name(), 0)
        writer = store.changelog_writer(0)
        assert writer.holds() and writer.persisted() is None
        store._db_for_partition(0)[GONE] = b"{}"  # an item a later tombstone deletes
        assert writer.write([(GONE, None), (TASK, VALUE)], 41)
        db = store._db_for_partition(0)
        extras = list(derived(TASK, VALUE))
        assert len(extras) == 2  # the task by kind, its wake-up
        assert db.get(TASK) == VALUE and all(db.get(key) == value for key, value in extras)
        assert db.get(GONE) is None
        assert writer.persisted() == 41 and store.persisted_offset(tp) == 41  # faust's offset, in the same batch
        assert db.get(FORMAT_KEY) is not None  # the new database's format mark stays
        store.revoke_partitions(table, {tp})  # the partition goes: faust closes its database
        assert not writer.holds()
        assert not writer.write([(GONE, b"{}")], 42)
        assert 0 not in store._dbs  # not opened again for a partition the worker no longer holds
    finally:
        asyncio.set_event_loop(None)
        loop.close()
