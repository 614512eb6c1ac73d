"""The review report of a scripted six-week history through a worker, checked against figures computed here.

The expected figures come from the script itself — each task's deadline,
when it was completed or cancelled, each indicator's reports — by the
counting rules the report prints, not from the report code. The HTML is
rendered in headless Chromium (its screenshot is kept as a test artifact).
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.conftest import ARTIFACTS, CHROMIUM_FLAGS, require_tool
from tests.integration.kafka import MonitorProcess, alert_records, http_get, produce, wait_for

pytestmark = pytest.mark.integration
TOPICS = Topics()
VN = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = timedelta(days=1)
WARN = timedelta(days=7)
TARGET = 0.5


def _rules(plan_due: datetime) -> str:
    return f"""
groups:
  - name: review
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: task-overdue
        kind: deadline
        severity: critical
        select: {{kind: task}}
        due_from: deadline
        expect_status: [completed]
        warn_before: [7d]
      - id: plan
        kind: deadline
        severity: critical
        select: {{kind: plan}}
        roster: units.yaml
        expect_status: [completed]
        due: "{plan_due.isoformat()}"
      - id: online-low
        kind: threshold
        indicator: online_dossier_ratio
        below: {TARGET}
        resolve_above: 0.52
"""


UNITS = """roster: review
units:
  - {id: VN-22, name: Nghệ An}
  - {id: VN-40, name: Bình Thuận}
  - {id: VN-01, name: Lai Châu}
  - {id: VN-02, name: Lào Cai}
"""


@dataclass
class Task:
    """One scripted task: its deadline, and when it was completed or cancelled (if ever)."""

    unit: str
    task_id: str
    kind: str
    deadline: datetime
    opened: datetime
    completed: datetime | None = None
    cancelled: datetime | None = None


@dataclass
class Script:
    """Six weeks of a few units' work, ending now."""

    now: datetime
    plan_due: datetime
    tasks: list[Task] = field(default_factory=list)
    reports: list[tuple[str, datetime, float]] = field(default_factory=list)  # unit, when, online ratio

    def events(self) -> list[dict[str, Any]]:
        """Every event of the script, in time order (the ones still to come left out)."""
        events: list[dict[str, Any]] = []
        for task in self.tasks:
            steps = [(task.opened, "in_progress"), (task.completed, "completed"), (task.cancelled, "cancelled")]
            for n, (at, status) in enumerate(steps):
                if at is None or at > self.now:
                    continue
                events.append(
                    {
                        "event_id": f"{task.unit}-{task.task_id}-{n}",
                        "source": "review-test",
                        "unit_id": task.unit,
                        "task_id": task.task_id,
                        "kind": task.kind,
                        "status": status,
                        "deadline": task.deadline.isoformat(),
                        "occurred_at": at.isoformat(),
                        "title": f"Nhiệm vụ {task.task_id}",
                    }
                )
        for n, (unit, at, value) in enumerate(self.reports):
            events.append(
                {
                    "event_id": f"{unit}-r{n}",
                    "source": "review-test",
                    "unit_id": unit,
                    "indicator": "online_dossier_ratio",
                    "value": value,
                    "occurred_at": at.isoformat(),
                }
            )
        return sorted(events, key=lambda e: e["occurred_at"])


def _script(now: datetime) -> Script:
    half = timedelta(hours=12)  # ages and lateness a half-day off whole days: the instant of the report cannot tip them
    plan_due = now - 20 * DAY - half
    s = Script(now, plan_due)
    weeks = now - 6 * 7 * DAY + 2 * half
    s.tasks += [
        # Nghệ An: one on time, one three days late, one overdue; its plan on time.
        Task("VN-22", "T1", "task", now - 20 * DAY, weeks, completed=now - 22 * DAY),
        Task("VN-22", "T2", "task", now - 30 * DAY, weeks, completed=now - 27 * DAY + half),
        Task("VN-22", "T3", "task", now - 10 * DAY - half, weeks),
        Task("VN-22", "P", "plan", plan_due + 30 * DAY, weeks, completed=plan_due - 2 * DAY),
        # Bình Thuận: one cancelled, one completed at its due instant (late by 0 days), its plan 5 days late,
        # and two deadlines seconds away when published (warned at once): one kept, one let go.
        Task("VN-40", "C1", "task", now - 15 * DAY, weeks, cancelled=now - 25 * DAY),
        Task("VN-40", "AT", "task", now - 12 * DAY, weeks, completed=now - 12 * DAY),
        Task("VN-40", "P", "plan", plan_due + 30 * DAY, weeks, completed=plan_due + 5 * DAY + half),
        Task("VN-40", "W1", "task", now + timedelta(seconds=25), now, completed=now + timedelta(seconds=5)),
        Task("VN-40", "W2", "task", now + timedelta(seconds=25), now),
        # Lào Cai reports an indicator, no task: its plan is missed. Lai Châu never reports.
    ]
    s.reports += [
        ("VN-22", weeks + DAY, 0.40),
        ("VN-22", now - 7 * DAY, 0.55),
        ("VN-02", now - 14 * DAY - half, 0.30),
        ("VN-02", now - 3 * DAY, 0.35),
    ]
    return s


def _days(start: datetime, end: datetime) -> int:
    """Whole days from ``start`` to ``end`` (never negative): how the report counts lateness and age."""
    return max(0, math.floor((end - start) / DAY))


def _expected(script: Script, judged: datetime, first: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    """Each unit's figures as the report's own rules define them, from the script.

    The worker saw every task when the script was published (``script.now``): a
    deadline less than 7 days ahead then was warned about at once; one already
    past was not warned about at all.
    """
    expected: dict[str, dict[str, Any]] = {}
    for unit in ("VN-01", "VN-02", "VN-22", "VN-40"):
        mine = [t for t in script.tasks if t.unit == unit]
        deadlines: list[tuple[datetime, datetime | None, bool, str, str]] = []  # due, kept, cancelled, kind, id
        for t in mine:
            if t.kind == "task":
                deadlines.append((t.deadline, t.completed, t.cancelled is not None, t.kind, t.task_id))
        plan = next((t for t in mine if t.kind == "plan"), None)
        deadlines.append((script.plan_due, plan.completed if plan else None, False, "plan", "plan"))
        on_time = late = overdue = cancelled = heeded = ignored = 0
        late_days: list[int] = []
        ages: list[int] = []
        for due, kept, was_cancelled, kind, _ in deadlines:
            if not first <= due < end:
                continue
            kept = kept if kept is not None and kept < judged else None
            warned = kind == "task" and timedelta(0) < due - script.now <= WARN
            if was_cancelled and kept is None:
                cancelled += 1
                continue
            if kept is not None:
                if kept < due:
                    on_time += 1
                    heeded += warned
                else:
                    late += 1
                    late_days.append(_days(due, kept))
                    ignored += warned
            elif due < judged:
                overdue += 1
                ages.append(_days(due, judged))
                ignored += warned
        last = [e for e in _instants(script, unit) if e <= judged]
        reports = [(at, v) for u, at, v in script.reports if u == unit and at <= judged]
        expected[unit] = {
            "on_time": on_time,
            "late": late,
            "late_median_days": statistics.median(late_days) if late_days else None,
            "late_worst_days": max(late_days) if late_days else None,
            "overdue": overdue,
            "overdue_oldest_days": max(ages) if ages else None,
            "cancelled": cancelled,
            "score": round(on_time / (on_time + late + overdue), 4) if on_time + late + overdue else None,
            "warnings_heeded": heeded,
            "warnings_ignored": ignored,
            "days_silent": _days(max(last), judged) if last else None,
            "online_end": reports[-1][1] if reports else None,
            "online_start": reports[0][1] if reports else None,
            "online_meets": (reports[-1][1] >= TARGET) if reports else None,
        }
    return expected


def _instants(script: Script, unit: str) -> list[datetime]:
    """When the unit reported anything (each status change of a task, each indicator report)."""
    found = [at for u, at, _ in script.reports if u == unit]
    for t in script.tasks:
        if t.unit == unit:
            found += [at for at in (t.opened, t.completed, t.cancelled) if at is not None and at <= script.now]
    return found


def _number(text: str) -> float | int | None:
    if text == "":
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def test_the_report_of_a_recorded_history_has_the_figures_the_history_gives(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    now = datetime.now(UTC)
    script = _script(now)
    pack = tmp_path / "rules"
    pack.mkdir()
    (pack / "rules.yaml").write_text(_rules(script.plan_due), encoding="utf-8")
    (pack / "units.yaml").write_text(UNITS, encoding="utf-8")
    first_day = (now - 6 * 7 * DAY).astimezone(VN).date()
    today = now.astimezone(VN).date()
    period = f"{first_day.isoformat()}..{today.isoformat()}"
    history = tmp_path / "history.jsonl"
    worker = MonitorProcess(
        [
            *("worker", "--broker", broker.url, "--tick-interval", "1", "--partitions", "2"),
            *("--rules", str(pack), "--data-dir", str(tmp_path / "data")),
        ],
        tmp_path,
    )
    with worker, history.open("w", encoding="utf-8") as recording:
        worker.wait_ready()
        for event in script.events():
            data = json.dumps(event, ensure_ascii=False)
            topic = TOPICS.indicators if "indicator" in event else TOPICS.task_status
            produce(broker.bootstrap, topic, data.encode(), key=event["unit_id"].encode())
            recording.write(data + "\n")
        # Seconds later the warned deadlines come: W1 is completed before its due instant, W2 never.
        time.sleep(max(0.0, (now + timedelta(seconds=6) - datetime.now(UTC)).total_seconds()))
        w1 = next(t for t in script.tasks if t.task_id == "W1")
        kept = {
            "event_id": "VN-40-W1-1",
            "source": "review-test",
            "unit_id": "VN-40",
            "task_id": "W1",
            "kind": "task",
            "status": "completed",
            "deadline": w1.deadline.isoformat(),
            "occurred_at": datetime.now(UTC).isoformat(),
            "title": "Nhiệm vụ W1",
        }
        w1.completed = datetime.fromisoformat(kept["occurred_at"])
        produce(broker.bootstrap, TOPICS.task_status, json.dumps(kept, ensure_ascii=False).encode(), key=b"VN-40")
        recording.write(json.dumps(kept, ensure_ascii=False) + "\n")
        recording.flush()

        def w2_overdue() -> bool:
            return any(
                r["stage"] == "overdue" and r["labels"].get("task_id") == "W2" for r in alert_records(broker.bootstrap)
            )

        wait_for("W2 to go overdue", w2_overdue, timeout=60, log=worker.log)
        time.sleep(2)  # the history index has read it too

        def report(fmt: str) -> bytes:
            out = tmp_path / f"report.{fmt}"
            done = subprocess.run(
                [
                    *(sys.executable, "-m", "monitor", "report", "--period", period, "--format", fmt),
                    *("--worker", worker.base_url, "--out", str(out)),
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            return out.read_bytes()

        as_json = json.loads(report("json"))
        rows = {r["unit_id"]: r for r in csv.DictReader(io.StringIO(report("csv").decode("utf-8-sig")))}
        html = report("html").decode("utf-8")
        status, _ = http_get(worker.base_url + f"/reports?period={period}&unit=VN-99%0A")
        assert status == 400  # a unit id no unit can have

    judged = datetime.fromisoformat(as_json["judged_at"])
    first = datetime.combine(first_day, datetime.min.time(), tzinfo=VN)
    end = datetime.combine(today + DAY, datetime.min.time(), tzinfo=VN)
    expected = _expected(script, judged, first, end)
    assert set(rows) == set(expected)
    for unit, figures in expected.items():
        row = rows[unit]
        got = {
            **{k: _number(row[k]) for k in figures if not k.startswith("online_") and k in row},
            "online_start": _number(row.get("online_dossier_ratio_start", "")),
            "online_end": _number(row.get("online_dossier_ratio_end", "")),
            "online_meets": {"true": True, "false": False}.get(row.get("online_dossier_ratio_meets_target", "")),
        }
        assert got == figures, unit
    assert rows["VN-01"]["reported"] == "false" and as_json["never_reported"] == ["VN-01"]
    scored = [u for u, f in expected.items() if f["score"] is not None]
    order = sorted(scored, key=lambda u: (-expected[u]["score"], expected[u]["overdue"], expected[u]["late"], u))
    assert as_json["ranking"] == order
    assert [int(rows[u]["rank"]) for u in order] == list(range(1, len(order) + 1))
    # The JSON says the same as the CSV.
    unit = next(u for u in as_json["units"] if u["unit_id"] == "VN-22")
    assert unit["deadlines"]["on_time"] == int(rows["VN-22"]["on_time"]) and unit["score"] == float(
        rows["VN-22"]["score"]
    )

    # The page a meeting prints: Vietnamese, dd/mm/yyyy, 45,8 %, names with diacritics; no request leaves it.
    page_file = tmp_path / "report.html"
    assert "Nghệ An" in html and "Bình Thuận" in html and f"{today.day:02d}/{today.month:02d}/{today.year}" in html
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 1200})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            assert requests == [page_file.as_uri()], "self-contained: nothing but the file itself is loaded"
            assert page.title().startswith("Báo cáo tiến độ Đề án 06")
            ranked = page.eval_on_selector_all("table tr td:nth-child(2)", "cells => cells.map(c => c.textContent)")
            assert ranked[0].startswith("Nghệ An")
            assert page.locator("svg[aria-label='Xếp hạng'] rect").count() == len(as_json["ranking"])
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            pdf = page.pdf(format="A4")
            assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        finally:
            browser.close()
