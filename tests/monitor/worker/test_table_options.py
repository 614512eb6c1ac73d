"""The worker's table opens RocksDB with the memory bounds its settings give, not faust's defaults."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.settings import Settings
from monitor.worker.worker import Worker
from rules.loading import BUNDLED_PACK, load_pack


def test_the_items_table_bounds_rocksdb_memory_by_the_settings(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()  # the app's services take the current loop: one the test closes
    asyncio.set_event_loop(loop)
    try:
        settings = Settings(data_dir=tmp_path, rocksdb_write_buffer=4 * 1024 * 1024, rocksdb_block_cache=1024 * 1024)
        worker = Worker(settings, load_pack([BUNDLED_PACK]))
        (table,) = worker.app.tables.values()  # type: ignore[attr-defined]
        options = table.data.rocksdb_options  # what faust's store opens each partition's database with
        assert options.write_buffer_size == 4 * 1024 * 1024 and options.max_write_buffer_number == 2
        assert options.block_cache_size == 1024 * 1024
        database = options.open(tmp_path / "probe.db")  # a database opens with them
        database[b"k"] = b"v"
        assert database[b"k"] == b"v"
        database.close()
        worker.app.consumer._thread.thread_loop.close()  # type: ignore[attr-defined]
    finally:
        asyncio.set_event_loop(None)
        loop.close()
