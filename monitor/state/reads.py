"""Reads of a partition's subject items, newest first: what changed since the last flush, a cache, the store.

Three layers (``PartitionItems``):

1. the *overlay*: subjects changed since the partition's last flush (what
   the store has staged, and what the record being handled changed so far);
2. the *cache*: subjects read or flushed lately, at most ``ItemCache.size``,
   shared by the partitions;
3. the store itself (a point read of the local RocksDB).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator
from typing import Protocol

from monitor.state.keys import SUBJECT_ITEM, SubjectItem

__all__ = ["MISSING", "Cursor", "ItemCache", "ItemReader", "Overlaid", "PartitionItems", "scan", "scan_keys"]

#: What the cache answers for a key it does not hold (``None`` is "known absent").
MISSING = object()


class Cursor(Protocol):
    """An ordered iterator over a partition's keys (a RocksDB iterator)."""

    def seek(self, key: bytes) -> None:
        """Move to the first key at or after ``key``."""

    def valid(self) -> bool:
        """Whether it is on a key."""

    def key(self) -> bytes:
        """The key it is on."""

    def value(self) -> bytes:
        """The value of the key it is on."""

    def next(self) -> None:
        """Move to the next key."""


class ItemReader(Protocol):
    """Reads of one partition's local store, and deletions of derived keys that went stale."""

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The value of ``key``, if the store holds it."""

    def cursor(self, partition: int) -> Cursor:
        """An ordered iterator over the partition's keys (drop it once done: it pins the store open)."""

    def forget(self, partition: int, keys: Collection[bytes]) -> None:
        """Delete derived keys from the local store alone (they never go to the changelog)."""


class Overlaid:
    """A partition's store as it will be once what is staged for it is written: the staged writes laid over it.

    Args:
        reader: The store.
        partition: The partition (the only one read through this view).
        staged: The partition's staged writes, by key (``None``: a deletion).
    """

    def __init__(self, reader: ItemReader, partition: int, staged: dict[bytes, bytes | None]) -> None:
        self._reader = reader
        self._partition = partition
        self._staged = staged

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The staged value of ``key``, else the store's."""
        assert partition == self._partition
        return self._staged[key] if key in self._staged else self._reader.get(partition, key)

    def cursor(self, partition: int) -> Cursor:
        """An ordered iterator over the store's keys and the staged ones, deletions left out."""
        assert partition == self._partition
        return _OverlaidCursor(self._reader.cursor(partition), sorted(self._staged.items()))

    def forget(self, partition: int, keys: Collection[bytes]) -> None:
        """Delete derived keys from the store (the staged writes have none)."""
        self._reader.forget(partition, keys)


class _OverlaidCursor:
    """The keys of a cursor and of sorted writes laid over it, in order: a written key hides the cursor's."""

    def __init__(self, below: Cursor, above: list[tuple[bytes, bytes | None]]) -> None:
        self._below = below
        self._above = above
        self._keys = [key for key, _ in above]
        self._at = 0  # the next write of ``above`` not passed yet
        self._key: bytes | None = None
        self._value: bytes | None = None  # the write's value, when the key is the write's

    def seek(self, key: bytes) -> None:
        self._below.seek(key)
        self._at = bisect_left(self._keys, key)
        self._settle()

    def _settle(self) -> None:
        """Stand on the smaller of the two next keys (a write on a key the cursor also holds hides it)."""
        while True:
            below = self._below.key() if self._below.valid() else None
            above = self._keys[self._at] if self._at < len(self._keys) else None
            if above is None or (below is not None and below < above):
                self._key, self._value = below, None
                return
            if below == above:
                self._below.next()
            value = self._above[self._at][1]
            if value is None:  # deleted
                self._at += 1
                continue
            self._key, self._value = above, value
            return

    def valid(self) -> bool:
        return self._key is not None

    def key(self) -> bytes:
        assert self._key is not None
        return self._key

    def value(self) -> bytes:
        return self._value if self._value is not None else self._below.value()

    def next(self) -> None:
        if self._value is not None:
            self._at += 1
        else:
            self._below.next()
        self._settle()


def _walk(reader: ItemReader, partition: int, start: bytes, stop: bytes) -> Iterator[tuple[bytes, Cursor]]:
    """Each key from ``start`` up to, not including, ``stop``, in order, with the cursor standing on it."""
    cursor = reader.cursor(partition)
    cursor.seek(start)
    while cursor.valid():
        key = cursor.key()
        if key >= stop:
            return
        yield key, cursor
        cursor.next()


def scan(reader: ItemReader, partition: int, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) pairs from ``start`` up to, not including, ``stop``, in order."""
    for key, cursor in _walk(reader, partition, start, stop):
        yield key, cursor.value()


def scan_keys(reader: ItemReader, partition: int, start: bytes, stop: bytes) -> Iterator[bytes]:
    """The keys from ``start`` up to, not including, ``stop``, in order (their values are not read)."""
    for key, _ in _walk(reader, partition, start, stop):
        yield key


class ItemCache:
    """Subject items read or flushed lately, the least recently used dropped beyond ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, SubjectItem | None] = OrderedDict()

    def get(self, key: bytes) -> object:
        """The item cached under ``key`` (``None``: known absent), or the missing marker."""
        item = self._items.get(key, MISSING)
        if item is not MISSING:
            self._items.move_to_end(key)
        return item

    def peek(self, key: bytes) -> object:
        """``get`` without making it the most recently used."""
        return self._items.get(key, MISSING)

    def put(self, key: bytes, item: SubjectItem | None) -> None:
        """Cache ``item`` (``None``: known absent)."""
        items = self._items
        items[key] = item
        items.move_to_end(key)
        if len(items) > self.size:
            items.popitem(last=False)

    def put_all(self, pairs: Iterable[tuple[bytes, SubjectItem | None]]) -> None:
        """``put`` each pair, the least recently used dropped once at the end (a flush's keys at once)."""
        items = self._items
        move = items.move_to_end
        for key, item in pairs:
            items[key] = item
            move(key)
        while len(items) > self.size:
            items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (the partitions changed hands)."""
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class PartitionItems:
    """The subject items of one partition: overlay, cache, store (see the module's docstring).

    Args:
        reader: The store.
        partition: The partition.
        cache: The worker's cache (shared by its partitions).
    """

    def __init__(self, reader: ItemReader, partition: int, cache: ItemCache) -> None:
        self.reader = reader
        self.partition = partition
        self.cache = cache
        #: Subject items changed since the last flush, by key (``None``: deleted).
        self.overlay: dict[bytes, SubjectItem | None] = {}

    def item(self, key: bytes, *, keep: bool = True) -> SubjectItem | None:
        """The newest version of a subject item (``keep``: as ``durable``'s)."""
        item = self.overlay.get(key, MISSING)
        if item is MISSING:
            return self.durable(key, keep=keep)
        return item  # type: ignore[return-value]

    def durable(self, key: bytes, *, keep: bool = True) -> SubjectItem | None:
        """The subject item as the store holds it (not what the overlay changed since).

        Without ``keep`` (a scan's read), one the cache does not hold is not put in it, and one it holds stays
        where it is in the cache's order: a report's pass over a quarter's tasks would push out those events use.
        """
        item = self.cache.get(key) if keep else self.cache.peek(key)
        if item is MISSING:
            raw = self.reader.get(self.partition, key)
            item = SUBJECT_ITEM.decode(raw) if raw is not None else None
            if keep:
                self.cache.put(key, item)
        return item  # type: ignore[return-value]

    def put(self, key: bytes, item: SubjectItem | None) -> None:
        """A new version of a subject item, held until it is flushed."""
        self.overlay[key] = item

    def flushed(self, keys: Collection[bytes]) -> None:
        """These keys are durable as the overlay holds them: they move to the cache."""
        overlay = self.overlay
        popped = ((key, overlay.pop(key, MISSING)) for key in keys)
        self.cache.put_all((key, item) for key, item in popped if item is not MISSING)  # type: ignore[misc]

    def restore(self, keys: Collection[bytes], staged: dict[bytes, bytes | None]) -> None:
        """Undo what an evaluation left half-done: each key back to what was staged, else to the store."""
        for key in keys:
            if key in staged:
                raw = staged[key]
                self.overlay[key] = SUBJECT_ITEM.decode(raw) if raw is not None else None
            else:
                self.overlay.pop(key, None)
