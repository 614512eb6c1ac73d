"""``monitor publish``: validate event files, then publish them in per-unit batches."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from aiokafka import AIOKafkaProducer

from events.files import read_rows
from events.models import Event, EventKind, TaskStatusEvent
from monitor.progress import Progress
from monitor.topics import Topics

__all__ = ["BadRow", "PublishReport", "publish_files", "validate_files"]

_MAX_BATCH_BYTES = 900 * 1024  # under the worker's 1 MiB record limit
_IN_FLIGHT = 2000


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that did not validate."""

    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class PublishReport:
    """What ``publish`` found and did."""

    rows: int = 0
    events: int = 0
    bad: list[BadRow] = field(default_factory=list)
    records: int = 0
    published: int = 0


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def validate_files(paths: Sequence[Path], kind: EventKind | None, progress: TextIO) -> PublishReport:
    """Read and validate every row of every file (nothing is published)."""
    report = PublishReport()
    bar = Progress("validating", sum(_lines(path) for path in paths), progress)
    for path in paths:
        for row in read_rows(path, kind):
            report.rows += 1
            bar.advance()
            if row.error is not None:
                report.bad.append(BadRow(path, row.line, row.error))
            else:
                report.events += len(row.events)
    bar.close()
    return report


class _Batcher:
    """Per (topic, unit) buffers of event JSON, flushed as one JSON-array record keyed by the unit."""

    def __init__(self, topics: Topics, batch_size: int) -> None:
        self._topics = topics
        self._batch_size = batch_size
        self._buffers: dict[tuple[str, str], list[bytes]] = {}
        self._sizes: dict[tuple[str, str], int] = {}

    def add(self, event: Event) -> tuple[str, bytes, bytes] | None:
        topic = self._topics.task_status if isinstance(event, TaskStatusEvent) else self._topics.indicators
        key = (topic, event.unit_id)
        body = event.model_dump_json(exclude_none=True).encode("utf-8")
        buffer = self._buffers.setdefault(key, [])
        flushed = None
        if buffer and (len(buffer) >= self._batch_size or self._sizes[key] + len(body) > _MAX_BATCH_BYTES):
            flushed = self._record(key)
        self._buffers.setdefault(key, []).append(body)
        self._sizes[key] = self._sizes.get(key, 0) + len(body) + 1
        return flushed

    def _record(self, key: tuple[str, str]) -> tuple[str, bytes, bytes]:
        items = self._buffers.pop(key)
        self._sizes.pop(key, None)
        return key[0], key[1].encode("utf-8"), b"[" + b",".join(items) + b"]"

    def drain(self) -> list[tuple[str, bytes, bytes]]:
        return [self._record(key) for key in list(self._buffers)]


async def publish_files(
    paths: Sequence[Path],
    kind: EventKind | None,
    *,
    bootstrap: str,
    topics: Topics,
    report: PublishReport,
    batch_size: int,
    progress: TextIO,
    client: dict[str, Any] | None = None,
) -> PublishReport:
    """Publish the valid rows of the files (validated already), batched per unit; wait for every ack."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_request_size=2 * 1024 * 1024, **(client or {})
    )
    await producer.start()
    bar = Progress("publishing", report.events, progress)
    batcher = _Batcher(topics, batch_size)
    pending: list[asyncio.Future[object]] = []

    async def send(record: tuple[str, bytes, bytes]) -> None:
        topic, key, value = record
        pending.append(await producer.send(topic, value=value, key=key))
        report.records += 1
        if len(pending) >= _IN_FLIGHT:
            await asyncio.gather(*pending)
            pending.clear()

    try:
        for path in paths:
            for row in read_rows(path, kind):
                for event in row.events:
                    record = batcher.add(event)
                    if record is not None:
                        await send(record)
                    report.published += 1
                    bar.advance()
        for record in batcher.drain():
            await send(record)
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        bar.close()
        await producer.stop()
    return report
