"""Dossiers in volume, for tests and benchmarks that load one worker with many tracked items.

A dossier (hồ sơ) is the unit of work that comes in volume: each with its
legal processing deadline. ``dossier_records`` makes per-unit JSON-array
records of in-progress dossiers, none due for 10 days; ``publish`` sends them;
``rss_bytes`` and ``accepted`` read what a worker process holds and has done.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from monitor.kafka.topics import Topics
from tests.integration.kafka import http_get, sample

__all__ = ["BATCH", "UNITS", "accepted", "dossier_records", "publish", "rss_bytes", "wait_accepted"]

#: The 63 provinces of 2024: what the bundled pack's 2024 rosters cover.
UNITS = [f"VN-{n:02d}" for n in range(1, 64)]
#: Events per record.
BATCH = 500
TOPICS = Topics()


def dossier_records(
    count: int, now: datetime, *, first: int = 0, units: list[str] = UNITS
) -> Iterator[tuple[bytes, bytes]]:
    """Records of ``BATCH`` in-progress dossiers each, ``count`` in all, spread over ``units``, due 10 to 300 days on.

    Dossier numbers start at ``first`` in every unit (so a second load of the same
    ``count`` from ``first=count`` adds as many new dossiers).
    """
    per_unit = -(-count // len(units))
    made = 0
    for unit in units:
        items = []
        for n in range(first, first + min(per_unit, count - made)):
            deadline = (now + timedelta(days=10 + n % 290)).date().isoformat()
            items.append(
                {
                    "event_id": f"scale-{unit}-{n}",
                    "source": "bench",
                    "unit_id": unit,
                    "task_id": f"HS-{unit}-{n:07d}",  # one dossier per unit: a province merged in 2025 keeps its own
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


async def _publish(bootstrap: str, records: Iterable[tuple[bytes, bytes]], topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def publish(bootstrap: str, records: Iterable[tuple[bytes, bytes]], topic: str = TOPICS.task_status) -> None:
    """Publish (key, value) records and wait until the broker has them all."""
    asyncio.run(_publish(bootstrap, records, topic))


def rss_bytes(pid: int) -> int:
    """A process's resident memory."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def accepted(port: int) -> float:
    """Events a worker has accepted so far (its ``/metrics``)."""
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    return (sample(body, "compliance_events_total", outcome="accepted") or 0.0) if status == 200 else 0.0


def wait_accepted(port: int, count: float, limit: float, *, progress: bool = False) -> float:
    """Seconds until the worker has accepted ``count`` events; fails after ``limit`` seconds."""
    began = last_print = time.monotonic()
    while time.monotonic() - began < limit:
        done = accepted(port)
        if done >= count:
            return time.monotonic() - began
        if progress and time.monotonic() - last_print >= 15:
            print(f"  … {done:,.0f} of {count:,.0f} events processed", flush=True)
            last_print = time.monotonic()
        time.sleep(0.5)
    raise AssertionError(f"the worker accepted {accepted(port):,.0f} of {count:,.0f} events in {limit:.0f} s")
