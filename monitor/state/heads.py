"""Reading a partition's units back from the store: their heads, never their tasks; older formats brought up to date.

A worker that takes a partition over reads each unit's own fields, firing
alerts, pending breaches, outbox entries and non-task subjects (its *head*),
seeking past the unit's tasks and derived keys: the cost is the units', not
the items'. A partition stored by an older version gets its derived keys
built first (``migrate``); a unit stored in format 1 is counted from its
tasks once (``head_of``), and written again in this format.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Protocol

from monitor.state.keys import (
    DERIVED,
    FORMAT,
    FORMAT_KEY,
    SEP,
    SUBJECT,
    UnitParts,
    Write,
    after,
    derived,
    is_task,
    task_prefix,
)
from monitor.state.reads import ItemReader, PartitionItems
from monitor.state.stored import StoredTasks, StoredWakeups, task_items
from rules.state import Recount, UnitState, WakeupMap

__all__ = ["LocalStore", "head_of", "heads", "migrate"]

log = logging.getLogger(__name__)

_SEP = SEP.encode()
_MIGRATION_BATCH = 10_000


class LocalStore(ItemReader, Protocol):
    """A partition's local store: reads, and writes of derived keys and marks (never items: they go to the changelog)."""

    def write_local(self, partition: int, writes: Iterable[Write]) -> None:
        """Write derived keys and marks to the partition's local store alone."""


def migrate(store: LocalStore, partition: int) -> None:
    """Build the derived keys of a partition stored without them (by an older version), then mark its format."""
    mark = store.get(partition, FORMAT_KEY)
    if mark is not None and int(mark) >= FORMAT:
        return
    started, built, batch = time.monotonic(), 0, []
    cursor = store.cursor(partition)
    cursor.seek(b"")
    while cursor.valid():
        key = cursor.key()
        position = key.find(_SEP)
        if position > 0 and key[position + 1 : position + 2].decode() == SUBJECT:
            for write in derived(key, cursor.value()):
                batch.append(write)
                built += 1
            if len(batch) >= _MIGRATION_BATCH:
                store.write_local(partition, batch)
                batch = []
        cursor.next()
    del cursor  # an open iterator pins the database
    store.write_local(partition, [*batch, (FORMAT_KEY, str(FORMAT).encode())])
    log.warning(
        "partition %d: stored in format %s; %d derived keys built for format %d in %.1f s",
        partition,
        mark.decode() if mark is not None else "1",
        built,
        FORMAT,
        time.monotonic() - started,
    )


def heads(reader: ItemReader, partition: int, prefix: bytes = b"") -> Iterator[tuple[str, UnitParts]]:
    """Each unit of the partition (under ``prefix``) with its parts; tasks and derived keys are sought past."""
    cursor = reader.cursor(partition)
    cursor.seek(prefix)
    unit, parts = "", UnitParts()
    while cursor.valid():
        key = cursor.key()
        if not key.startswith(prefix):
            break
        position = key.find(_SEP)
        if position < 1:  # faust's offset, the format mark: no unit's
            cursor.next()
            continue
        name = key[:position].decode()
        if name != unit:
            if unit:
                yield unit, parts
            unit, parts = name, UnitParts()
        part = key[position + 1 : position + 2].decode()
        if part in DERIVED:
            cursor.seek(after(key[: position + 2]))
            continue
        if part == SUBJECT and is_task(key[position + 2 :].decode()):
            cursor.seek(after(task_prefix(unit)))
            continue
        parts.add(key[position + 1 :].decode(), cursor.value())
        cursor.next()
    if unit:
        yield unit, parts


def head_of(unit: str, parts: UnitParts, items: PartitionItems) -> tuple[UnitState, bool]:
    """A unit's state from its head parts, and whether it must be written again (stored in an older format: counted here)."""
    stored = parts.unit
    current = stored is not None and stored.format >= FORMAT
    if stored is not None and current:
        tally = {(kind, status): count for kind, status, count in stored.tally}
        last_event_at, newest = stored.last_event_at, stored.newest_task
    else:  # a scan of its tasks, once
        tasks = [item.task for _, item in task_items(items, task_prefix(unit)) if item.task is not None]
        counted = Recount()
        for task in tasks:
            counted.add(task)
        tally, newest = dict(counted.tally), counted.newest
        last_event_at = parts.last_event_at(tasks)
    state = UnitState(
        unit_id=unit,
        tasks=StoredTasks(unit, items),
        indicators=parts.indicators,
        alerts=parts.alerts,
        pending=parts.pending,
        wakeups=StoredWakeups(unit, items, WakeupMap(parts.wakeups.items())),
        last_event_at=last_event_at,
        pack_version=stored.pack_version if stored is not None else "",
        tally=tally,
        extensions=dict(stored.extensions) if stored is not None else None,
        newest_task=newest,
    )
    return state, not current
