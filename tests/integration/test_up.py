"""``monitor up``: the front door, on the embedded broker with the demo data."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.devtools.broker import EmbeddedBroker, free_port
from monitor.devtools.demo import publish_demo
from monitor.exceptions import BrokerUnreachable
from monitor.kafka.topics import Topics, ensure_topics
from monitor.version import VERSION
from rules.loading import BUNDLED_PACK, load_pack
from tests.conftest import REPO, require_tool
from tests.integration.kafka import MonitorProcess, http_get, read_all, sample, wait_for

pytestmark = pytest.mark.integration

DEMO_LINE = re.compile(r"^published \d+ demo events; metrics at http://127\.0\.0\.1:\d+/metrics", re.MULTILINE)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_up_shows_demo_data_takes_kcat_events_and_stops_cleanly(tmp_path: Path) -> None:
    require_tool("kcat")
    kcat = str(REPO / "deploy" / "dev" / "kcat")
    broker_port = free_port()
    up = MonitorProcess(
        ["up", "--broker-port", str(broker_port), "--tick-interval", "1", "--data-dir", str(tmp_path / "data")],
        tmp_path,
    )
    started = time.monotonic()
    with up:

        def demo_visible() -> bool:
            metrics = up.metrics()
            tasks = sample(metrics, "compliance_tasks", unit_id="VN-22", kind="task", status="completed")
            firing = sample(metrics, "compliance_alerts_firing", rule_id="task-overdue", severity="critical")
            return tasks == 12 and (firing or 0) >= 1

        wait_for("demo tasks and a firing alert in /metrics", demo_visible, timeout=30, log=up.log)
        assert time.monotonic() - started < 30
        wait_for("the banner and the demo data's line", lambda: DEMO_LINE.search(up.log.read_text()), log=up.log)
        banner = up.log.read_text()
        assert f"127.0.0.1:{broker_port}" in banner and f"{up.base_url}/metrics" in banner
        # A short start-up: faust's own chatter is held back, and the banner, printed once the worker is ready,
        # is the last thing before the demo data's line.
        lines = banner.splitlines()
        head = lines.index(f"compliance monitor {VERSION} is running")
        assert head <= 8, "\n".join(lines[:head])
        stop = lines.index("  stop      Ctrl-C", head)
        assert DEMO_LINE.match(lines[stop + 1]), lines[stop + 1]
        assert "Starting..." not in banner and "\\x0a" not in banner

        # The first screen is this year's: the demo is placed around today, and the worker judged nothing
        # absent before it had read the demo's records (two silent provinces are judged at a tick after that).
        def silent_provinces() -> list[dict[str, Any]]:
            alerts = json.loads(http_get(up.base_url + "/api/v1/alerts")[1])["alerts"]
            return [a for a in alerts if a["rule_id"] == "indicator-stale"]

        wait_for("the silent provinces' alerts", silent_provinces, log=up.log)
        first_page = json.loads(http_get(up.base_url + "/api/v1/alerts")[1])["alerts"]
        year = str(datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).year)
        assert [a["annotations"]["due"] for a in first_page if a["annotations"].get("due", year) < year] == []
        assert {a["unit_id"] for a in silent_provinces()} == {"VN-04", "VN-45"}
        # No alert fired at start-up and resolved as the worker read on: no interval of less than a second.
        history = wait_for(
            "the alert history",
            lambda: (h := http_get(up.base_url + "/api/v1/alerts/history?limit=5000"))[0] == 200 and h,
        )
        intervals = json.loads(history[1])["intervals"]  # type: ignore[index]
        assert intervals and [i for i in intervals if (i["duration_seconds"] or 1) < 1] == []
        assert [i["rule_id"] for i in intervals if i["resolution"] in ("completed", "recovered")] == [
            "online-dossier-ratio-low"  # Lào Cai's ratio rose above its target a month ago
        ]

        # Provincial systems publish bare JSON objects with kcat: one unkeyed, one keyed by unit
        # (librdkafka's partitioner is not Kafka's murmur2, so the worker re-routes it).
        event = {
            "event_id": "kcat-1",
            "source": "hanoi-dvc",
            "unit_id": "VN-HN",
            "task_id": "KH-2024",
            "kind": "task",
            "status": "in_progress",
            "deadline": (datetime.now(UTC) - timedelta(days=2)).date().isoformat(),
            "occurred_at": datetime.now(UTC).isoformat(),
            "title": "Kế hoạch kiểm tra, giám sát chuyển đổi số",
        }
        keyed = {**event, "event_id": "kcat-2", "unit_id": "VN-SG", "source": "hcm-dvc"}
        demo_overdue = {
            u: sample(up.metrics(), "compliance_tasks_overdue", unit_id=u, kind="task") or 0 for u in ("VN-HN", "VN-SG")
        }
        bootstrap = f"127.0.0.1:{broker_port}"
        subprocess.run(
            [kcat, "-P", "-b", bootstrap, "-t", "compliance.task-status"],
            input=json.dumps(event, ensure_ascii=False).encode(),
            check=True,
            timeout=30,
        )
        subprocess.run(
            [kcat, "-P", "-b", bootstrap, "-t", "compliance.task-status", "-K", "|"],
            input=b"VN-SG|" + json.dumps(keyed, ensure_ascii=False).encode(),
            check=True,
            timeout=30,
        )

        def processed() -> bool:
            metrics = up.metrics()
            return all(
                sample(metrics, "compliance_tasks_overdue", unit_id=unit, kind="task") == demo_overdue[unit] + 1
                for unit in ("VN-HN", "VN-SG")
            )

        wait_for("the kcat event to be processed", processed, timeout=20, log=up.log)

        # The overdue list a unit cannot get from the national portal, as a spreadsheet opens it.
        # Bình Thuận's system still sends its former code: its tasks are Lâm Đồng's since 2025-07-01.
        status, body = http_get(up.base_url + "/api/v1/units/VN-35/overdue?format=csv")
        assert status == 200 and body.startswith("\ufeff")
        every = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
        assert {(r["unit_name"], r["reported_as"]) for r in every} == {("Lâm Đồng", "VN-40")}
        # Every unit issued its 2024 inspection plan: the list holds this year's tasks only.
        assert [r for r in every if r["kind"] == "inspection_plan"] == []
        rows = [r for r in every if r["rule_id"] == "task-overdue"]
        assert {r["title"] for r in rows} == {
            "Kết nối cơ sở dữ liệu quốc gia về dân cư (nhiệm vụ 2)",
            "Cấp tài khoản định danh điện tử mức 2 (nhiệm vụ 3)",
        }
        # Whole days since each due instant, the end of its deadline day: 5 days back is 4 days and some hours
        # overdue, yesterday's deadline (due at today's midnight) less than a day; the most overdue first.
        assert [(r["title"].rsplit("(", 1)[1], int(r["days_overdue"])) for r in rows] == [
            ("nhiệm vụ 2)", 4),
            ("nhiệm vụ 3)", 0),
        ]
        # The version an operator reports: in the banner and on the rules endpoint alike.
        status, body = http_get(up.base_url + "/api/v1/rules")
        assert status == 200 and json.loads(body)["monitor_version"] == VERSION
        # This quarter's review report, linked from the banner, is not empty with the demo data.
        assert f"{up.base_url}/reports" in banner
        # (503 with Retry-After while the worker still reads the alerts topic into its history index.)
        answered = wait_for("the report", lambda: (a := http_get(up.base_url + "/reports?format=json"))[0] == 200 and a)
        report = json.loads(answered[1])  # type: ignore[index]
        today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
        assert report["period"]["text"] == f"{today.year}-Q{(today.month - 1) // 3 + 1}"
        totals = report["totals"]
        # The demo's deadlines lie around today: some have come this quarter, some are still to come in it.
        assert sum(totals[k] for k in ("on_time", "late", "overdue", "not_yet_due")) > 0
        reported = {u["unit_id"] for u in report["units"]}
        assert reported >= {"VN-22", "VN-35"} and "VN-40" not in reported  # Bình Thuận's tasks are Lâm Đồng's
        scores = {u["score"] for u in report["units"] if u["score"] is not None}
        assert len(scores) >= 3, scores  # this quarter's ranking has a spread, not three empty bars
        assert _port_open(broker_port)
    # Leaving the block sent SIGTERM: the worker and the embedded broker are gone.
    assert up.process is None
    assert not _port_open(broker_port)
    assert not _port_open(up.web_port)
    assert "embedded broker stopped" in up.log.read_text()


def test_up_refuses_a_busy_broker_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        up = MonitorProcess(["up", "--broker-port", str(port)], tmp_path).start()
        assert up.process is not None
        code = up.process.wait(30)
        up.process = None
    assert code == 2
    assert f"something already listens on 127.0.0.1:{port}" in up.log.read_text()


def test_up_with_log_level_info_writes_fausts_lines_with_their_tables_whole(tmp_path: Path) -> None:
    up = MonitorProcess(["up", "--broker-port", str(free_port()), "--no-demo", "--log-level", "info"], tmp_path)
    with up:
        up.wait_ready()
        wait_for("the banner", lambda: "  stop      Ctrl-C" in up.log.read_text(), log=up.log)
    written = up.log.read_text()
    assert "[^BoundedWorker]: Starting..." in written
    # faust's recovery draws its tables over several lines (its code, under a monitor module's logger).
    assert "Highwater for active changelog partitions:\n+Highwater" in written
    assert "\\x0a" not in written


def test_the_demo_data_is_on_the_ingress_topics_keyed_by_unit_once_published(broker: EmbeddedBroker) -> None:
    topics = Topics("compliance.")
    asyncio.run(ensure_topics(broker.bootstrap, topics, 4))
    pack = load_pack([BUNDLED_PACK])
    published = asyncio.run(publish_demo(broker.bootstrap, topics, pack, datetime.now(UTC)))
    records = read_all(broker.bootstrap, topics.task_status) + read_all(broker.bootstrap, topics.indicators)
    assert len(records) == published > 0  # every one acknowledged before publish_demo returned
    units = {json.loads(r.value)["unit_id"] for r in records}
    # Keyed by the unit each lands on: Bình Thuận's code VN-40 on Lâm Đồng, a ward's national code on the ward.
    keys = {json.loads(r.value)["unit_id"]: r.key.decode() for r in records}
    assert keys["VN-22"] == "VN-22" and keys["VN-40"] == "VN-35" and keys["16681"] == "VN-16681"
    assert keys["01"] == "VN-HN"
    assert {"VN-22", "VN-02", "VN-40"} <= units and any(not u.startswith("VN-") for u in units)  # ministries too


def test_a_broker_that_takes_no_demo_data_is_one_line_in_bounded_time() -> None:
    with socket.socket() as mute:  # accepts connections, never answers
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        bootstrap = f"127.0.0.1:{mute.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(BrokerUnreachable) as refused:
            asyncio.run(
                publish_demo(bootstrap, Topics("compliance."), load_pack([BUNDLED_PACK]), datetime.now(UTC), timeout=1)
            )
    assert time.monotonic() - started < 10
    assert str(refused.value) == f"the broker at {bootstrap} did not acknowledge the demo events within 1s"
