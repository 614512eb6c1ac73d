"""Test doubles for the worker's parts: a recording outbox, records, a processor and a takeover over a dict."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

import monitor.worker.processor
from events.models import Event
from monitor.kafka.records import InboundRecord, partition_for
from monitor.kafka.topics import Topics
from monitor.metrics import Metrics
from monitor.state.ledger import AlertLedger
from monitor.state.store import ItemStore
from monitor.worker.checkpoint import Checkpoint
from monitor.worker.outbox import AlertWriter
from monitor.worker.processor import Processor
from monitor.worker.takeover import Takeover
from rules.engine import Result
from rules.language import RulePack
from rules.state import AlertTransition, UnitState
from tests.monitor.state.fixtures import DictItemLog
from tests.rules.fixtures import DEADLINE_RULES, pack

PARTITIONS = 4
TOPICS = Topics()


class RecordingOutbox:
    """Keeps what the processor sends, in order."""

    def __init__(self) -> None:
        self.alerts: list[AlertTransition] = []
        self.dead: list[tuple[InboundRecord, str]] = []
        self.forwarded: list[tuple[str, bytes, bytes]] = []

    async def publish(self, transitions: Sequence[AlertTransition]) -> None:
        self.alerts.extend(transitions)

    async def dead_letter(self, record: InboundRecord, reason: str) -> None:
        self.dead.append((record, reason))

    async def forward(self, topic: str, key: bytes, value: bytes) -> None:
        self.forwarded.append((topic, key, value))


def record(value: bytes, unit: str = "VN-40", partition: int | None = None, offset: int = 0) -> InboundRecord:
    """A task-status record of ``unit``, in its own partition unless told otherwise."""
    key = unit.encode()
    part = partition_for(key, PARTITIONS) if partition is None else partition
    return InboundRecord(TOPICS.task_status, part, offset, key, value)


def fault_on(monkeypatch: pytest.MonkeyPatch, event_id: str) -> None:
    """The engine fails on the event ``event_id`` (as the processor calls it), and on no other."""
    real = monitor.worker.processor.apply_event

    def faulty(pack: RulePack, state: UnitState | None, event: Event, now: datetime) -> Result:
        if event.event_id == event_id:
            raise RuntimeError("engine fault")
        return real(pack, state, event, now)

    monkeypatch.setattr(monitor.worker.processor, "apply_event", faulty)


def neighbour_of(unit: str) -> str:
    """Another unit in the same partition as ``unit``."""
    partition = partition_for(unit.encode(), PARTITIONS)
    return next(
        u
        for u in (f"VN-{n:02d}" for n in range(1, 99))
        if u != unit and partition_for(u.encode(), PARTITIONS) == partition
    )


def count(registry: CollectorRegistry, outcome: str) -> float:
    """``compliance_events_total`` of the task-status topic for one outcome."""
    value = registry.get_sample_value("compliance_events_total", {"topic": TOPICS.task_status, "outcome": outcome})
    return value or 0.0


class SteppingClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _caught_up() -> bool:
    return True


@dataclass
class WorkerParts:
    """A worker's processor and takeover over a dict table, without faust or a broker."""

    processor: Processor
    takeover: Takeover
    outbox: RecordingOutbox
    registry: CollectorRegistry
    store: ItemStore
    clock: SteppingClock
    log: DictItemLog
    ends: dict[tuple[str, int], int] = field(default_factory=dict)  # the broker's end offsets, as the test sets them
    committed: dict[tuple[str, int], int] = field(default_factory=dict)  # the group's committed offsets


GRACE = 10.0


def worker_parts(
    rules: RulePack,
    ledger: AlertLedger | None = None,
    table: dict[bytes, bytes] | None = None,
    catch_up: Callable[[], Awaitable[bool]] = _caught_up,
    max_staged: int = 0,
    may_act: Callable[[], Awaitable[bool]] | None = None,
) -> WorkerParts:
    """A new worker's parts over ``table`` (a new worker over the same durable table, when given).

    ``max_staged`` as the processor takes it: 0 (the default) flushes after every record and tick;
    ``may_act`` as the checkpoint takes it (the zombie fence; none by default).
    """
    registry = CollectorRegistry()
    outbox = RecordingOutbox()
    log = DictItemLog(table)
    store = ItemStore(log)
    metrics = Metrics(registry, "test")
    writer = AlertWriter(outbox, ledger if ledger is not None else AlertLedger(), metrics)
    checkpoint = Checkpoint(store, writer, metrics, may_act=may_act)
    processor = Processor(rules, store, outbox, metrics, TOPICS, 1 << 20, checkpoint, max_staged=max_staged)
    clock = SteppingClock()
    ends: dict[tuple[str, int], int] = {}
    committed: dict[tuple[str, int], int] = {}

    async def end_offset(topic: str, partition: int) -> int | None:
        return ends.get((topic, partition))

    takeover = Takeover(
        rules,
        processor,
        checkpoint,
        catch_up=catch_up,
        highwater=lambda topic, partition: ends.get((topic, partition)),
        committed=lambda topic, partition: committed.get((topic, partition)),
        end_offset=end_offset,
        data_topics=(TOPICS.task_status, TOPICS.indicators),
        grace=GRACE,
        monotonic=clock,
    )
    return WorkerParts(processor, takeover, outbox, registry, store, clock, log, ends, committed)


def deadline_parts(
    tmp_path: Path,
    ledger: AlertLedger | None = None,
    table: dict[bytes, bytes] | None = None,
    max_staged: int = 0,
    may_act: Callable[[], Awaitable[bool]] | None = None,
) -> WorkerParts:
    """``worker_parts`` with the deadline rules."""
    return worker_parts(pack(tmp_path, DEADLINE_RULES), ledger, table, max_staged=max_staged, may_act=may_act)
