"""Crashes, joins and a frozen broker: every breach on the alerts topic once, none missing.

Each test records what it publishes and compares the alerts topic with
``monitor replay`` of that history: the same breaches and resolutions, each
exactly once.
"""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import (
    alert_records,
    breach_shape,
    http_get,
    produce,
    replay_records,
    wait_for,
    worker_process,
)

pytestmark = pytest.mark.integration
TOPICS = Topics()
UNITS = [f"VN-{n:02d}" for n in (1, 2, 4, 5, 7, 9, 13, 18, 21, 22, 23, 25)]  # provinces in force today


class Recorder:
    """Publishes events one record at a time and writes them to a history file."""

    def __init__(self, broker: EmbeddedBroker, history: IO[str]) -> None:
        self.broker = broker
        self.history = history
        self.serial = 0

    def task(self, unit: str, task_id: str, status: str, deadline: datetime) -> None:
        self.serial += 1
        event = {
            "event_id": f"r-{self.serial}",
            "source": "recovery-test",
            "unit_id": unit,
            "task_id": task_id,
            "kind": "task",
            "status": status,
            "deadline": deadline.isoformat(),
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        data = json.dumps(event)
        produce(self.broker.bootstrap, TOPICS.task_status, data.encode(), key=unit.encode())
        self.history.write(data + "\n")
        self.history.flush()


def _plan(now: datetime) -> list[tuple[str, str, str, datetime]]:
    """Per unit: 3 tasks already overdue, 3 due in a few seconds, 2 far in the future."""
    plan = []
    for unit in UNITS:
        for n in range(3):
            plan.append((unit, f"OLD-{n}", "in_progress", now - timedelta(days=2)))
        for n in range(3):
            plan.append((unit, f"SOON-{n}", "in_progress", now + timedelta(seconds=8 + n)))
        for n in range(2):
            plan.append((unit, f"LATER-{n}", "not_started", now + timedelta(days=40)))
    return plan


def _settled(broker: EmbeddedBroker) -> Any:
    def check() -> bool:
        records = alert_records(broker.bootstrap)
        overdue = {(r["labels"]["unit_id"], r["labels"].get("task_id")) for r in records if r["stage"] == "overdue"}
        resolved = {(r["labels"]["unit_id"], r["labels"].get("task_id")) for r in records if r["status"] == "resolved"}
        want_overdue = {(u, f"{p}-{n}") for u in UNITS for p in ("OLD", "SOON") for n in range(3)}
        want_resolved = {(u, f"OLD-{n}") for u in UNITS for n in range(3)}
        return want_overdue <= overdue and want_resolved <= resolved

    return check


def _compare_with_replay(broker: EmbeddedBroker, history: Path) -> None:
    written = alert_records(broker.bootstrap)
    expected = breach_shape(replay_records(history, datetime.now(UTC).isoformat()))
    actual = breach_shape(written)
    duplicates = {k: n for k, n in actual.items() if n > expected.get(k, 0)}
    missing = {k: n for k, n in expected.items() if n > actual.get(k, 0)}
    detail = [
        (r["fingerprint"], r["status"], r["stage"], r["annotations"].get("reconciled"), r["event_ids"], r["starts_at"])
        for r in written
        if any(r["fingerprint"] == k[0] for k in {**duplicates, **missing})
    ]
    assert (duplicates, missing) == ({}, {}), detail


def _run_timeline(recorder: Recorder, now: datetime, during: Any) -> None:
    plan = _plan(now)
    half = len(plan) // 2
    for item in plan[:half]:
        recorder.task(*item)
    during()  # the failure strikes mid-stream
    for item in plan[half:]:
        recorder.task(*item)
    time.sleep(2)
    for unit in UNITS:  # late completions resolve the old tasks
        for n in range(3):
            recorder.task(unit, f"OLD-{n}", "completed", now - timedelta(days=2))


def test_a_worker_killed_mid_stream_and_restarted(broker: EmbeddedBroker, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    worker = worker_process(broker.url, tmp_path)
    with history.open("w", encoding="utf-8") as log:
        recorder = Recorder(broker, log)
        worker.start()
        worker.wait_ready()

        def crash() -> None:
            time.sleep(0.3)
            worker.stop(signal.SIGKILL)
            worker.start()

        _run_timeline(recorder, datetime.now(UTC), crash)
        worker.wait_ready(timeout=90)
        wait_for("every breach and resolution on the alerts topic", _settled(broker), timeout=90, log=worker.log)
        time.sleep(3)
        worker.stop()
    _compare_with_replay(broker, history)


def test_a_frozen_broker_is_survived(broker: EmbeddedBroker, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    with history.open("w", encoding="utf-8") as log, worker_process(broker.url, tmp_path) as worker:
        recorder = Recorder(broker, log)
        worker.wait_ready()

        def freeze() -> None:
            broker.pause()
            time.sleep(20)
            broker.resume()

        _run_timeline(recorder, datetime.now(UTC), freeze)
        wait_for("every breach and resolution on the alerts topic", _settled(broker), timeout=120, log=worker.log)
        time.sleep(3)
        assert worker.process is not None and worker.process.poll() is None, "the worker must survive"
    _compare_with_replay(broker, history)


def test_a_second_worker_joins_mid_stream_and_is_killed(broker: EmbeddedBroker, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = worker_process(broker.url, tmp_path / "first")
    second = worker_process(broker.url, tmp_path / "second")
    with history.open("w", encoding="utf-8") as log, first:
        recorder = Recorder(broker, log)
        first.wait_ready()
        now = datetime.now(UTC)
        plan = _plan(now)
        third = len(plan) // 3
        for item in plan[:third]:
            recorder.task(*item)
        second.start()  # joins the group: the partitions are split between the two
        try:
            second.wait_ready(timeout=90)
            assert json.loads(http_get(second.base_url + "/readyz")[1])["partitions"], "the second worker owns none"
            for item in plan[third : 2 * third]:  # processed by both
                recorder.task(*item)
            time.sleep(0.3)
        finally:
            second.stop(signal.SIGKILL)  # dies: its partitions go back to the first
        for item in plan[2 * third :]:
            recorder.task(*item)
        time.sleep(2)
        for unit in UNITS:
            for n in range(3):
                recorder.task(unit, f"OLD-{n}", "completed", now - timedelta(days=2))
        first.wait_ready(timeout=90)
        wait_for("every breach and resolution on the alerts topic", _settled(broker), timeout=120, log=first.log)
        time.sleep(3)
    _compare_with_replay(broker, history)
