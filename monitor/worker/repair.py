"""A local store that breaks under a running worker: its partitions rebuilt from their changelogs, in place.

A store breaks under a running worker in two ways:

- **its data directory is removed** (an operator, a volume gone): RocksDB
  goes on writing files that no longer have a name, and the next start
  would find nothing. ``StoreRepair.lost`` notices within a watch's interval;
- **a file is corrupt where RocksDB only finds it on reading** (a block
  whose checksum fails, which opening the database does not read): the read
  raises ``Corruption: …`` (``is_broken``).

Either way each partition's database is replaced by a new one, filled from
its changelog in bulk (``monitor.state.rebuild.read_ahead``): the changelog
holds every item, as the local store never holds a write the changelog
lacks. The caller holds the worker's lock meanwhile, so no record is
handled; it drops the units in memory and reads the records since its last
commit again (``monitor.worker.intake``). ``/readyz`` names the cause while
it runs (cause ``rebuild``; it waits, and says so, while the changelogs
cannot be read), the log says what was done, and
``compliance_state_store_rebuilds_total`` counts it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from prometheus_client import Counter

from monitor.state.changelog import CheckedCursor
from monitor.state.rebuild import consumer_for, read_ahead
from monitor.state.rocks import is_broken
from monitor.worker.health import Health

__all__ = ["CORRUPT", "DATA_DIR_REMOVED", "StoreRepair"]

log = logging.getLogger(__name__)

#: Causes, as ``compliance_state_store_rebuilds_total`` labels them.
DATA_DIR_REMOVED, CORRUPT = "data_dir_removed", "corrupt"
_CAUSE = "rebuild"


class StoreRepair:
    """Notices a data directory removed under the worker, and rebuilds a store's partitions from their changelogs.

    Args:
        app: The faust app (its brokers, for the consumer that reads the changelogs).
        table: The items table (its store's databases, its changelog topic).
        data_dir: The worker's data directory, as it was when the worker started.
        health: Where ``/readyz`` reads that a rebuild runs.
        rebuilds: Counts the partitions rebuilt, by cause.
        others: What else of the data directory is saved when it was removed (the SQLite files: ``monitor.state.sqlite``).
    """

    def __init__(
        self,
        app: Any,
        table: Any,
        data_dir: Path,
        health: Health,
        rebuilds: Counter,
        others: Sequence[Callable[[], object]] = (),
    ) -> None:
        self._app = app
        self._others = tuple(others)
        self._table = table
        self._data_dir = data_dir
        self._health = health
        self._rebuilds = rebuilds

    def lost(self) -> tuple[set[int], str] | None:
        """The open partitions whose database's directory is gone, and why, if any is."""
        store = self._table.data
        gone = {p for p in list(store._dbs) if not store.partition_path(p).exists()}
        if not gone:
            return None
        if not self._data_dir.exists():
            return gone, f"the data directory {self._data_dir} was removed"
        names = ", ".join(str(store.partition_path(p)) for p in sorted(gone))
        return gone, f"the state store's {'databases' if len(gone) > 1 else 'database'} {names} removed"

    def damaged(self, partitions: set[int]) -> set[int]:
        """Those of ``partitions`` whose database fails a read of every key; all of them if none does.

        A read checks each block's checksum: the scan finds a damaged block
        wherever it is. Should it find none (the damage was elsewhere), every
        partition is rebuilt rather than the failing read tried again.
        """
        store = self._table.data
        found = set()
        for partition in sorted(partitions):
            try:
                cursor = CheckedCursor(store._db_for_partition(partition).iter())
                cursor.seek(b"")
                while cursor.valid():
                    cursor.next()
            except Exception as exc:
                if not is_broken(exc):
                    raise
                log.error("partition %d: the state store fails a read (%s)", partition, exc)
                found.add(partition)
        return found or set(partitions)

    async def _read(self, writers: dict[TopicPartition, Any]) -> bool:
        """Read each changelog into its new database from where it got to; whether every one is at its end now.

        Not when the broker did not answer or a fetch stopped short: the caller waits, and asks again.
        """
        consumer = consumer_for(self._app)
        try:
            await consumer.start()
            ends = await consumer.end_offsets(list(writers))
            read = await read_ahead(consumer, writers, ends, stopped=lambda: False)
        except Exception as exc:  # the broker, most likely: the store cannot be trusted until it is read
            log.warning("reading the changelogs to rebuild the state store failed (%r); trying again", exc)
            return False
        finally:
            await consumer.stop()
        for tp, writer in writers.items():
            persisted = writer.persisted()
            if ends[tp] and (persisted is None or persisted + 1 < ends[tp]):
                return False
        log.info("read %d changelog records into the new databases", sum(read.values()))
        return True

    async def rebuild(self, partitions: set[int], cause: str, why: str) -> None:
        """Replace each partition's database with a new one, filled from its changelog (the caller holds the lock)."""
        if not partitions:
            return
        began = time.monotonic()
        shown = sorted(partitions)
        log.error("%s: rebuilding partitions %s of the state store from their changelogs", why, shown)
        self._health.set_problem(_CAUSE, f"{why}: rebuilding partitions {shown} from their changelogs")
        try:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            store = self._table.data
            topic = self._table.changelog_topic.get_topic_name()
            for partition in shown:
                aside = store.replace_partition(partition)
                if aside is not None:
                    log.error("partition %d: the broken database was moved to %s", partition, aside)
            writers = {TopicPartition(topic, p): store.changelog_writer(p) for p in shown}
            delay = 0.5
            while not await self._read(writers):  # until every changelog is read to its end
                self._health.set_problem(_CAUSE, f"{why}: the changelogs cannot be read to their ends; trying again")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            for _ in shown:
                self._rebuilds.labels(cause).inc()
            for other in self._others:
                await asyncio.to_thread(other)
            log.warning("partitions %s rebuilt from their changelogs in %.1f s", shown, time.monotonic() - began)
        finally:
            self._health.clear_problem(_CAUSE)
