"""The worker's table opens RocksDB with the memory bounds its settings give, on a new database and on reopening."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.settings import Settings
from monitor.state.keys import FORMAT, FORMAT_KEY
from monitor.worker.worker import Worker
from rules.loading import BUNDLED_PACK, load_pack


def test_the_items_table_bounds_rocksdb_memory_by_the_settings_also_on_reopening(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()  # the app's services take the current loop: one the test closes
    asyncio.set_event_loop(loop)
    try:
        settings = Settings(
            data_dir=tmp_path, rocksdb_write_buffer=4 * 1024 * 1024, rocksdb_block_cache=3 * 1024 * 1024
        )
        worker = Worker(settings, load_pack([BUNDLED_PACK]))
        (table,) = worker.app.tables.values()  # type: ignore[attr-defined]
        options = table.data.rocksdb_options  # what the store opens each partition's database with
        assert options.write_buffer_size == 4 * 1024 * 1024 and options.max_write_buffer_number == 2
        database = options.open(tmp_path / "probe.db")
        assert database[FORMAT_KEY] == str(FORMAT).encode()  # a new database is marked with the format it is in
        database[b"k"] = b"v"
        database.close()
        # rocksdict reopens an existing database with the options stored in its files (an 8 MiB cache) unless
        # they are given for its column family too: the settings hold on every start, not only the first.
        again = options.open(tmp_path / "probe.db")
        assert again[b"k"] == b"v"
        assert again.property_int_value("rocksdb.block-cache-capacity") == 3 * 1024 * 1024
        again.close()
        worker.app.consumer._thread.thread_loop.close()  # type: ignore[attr-defined]
    finally:
        asyncio.set_event_loop(None)
        loop.close()
