"""``monitor publish``: validate event files, then publish them in per-unit batches."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from aiokafka import AIOKafkaProducer

from events.files import read_rows
from events.models import EventKind
from monitor.cli.common import ExitCode, existing_files, settings_from
from monitor.cli.progress import Progress
from monitor.cli.terminal import printable
from monitor.kafka.batches import EventBatcher, OutboundRecord
from monitor.kafka.client import client_options, start_client
from monitor.kafka.topics import Topics

__all__ = ["BadRow", "PublishReport", "publish_files", "register", "validate_files"]

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
    await start_client(producer, bootstrap)
    bar = Progress("publishing", report.events, progress)
    batcher = EventBatcher(topics, batch_size)
    pending: list[asyncio.Future[object]] = []

    async def send(record: OutboundRecord) -> None:
        pending.append(await producer.send(record.topic, value=record.value, key=record.key))
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


def cmd_publish(args: argparse.Namespace) -> int:
    """Validate event files, then publish them (or, with bad rows, refuse unless --skip-invalid)."""
    paths = existing_files(args.files)
    kind = {"task-status": EventKind.TASK_STATUS, "indicator": EventKind.INDICATOR}.get(args.type or "")
    report = validate_files(paths, kind, sys.stderr)
    for bad in report.bad[:50]:
        print(printable(str(bad)), file=sys.stderr)
    if len(report.bad) > 50:
        print(f"... and {len(report.bad) - 50} more bad rows", file=sys.stderr)
    print(f"validated {report.rows:,} rows: {report.events:,} events, {len(report.bad):,} bad rows", file=sys.stderr)
    if report.bad and not args.skip_invalid:
        print("nothing published: fix the rows above, or publish the valid ones with --skip-invalid", file=sys.stderr)
        return ExitCode.FAILED
    if args.dry_run:
        print("dry run: nothing published", file=sys.stderr)
        return 0
    settings = settings_from(args)
    asyncio.run(
        publish_files(
            paths,
            kind,
            bootstrap=settings.bootstrap_servers,
            topics=Topics(settings.topic_prefix),
            report=report,
            batch_size=args.batch_size,
            progress=sys.stderr,
            client=client_options(settings),
        )
    )
    print(f"published {report.published:,} events in {report.records:,} records", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    """Add ``publish``."""
    publish = commands.add_parser("publish", help="publish JSON-lines or CSV event files")
    publish.add_argument("files", nargs="+", help=".jsonl (one event, CloudEvent or array per line) or .csv files")
    publish.add_argument("--broker", help="kafka://host:9092 (or MONITOR_BROKER)")
    publish.add_argument(
        "--type", choices=["task-status", "indicator"], help="type of bare rows (default: from fields)"
    )
    publish.add_argument("--skip-invalid", action="store_true", help="publish the valid rows of a file with bad rows")
    publish.add_argument("--dry-run", action="store_true", help="validate only")
    publish.add_argument("--batch-size", type=int, default=500, help="events per record, per unit (default 500)")
    publish.set_defaults(func=cmd_publish)
