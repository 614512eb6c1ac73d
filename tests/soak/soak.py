"""``make soak``: two workers for hours under a working day's mixed load, with a fault every few minutes.

The load, on the embedded broker, whose two workers tick every 5 seconds, as deployed:

- a steady stream (100 events/s, each second's sent together): tasks reported in progress past their
  deadline (each must fire ``overdue`` once), completions of some of them
  (each must resolve once, ``completed_late``) and indicator reports on target;
  the overdue tasks not completed yet grow to a backlog of 20,000, which then
  holds (each new one beyond it comes with a completion), as a working day's
  backlog does: the alerts firing stay level while alerts keep being raised;
- a burst every 20 minutes: 200,000 dossiers in progress, due long after the
  run, in records of 500;
- ``/metrics`` of each worker scraped every 15 s; 20 console clients on the
  live alert stream; the review report and an overdue CSV every minute; the
  rule pack applied again every 30 minutes (a new version: one warning text
  changed, so every unit moves to it);
- a fault every 10 minutes, in turn: worker A frozen for 25 s, worker B killed
  and restarted, B stopped and started (a rebalance), A's disk full for a
  minute, the broker paused for 20 s.

Every 10 s it samples each worker's resident memory, open files, event loop
tasks, consumer lag and delivery queues (``soak.csv``); it times each
overdue task from its event's send to its alert record (``latency.csv`` by
5 minutes, ``latencies.csv`` each, to set beside the review reports' times
in ``reports.csv``; beside each window, the broker's own send → fetch and the
workers' record wait and checkpoint time), samples the embedded broker's CPU and memory
(``broker.csv``), draws them (``soak.html``), and ends with the fault suite's exactly-once check
over every event of the run. Figures and the check are printed; the exit
status is non-zero if the check found anything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from monitor.settings import DEFAULT_TICK_INTERVAL, Settings
from monitor.worker.outbox import GENERATION_HEADER, retrieved
from tests.faults.checker import RULE, Report, Workload, check_alerts, check_generations, check_views
from tests.faults.scenarios import UNITS, _fill, _missed_unit_deadlines, _views, _worker
from tests.integration.kafka import MonitorProcess, sample, wait_for
from tests.soak.charts import Series, chart, page
from tests.soak.figures import (
    HEAP_PARTS,
    STORE_PARTS,
    BrokerSample,
    Sample,
    broker_figures,
    figures,
    histogram_windows,
    probe_figures,
    report_figures,
    windows,
)

TOPICS = Topics()
REPO = Path(__file__).resolve().parents[2]
#: The topic of the broker's own send → fetch time (``Load._probe``): one partition, a record a second.
PROBE_TOPIC = "soak.probe"
#: The workers' own share of an event's way to its alert, from their /metrics (``histogram_windows``): how long
#: a task-status record waited from its send to its handling, and how long a checkpoint took.
WORKER_HISTOGRAMS: dict[str, dict[str, str]] = {
    "compliance_record_wait_seconds": {"topic": "compliance.task-status"},
    "compliance_checkpoint_seconds": {},
}


@dataclass
class Plan:
    """How long the soak runs and how often each part of the load comes (seconds)."""

    minutes: float = 120.0
    rate: float = 100.0
    backlog: int = 20_000  # overdue tasks not completed yet, at most
    burst_events: int = 200_000
    burst_every: float = 20 * 60
    fault_every: float = 10 * 60
    pack_every: float = 30 * 60
    scrape_every: float = 15.0
    report_every: float = 60.0
    clients: int = 20
    sample_every: float = 10.0


@dataclass
class Run:
    """What the soak did and saw, shared by its threads."""

    began: float = field(default_factory=time.time)
    workload: Workload = field(default_factory=Workload)
    sent: dict[str, float] = field(default_factory=dict)  # overdue task id → wall time its event was sent
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent, seconds to its alert record)
    probes: list[tuple[float, float]] = field(default_factory=list)  # (sent, seconds until a bare consumer had it)
    faults: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end) in seconds since ``began``
    samples: list[Sample] = field(default_factory=list)
    broker: list[BrokerSample] = field(default_factory=list)
    reports: list[tuple[float, float, int]] = field(default_factory=list)  # (asked, seconds to answer, characters)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)  # the load stops
    done: threading.Event = field(default_factory=threading.Event)  # the alerts follower stops too

    def since(self) -> float:
        return time.time() - self.began


class Load:
    """The load's producers, readers and clients, on an event loop of their own thread."""

    def __init__(self, broker: EmbeddedBroker, workers: list[MonitorProcess], plan: Plan, run: Run) -> None:
        self.broker, self.workers, self.plan, self.run = broker, workers, plan, run
        self.scraped: dict[str, str] = {}  # worker → its last /metrics
        self._serial = 0
        self._open: list[tuple[str, str]] = []  # overdue tasks not completed yet
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join(120)

    def _event(self, unit: str, task: str, status: str, deadline: datetime, kind: str = "task") -> dict[str, Any]:
        self._serial += 1
        return {
            "event_id": f"s-{self._serial}",
            "source": "soak",
            "unit_id": unit,
            "task_id": task,
            "kind": kind,
            "status": status,
            "deadline": deadline.isoformat(),
            "occurred_at": datetime.now(UTC).isoformat(),
        }

    async def _main(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.broker.bootstrap, linger_ms=5, max_request_size=4 << 20)
        await producer.start()
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
                parts = [
                    self._probe(producer),
                    self._steady(producer),
                    self._bursts(producer),
                    self._follow_alerts(),
                    self._scrape(http),
                    self._reports(http),
                    *(self._client(http, n) for n in range(self.plan.clients)),
                ]
                await asyncio.gather(*parts)
        finally:
            await producer.stop()

    async def _every(self, seconds: float, first: float = 0.0) -> bool:
        """Sleep ``seconds`` (``first`` instead, if given); ``False`` once the run is over."""
        deadline = time.monotonic() + (first if first else seconds)
        while time.monotonic() < deadline:
            if self.run.stop.is_set():
                return False
            await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        return not self.run.stop.is_set()

    async def _steady(self, producer: AIOKafkaProducer) -> None:
        """``rate`` events a second, sent together each second: 7 in 10 a new overdue task, 2 a completion, 1 an indicator.

        Once ``backlog`` overdue tasks are open, a new one comes only when one was completed since.

        A second's events leave together, as a publisher's batch does, in one record batch per partition: the
        embedded broker keeps every batch and lists all of a partition's batches for each fetch that returns
        records, so its cost grows with the batches it holds times the fetches that find new ones. Sent in
        tenths of a second, the steady load alone took it from 40 % of a core to all of one within four
        minutes. They are made first and sent at once: made while being sent, they left in four batches per
        partition.
        """
        rng = random.Random(6)
        past = datetime.now(UTC) - timedelta(days=3)
        per_slice = max(1, round(self.plan.rate))
        began, n = time.monotonic(), 0
        while not self.run.stop.is_set():
            await asyncio.sleep(max(0.0, began + n - time.monotonic()))
            n += 1
            second: list[tuple[str, dict[str, Any]]] = []  # made first, then sent at once: one batch per partition
            for _ in range(per_slice):
                roll = rng.random()
                if (roll < 0.2 or (roll >= 0.3 and len(self._open) >= self.plan.backlog)) and self._open:
                    unit, task = self._open.pop(rng.randrange(len(self._open)))
                    event = self._event(unit, task, "completed", past)
                    with self.run.lock:
                        self.run.workload.completed(unit, task, datetime.fromisoformat(event["occurred_at"]))
                    topic, body = TOPICS.task_status, event
                elif roll < 0.3:
                    unit = rng.choice(UNITS)
                    self._serial += 1
                    topic = TOPICS.indicators
                    body = {
                        "event_id": f"s-{self._serial}",
                        "source": "soak",
                        "unit_id": unit,
                        "indicator": "online_dossier_ratio",
                        "value": round(0.6 + rng.random() / 3, 3),  # above its target (0.5): never an alert
                        "occurred_at": datetime.now(UTC).isoformat(),
                    }
                else:
                    unit, task = rng.choice(UNITS), f"S-{self._serial + 1}"
                    body = self._event(unit, task, "in_progress", past)
                    with self.run.lock:
                        self.run.workload.overdue(unit, task)
                        self.run.sent[task] = time.time()
                    self._open.append((unit, task))
                    topic = TOPICS.task_status
                second.append((topic, body))
            sent = [
                await producer.send(topic, json.dumps(body).encode(), key=body["unit_id"].encode())
                for topic, body in second
            ]
            try:
                await asyncio.gather(*sent)
            except Exception as exc:  # the broker paused or gone a while: the events are sent again by the client
                self._error(f"steady send: {exc!r}")

    async def _bursts(self, producer: AIOKafkaProducer) -> None:
        """Every ``burst_every``: ``burst_events`` dossiers due long after the run, 500 per record."""
        due = datetime.now(UTC) + timedelta(days=60)
        burst = 0
        first = self.plan.burst_every / 2  # the first half way into a period, then one each period
        while await self._every(self.plan.burst_every, first=first):
            first = 0.0
            burst += 1
            began = self.run.since()
            by_unit: dict[str, list[dict[str, Any]]] = {}
            for n in range(self.plan.burst_events):
                unit = UNITS[n % len(UNITS)]
                event = self._event(unit, f"B{burst}-{n}", "in_progress", due, kind="dossier")
                by_unit.setdefault(unit, []).append(event)
                with self.run.lock:
                    self.run.workload.pending(unit, event["task_id"])
            sent = [
                await producer.send(TOPICS.task_status, json.dumps(events[i : i + 500]).encode(), key=unit.encode())
                for unit, events in by_unit.items()
                for i in range(0, len(events), 500)
            ]
            await asyncio.gather(*sent)
            print(
                f"[{_clock(self.run)}] burst {burst}: {self.plan.burst_events:,} events in "
                f"{self.run.since() - began:.0f}s",
                flush=True,
            )

    async def _probe(self, producer: AIOKafkaProducer) -> None:
        """The broker's own send → fetch time, beside the workers' event → alert: a record each second on a topic of
        one partition, read by a bare consumer that waits at the broker as a worker does (``fetch_max_wait``).

        Its partition gains a record batch a second, as each of a worker's input partitions does, so each of its
        fetches costs the embedded broker what one of theirs does: if the workers' times grow and this one does
        not, the workers are slower; if both do, the broker is.
        """
        try:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.broker.bootstrap)
            await admin.start()
            try:
                await admin.create_topics([NewTopic(PROBE_TOPIC, num_partitions=1, replication_factor=1)])
            finally:
                await admin.close()
            wait = Settings.model_fields["fetch_max_wait"].default
            consumer = AIOKafkaConsumer(
                PROBE_TOPIC,
                bootstrap_servers=self.broker.bootstrap,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=round(wait * 1000),
            )
            await consumer.start()
        except Exception as exc:  # the load goes on without it
            self._error(f"probe: {exc!r}")
            return
        reader = asyncio.create_task(self._read_probe(consumer))
        try:
            began, n = time.monotonic(), 0
            while not self.run.stop.is_set():
                await asyncio.sleep(max(0.0, began + n + 0.5 - time.monotonic()))  # between the steady seconds
                n += 1
                sent = await producer.send(PROBE_TOPIC, json.dumps({"sent": time.time()}).encode(), partition=0)
                sent.add_done_callback(retrieved)  # a send lost while the broker is paused is only a gap
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await consumer.stop()

    async def _read_probe(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=500)
            except Exception as exc:  # the broker paused or restarting: read again
                self._error(f"probe reader: {exc!r}")
                await asyncio.sleep(1)
                continue
            fetched = time.time()
            for records in batches.values():
                for record in records:
                    sent = json.loads(record.value or b"{}").get("sent")
                    if isinstance(sent, float):
                        with self.run.lock:
                            self.run.probes.append((sent - self.run.began, fetched - sent))

    async def _follow_alerts(self) -> None:
        """Time each overdue task from its event's send to its firing record (the record's own timestamp).

        The timestamp is the worker's: its producer stamps the record as it
        sends it. So the soak reads the topic every 5 seconds, rather than each
        batch as it comes: on the embedded broker each read costs in
        proportion to the batches the topic holds.
        """
        consumer = AIOKafkaConsumer(
            TOPICS.alerts, bootstrap_servers=self.broker.bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            while not self.run.done.is_set():
                try:
                    batches = await consumer.getmany(timeout_ms=500)
                except Exception as exc:
                    self._error(f"alerts follower: {exc!r}")
                    await asyncio.sleep(1)
                    continue
                for records in batches.values():
                    for record in records:
                        alert = json.loads(record.value or b"{}")
                        task = alert.get("labels", {}).get("task_id")
                        if alert.get("rule_id") != RULE or alert.get("status") != "firing" or task is None:
                            continue
                        with self.run.lock:
                            sent = self.run.sent.pop(task, None)
                            if sent is not None:
                                self.run.latencies.append((sent - self.run.began, record.timestamp / 1000 - sent))
                if batches:
                    await asyncio.sleep(5.0)
        finally:
            await consumer.stop()

    async def _get(self, http: aiohttp.ClientSession, url: str) -> str | None:
        try:
            async with http.get(url) as answer:
                text = await answer.text()
                return text if answer.status == 200 else None
        except Exception:  # a worker restarting, frozen: asked again at the next beat
            return None

    async def _scrape(self, http: aiohttp.ClientSession) -> None:
        while await self._every(self.plan.scrape_every):
            for worker in self.workers:
                text = await self._get(http, worker.base_url + "/metrics")
                if text is not None:
                    self.scraped[worker.workdir.name] = text

    async def _reports(self, http: aiohttp.ClientSession) -> None:
        if not self.plan.report_every:
            return  # none asked (``--report-every 0``)
        while await self._every(self.plan.report_every):
            worker = random.choice(self.workers)
            asked, began = self.run.since(), time.monotonic()
            report = await self._get(http, worker.base_url + "/reports")
            if report is not None:
                with self.run.lock:
                    self.run.reports.append((asked, time.monotonic() - began, len(report)))
            await self._get(http, worker.base_url + f"/api/v1/units/{random.choice(UNITS)}/overdue?format=csv")

    async def _client(self, http: aiohttp.ClientSession, n: int) -> None:
        """A console on the live alert stream, reconnecting when its worker goes away."""
        worker = self.workers[n % len(self.workers)]
        while not self.run.stop.is_set():
            try:
                async with http.get(
                    worker.base_url + "/api/v1/alerts/stream", timeout=aiohttp.ClientTimeout(total=None, sock_read=60)
                ) as stream:
                    async for _ in stream.content:
                        if self.run.stop.is_set():
                            return
            except Exception:  # a worker restarting: connect again
                pass
            await self._every(1.0)

    def _error(self, text: str) -> None:
        with self.run.lock:
            if len(self.run.errors) < 200:
                self.run.errors.append(f"{_clock(self.run)} {text}")


def _clock(run: Run) -> str:
    seconds = int(run.since())
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Faults:
    """The chaos catalogue, one fault per beat, in turn."""

    def __init__(self, broker: EmbeddedBroker, a: MonitorProcess, b: MonitorProcess, disk: Path, run: Run) -> None:
        self.broker, self.a, self.b, self.disk, self.run = broker, a, b, disk, run
        self.catalogue: list[tuple[str, Callable[[], None]]] = [
            ("A frozen 25 s", self._freeze),
            ("B killed, restarted", self._kill),
            ("B stopped, started (rebalance)", self._rebalance),
            ("A's disk full 60 s", self._disk_full),
            ("broker paused 20 s", self._pause_broker),
        ]

    def inject(self, n: int) -> None:
        name, fault = self.catalogue[n % len(self.catalogue)]
        began = self.run.since()
        print(f"[{_clock(self.run)}] fault: {name}", flush=True)
        try:
            fault()
        except Exception as exc:
            with self.run.lock:
                self.run.errors.append(f"{_clock(self.run)} fault {name}: {exc}")
        with self.run.lock:
            self.run.faults.append((began, self.run.since() + 60, name))  # a minute to recover is its window too

    def _signal(self, worker: MonitorProcess, sig: signal.Signals) -> None:
        assert worker.process is not None
        os.kill(worker.process.pid, sig)

    def _freeze(self) -> None:
        self._signal(self.a, signal.SIGSTOP)
        time.sleep(25)
        self._signal(self.a, signal.SIGCONT)

    def _kill(self) -> None:
        self.b.stop(signal.SIGKILL)
        self.b.start().wait_ready(180)

    def _rebalance(self) -> None:
        self.b.stop(signal.SIGTERM, timeout=30)
        time.sleep(15)
        self.b.start().wait_ready(180)

    def _disk_full(self) -> None:
        filler = self.disk / "filler"
        _fill(filler)
        time.sleep(60)
        filler.unlink()

    def _pause_broker(self) -> None:
        assert self.broker.pid is not None
        os.kill(self.broker.pid, signal.SIGSTOP)
        time.sleep(20)
        os.kill(self.broker.pid, signal.SIGCONT)


def _status(pid: int, field_name: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return float(line.split()[1])
    return 0.0


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(busy, all) clock ticks of every core so far (``/proc/stat``): idle and waiting on disk are not busy."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def _sample_broker(run: Run, pid: int, machine: list[tuple[int, int]]) -> None:
    """The embedded broker's CPU (share of a core since the last sample) and resident memory, and how busy the
    machine was since the last sample (``machine``: its last ticks, replaced)."""
    try:
        cpu, rss = _cpu_seconds(pid), _status(pid, "VmRSS") / 1024
    except OSError:
        return
    at = run.since()
    busy, every = _machine_ticks()
    was_busy, was_every = machine[0] if machine else (busy, every)
    machine[:] = [(busy, every)]
    with run.lock:
        last = run.broker[-1] if run.broker else None
        share = (cpu - last.cpu_seconds) / (at - last.at) if last is not None and at > last.at else 0.0
        loaded = (busy - was_busy) / (every - was_every) if every > was_every else 0.0
        run.broker.append(BrokerSample(at, cpu, share, rss, loaded))


def _sample(run: Run, load: Load, workers: list[MonitorProcess], machine: list[tuple[int, int]]) -> None:
    if load.broker.pid is not None:
        _sample_broker(run, load.broker.pid, machine)
    for worker in workers:
        process = worker.process
        if process is None or process.poll() is not None:
            continue
        name = worker.workdir.name
        try:
            rss = _status(process.pid, "VmRSS") / 1024
            fds = len(os.listdir(f"/proc/{process.pid}/fd"))
            cpu = _cpu_seconds(process.pid)
        except OSError:
            continue
        text = load.scraped.get(name, "")
        tasks = sample(text, "compliance_event_loop_tasks")
        lag = sum(_values(text, "compliance_consumer_lag_records"))
        queued = sum(_values(text, "compliance_delivery_queue_length"))
        held = sample(text, "compliance_alert_ledger_alerts") or 0.0
        store = _mib(text, "compliance_state_store_memory_bytes", STORE_PARTS)
        heap = _mib(text, "compliance_process_memory_bytes", HEAP_PARTS)
        histograms = {name: _buckets(text, name, **labels) for name, labels in WORKER_HISTOGRAMS.items()}
        with run.lock:
            run.samples.append(
                Sample(run.since(), name, process.pid, rss, fds, tasks, lag, queued, held, cpu, store, heap, histograms)
            )


def _mib(text: str, name: str, parts: Iterable[str]) -> tuple[float, ...]:
    """A memory gauge's parts from a scrape, MiB each (0 where it says nothing)."""
    return tuple((sample(text, name, part=part) or 0.0) / 2**20 for part in parts)


def _buckets(text: str, name: str, **labels: str) -> tuple[tuple[float, float], ...]:
    """A histogram's cumulative buckets from a scrape, (upper bound, count) in order, those of ``labels`` only."""
    counts: dict[float, float] = {}
    for line in text.splitlines():
        if not line.startswith(name + "_bucket{"):
            continue
        head, _, value = line.rpartition(" ")
        if not all(f'{k}="{v}"' in head for k, v in labels.items()):
            continue
        bound = head.partition('le="')[2].partition('"')[0]
        key = float("inf") if bound == "+Inf" else float(bound)
        counts[key] = counts.get(key, 0.0) + float(value)
    return tuple(sorted(counts.items()))


def _values(text: str, name: str) -> list[float]:
    return [float(line.rpartition(" ")[2]) for line in text.splitlines() if line.startswith(name + "{")]


async def _read_topic(bootstrap: str, topic: str, patience: float = 900) -> list[Any]:
    """Every record of ``topic``, in offset order per partition (a long topic: read until its end, or ``patience``)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=8 << 20
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=1000, max_records=50_000)).values():
                records.extend(batch)
            positions = [await consumer.position(tp) for tp in tps]
            if all(position >= ends[tp] for position, tp in zip(positions, tps, strict=True)):
                break
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


def _check(broker: EmbeddedBroker, run: Run, workers: list[MonitorProcess]) -> Report:
    records = asyncio.run(_read_topic(broker.bootstrap, TOPICS.alerts))
    report = check_alerts(run.workload, [json.loads(r.value) for r in records if r.value])
    generations: dict[int, list[int | None]] = {}
    for record in records:
        raw = dict(record.headers).get(GENERATION_HEADER)
        generations.setdefault(record.partition, []).append(int(raw) if raw else None)
    check_generations(generations, report)
    check_views(run.workload, _views(workers), report, _missed_unit_deadlines(run.workload.units()))
    dead = asyncio.run(_read_topic(broker.bootstrap, TOPICS.dead_letter, patience=60))
    for record in dead:
        report.note("wrong", f"dead-lettered: {dict(record.headers).get('dlq_reason', b'').decode()}")
    return report


def _apply_pack(broker: EmbeddedBroker, workdir: Path, n: int) -> None:
    """Apply the bundled pack again as a new version: one rule's warning text changed, so every unit moves to it.

    (A comment would not do: a pack's version is its rules', and the worker would keep the pack it has.)
    """
    pack = workdir / f"pack-{n}"
    shutil.copytree(REPO / "rules" / "packs", pack)
    first = pack / "de-an-06.yaml"
    text = first.read_text(encoding="utf-8")
    marker = "sắp đến hạn ({due})"
    assert marker in text, f"{first}: no warning text to change"
    first.write_text(text.replace(marker, f"sắp đến hạn ({{due}}; lần {n})", 1), encoding="utf-8")
    command = [sys.executable, "-m", "monitor", "rules", "apply", str(pack), "--broker", broker.url, "-m", f"soak {n}"]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=120)


def soak(plan: Plan, out: Path) -> int:
    """Run the soak; write ``soak.csv``, ``latency.csv`` and ``soak.html`` into ``out``; the exit status."""
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    disk = workdir / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4g", "tmpfs", str(disk)], check=True)
    run = Run()
    try:
        with (workdir / "broker.log").open("wb") as log, EmbeddedBroker(log=log) as broker:
            # Ticking as a deployment does (the fault suite ticks every second to see its faults sooner): each
            # tick is a record batch per partition, which the embedded broker lists at every fetch after it.
            a = _worker(broker, workdir / "a", disk / "data", tick_interval=DEFAULT_TICK_INTERVAL)
            b = _worker(broker, workdir / "b", workdir / "b" / "data", tick_interval=DEFAULT_TICK_INTERVAL)
            workers = [a, b]
            try:
                a.start().wait_ready(120)
                b.start().wait_ready(120)
                run.began = time.time()
                load = Load(broker, workers, plan, run)
                load.start()
                faults = Faults(broker, a, b, disk, run)
                next_fault, next_pack, fault_n, pack_n = plan.fault_every, plan.pack_every, 0, 0
                # Half a minute before the half and before the end: each worker logs what its memory grew (SIGUSR2).
                marks = [plan.minutes * 30 - 30, plan.minutes * 60 - 30]

                machine: list[tuple[int, int]] = []  # its CPU ticks at the last sample

                def sampler() -> None:  # a thread of its own: a fault blocks the loop below for a minute
                    while not run.stop.wait(plan.sample_every):
                        _sample(run, load, workers, machine)

                sampling = threading.Thread(target=sampler, daemon=True)
                _sample(run, load, workers, machine)
                sampling.start()
                print(f"soak: {plan.minutes:.0f} minutes, logs in {workdir}", flush=True)
                while run.since() < plan.minutes * 60:
                    if run.since() >= next_fault:
                        faults.inject(fault_n)
                        fault_n += 1
                        next_fault += plan.fault_every
                    if run.since() >= next_pack:
                        pack_n += 1
                        _apply_pack(broker, workdir, pack_n)
                        print(f"[{_clock(run)}] rule pack applied again ({pack_n})", flush=True)
                        next_pack += plan.pack_every
                    if marks and run.since() >= marks[0]:
                        marks.pop(0)
                        for worker in workers:
                            if worker.process is not None and worker.process.poll() is None:
                                worker.process.send_signal(signal.SIGUSR2)
                    time.sleep(1)
                run.stop.set()
                sampling.join()
                print(f"[{_clock(run)}] load stopped; waiting for every alert", flush=True)
                for worker in workers:
                    worker.wait_ready(180)

                def settled() -> bool:
                    with run.lock:
                        return not run.sent

                try:
                    wait_for("every overdue task's alert", settled, 600, 2.0)
                except AssertionError:
                    run.errors.append(f"{len(run.sent)} overdue tasks had no alert record 10 minutes after the load")
                run.done.set()
                load.join()
                time.sleep(15)  # the completions' resolutions, the last checkpoints
                report = _check(broker, run, workers)
            finally:
                for worker in workers:
                    worker.stop(signal.SIGKILL)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    return _write(plan, run, report, out, workdir, workers)


def _memory_report(log: Path, top: int = 8) -> list[str]:
    """The last memory report (SIGUSR2) in a worker's log: its resident memory and the ``top`` types that grew."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []
    starts = [n for n, line in enumerate(lines) if "] resident memory: " in line]
    if not starts:
        return []
    first = starts[-1]
    block = ["resident memory: " + lines[first].split("] resident memory: ", 1)[1].strip()]
    for line in lines[first + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block[: 2 + top]


def _write(plan: Plan, run: Run, report: Report, out: Path, workdir: Path, workers: list[MonitorProcess]) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "soak.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        columns = ["seconds", "worker", "pid", "rss_mib", "open_fds", "loop_tasks", "lag", "delivery_queue"]
        memory = [*(f"store_{part}_mib" for part in STORE_PARTS), *(f"heap_{part}_mib" for part in HEAP_PARTS)]
        writer.writerow([*columns, "alerts_held", "cpu_share", *memory])
        before: dict[tuple[str, int], Sample] = {}
        for s in run.samples:
            last = before.get((s.worker, s.pid))
            before[(s.worker, s.pid)] = s
            share = (s.cpu_seconds - last.cpu_seconds) / (s.at - last.at) if last and s.at > last.at else 0.0
            row = [f"{s.at:.0f}", s.worker, s.pid, f"{s.rss:.1f}", s.fds, s.tasks, s.lag, s.queued, s.alerts_held]
            writer.writerow([*row, f"{share:.3f}", *(f"{mib:.1f}" for mib in (*s.store, *s.heap))])
    with (out / "latency.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        worker_side = [f"{part}_p99_ms" for part in ("wait", "checkpoint")]
        writer.writerow(
            ["window_start_s", "events", "p50_ms", "p99_ms", "fault", "probe_p50_ms", "probe_p99_ms", *worker_side]
        )
        probed = {w.start: w for w in windows(run.probes, run.faults)}
        seconds = plan.minutes * 60
        sides = [
            {w.start: w for w in histogram_windows(run.samples, name, run.faults, seconds)}
            for name in WORKER_HISTOGRAMS
        ]
        for w in windows(run.latencies, run.faults):
            probe = probed.get(w.start)
            broker = [f"{probe.p50 * 1000:.0f}", f"{probe.p99 * 1000:.0f}"] if probe is not None else ["", ""]
            mine = [f"{side[w.start].p99 * 1000:.0f}" if w.start in side else "" for side in sides]
            row = [f"{w.start:.0f}", w.count, f"{w.p50 * 1000:.0f}", f"{w.p99 * 1000:.0f}", w.fault, *broker, *mine]
            writer.writerow(row)
    with (out / "latencies.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sent_s", "latency_ms"])
        writer.writerows([f"{sent:.3f}", f"{seconds * 1000:.0f}"] for sent, seconds in sorted(run.latencies))
    with (out / "reports.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["asked_s", "answered_in_s", "characters"])
        writer.writerows([f"{asked:.1f}", f"{took:.2f}", size] for asked, took, size in run.reports)
    with (out / "broker.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seconds", "cpu_share", "rss_mib", "machine_busy"])
        for b in run.broker:
            writer.writerow([f"{b.at:.0f}", f"{b.share:.3f}", f"{b.rss:.0f}", f"{b.machine_busy:.3f}"])
    lines, ok = figures(run.samples, run.latencies, run.faults, plan.minutes * 60)
    lines.extend(probe_figures(run.probes, run.faults, plan.minutes * 60))
    lines.extend(broker_figures(run.broker))
    for worker in workers:  # what grew over the second half (since the report half-way)
        block = _memory_report(worker.log)
        if block:
            lines.append(f"{worker.workdir.name}, memory at the end (SIGUSR2): " + block[0])
            lines.extend(f"  {line}" for line in block[1:])
    lines.extend(report_figures(run.reports, plan.minutes * 60))
    lines.append(
        f"exactly once over {len(run.workload.tasks):,} tasks: lost {report.lost}, duplicated {report.duplicated}, "
        f"wrong {report.wrong}, views wrong {report.views_wrong}, zombie {report.zombie}"
    )
    lines.extend(f"  {line}" for line in report.detail[:20])
    lines.extend(f"load error: {e}" for e in run.errors[:20])
    by_worker = sorted({s.worker for s in run.samples})
    measures = {
        "RSS": ("MiB", lambda s: s.rss),
        "open files": ("fds", lambda s: float(s.fds)),
        "event loop tasks": ("tasks", lambda s: float(s.tasks or 0)),
        "alerts held in memory": ("alerts", lambda s: s.alerts_held),
        "consumer lag": ("records", lambda s: s.lag),
        "delivery queues": ("notifications", lambda s: s.queued),
    }
    charts = {
        title: chart(
            title,
            unit,
            [Series(w, [(s.at, get(s)) for s in run.samples if s.worker == w]) for w in by_worker],
            run.faults,
        )
        for title, (unit, get) in measures.items()
    }
    spans = windows(run.latencies, run.faults)
    probed = windows(run.probes, run.faults)
    waited, checkpoints = (
        histogram_windows(run.samples, name, run.faults, plan.minutes * 60) for name in WORKER_HISTOGRAMS
    )
    charts["latency"] = chart(
        "event → alert record, per 5 minutes (the broker's own send → fetch; the workers' record wait and checkpoint)",
        "ms",
        [
            Series("p99", [(w.start, w.p99 * 1000) for w in spans]),
            Series("p50", [(w.start, w.p50 * 1000) for w in spans]),
            Series("broker p99", [(w.start, w.p99 * 1000) for w in probed]),
            Series("record wait p99", [(w.start, w.p99 * 1000) for w in waited]),
            Series("checkpoint p99", [(w.start, w.p99 * 1000) for w in checkpoints]),
        ],
        run.faults,
    )
    charts["broker"] = chart(
        "embedded broker: CPU (share of a core, %)",
        "%",
        [Series("CPU", [(b.at, b.share * 100) for b in run.broker[1:]])],
        run.faults,
    )
    (out / "soak.html").write_text(page(f"make soak: {plan.minutes:.0f} minutes", lines, charts), encoding="utf-8")
    print("\n".join(lines), flush=True)
    names = ("soak.csv", "latency.csv", "latencies.csv", "reports.csv", "broker.csv", "soak.html")
    written = ", ".join(str(out / name) for name in names)
    print(f"written: {written}; logs in {workdir}")
    return 0 if ok and report.clean else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=120.0, help="how long the load runs (default 120)")
    parser.add_argument("--out", type=Path, default=Path("soak-results"), help="where the CSV and HTML go")
    parser.add_argument("--fault-every", type=float, default=600.0, help="seconds between faults (default 600)")
    parser.add_argument("--burst-every", type=float, default=1200.0, help="seconds between bursts (default 1200)")
    parser.add_argument("--burst-events", type=int, default=200_000, help="events per burst (default 200,000)")
    parser.add_argument("--backlog", type=int, default=20_000, help="overdue tasks open at most (default 20,000)")
    parser.add_argument("--pack-every", type=float, default=1800.0, help="seconds between packs (default 1800)")
    parser.add_argument(
        "--report-every",
        type=float,
        default=60.0,
        help="seconds between two asks of the review report and an overdue CSV (default 60; 0: none)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    plan = Plan(
        minutes=args.minutes,
        fault_every=args.fault_every,
        burst_every=args.burst_every,
        burst_events=args.burst_events,
        pack_every=args.pack_every,
        backlog=args.backlog,
        report_every=args.report_every,
    )
    return soak(plan, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
