"""``monitor publish`` on a real broker: a bulk import is counted event by event."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import sample, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()


def _write_bulk(path: Path, count: int) -> None:
    now = datetime.now(UTC)
    units = [f"VN-{n:02d}" for n in range(1, 74)]
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            event = {
                "event_id": f"bulk-{n}",
                "source": "dvc-export",
                "unit_id": units[n % len(units)],
                "task_id": f"HS-{n:06d}",
                "kind": "dossier",
                "status": "in_progress" if n % 3 else "completed",
                "deadline": (now + timedelta(days=n % 40 - 5)).date().isoformat(),
                "occurred_at": now.isoformat(),
                "title": "Hồ sơ đăng ký thường trú",
            }
            out.write(json.dumps(event, ensure_ascii=False) + "\n")


def test_a_100000_line_file_is_published_and_every_event_accepted(broker: EmbeddedBroker, tmp_path: Path) -> None:
    bulk = tmp_path / "dossiers.jsonl"
    _write_bulk(bulk, 100_000)
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "publish", str(bulk), "--broker", broker.url],
            capture_output=True,
            timeout=300,
            check=True,
        )
        assert "published 100,000 events" in done.stderr.decode()

        def accepted() -> float:
            return (
                sample(worker.metrics(), "compliance_events_total", topic=TOPICS.task_status, outcome="accepted") or 0
            )

        wait_for("100,000 accepted events", lambda: accepted() == 100_000, timeout=180, interval=1, log=worker.log)
        rejected = sample(worker.metrics(), "compliance_events_total", topic=TOPICS.task_status, outcome="rejected")
        assert rejected is None

        # With --skip-invalid the valid rows of a file with bad rows are published, the bad ones named.
        mixed = tmp_path / "mixed.jsonl"
        _write_bulk(mixed, 5)
        lines = mixed.read_text(encoding="utf-8").splitlines()
        lines[2] = re.sub(r'"status": "[a-z_]+"', '"status": "lost"', lines[2])
        mixed.write_text("\n".join(line.replace("bulk-", "again-") for line in lines) + "\n", encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "monitor", "publish", str(mixed), "--broker", broker.url, "--skip-invalid"],
            capture_output=True,
            timeout=120,
            check=True,
        )
        err = done.stderr.decode()
        assert f"{mixed}:3: " in err and "published 4 events" in err
        wait_for("the 4 valid events", lambda: accepted() == 100_004, timeout=60, interval=1, log=worker.log)
