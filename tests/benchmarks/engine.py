"""Pure-engine benchmark: prints figures, asserts nothing. Run: ``make bench``.

Workload: the bundled Project 06 pack plus 200 synthetic rules, 100,000
tracked tasks over the 63 provinces, then a stream of task-status updates.
Figures are printed next to a baseline measured in the same run (a loop that
only updates a dict per event), so they can be compared across machines.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from prometheus_client import CollectorRegistry

from events.codec import decode_record, encode_batch
from events.models import EventKind, IndicatorEvent, TaskStatus, TaskStatusEvent
from monitor.kafka.records import InboundRecord, partition_for
from monitor.kafka.topics import Topics
from monitor.metrics import Metrics
from monitor.report.html import LISTED
from monitor.state.heap import tune_collector
from monitor.state.keys import ENCODER, SUBJECT, SUBJECT_ITEM, SubjectItem, item_key
from monitor.state.store import ItemStore
from monitor.worker.processor import Processor
from rules.engine import advance, apply_event
from rules.language import RulePack
from rules.loading import BUNDLED_PACK, load_pack
from rules.review import parse_period, scorecard
from rules.state import TaskState, UnitState, task_key
from rules.state.alerts import identity_fingerprint
from rules.units import Placed, place
from rules.units.model import Level
from tests.benchmarks.index import index_figures
from tests.monitor.state.fixtures import DictItemLog

KINDS = ("task", "dossier", "report", "inspection_plan")


def synthetic_rules(count: int) -> str:
    lines = ["groups:", "  - name: synthetic", "    timezone: Asia/Ho_Chi_Minh", "    rules:"]
    for n in range(count):
        if n % 2 == 0:
            lines.append(
                f"      - {{id: syn-deadline-{n}, kind: deadline, due_from: deadline, "
                f"select: {{kind: synthetic-{n}}}, warn_before: [3d]}}"
            )
        else:
            lines.append(f"      - {{id: syn-threshold-{n}, kind: threshold, indicator: syn-{n}, below: 0.5}}")
    return "\n".join(lines) + "\n"


def build_pack(workdir: Path, count: int) -> RulePack:
    path = workdir / "synthetic.yaml"
    path.write_text(synthetic_rules(count), encoding="utf-8")
    return load_pack([BUNDLED_PACK, path])


def task_event(rng: random.Random, unit: str, n: int, serial: int, at: datetime) -> TaskStatusEvent:
    return TaskStatusEvent(
        event_id=f"e-{serial}",
        source="bench",
        unit_id=unit,
        task_id=f"T-{n}",
        kind=KINDS[n % len(KINDS)],
        status=rng.choice((TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED, TaskStatus.ONGOING)),
        deadline=(at + timedelta(days=rng.randint(-30, 120))).date(),
        occurred_at=at,
        title=f"Nhiệm vụ {n}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rules", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(6)
    now = datetime(2024, 7, 1, tzinfo=UTC)
    defaults = gc.get_threshold()
    with TemporaryDirectory() as tmp:
        pack = build_pack(Path(tmp), args.rules)
    units = sorted(unit.id for unit in pack.units.in_force(now, Level.PROVINCE))  # the 63 of 2024-07-01
    print(
        f"rules: {len(pack.rules)} ({len(pack.rules) - args.rules} bundled + {args.rules} synthetic); units: {len(units)}"
    )

    states: dict[str, UnitState] = {}
    started = time.perf_counter()
    for n in range(args.tasks):
        unit = units[n % len(units)]
        states[unit] = apply_event(pack, states.get(unit), task_event(rng, unit, n, n, now), now).state
    load_seconds = time.perf_counter() - started
    print(f"loaded {args.tasks:,} tracked tasks in {load_seconds:.1f}s")

    stream = []
    for serial in range(args.events):
        n = rng.randrange(args.tasks)
        unit = units[n % len(units)]
        stream.append(task_event(rng, unit, n, args.tasks + serial, now + timedelta(seconds=serial)))

    baseline: dict[tuple[str, str], str] = {}
    started = time.perf_counter()
    for event in stream:
        baseline[(event.unit_id, event.task_id)] = event.status.value
    baseline_rate = task_baseline = len(stream) / (time.perf_counter() - started)

    def run(events: list[TaskStatusEvent]) -> tuple[float, int]:
        transitions = 0
        started = time.perf_counter()
        for event in events:
            result = apply_event(pack, states[event.unit_id], event, event.occurred_at)
            states[event.unit_id] = result.state
            transitions += len(result.transitions)
        return len(events) / (time.perf_counter() - started), transitions

    half = len(stream) // 2
    untuned, _ = run(stream[:half])
    tune_collector()  # as the worker runs: the young generation collected every 50,000 allocations, not 700
    rate, transitions = run(stream[half:])
    gc.set_threshold(*defaults)
    print(f"engine: {rate:,.0f} task events/s on one core ({transitions:,} transitions)")
    print(
        f"baseline (dict update per event): {baseline_rate:,.0f} events/s; engine/baseline = {rate / baseline_rate:.4f};"
        f" with Python's default collector thresholds {untuned:,.0f} events/s"
    )

    # Indicator reports: each meets only the rules about its own indicator (and those about every one).
    names = [f"syn-{n}" for n in range(1, args.rules, 2)] or ["syn-1"]
    reports = [
        IndicatorEvent(
            event_id=f"i-{serial}",
            source="bench",
            unit_id=units[serial % len(units)],
            indicator=names[serial % len(names)],
            value=rng.random(),
            occurred_at=now + timedelta(seconds=serial),
        )
        for serial in range(args.events // 5)
    ]
    started = time.perf_counter()
    for report in reports:
        baseline[(report.unit_id, report.indicator)] = str(report.value)
    baseline_rate = len(reports) / (time.perf_counter() - started)
    started = time.perf_counter()
    for report in reports:
        states[report.unit_id] = apply_event(pack, states[report.unit_id], report, report.occurred_at).state
    seconds = time.perf_counter() - started
    rate = len(reports) / seconds
    print(
        f"engine: {rate:,.0f} indicator events/s on one core ({len(names)} indicators with a threshold each, "
        f"{seconds / len(reports) * 1e6:.0f} µs per event); engine/baseline = {rate / baseline_rate:.4f}"
    )

    # Unit-wide rules (roster deadlines, aggregates) were marked due by the stream: settle them once.
    settle_at = now + timedelta(seconds=len(stream))
    started = time.perf_counter()
    for unit, state in states.items():
        states[unit] = advance(pack, state, settle_at).state
    print(
        f"first tick after the stream (unit-wide rules over {args.tasks:,} tasks): {time.perf_counter() - started:.3f}s"
    )
    # Then a tick after one event in every unit: each unit's unit-wide rules are due again.
    for round_ in range(1, 6):
        at = settle_at + timedelta(seconds=2 * round_)
        for n, unit in enumerate(units):
            event = task_event(rng, unit, n, 20 * args.tasks + round_ * len(units) + n, at)
            states[unit] = apply_event(pack, states[unit], event, at).state
        started = time.perf_counter()
        for unit, state in states.items():
            states[unit] = advance(pack, state, at + timedelta(seconds=1)).state
        steady = time.perf_counter() - started
    print(f"tick after an event in every unit ({args.tasks:,} tasks held): {steady * 1000:.2f} ms")

    # A tick with nothing due, as the worker runs it: every partition's wake-up index is scanned.
    partitions = 8
    store = ItemStore(DictItemLog())
    for unit, state in states.items():
        store.stage_state(state, (), partition_for(unit.encode(), partitions))
    processor = Processor(pack, store, _NullOutbox(), Metrics(CollectorRegistry(), "bench"), Topics(), 1 << 20)
    quiet = datetime.fromtimestamp(min(w for s in states.values() if (w := s.next_wakeup)), tz=UTC) - timedelta(
        seconds=1
    )
    import asyncio

    async def ticks(rounds: int) -> float:
        began = time.perf_counter()
        for _ in range(rounds):
            for partition in range(partitions):
                await processor.on_tick(partition, partitions, max(quiet, settle_at))
        return (time.perf_counter() - began) / rounds

    asyncio.run(ticks(1))  # seeds rostered units that never reported

    per_tick = asyncio.run(ticks(200))
    print(f"tick with nothing due: {per_tick * 1000:.3f} ms for all {partitions} partitions ({len(states)} units)")

    # Records of 500 events of one unit each, as a provider's batch arrives: decode, engine, staged writes.
    topics = Topics()
    batches: list[InboundRecord] = []
    for offset in range(max(1, args.events // 2500)):
        unit = units[offset % len(units)]
        events = [
            task_event(rng, unit, args.tasks + 500 * offset + n, 10 * args.tasks + 500 * offset + n, settle_at)
            for n in range(500)
        ]
        key = unit.encode()
        batches.append(
            InboundRecord(topics.task_status, partition_for(key, partitions), offset, key, encode_batch(events), (), 0)
        )

    async def feed() -> float:
        began = time.perf_counter()
        for record in batches:
            await processor.on_record(record, partitions, settle_at)
        return time.perf_counter() - began

    seconds = asyncio.run(feed())
    rate = 500 * len(batches) / seconds
    print(
        f"processor, records of 500 events of one unit (decode, engine, staged writes; no broker): {rate:,.0f} events/s,"
        f" {seconds / (500 * len(batches)) * 1e6:.1f} µs per event; processor/baseline = {rate / task_baseline:.4f}"
    )
    floor = inherent_seconds(pack, batches, settle_at) / (500 * len(batches))
    print(
        f"the same records' inherent steps alone (decode, place, point read, task, fingerprints, deadline stages,"
        f" item encoded and kept): {floor * 1e6:.1f} µs per event; processor/inherent = {seconds / (500 * len(batches)) / floor:.2f}"
    )
    print(index_figures())

    # A rule pack changed (one rule more): every subject of every unit is evaluated again under it, at a tick.
    with TemporaryDirectory() as tmp:
        changed = build_pack(Path(tmp), args.rules + 1)
    held = sum(state.task_count() for state in states.values())
    firing = sum(len(state.alerts) for state in states.values())
    started = time.perf_counter()
    for unit, state in states.items():
        states[unit] = advance(changed, state, settle_at).state
    seconds = time.perf_counter() - started
    print(
        f"a pack changed: {held:,} tasks of {len(states)} units ({firing:,} alerts firing) evaluated again under it in"
        f" {seconds:.2f}s, {seconds / held * 1e6:.1f} µs per task; per task/baseline event = "
        f"{seconds / held * task_baseline:.1f}"
    )
    # The same in one unit with a large backlog: 12,000 tasks in progress, half of them overdue.
    backlog: UnitState | None = None
    for n in range(12_000):
        event = task_event(rng, "VN-22", n, 30 * args.tasks + n, settle_at)
        due = (settle_at + timedelta(days=-5 if n % 2 else 30)).date()
        event = event.model_copy(update={"status": TaskStatus.IN_PROGRESS, "kind": "task", "deadline": due})
        backlog = apply_event(pack, backlog, event, settle_at).state
    assert backlog is not None
    started = time.perf_counter()
    advance(changed, backlog, settle_at)
    seconds = time.perf_counter() - started
    print(
        f"a pack changed, one unit with 12,000 tasks and {len(backlog.alerts):,} alerts firing: {seconds:.2f}s,"
        f" {seconds / 12_000 * 1e6:.1f} µs per task; per task/baseline event = {seconds / 12_000 * task_baseline:.1f}"
    )
    print(review_figures(pack, states))


def review_figures(pack: RulePack, states: dict[str, UnitState]) -> str:
    """Every unit's scorecard of 2024-Q3, judged at its end: each deadline kept (as the report's JSON needs them)
    against the deadlines counted and only those a page lists kept (``shown``: as the page and the CSV are made).

    Python's allocations are traced while each is made (``tracemalloc``, which slows both alike): the peak is what
    a worker's heap must find room for while a report is made, the end what the scorecards hold."""
    bounds = parse_period("2024-Q3").bounds(pack.tz)
    figures: list[tuple[float, int, int]] = []
    deadlines = 0
    for shown in (None, LISTED):
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        cards = [scorecard(pack, unit, state, (), bounds, bounds[1], shown) for unit, state in states.items()]
        seconds = time.perf_counter() - started
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        deadlines = sum(card.counted().total for card in cards)
        figures.append((seconds, held, peak))
        del cards
    (every, every_held, every_peak), (page, page_held, page_peak) = figures
    return (
        f"review scorecards of {len(states)} units, {deadlines:,} deadlines in 2024-Q3: every deadline kept "
        f"{every:.2f}s, {every_held / 2**20:.1f} MiB held ({every_peak / 2**20:.1f} MiB at the peak); a page's "
        f"(the first {LISTED} overdue and late kept) {page:.2f}s, {page_held / 2**20:.2f} MiB held "
        f"({page_peak / 2**20:.1f} MiB at the peak); page/every: memory at the peak {page_peak / every_peak:.3f}, "
        f"time {page / every:.3f}"
    )


def inherent_seconds(pack: RulePack, records: list[InboundRecord], now: datetime) -> float:
    """How long the steps no design of the processor can skip take for ``records``, with the product's own codecs.

    Per event: decoded (``decode_record``), placed on its unit, its task's item read from a dict
    (the store's point read) and decoded, the new task made, the fingerprint of each rule of its kind and
    each deadline's stage and next change (as remembered per due instant), and its item encoded and kept.
    Nothing else: no staging, no change sets, no metrics, no outbox. What the processor spends above this
    is what its design costs.
    """
    held: dict[bytes, bytes] = {}
    began = time.perf_counter()
    for record in records:
        for event in decode_record(record.value, default_kind=EventKind.TASK_STATUS).events:
            placed = place(event, pack.units)
            assert isinstance(placed, Placed) and isinstance(placed.event, TaskStatusEvent)
            event = placed.event
            key = item_key(event.unit_id, SUBJECT, task_key(event.task_id))
            raw = held.get(key)
            task = TaskState.from_event(event, SUBJECT_ITEM.decode(raw).task if raw is not None else None)
            wakeup: datetime | None = None
            for compiled in pack.task_rules_for(task.kind):
                identity_fingerprint(compiled.rule.id, event.unit_id, "task_id", task.task_id)
                due = task.own_due(compiled.tz)
                if compiled.clock is not None and due is not None:
                    change = compiled.clock.assess(due, now)[1]
                    wakeup = change if wakeup is None or (change is not None and change < wakeup) else wakeup
            held[key] = ENCODER.encode(SubjectItem(task=task, wakeup=wakeup.timestamp() if wakeup else None))
    return time.perf_counter() - began


class _NullOutbox:
    async def publish(self, transitions: object) -> None:
        pass

    async def dead_letter(self, record: object, reason: str) -> None:
        pass

    async def forward(self, topic: str, key: bytes, value: bytes) -> None:
        pass


if __name__ == "__main__":
    main()
