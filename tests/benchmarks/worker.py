"""Worker throughput through the real (embedded) broker; prints figures, asserts nothing.

Run: ``python -m tests.benchmarks.worker [--events N]``. Records are loaded
onto the topic first, then the consumer starts, so only consuming is timed:
(a) one record per event, the monitor worker against a bare faust agent that
only counts records, in the same run, before and after the worker (the
machine's speed drifts: the worker is compared with their mean); (b) the same events in per-unit
JSON-array batches of 500; the events name the provinces in force today, by
the codes publishers send now (a code of 2024 costs a second trip: its
events are forwarded to their successor's partition); (c) event → alert: overdue tasks sent at a steady
rate to a running worker, each timed from its send to its alert record on the
alerts topic, next to the broker's own send → fetch time in the same run; over
the whole run, and for those sent after its first second (the first records
wait for the worker's takeover of its partitions: the alert ledger, the rule
packs and the publisher registry read to their ends, once per rebalance).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics, ensure_topics
from rules.loading import BUNDLED_PACK, load_pack
from rules.units.model import Level
from tests.benchmarks.bare_agent import PARTITIONS
from tests.integration.dossiers import publish
from tests.integration.kafka import MonitorProcess, http_get, sample

#: The provinces in force today (34 since 2025-07-01): the codes publishers send now, each its own partition's.
UNITS = [unit.id for unit in load_pack([BUNDLED_PACK]).units.in_force(datetime.now(UTC), Level.PROVINCE)]


def _events(count: int, tag: str) -> list[tuple[bytes, dict[str, object]]]:
    now = datetime.now(UTC)
    out = []
    for n in range(count):
        unit = UNITS[n % len(UNITS)]
        out.append(
            (
                unit.encode(),
                {
                    "event_id": f"{tag}-{n}",
                    "source": "bench",
                    "unit_id": unit,
                    "task_id": f"HS-{n}",
                    "kind": "dossier",
                    "status": "in_progress",
                    "deadline": (now + timedelta(days=n % 60 - 10)).date().isoformat(),
                    "occurred_at": now.isoformat(),
                },
            )
        )
    return out


def _singles(events: list[tuple[bytes, dict[str, object]]]) -> list[tuple[bytes, bytes]]:
    return [(key, json.dumps(body).encode()) for key, body in events]


def _batches(events: list[tuple[bytes, dict[str, object]]], size: int = 500) -> list[tuple[bytes, bytes]]:
    by_unit: dict[bytes, list[dict[str, object]]] = {}
    for key, body in events:
        by_unit.setdefault(key, []).append(body)
    return [
        (key, json.dumps(items[i : i + size]).encode())
        for key, items in by_unit.items()
        for i in range(0, len(items), size)
    ]


def _worker_rate(broker: EmbeddedBroker, workdir: Path, count: int) -> float:
    """Events accepted per second, from the first accepted to the last.

    Progress is read from ``/metrics``, whose scrape walks every unit's state:
    polled four times a second it took 10-20 % of the worker's CPU. Once
    events flow it is read once a second, and the instant the last event was
    accepted is interpolated between the last two reads.
    """
    args = ["worker", "--broker", broker.url, "--data-dir", str(workdir / "data"), "--rules", "rules/packs"]
    with MonitorProcess(args, workdir) as worker:
        first = last = None
        previous: tuple[float, float] | None = None  # (when, accepted) at the last read
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            status, body = http_get(f"{worker.base_url}/metrics")
            now = time.monotonic()
            done = sample(body, "compliance_events_total", outcome="accepted") if status == 200 else None
            if done and first is None:
                first = now
            if done is not None and done >= count:
                last = now
                if previous is not None and done > previous[1]:
                    last = previous[0] + (count - previous[1]) / (done - previous[1]) * (now - previous[0])
                break
            if done:
                previous = (now, done)
            time.sleep(1.0 if first is not None else 0.1)
        if first is None or last is None:
            raise SystemExit("the worker did not finish in time")
        return count / max(last - first, 1e-9)


async def _create(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()


def _bare_rate(broker: EmbeddedBroker, workdir: Path, topic: str, count: int, *, write: bool = False) -> float:
    out = workdir / "bare.txt"
    args = [sys.executable, "-m", "tests.benchmarks.bare_agent", broker.url, topic, str(count), str(out), str(workdir)]
    args += ["write"] if write else []
    with (workdir / "bare.log").open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600
        while not out.exists() and time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the bare agent exited: {(workdir / 'bare.log').read_text()[-2000:]}")
            time.sleep(0.1)
        return count / float(out.read_text())
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--events", type=int, default=50_000, help="events for (a), one per record (long enough to time)"
    )
    parser.add_argument(
        "--batch-events", type=int, default=200_000, help="events for (b), in records of 500 (long enough to time)"
    )
    options = parser.parse_args()
    count = options.events
    topics = Topics()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        root = Path(tmp)
        asyncio.run(ensure_topics(broker.bootstrap, topics, PARTITIONS))
        rates = {}
        for name, write in (("bare", False), ("write", True)):
            asyncio.run(_create(broker.bootstrap, f"bench.{name}"))
            publish(broker.bootstrap, _singles(_events(count, name)), f"bench.{name}")
            (root / name).mkdir()
            rates[name] = _bare_rate(broker, root / name, f"bench.{name}", count, write=write)
        publish(broker.bootstrap, _singles(_events(count, "single")), topics.task_status)
        (root / "single").mkdir()
        single = _worker_rate(broker, root / "single", count)
        # The machine's speed drifts within minutes: the bare agent runs again after the worker, and the
        # worker is compared with the two runs' mean.
        asyncio.run(_create(broker.bootstrap, "bench.again"))
        publish(broker.bootstrap, _singles(_events(count, "again")), "bench.again")
        (root / "again").mkdir()
        again = _bare_rate(broker, root / "again", "bench.again", count)
        bare, write = (rates["bare"] + again) / 2, rates["write"]
        print(
            f"(a) bare faust agent counting records: {rates['bare']:,.0f} records/s before the worker, {again:,.0f} after"
        )
        print(f"(a) bare faust agent writing each record to a RocksDB table: {write:,.0f} records/s")
        print(
            f"(a) monitor worker, one event per record: {single:,.0f} events/s; "
            f"worker/bare = {single / bare:.3f} (the bare agent's mean), worker/bare-with-a-write = {single / write:.3f}"
        )
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        root = Path(tmp)
        asyncio.run(ensure_topics(broker.bootstrap, topics, PARTITIONS))
        publish(broker.bootstrap, _batches(_events(options.batch_events, "batch")), topics.task_status)
        batched = _worker_rate(broker, root, options.batch_events)
        print(f"(b) monitor worker, batches of 500 events per record ({len(UNITS)} provinces): {batched:,.0f} events/s")
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        root = Path(tmp)
        asyncio.run(ensure_topics(broker.bootstrap, topics, PARTITIONS))
        args = ["worker", "--broker", broker.url, "--data-dir", str(root / "data"), "--rules", "rules/packs"]
        with MonitorProcess(args, root) as worker:
            worker.wait_ready(120)
            alerts, fetched = asyncio.run(_latencies(broker.bootstrap, topics, rate=200, seconds=15))
        steady = alerts[200:]  # sent after the first second: the first records wait for the takeover
        print(
            f"(c) event → alert record, {len(alerts):,} overdue tasks at 200 events/s: "
            f"p50 {_quantile(alerts, 0.5) * 1000:.0f} ms, p99 {_quantile(alerts, 0.99) * 1000:.0f} ms; "
            f"after the first second p50 {_quantile(steady, 0.5) * 1000:.0f} ms, "
            f"p99 {_quantile(steady, 0.99) * 1000:.0f} ms; "
            f"broker send → fetch p50 {_quantile(fetched, 0.5) * 1000:.0f} ms, "
            f"p99 {_quantile(fetched, 0.99) * 1000:.0f} ms"
        )


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _latencies(bootstrap: str, topics: Topics, rate: int, seconds: int) -> tuple[list[float], list[float]]:
    """Send overdue tasks at ``rate``; time each to its alert record, and to the broker handing it to a consumer."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    # Fetches that wait 10 ms at most: the embedded broker answers a fetch only when its wait runs out.
    alerts = AIOKafkaConsumer(
        topics.alerts, bootstrap_servers=bootstrap, auto_offset_reset="latest", fetch_max_wait_ms=10
    )
    raw = AIOKafkaConsumer(
        topics.task_status, bootstrap_servers=bootstrap, auto_offset_reset="latest", fetch_max_wait_ms=10
    )
    sent: dict[str, float] = {}
    to_alert: dict[str, float] = {}
    to_fetch: dict[str, float] = {}

    async def watch(
        consumer: AIOKafkaConsumer, into: dict[str, float], ids: Callable[[dict[str, Any]], list[str]]
    ) -> None:
        async for message in consumer:
            now = time.monotonic()
            for event_id in ids(json.loads(message.value)):
                if event_id in sent and event_id not in into:
                    into[event_id] = now - sent[event_id]

    await producer.start()
    await alerts.start()
    await raw.start()
    for consumer in (alerts, raw):  # positions taken now: only what is sent from here on is seen
        for tp in consumer.assignment():
            await consumer.position(tp)
    watchers = [
        asyncio.create_task(watch(alerts, to_alert, lambda record: list(record.get("event_ids", [])))),
        asyncio.create_task(watch(raw, to_fetch, lambda record: [record["event_id"]])),
    ]
    try:
        began = time.monotonic()
        overdue = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
        for n in range(rate * seconds):
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
            unit = UNITS[n % len(UNITS)]
            event_id = f"late-{n}"
            body = {
                "event_id": event_id,
                "source": "bench",
                "unit_id": unit,
                "task_id": f"LATE-{n}",
                "kind": "dossier",
                "status": "in_progress",
                "deadline": overdue,
                "occurred_at": datetime.now(UTC).isoformat(),
            }
            sent[event_id] = time.monotonic()
            await producer.send(topics.task_status, json.dumps(body).encode(), key=unit.encode())
        deadline = time.monotonic() + 30
        while (len(to_alert) < len(sent) or len(to_fetch) < len(sent)) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    finally:
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        await producer.stop()
        await alerts.stop()
        await raw.stop()
    if len(to_alert) < len(sent):
        raise SystemExit(f"only {len(to_alert)} of {len(sent)} overdue tasks reached the alerts topic in time")
    order = list(sent)  # in the order sent
    return [to_alert[event_id] for event_id in order], [to_fetch[e] for e in order if e in to_fetch]


if __name__ == "__main__":
    main()
