"""One worker holding many tracked items, through the real (embedded) broker; prints figures, asserts nothing.

Run: ``python -m tests.benchmarks.scale [--items 1000000]`` (``make bench-scale``).

(c) N dossiers with deadlines 10 to 300 days ahead are published in batches
of 500 to one worker (RocksDB store); then: memory per item (growth of the
worker's resident memory over the load, divided by N) and RocksDB bytes per
item; the cost of a tick with nothing due (``compliance_tick_seconds`` over
30 s, nothing being due); the delay from a deadline passing to its alert
record on ``compliance.alerts`` (one dossier due 20 s after it is published);
the cost of a tick when every unit had an event since the last one (its
roster deadlines and aggregates are due again).
(d) the worker is stopped and started again on the same data directory: the
time until ``/readyz`` answers 200, which includes reading every item back
into memory, and the number of tasks it then reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics, ensure_topics
from tests.integration.kafka import MonitorProcess, http_get, sample

UNITS = [f"VN-{n:02d}" for n in range(1, 64)]
BATCH = 500
TOPICS = Topics()


def _batches(count: int, now: datetime) -> Iterator[tuple[bytes, bytes]]:
    """Per-unit JSON-array records of ``BATCH`` in-progress dossiers, none due for 10 days."""
    per_unit = -(-count // len(UNITS))
    made = 0
    for unit in UNITS:
        items = []
        for n in range(min(per_unit, count - made)):
            deadline = (now + timedelta(days=10 + n % 290)).date().isoformat()
            items.append(
                {
                    "event_id": f"scale-{unit}-{n}",
                    "source": "bench",
                    "unit_id": unit,
                    "task_id": f"HS-{n:07d}",
                    "kind": "dossier",
                    "status": "in_progress",
                    "deadline": deadline,
                    "occurred_at": now.isoformat(),
                }
            )
            if len(items) == BATCH:
                yield unit.encode(), json.dumps(items).encode()
                items = []
        if items:
            yield unit.encode(), json.dumps(items).encode()
        made += min(per_unit, count - made)


def _touches(round_: int, now: datetime) -> list[tuple[bytes, bytes]]:
    """One update per unit: its first dossier reported again (still in progress)."""
    records = []
    for unit in UNITS:
        event = {
            "event_id": f"touch-{unit}-{round_}",
            "source": "bench",
            "unit_id": unit,
            "task_id": "HS-0000000",
            "kind": "dossier",
            "status": "in_progress",
            "deadline": (now + timedelta(days=10)).date().isoformat(),
            "occurred_at": now.isoformat(),
        }
        records.append((unit.encode(), json.dumps(event).encode()))
    return records


async def _publish(bootstrap: str, records: Iterator[tuple[bytes, bytes]] | list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(TOPICS.task_status, value=value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _metrics(port: int) -> str:
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    return body if status == 200 else ""


def _total(body: str, name: str) -> float:
    """The sum of every sample of ``name`` (all label sets)."""
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rpartition(" ")[2])
    return total


def _worker(broker: EmbeddedBroker, datadir: Path) -> MonitorProcess:
    args = ["worker", "--broker", broker.url, "--data-dir", str(datadir), "--rules", "rules/packs"]
    return MonitorProcess(args, datadir.parent)


def _start(worker: MonitorProcess, limit: float) -> float:
    """Start the worker; seconds until /readyz says ready."""
    began = time.monotonic()
    worker.start().wait_ready(timeout=limit)
    return time.monotonic() - began


def _stop(worker: MonitorProcess) -> float:
    began = time.monotonic()
    worker.stop(timeout=300)
    return time.monotonic() - began


def _wait_accepted(port: int, count: float, limit: float) -> float:
    began = time.monotonic()
    last_print = began
    while time.monotonic() - began < limit:
        done = sample(_metrics(port), "compliance_events_total", outcome="accepted") or 0.0
        if done >= count:
            return time.monotonic() - began
        if time.monotonic() - last_print >= 15:
            print(f"  … {done:,.0f} of {count:,.0f} events processed", flush=True)
            last_print = time.monotonic()
        time.sleep(2)
    raise SystemExit("the worker did not process the load in time")


def _tick_cost(port: int, seconds: float, during: Callable[[], None] | None = None) -> tuple[float, float]:
    """Average seconds per tick record, and how many tick records, over ``seconds`` (calling ``during`` each 5 s)."""
    before = _metrics(port)
    ends = time.monotonic() + seconds
    while (left := ends - time.monotonic()) > 0:
        if during is not None:
            during()
        time.sleep(min(5.0, left))
    after = _metrics(port)
    spent = _total(after, "compliance_tick_seconds_sum") - _total(before, "compliance_tick_seconds_sum")
    ticks = _total(after, "compliance_tick_seconds_count") - _total(before, "compliance_tick_seconds_count")
    return spent / max(ticks, 1), ticks


async def _deadline_delay(bootstrap: str, lead: float) -> float:
    """Publish a dossier due ``lead`` seconds from now; seconds from its deadline to its overdue record."""
    consumer = AIOKafkaConsumer(TOPICS.alerts, bootstrap_servers=bootstrap, auto_offset_reset="latest")
    await consumer.start()
    try:
        await consumer.seek_to_end()
        for tp in consumer.assignment():
            await consumer.position(tp)
        due = datetime.now(UTC) + timedelta(seconds=lead)
        event = {
            "event_id": "scale-delay",
            "source": "bench",
            "unit_id": "VN-22",
            "task_id": "HS-DELAY",
            "kind": "dossier",
            "status": "in_progress",
            "deadline": due.isoformat(),
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        await _publish(bootstrap, [(b"VN-22", json.dumps(event).encode())])
        limit = time.monotonic() + lead + 120
        while time.monotonic() < limit:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    alert = json.loads(record.value)
                    if alert["labels"].get("task_id") == "HS-DELAY" and alert["stage"] == "overdue":
                        return time.time() - due.timestamp()
        raise SystemExit("no overdue record for the dossier")
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    items = parser.parse_args().items
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        datadir = Path(tmp) / "worker"
        asyncio.run(ensure_topics(broker.bootstrap, TOPICS, 4))
        worker = _worker(broker, datadir)
        print(f"first start, empty: ready in {_start(worker, 120):.1f} s", flush=True)
        time.sleep(2)
        assert worker.process is not None
        pid = worker.process.pid
        rss_before = _rss_bytes(pid)
        print(f"publishing {items:,} dossiers in records of {BATCH}…", flush=True)
        began = time.monotonic()
        asyncio.run(_publish(broker.bootstrap, _batches(items, datetime.now(UTC))))
        print(f"  published in {time.monotonic() - began:.1f} s", flush=True)
        _wait_accepted(worker.web_port, items, 3600)
        load = time.monotonic() - began
        print(f"  processed {items:,} events {load:.1f} s after publishing began", flush=True)
        time.sleep(15)  # unit-wide rules marked due by the load run on the next ticks
        rss_after = _rss_bytes(pid)
        disk = sum(f.stat().st_size for f in datadir.rglob("*") if f.is_file())
        per_tick, ticks = _tick_cost(worker.web_port, 30)
        round_ = iter(range(1_000_000))

        def one_event_per_unit() -> None:  # each unit's unit-wide rules are due again at the next tick
            asyncio.run(_publish(broker.bootstrap, _touches(next(round_), datetime.now(UTC))))

        busy_tick, busy_ticks = _tick_cost(worker.web_port, 30, one_event_per_unit)
        delay = asyncio.run(_deadline_delay(broker.bootstrap, 20))
        scraped = time.monotonic()
        tasks = _total(_metrics(worker.web_port), "compliance_tasks")
        scrape = time.monotonic() - scraped
        stopped = _stop(worker)
        again = _worker(broker, datadir)
        ready = _start(again, 3600)
        reloaded = _total(_metrics(again.web_port), "compliance_tasks")
        _stop(again)
    print(
        f"(c) tracked items: {tasks:,.0f} tasks in one worker (4 partitions, RocksDB store); "
        f"loaded in {load:.0f} s ({items / load:,.0f} events/s, publishing included)"
    )
    print(
        f"(c) memory per item: {(rss_after - rss_before) / items:,.0f} bytes resident (worker RSS "
        f"{rss_before / 2**20:,.0f} MiB → {rss_after / 2**20:,.0f} MiB); on disk {disk / items:,.0f} bytes per item"
    )
    print(f"(c) tick with nothing due: {per_tick * 1000:.3f} ms per partition tick (mean of {ticks:.0f} ticks in 30 s)")
    print(
        f"(c) tick with an event in every unit before it: {busy_tick * 1000:.3f} ms per partition tick "
        f"(mean of {busy_ticks:.0f} ticks in 30 s, unit-wide rules due in all {len(UNITS)} units)"
    )
    print(f"(c) deadline passing → its alert record on {TOPICS.alerts}: {delay:.2f} s (tick interval 5 s)")
    print(f"(c) one /metrics scrape with these items: {scrape:.2f} s")
    print(
        f"(d) restart on the same data directory: ready in {ready:.1f} s, {reloaded:,.0f} tasks reported "
        f"(graceful stop took {stopped:.1f} s)"
    )


if __name__ == "__main__":
    main()
