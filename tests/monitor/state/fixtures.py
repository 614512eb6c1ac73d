"""Test doubles for durable state: an ``ItemLog`` over a dict that can be told to fail."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence

from monitor.exceptions import StoreUnavailable
from monitor.state.keys import FORMAT, FORMAT_KEY, Write, derived


class _SortedCursor:
    """A ``Cursor`` over a snapshot of the keys, in order (what a RocksDB iterator gives)."""

    def __init__(self, table: dict[bytes, bytes]) -> None:
        self._table = table
        self._keys = sorted(table)
        self._at = 0

    def seek(self, key: bytes) -> None:
        self._at = bisect.bisect_left(self._keys, key)

    def valid(self) -> bool:
        return self._at < len(self._keys)

    def key(self) -> bytes:
        return self._keys[self._at]

    def value(self) -> bytes:
        return self._table[self._keys[self._at]]

    def next(self) -> None:
        self._at += 1


class DictItemLog:
    """``ItemLog`` over dicts: a write is durable at once, unless ``failing`` says why it is not.

    ``table`` holds what the changelog would (items, every partition's);
    ``local`` holds each partition's derived keys and marks, as its local
    store would beside them. ``failing_partitions``, when set, limits the
    failure to those partitions.
    """

    def __init__(self, table: dict[bytes, bytes] | None = None) -> None:
        self.table: dict[bytes, bytes] = table if table is not None else {}
        # A new store is marked with the format it is written in (``monitor.state.rocks``); one over items is not.
        mark = {FORMAT_KEY: str(FORMAT).encode()} if not self.table else {}
        self.local: defaultdict[int, dict[bytes, bytes]] = defaultdict(lambda: dict(mark))
        self.failing: str | None = None
        self.failing_partitions: set[int] | None = None
        self.batches: list[list[Write]] = []

    def get(self, partition: int, key: bytes) -> bytes | None:
        found = self.local[partition].get(key)
        return found if found is not None else self.table.get(key)

    def cursor(self, partition: int) -> _SortedCursor:
        return _SortedCursor({**self.table, **self.local[partition]})

    def forget(self, partition: int, keys: Iterable[bytes]) -> None:
        local = self.local[partition]
        for key in keys:
            local.pop(key, None)

    def write_local(self, partition: int, writes: Iterable[Write]) -> None:
        local = self.local[partition]
        for key, value in writes:
            if value is None:
                local.pop(key, None)
            else:
                local[key] = value

    async def write(self, partition: int, writes: Sequence[Write]) -> None:
        if self.failing is not None and (self.failing_partitions is None or partition in self.failing_partitions):
            raise StoreUnavailable(self.failing)
        self.batches.append(list(writes))
        for key, value in writes:
            if value is None:
                self.table.pop(key, None)
            else:
                self.table[key] = value
                self.write_local(partition, derived(key, value))
