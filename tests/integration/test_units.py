"""Events in any code a Vietnamese system sends, placed on the unit it meant at the event's instant (real broker)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.conftest import REPO
from tests.integration.kafka import MonitorProcess, http_get, produce, read_all, sample, wait_for, worker_process
from tests.integration.test_ingest import _post
from tests.monitor.cli import test_report_lineage as lineage

pytestmark = pytest.mark.integration

TOPICS = Topics()


def _event(event_id: str, unit: str, task: str, *, occurred: datetime | None = None) -> bytes:
    """A task three days overdue, reported in progress by a system that names its unit by ``unit``."""
    at = occurred or datetime.now(UTC) - timedelta(minutes=5)
    return json.dumps(
        {
            "event_id": event_id,
            "source": "legacy-dvc",
            "unit_id": unit,
            "task_id": task,
            "status": "in_progress",
            "deadline": (at - timedelta(days=3)).isoformat(),
            "occurred_at": at.isoformat(),
            "title": "Cập nhật dữ liệu dân cư",
        },
        ensure_ascii=False,
    ).encode()


def _overdue(base_url: str, unit: str) -> dict[str, str]:
    """Task id → the code it was reported under (``reported_as``), for the unit's overdue tasks (not roster deadlines)."""
    status, body = http_get(f"{base_url}/api/v1/units/{unit}/overdue")
    items = json.loads(body)["overdue"] if status == 200 else []
    return {i["task_id"]: i["reported_as"] for i in items if i["task_id"]}


def test_an_event_in_any_code_lands_on_the_unit_that_code_meant_when_it_occurred(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    with worker_process(broker.url, tmp_path, env={"MONITOR_INGEST_TOKEN": "so-tt-tt"}) as worker:
        worker.wait_ready()
        # Hà Giang (VN-03, national code 02) was merged into Tuyên Quang (VN-07) on 2025-07-01; Bình Thuận's
        # national code 60 leads to Lâm Đồng (VN-35); Nghệ An's own national code is 40.
        produce(broker.bootstrap, TOPICS.task_status, _event("hg-1", "VN-03", "HG-1"), b"VN-03")
        produce(broker.bootstrap, TOPICS.task_status, _event("hg-2", "02", "HG-2"), b"02")
        produce(broker.bootstrap, TOPICS.task_status, _event("bt-1", "60", "BT-1"))
        produce(broker.bootstrap, TOPICS.task_status, _event("na-1", "40", "NA-1"))
        # Communes: Ba Đình's code 00004 today; Phúc Xá's code 00001 (before 2025) now leads to Hồng Hà (00097).
        produce(broker.bootstrap, TOPICS.task_status, _event("c-1", "00004", "C-1"))
        produce(broker.bootstrap, TOPICS.task_status, _event("c-2", "00001", "C-2"))
        # Refused: Ba Đình's id before it existed; Cống Vị (00007), split in 2025 between two wards.
        produce(
            broker.bootstrap,
            TOPICS.task_status,
            _event("x-1", "VN-00004", "X-1", occurred=datetime(2024, 5, 1, tzinfo=UTC)),
        )
        produce(broker.bootstrap, TOPICS.task_status, _event("x-2", "00007", "X-2"))

        def placed() -> Any:
            seen = {
                "VN-07": _overdue(worker.base_url, "VN-07"),
                "VN-35": _overdue(worker.base_url, "VN-35"),
                "VN-22": _overdue(worker.base_url, "VN-22"),
                "VN-00004": _overdue(worker.base_url, "VN-00004"),
                "VN-00097": _overdue(worker.base_url, "VN-00097"),
            }
            return seen if sum(len(v) for v in seen.values()) == 6 else None

        seen = wait_for("the six events on the units their codes meant", placed, log=worker.log)
        assert seen == {
            "VN-07": {"HG-1": "VN-03", "HG-2": "02"},
            "VN-35": {"BT-1": "60"},
            "VN-22": {"NA-1": "40"},
            "VN-00004": {"C-1": "00004"},
            "VN-00097": {"C-2": "00001"},
        }
        assert http_get(worker.base_url + "/api/v1/units/VN-03/overdue")[0] == 200 and not _overdue(
            worker.base_url, "VN-03"
        )

        def refused() -> Any:
            letters = [dict(r.headers) for r in read_all(broker.bootstrap, TOPICS.dead_letter)]
            reasons = sorted(h["dlq_reason"].decode() for h in letters)
            return reasons if len(reasons) == 2 else None

        reasons = wait_for("both refusals in the dead-letter topic", refused, log=worker.log)
        assert isinstance(reasons, list)
        (early,) = [r for r in reasons if "VN-00004" in r]
        (split,) = [r for r in reasons if "Cống Vị" in r]
        assert "field 'unit_id': unit code 'VN-00004' names Phường Ba Đình (VN-00004) only from 2025-07-01" in early
        assert "on 2024-05-01 it named no unit" in early
        assert "Phường Cống Vị (VN-00007~2025) was split on 2025-07-01 among" in split
        assert "report under the new unit's code" in split

        metrics = worker.metrics()
        assert sample(metrics, "compliance_event_unit_codes_total", kind="id", lineage="former") == 1
        assert sample(metrics, "compliance_event_unit_codes_total", kind="national", lineage="former") == 3
        assert sample(metrics, "compliance_event_unit_codes_total", kind="national", lineage="current") == 2
        assert sample(metrics, "compliance_event_unit_codes_total", kind="refused", lineage="refused") == 2

        # Over HTTP the same placement, answered at once: a refused code is a 422 naming the item.
        url, auth = worker.base_url + "/api/v1/events", {"Authorization": "Bearer so-tt-tt"}
        status, answer = _post(url, _event("h-1", "02", "H-1"), auth)
        assert (status, answer["accepted"]) == (202, 1)
        status, answer = _post(url, _event("h-2", "00007", "H-2"), auth)
        assert status == 422 and "was split on 2025-07-01" in answer["errors"][0]["reason"]
        wait_for("the HTTP event on Tuyên Quang", lambda: "H-1" in _overdue(worker.base_url, "VN-07"), log=worker.log)
        assert _overdue(worker.base_url, "VN-07")["H-1"] == "02"


def test_a_worker_reports_a_period_across_the_merger_as_the_script_says(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """``monitor report --period 2025`` from a worker rolls Hà Giang up into Tuyên Quang; ``2024-Q2`` shows both."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.yaml").write_text(lineage.RULES, encoding="utf-8")
    for table in ("vietnam-provinces.yaml", "vietnam-communes.csv"):
        shutil.copy(REPO / "rules" / "packs" / "units" / table, rules)
    events = lineage.script_events()
    args = ["worker", "--broker", broker.url, "--tick-interval", "1", "--partitions", "2"]
    with MonitorProcess([*args, "--rules", str(rules), "--data-dir", str(tmp_path / "data")], tmp_path) as worker:
        worker.wait_ready()
        for event in events:
            produce(broker.bootstrap, TOPICS.task_status, json.dumps(event, ensure_ascii=False).encode())

        def tasks(unit: str) -> int:
            status, body = http_get(f"{worker.base_url}/api/v1/units/{unit}")
            return int(json.loads(body)["summary"]["tasks_total"]) if status == 200 else 0

        wait_for("every task on its unit", lambda: (tasks("VN-03"), tasks("VN-07")) == (5, 4), log=worker.log)

        def report(period: str, *more: str) -> dict[str, Any]:
            done = subprocess.run(
                [
                    *(sys.executable, "-m", "monitor", "report", "--period", period, "--format", "json"),
                    *("--worker", worker.base_url, *more),
                ],
                capture_output=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr.decode()
            return dict(json.loads(done.stdout))

        spanning, before = report("2025"), report("2024-Q2")
        like_today = report("2024-Q2", "--units-at", "2026-12-05")
        status, body = http_get(worker.base_url + "/reports?period=2024-Q2&units_at=2026-13-01")
        assert status == 400 and "units_at: '2026-13-01' is not a day" in body
        by_commune = report("2026-Q1", "--communes-of", "VN-07")  # every worker makes its communes' scorecards
        status, body = http_get(worker.base_url + "/reports?period=2026-Q1&communes_of=VN-00004")
        assert status == 404 and "communes_of: 'VN-00004' is not a province" in body
    assert lineage.figures_of(spanning) == lineage.expected("2025-01-01", "2025-12-31")
    assert lineage.figures_of(before) == lineage.expected("2024-04-01", "2024-06-30")
    assert lineage.figures_of(like_today) == lineage.expected("2024-04-01", "2024-06-30", "2026-12-05")
    assert by_commune["communes_of"] == {"id": "VN-07", "name": "Tuyên Quang"} and len(by_commune["units"]) == 124
    assert [r["name"] for r in spanning["units"][0]["rolled_up"]] == ["Hà Giang"]
