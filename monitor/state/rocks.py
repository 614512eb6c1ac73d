"""The items table's RocksDB store: faust's, with its memory bounded and the derived keys kept in step.

Three changes to faust's RocksDB store (``faust.stores.rocksdb``), for the
one table that holds a worker's items:

- **derived keys on recovery**: a partition rebuilt from the changelog gets
  the derived keys (``monitor.state.keys.derived``) of every item it
  replays, as the worker's own writes do (``ChangelogItemLog``), whether
  faust's recovery replays it record by record or the changelog is read
  ahead in bulk (``changelog_writer``, ``monitor.state.rebuild``);
- **a format on every new database**: one created empty is marked with this
  version's ``FORMAT`` (its derived keys will be complete); one found without
  the mark was written by an older version and is migrated before it is read
  (``monitor.state.store``);
- **options that hold on reopening**: faust passes its options for a new
  database only (rocksdict reads those of an existing one from its files,
  with an 8 MiB cache and no Bloom filter); here they are given for the
  default column family too, with one block cache for every partition
  (faust makes one per partition) that also holds the index and filter blocks,
  partitioned in small blocks, so the store's memory is bounded whatever it
  holds and a point read costs the same at ten million items as at ten thousand.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import faust
import rocksdict
from faust.stores import rocksdb as faust_rocksdb
from faust.types import TP

from monitor.state.changelog import CheckedCursor
from monitor.state.keys import FORMAT, FORMAT_KEY, RESTORING_KEY, derived, in_changelog

__all__ = ["ChangelogWriter", "ItemTable", "RocksOptions", "is_broken", "is_empty", "item_table"]

log = logging.getLogger(__name__)


class RocksOptions(faust_rocksdb.RocksDBOptions):
    """faust's RocksDB options, applied on reopening too, with one block cache shared by the partitions."""

    def __init__(self, cache: rocksdict.Cache, on_corrupt: Callable[[], object] = lambda: None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cache = cache
        self._on_corrupt = on_corrupt  # told of each database moved aside at opening (the worker counts them)

    def as_options(self) -> rocksdict.Options:
        """The database's options: write buffers, the shared cache (index and filter blocks in it), a Bloom filter."""
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_max_open_files(self.max_open_files or -1)  # faust's default: most of the process's limit
        options.set_write_buffer_size(self.write_buffer_size)
        options.set_max_write_buffer_number(self.max_write_buffer_number)
        options.set_target_file_size_base(self.target_file_size_base)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(10, False)  # point reads of tasks never seen (most of a load) skip the files
        table.set_block_cache(self._cache)
        table.set_cache_index_and_filter_blocks(True)
        # Index and filter in blocks of 4 KiB under a small top level (pinned in the cache), not one block of
        # each per file: a file's whole index and filter grow with it (about 1 MB each at 2,000,000 items), and
        # once one no longer fit its shard of the cache, every point read read it again whole. A load slowed
        # from 9,500 to 3,000 events/s between 1 and 2 million items; a read of an item took 1.3 ms.
        table.set_partition_filters(True)
        table.set_index_type(rocksdict.BlockBasedIndexType.two_level_index_search())
        table.set_metadata_block_size(4096)
        table.set_pin_top_level_index_and_filter(True)
        options.set_block_based_table_factory(table)
        return options

    def open(self, path: Path, *, read_only: bool = False) -> rocksdict.Rdict:
        """Open (or create) one partition's database, marking a new one with this version's format.

        A database RocksDB finds corrupt when it opens it (its ``CURRENT`` or manifest damaged on disk) is moved
        aside, next to it, and a new one made in its place: faust finds no offset in it and rebuilds the
        partition from its changelog, which holds every item. Nothing is deleted: the old files are the
        operator's to look at, and to remove.
        """
        access = rocksdict.AccessType.read_write() if self.ttl is None else rocksdict.AccessType.with_ttl(self.ttl)
        options = self.as_options()

        def opened() -> rocksdict.Rdict:
            return rocksdict.Rdict(str(path), options=options, column_families={"default": options}, access_type=access)

        try:
            db = opened()
        except Exception as exc:  # rocksdict raises a bare Exception("Corruption: …") for a damaged database
            if "Corruption" not in str(exc):
                raise
            aside = _aside(path)
            path.rename(aside)
            log.error(
                "the state store %s is corrupt (%s): moved to %s; the partition is rebuilt from its changelog",
                path,
                exc,
                aside,
            )
            self._on_corrupt()
            db = opened()
        db.set_read_options(rocksdict.ReadOptions())
        if is_empty(db):
            db.put(FORMAT_KEY, str(FORMAT).encode())
        return db


def is_broken(exc: BaseException) -> bool:
    """Whether an error of the local store says its files are damaged or gone (not a full disk: that passes)."""
    text = str(exc)
    return "Corruption" in text or ("IO error" in text and "No such file or directory" in text)


def _aside(path: Path) -> Path:
    """Where a broken database is moved: next to it, named for when (``items-0.db.corrupt-20261205T204810Z``)."""
    return path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")


def is_empty(db: rocksdict.Rdict) -> bool:
    """Whether a database holds nothing but faust's own offset (a new one)."""
    return all(key == faust_rocksdb.Store.offset_key for key in db.keys())  # noqa: SIM118  # an Rdict: keys() iterates


class _ItemStore(faust_rocksdb.Store):
    """faust's RocksDB store with ``RocksOptions`` and the derived keys written on recovery."""

    def __init__(self, *args: Any, cache: rocksdict.Cache, on_corrupt: Callable[[], object], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rocksdb_options = RocksOptions(cache, on_corrupt, **(self.options or {}), use_rocksdict=True)

    def apply_changelog_batch(
        self, batch: Iterable[Any], to_key: Callable[[Any], Any], to_value: Callable[[Any], Any]
    ) -> None:
        """Write a batch of changelog records to the local store, each with its derived keys; then the offsets."""
        batches: defaultdict[int, rocksdict.WriteBatch] = defaultdict(lambda: rocksdict.WriteBatch(raw_mode=True))
        offsets: dict[TP, int] = {}
        for event in batch:
            message = event.message
            offsets[message.tp] = max(message.offset, offsets.get(message.tp, message.offset))
            _replay(batches[message.partition], message.key, message.value)
        for partition, writes in batches.items():
            self._db_for_partition(partition).write(writes)
        for tp, offset in offsets.items():
            self.set_persisted_offset(tp, offset)

    def replace_partition(self, partition: int) -> Path | None:
        """Put a new, empty database in place of a partition's that broke under the worker; where the old one went.

        The old files, if they are still there (a database found corrupt), are
        moved aside next to it, as at opening; a database whose directory was
        removed leaves nothing to move. The new database holds no offset: the
        partition is rebuilt from its changelog (``monitor.worker.repair``).
        """
        path = self.partition_path(partition)
        self._dbs.pop(partition, None)  # faust never closes a database: dropped, it is closed once unreferenced
        aside = None
        if path.exists():
            aside = _aside(path)
            path.rename(aside)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._dbs[partition] = self.rocksdb_options.open(path)
        return aside

    def changelog_writer(self, partition: int) -> ChangelogWriter:
        """What writes records read from the partition's changelog into its local store (``monitor.state.rebuild``)."""
        return ChangelogWriter(self, partition)


class ChangelogWriter:
    """Writes changelog records, read in order, into one partition's local store while the store holds it.

    Each ``write`` is one atomic RocksDB batch: the records, their derived
    keys, and faust's offset set to the last record's. So a crash leaves the
    store at a prefix of the changelog with the offset it reached, never an
    offset ahead of its writes. Once faust's store lets the partition go (a
    revocation closes its database), ``write`` writes nothing and says so:
    faust would open the database again for a partition this worker no
    longer holds.
    """

    def __init__(self, store: _ItemStore, partition: int) -> None:
        self._store = store
        self._partition = partition
        self._db = store._db_for_partition(partition)

    def holds(self) -> bool:
        """Whether the store still holds the partition's database this writer was made with."""
        return self._store._dbs.get(self._partition) is self._db

    def persisted(self) -> int | None:
        """The offset of the last changelog record in the local store (faust's), if any."""
        offset = self._db.get(self._store.offset_key)
        return int(offset) if offset is not None else None

    def write(self, records: Iterable[tuple[bytes, bytes | None]], offset: int) -> bool:
        """Write ``records`` (a ``None`` value deletes) up to changelog ``offset``; ``False``: the partition is gone."""
        if not self.holds():
            return False
        writes = rocksdict.WriteBatch(raw_mode=True)
        for key, value in records:
            _replay(writes, key, value)
        writes.put(self._store.offset_key, str(offset).encode())
        writes.delete(RESTORING_KEY)  # a write at an offset of the changelog: the store and it agree again
        self._db.write(writes)
        return True

    def restoring(self) -> bool:
        """Whether a write-back of the store's items to the changelog began and did not end (``begin_restore``)."""
        return self._db.get(RESTORING_KEY) is not None

    def begin_restore(self) -> Iterator[tuple[bytes, bytes]]:
        """Mark the store as being written back to its changelog, and yield every item the changelog holds.

        The mark stays until ``write`` records the changelog offset the items reached, so a write-back cut
        short (a crash, a rebalance) is done again whole at the next takeover.
        """
        self._db.put(RESTORING_KEY, b"")
        cursor = CheckedCursor(self._db.iter())  # a damaged block raises: never a part written back as the whole
        cursor.seek(b"")
        while cursor.valid():
            key = cursor.key()
            if in_changelog(key):
                yield key, cursor.value()
            cursor.next()


def _replay(writes: rocksdict.WriteBatch, key: bytes, value: bytes | None) -> None:
    """Add one changelog record to ``writes``: an item with its derived keys, or a deletion (a tombstone)."""
    if value is None:
        writes.delete(key)
        return
    writes.put(key, value)
    for extra, nothing in derived(key, value):
        writes.put(extra, nothing)


class ItemTable(faust.Table[bytes, bytes]):
    """The table of a worker's items, always in ``_ItemStore`` (whatever the app's store).

    Args:
        cache: The block cache every partition's database shares.
    """

    def __init__(
        self, *args: Any, cache: rocksdict.Cache, on_corrupt: Callable[[], object] = lambda: None, **kwargs: Any
    ) -> None:
        self._block_cache = cache
        self._on_corrupt = on_corrupt
        super().__init__(*args, **kwargs)

    def memory(self) -> dict[str, int]:
        """Bytes the store holds in memory now, by part (``compliance_state_store_memory_bytes``).

        Every partition's write buffers, the block cache, and the table readers (what RocksDB keeps of each
        open file outside the cache).
        """
        store = getattr(self, "_data", None)  # made once the table starts
        dbs = list(getattr(store, "_dbs", {}).values())

        def total(name: str) -> int:
            size = 0
            for db in dbs:
                try:
                    size += db.property_int_value(name) or 0
                except Exception:  # closed meanwhile (a partition replaced, the worker stopping): nothing held
                    continue
            return size

        return {
            "write_buffers": total("rocksdb.size-all-mem-tables"),
            "block_cache": int(self._block_cache.get_usage()),
            "table_readers": total("rocksdb.estimate-table-readers-mem"),
        }

    def _new_store_by_url(self, url: Any) -> Any:
        return _ItemStore(
            url,
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
            cache=self._block_cache,
            on_corrupt=self._on_corrupt,
        )


def item_table(
    app: Any,
    name: str,
    partitions: int,
    *,
    write_buffer: int,
    block_cache: int,
    on_corrupt: Callable[[], object] = lambda: None,
) -> ItemTable:
    """The items table of ``app``: each partition's writes buffered up to two ``write_buffer``s, one ``block_cache``.

    faust's defaults are three 64 MiB write buffers and a 2 GiB cache per
    partition; a worker reads the store for every task an event names, so
    one cache for every partition, index and filter blocks in it, bounds it.
    """
    table = ItemTable(
        app,
        name=name,
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,
        options={"write_buffer_size": write_buffer, "max_write_buffer_number": 2},
        beacon=app.tables.beacon,
        cache=rocksdict.Cache(block_cache),
        on_corrupt=on_corrupt,
    )
    added: ItemTable = app.tables.add(table)
    return added
