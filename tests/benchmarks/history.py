"""Start-up after a long alert history, through the real (embedded) broker; prints figures, asserts nothing.

Run: ``python -m tests.benchmarks.history [--transitions 1000000]`` (``make bench-history``).

N alert transitions (firing, then resolved, five times over for each of N/10
alerts) are written to ``compliance.alerts``. Then a worker starts on an
empty data directory: the time until ``/readyz`` answers 200 (its ledger has
read the whole topic) and until ``/api/v1/alerts/history`` answers 200 (its
history index holds every record). It is stopped, 10,000 more transitions
are written, and it starts again on the same data directory: it loads the
last record per alert from its index and reads only the newer ones. The
ratio of the two start-ups is what the index saves; the restart should not
grow with N.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics, ensure_topics
from rules.state import AlertTransition
from tests.integration.kafka import MonitorProcess, http_get

TOPICS = Topics()
PARTITIONS = 4
UNITS = [f"VN-{n:02d}" for n in range(1, 64)]


def _transition(alert: int, step: int, start: datetime) -> AlertTransition:
    unit = UNITS[alert % len(UNITS)]
    firing = step % 2 == 0
    starts = start + timedelta(hours=alert % 1000, days=step)
    return AlertTransition(
        fingerprint=f"{alert:016x}",
        status="firing" if firing else "resolved",
        stage="overdue",
        rule_id="task-overdue",
        severity="critical",
        labels={"alertname": "task-overdue", "unit_id": unit, "task_id": f"HS-{alert:07d}", "severity": "critical"},
        annotations={"summary": f"{unit}: HS-{alert:07d} quá hạn", "due": starts.isoformat()}
        | ({} if firing else {"resolution": "completed_late", "late": "true", "late_days": "1"}),
        starts_at=starts,
        ends_at=None if firing else starts + timedelta(days=1),
        event_ids=[f"bench-{alert}-{step}"],
        rule_version="bench",
    )


async def _write(bootstrap: str, count: int, first_step: int = 0) -> float:
    """Write ``count`` transitions keyed by fingerprint; seconds taken."""
    alerts = max(1, count // 10)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    began = time.perf_counter()
    try:
        pending = []
        for n in range(count):
            alert, step = n % alerts, first_step + n // alerts
            record = _transition(alert, step, start)
            pending.append(
                await producer.send(TOPICS.alerts, record.model_dump_json().encode(), key=record.fingerprint.encode())
            )
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
                print(f"  written {n + 1:,} of {count:,}", flush=True)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - began


def _time_start(worker: MonitorProcess, timeout: float = 1800) -> tuple[float, float]:
    """Seconds from start until /readyz, and until the history answers."""
    began = time.monotonic()
    worker.start()
    ready = history = None
    while time.monotonic() - began < timeout and (ready is None or history is None):
        now = time.monotonic() - began
        if ready is None and http_get(worker.base_url + "/readyz")[0] == 200:
            ready = now
        if history is None and http_get(worker.base_url + "/api/v1/alerts/history?limit=1")[0] == 200:
            history = now
        time.sleep(0.2)
    if ready is None or history is None:
        raise SystemExit(f"the worker did not start within {timeout:.0f}s; see {worker.log}")
    return ready, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-history-") as scratch:
        work = Path(scratch)
        with (work / "broker.log").open("wb") as log, EmbeddedBroker(log=log) as broker:
            asyncio.run(ensure_topics(broker.bootstrap, TOPICS, PARTITIONS))
            print(f"writing {args.transitions:,} alert transitions ...", flush=True)
            took = asyncio.run(_write(broker.bootstrap, args.transitions))
            print(f"written in {took:.1f}s ({args.transitions / took:,.0f}/s)")
            worker = MonitorProcess(
                ["worker", "--broker", broker.url, "--partitions", str(PARTITIONS), "--data-dir", str(work / "data")],
                work,
            )
            try:
                cold = _time_start(worker)
                size = (work / "data" / "alert-history.sqlite3").stat().st_size
                worker.stop()
                asyncio.run(_write(broker.bootstrap, 10_000, first_step=1000))
                warm = _time_start(worker)
            finally:
                worker.stop()
    print()
    print(f"alert transitions on the topic:         {args.transitions:,} (+10,000 before the restart)")
    print(f"empty data directory: ready after       {cold[0]:.1f}s; history answers after {cold[1]:.1f}s")
    print(f"restart on its data directory: ready    {warm[0]:.1f}s; history answers after {warm[1]:.1f}s")
    print(f"restart / first start (ready):          {warm[0] / cold[0]:.2f}")
    print(
        f"history index size:                     {size / 1e6:.0f} MB ({size / args.transitions:.0f} B per transition)"
    )


if __name__ == "__main__":
    main()
