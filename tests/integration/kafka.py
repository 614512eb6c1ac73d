"""Plain Kafka clients and worker processes for integration tests (no faust on this side)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from events.codec import encode_event
from events.models import Event
from monitor.devtools.broker import free_port
from monitor.kafka.topics import Topics
from tests.conftest import REPO

T = TypeVar("T")


async def _produce(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers or None)
    finally:
        await producer.stop()


def produce(
    bootstrap: str, topic: str, value: bytes, key: bytes | None = None, headers: list[tuple[str, bytes]] | None = None
) -> None:
    """Publish one record and wait for the broker's acknowledgement."""
    _run(_produce(bootstrap, topic, [(key, value, headers or [])]))


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, also from code that already runs a loop (Playwright's sync API does)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _read_all(bootstrap: str, topic: str, idle: float) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=int(idle * 1000))
            for items in batch.values():
                records.extend(items)
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(positions[tp] >= end[tp] for tp in tps):
                break
        return sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset))
    finally:
        await consumer.stop()


def read_all(bootstrap: str, topic: str, idle: float = 0.2) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record now on ``topic``, oldest first."""
    return _run(_read_all(bootstrap, topic, idle))


async def _positions(
    bootstrap: str, group: str, topics: Sequence[str]
) -> dict[tuple[str, int], tuple[int | None, int]]:
    # A consumer of the group that joins nothing: it only fetches the group's offsets.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = await consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): (await consumer.committed(tp), ends[tp]) for tp in tps}
    finally:
        await consumer.stop()


def group_positions(bootstrap: str, group: str, topics: Sequence[str]) -> dict[tuple[str, int], tuple[int | None, int]]:
    """Per partition of ``topics``: the group's committed offset (``None``: none) and the broker's end offset."""
    return _run(_positions(bootstrap, group, topics))


def wait_for(
    what: str, probe: Callable[[], object], timeout: float = 30.0, interval: float = 0.5, log: Path | None = None
) -> object:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(interval)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")


def unit_listed(base_url: str, unit_id: str = "VN-22") -> dict[str, Any] | None:
    """The unit as a worker's ``/api/v1/units`` lists it (``None``: not listed, or no answer yet)."""
    status, body = http_get(base_url + "/api/v1/units")
    if status != 200:
        return None
    found: dict[str, Any] | None = next((u for u in json.loads(body)["units"] if u["unit_id"] == unit_id), None)
    return found


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    """Status and body of a GET; (0, error) when nothing answers within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)


class MonitorProcess:
    """``python -m monitor ARGS`` in its own process group, stopped (and reaped) on exit."""

    def __init__(self, args: Sequence[str], workdir: Path, env: dict[str, str] | None = None) -> None:
        self.web_port = free_port()
        self.args = [sys.executable, "-m", "monitor", *args, "--web-port", str(self.web_port)]
        self.workdir = workdir
        self.log = workdir / f"monitor-{self.web_port}.log"
        # Every worker here runs on the embedded broker, whose changelog end offsets fail faust's check.
        embedded = {"MONITOR_RECOVERY_CONSISTENCY_CHECK": "false"}
        self._env = {**os.environ, **embedded, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> Self:
        assert self.process is None or self.process.poll() is not None, "this worker is running already"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=self._env, start_new_session=True
            )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"monitor exited with {self.process.returncode}\n{self.log.read_text()[-4000:]}")
            return http_get(self.base_url + "/readyz")[0] == 200

        try:
            wait_for("the worker to be ready", ready, timeout=timeout, log=self.log)
        except AssertionError as exc:
            if self.dump_tasks():
                raise AssertionError(f"{exc}\n(every asyncio task's stack: {self.log})") from None
            raise

    def dump_tasks(self, settle: float = 3.0) -> bool:
        """Have a running worker write every asyncio task's stack to its log (mode's SIGUSR1 handler), for a hang.

        The log (``self.log``) then says what the worker was waiting for; a worker whose event loop is blocked
        writes nothing (``py-spy dump --pid`` shows where it is blocked).
        """
        if self.process is None or self.process.poll() is not None:
            return False
        self.process.send_signal(signal.SIGUSR1)
        time.sleep(settle)
        return True

    def metrics(self) -> str:
        return http_get(self.base_url + "/metrics")[1]

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int:
        process, self.process = self.process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
                raise AssertionError(
                    f"monitor did not stop within {timeout:.0f}s\n{self.log.read_text()[-4000:]}"
                ) from None
        return int(process.returncode)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def sample(metrics_text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, matching all given labels."""
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


def worker_process(broker_url: str, workdir: Path, env: dict[str, str] | None = None) -> MonitorProcess:
    """A ``monitor worker`` on the test broker: 2 partitions, 1 s ticks, its own data directory."""
    args = ["worker", "--broker", broker_url, "--tick-interval", "1", "--partitions", "2"]
    return MonitorProcess([*args, "--data-dir", str(workdir / "data")], workdir, env)


def task_event(
    event_id: str,
    task_id: str,
    status: str,
    *,
    unit: str = "VN-22",
    deadline: str | None = None,
    title: str = "Rà soát, cắt giảm thủ tục hành chính",
) -> bytes:
    """A bare task-status event as a provincial system would publish it (deadline: 3 days ago by default)."""
    event = {
        "event_id": event_id,
        "source": "test-dvc",
        "unit_id": unit,
        "task_id": task_id,
        "kind": "task",
        "status": status,
        "deadline": deadline or (datetime.now(UTC) - timedelta(days=3)).isoformat(),
        "occurred_at": datetime.now(UTC).isoformat(),
        "title": title,
    }
    return json.dumps(event, ensure_ascii=False).encode()


def breach_shape(records: Sequence[dict[str, Any]]) -> Counter[tuple[str, str, str, str]]:
    """Breaches and resolutions by fingerprint, for comparing a live worker with ``monitor replay``.

    Left out: due-soon warnings and aggregate rules, whose course depends on when
    the worker got to see the data (a task processed after its deadline is
    overdue at once, without a warning), not on what the data says.
    """
    return Counter(
        (r["fingerprint"], r["status"], r["stage"], r["annotations"].get("warn_before", ""))
        for r in records
        if r["stage"] != "due_soon" and r["rule_id"] != "overdue-share"
    )


def alert_records(bootstrap: str, topic: str = "compliance.alerts") -> list[dict[str, Any]]:
    """Every alert record on the topic, decoded."""
    return [json.loads(r.value) for r in read_all(bootstrap, topic) if r.value]


def replay_records(history: Path, until: str, packs: Path | None = None) -> list[dict[str, Any]]:
    """The alert records ``monitor replay`` gives for a recorded history (under a timeline of ``packs``).

    Every unit's, as a worker writes them: a rostered unit the history never mentions too (``--all-units``).
    """
    timeline = ["--packs", str(packs)] if packs is not None else []
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(history), "--until", until, "--json", "--all-units", *timeline],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


async def _publish(bootstrap: str, records: Sequence[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key) for topic, key, value in records]
        for future in futures:
            await future
    finally:
        await producer.stop()


def publish_records(bootstrap: str, records: Sequence[tuple[str, bytes, bytes]]) -> None:
    """Publish (topic, key, value) records and wait for every acknowledgement."""
    _run(_publish(bootstrap, records))


def publish_events(bootstrap: str, events: Sequence[Event]) -> None:
    """Publish events to their ingress topics keyed by unit, as providers do, and wait for every acknowledgement."""
    topics = Topics()
    _run(_publish(bootstrap, [(topics.for_event(e), e.unit_id.encode("utf-8"), encode_event(e)) for e in events]))
