"""The items store's RocksDB options: a point read costs about the same however much the store holds."""

from __future__ import annotations

import random
import re
from pathlib import Path
from types import SimpleNamespace

import rocksdict

from monitor.state.rocks import ItemTable, RocksOptions

_VALUE = b'{"task":{"task_id":"HS-0000000","kind":"dossier","status":"in_progress","deadline":"2027-03-01"}}' * 2


def _statistic(text: str, name: str) -> int:
    found = re.search(rf"^{re.escape(name)} COUNT : (\d+)$", text, re.M)
    assert found is not None, name
    return int(found.group(1))


def test_a_point_read_loads_small_blocks_of_index_and_filter_not_a_file_s_whole_index(tmp_path: Path) -> None:
    # One index block and one filter block per file grew with the file; once one no longer fitted its shard of
    # the cache, each read of an item loaded it again whole (1.3 ms per read at 2,500,000 items, and a load of
    # dossiers slowed threefold between one and two million). Here a small cache stands for a large store.
    options = RocksOptions(
        rocksdict.Cache(128 * 1024), write_buffer_size=4 * 1024 * 1024, use_rocksdict=True
    ).as_options()
    options.enable_statistics()
    database = rocksdict.Rdict(str(tmp_path / "items.db"), options=options, column_families={"default": options})
    keys = [b"VN-22\x1fstask:HS-%07d" % n for n in range(200_000)]
    for start in range(0, len(keys), 5_000):
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key in keys[start : start + 5_000]:
            batch.put(key, _VALUE)
        database.write(batch)
    database.flush()
    before = options.get_statistics()
    reads = random.Random(7).sample(keys, 500)
    assert all(database.get(key) == _VALUE for key in reads)
    after = options.get_statistics()
    loaded = sum(
        _statistic(after, name) - _statistic(before, name)
        for name in ("rocksdb.block.cache.index.bytes.insert", "rocksdb.block.cache.filter.bytes.insert")
    )
    database.close()
    assert loaded / len(reads) < 16 * 1024  # a few blocks of 4 KiB at most, not a file's whole index


def test_the_store_s_memory_counts_every_open_partition_and_passes_over_one_closed_meanwhile(tmp_path: Path) -> None:
    cache = rocksdict.Cache(1 << 20)
    options = RocksOptions(cache, write_buffer_size=4 * 1024 * 1024, use_rocksdict=True).as_options()
    opened = [rocksdict.Rdict(str(tmp_path / f"{n}.db"), options=options) for n in range(3)]
    for n, database in enumerate(opened):
        for key in range(200 * (n + 1)):
            database[b"k%06d" % key] = _VALUE
    alone = [database.property_int_value("rocksdb.size-all-mem-tables") for database in opened]
    opened[2].close()  # a partition replaced under a scrape
    table = SimpleNamespace(_data=SimpleNamespace(_dbs=dict(enumerate(opened))), _block_cache=cache)
    memory = ItemTable.memory(table)  # type: ignore[arg-type]
    assert memory["write_buffers"] == alone[0] + alone[1] > 0
    assert memory["block_cache"] == cache.get_usage()
    assert set(memory) == {"write_buffers", "block_cache", "table_readers"}
    assert ItemTable.memory(SimpleNamespace(_block_cache=cache)) == {  # type: ignore[arg-type]
        "write_buffers": 0,
        "block_cache": cache.get_usage(),
        "table_readers": 0,
    }, "before the table starts"
    for database in opened[:2]:
        database.close()
