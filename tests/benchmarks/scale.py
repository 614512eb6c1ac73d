"""One worker holding many tracked items, through the real (embedded) broker; prints figures, asserts nothing.

Run: ``python -m tests.benchmarks.scale [--items 1000000]`` (``make bench-scale``).

(c) N dossiers with deadlines 10 to 300 days ahead are published in batches
of 500 to one worker (RocksDB store); then: memory per item (growth of the
worker's resident memory over the load, divided by N) and RocksDB bytes per
item; the cost of a tick with nothing due (``compliance_tick_seconds`` over
30 s, nothing being due); the delay from a deadline passing to its alert
record on ``compliance.alerts`` (one dossier due 20 s after it is published);
the cost of a tick when every unit had an event since the last one (its
roster deadlines and aggregates are due again); the review report of this
quarter (the dossiers due in it read through the index by due instant) beside
that of the last quarter judged at its end (every dossier reported after it,
so every one is read: what each report cost before the index).
(d) the worker is stopped and started again on the same data directory: the
time until ``/readyz`` answers 200 and until ``/metrics`` counts every task
again; then a new worker on an empty data directory rebuilds the store from
the changelog: the same two times, and the rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics, ensure_topics
from rules.review import quarter_of
from tests.integration.dossiers import BATCH, UNITS, dossier_records, publish, rss_bytes, wait_accepted
from tests.integration.kafka import MonitorProcess, http_get

TOPICS = Topics()


def _touches(round_: int, now: datetime) -> list[tuple[bytes, bytes]]:
    """One update per unit: its first dossier reported again (still in progress)."""
    records = []
    for unit in UNITS:
        event = {
            "event_id": f"touch-{unit}-{round_}",
            "source": "bench",
            "unit_id": unit,
            "task_id": f"HS-{unit}-0000000",
            "kind": "dossier",
            "status": "in_progress",
            "deadline": (now + timedelta(days=10)).date().isoformat(),
            "occurred_at": now.isoformat(),
        }
        records.append((unit.encode(), json.dumps(event).encode()))
    return records


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


def _counted(port: int, tasks: float, limit: float) -> float:
    """Seconds until the worker reports ``tasks`` tasks in ``/metrics``."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        if _total(_metrics(port), "compliance_tasks") >= tasks:
            return time.monotonic() - began
        time.sleep(0.5)
    raise SystemExit(f"the worker did not count {tasks:,.0f} tasks in {limit:.0f} s")


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


def _report(port: int, period: str) -> tuple[float, int]:
    """Seconds to answer the review report of ``period`` in JSON, and the deadlines it counts."""
    began = time.monotonic()
    status, body = http_get(f"http://127.0.0.1:{port}/reports?format=json&period={period}", timeout=900)
    seconds = time.monotonic() - began
    if status != 200:
        raise SystemExit(f"/reports?period={period} answered {status}: {body[:300]}")
    return seconds, sum(len(unit["items"]) for unit in json.loads(body)["units"])


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
        await asyncio.to_thread(publish, bootstrap, [(b"VN-22", json.dumps(event).encode())])
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
        rss_before = rss_bytes(pid)
        print(f"publishing {items:,} dossiers in records of {BATCH}…", flush=True)
        began = time.monotonic()
        publish(broker.bootstrap, dossier_records(items, datetime.now(UTC)))
        print(f"  published in {time.monotonic() - began:.1f} s", flush=True)
        wait_accepted(worker.web_port, items, 3600, progress=True)
        load = time.monotonic() - began
        print(f"  processed {items:,} events {load:.1f} s after publishing began", flush=True)
        time.sleep(15)  # unit-wide rules marked due by the load run on the next ticks
        rss_after = rss_bytes(pid)
        disk = sum(f.stat().st_size for f in datadir.rglob("*") if f.is_file())
        per_tick, ticks = _tick_cost(worker.web_port, 30)
        round_ = iter(range(1_000_000))

        def one_event_per_unit() -> None:  # each unit's unit-wide rules are due again at the next tick
            publish(broker.bootstrap, _touches(next(round_), datetime.now(UTC)))

        busy_tick, busy_ticks = _tick_cost(worker.web_port, 30, one_event_per_unit)
        delay = asyncio.run(_deadline_delay(broker.bootstrap, 20))
        quarter = quarter_of(datetime.now(UTC).date())
        last_quarter = quarter_of(quarter.first - timedelta(days=1))
        report, counted_now = _report(worker.web_port, quarter.text)
        every, counted_then = _report(worker.web_port, last_quarter.text)
        scraped = time.monotonic()
        tasks = _total(_metrics(worker.web_port), "compliance_tasks")
        scrape = time.monotonic() - scraped
        stopped = _stop(worker)
        again = _worker(broker, datadir)
        ready = _start(again, 3600)
        counted = ready + _counted(again.web_port, tasks, 3600)
        reloaded = _total(_metrics(again.web_port), "compliance_tasks")
        rss_restarted = rss_bytes(again.process.pid) if again.process is not None else 0
        _stop(again)
        print("rebuilding a worker from the changelog alone (an empty data directory)…", flush=True)
        fresh = _worker(broker, Path(tmp) / "fresh")
        rebuilt_ready = _start(fresh, 7200)
        rebuilt = rebuilt_ready + _counted(fresh.web_port, tasks, 7200)
        _stop(fresh)
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
        f"(c) review report of {quarter.text}: {report:.2f} s ({counted_now:,} deadlines due in it); of "
        f"{last_quarter.text}, every item read: {every:.2f} s ({counted_then:,} deadlines); ratio {report / every:.3f}"
    )
    print(
        f"(d) restart on the same data directory: /readyz in {ready:.1f} s, every item counted in {counted:.1f} s "
        f"({reloaded:,.0f} tasks reported; RSS {rss_restarted / 2**20:,.0f} MiB; graceful stop took {stopped:.1f} s)"
    )
    print(
        f"(d) a new worker on an empty data directory: /readyz in {rebuilt_ready:.1f} s, every item rebuilt from the "
        f"changelog in {rebuilt:.1f} s ({items / rebuilt:,.0f} items/s)"
    )


if __name__ == "__main__":
    main()
