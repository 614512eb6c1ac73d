"""``monitor report`` across the 2025 merger, checked against figures computed here from the scripted events.

Hà Giang (VN-03, national code 02) was merged into Tuyên Quang (VN-07,
national code 08) on 2025-07-01. The script sends both provinces' tasks
under every code a Vietnamese system uses, before and after the merger. The
expected figures come from the script and the lineage written out below —
which unit each code meant when, whose figures roll into whose — by the
report's printed counting rules, not from the report code.

The same script is published to a worker by ``tests/integration/test_units.py``.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.cli import main
from tests.conftest import REPO

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MERGER = datetime(2025, 7, 1, tzinfo=VN)

RULES = """groups:
  - name: g
    timezone: Asia/Ho_Chi_Minh
    rules:
      - {id: task-overdue, kind: deadline, select: {kind: task}, due_from: deadline, expect_status: [completed]}
"""

#: What each code the script uses meant: (unit before the merger, unit from it on). Written out, not looked up.
MEANT = {"VN-03": ("VN-03", "VN-07"), "02": ("VN-03", "VN-07"), "VN-07": ("VN-07", "VN-07"), "08": ("VN-07", "VN-07")}
#: Units that ended, when, and the unit they went into.
ENDED = {"VN-03": (MERGER, "VN-07")}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN)


@dataclass(frozen=True)
class Task:
    """A scripted task: the code it is sent under, its deadline, when it was opened and completed (if ever)."""

    code: str
    task_id: str
    deadline: datetime
    opened: datetime
    completed: datetime | None = None

    @property
    def unit(self) -> str:
        """The unit the task is on: the one its code meant when it was first reported."""
        before, after = MEANT[self.code]
        return before if self.opened < MERGER else after


TASKS = (
    # Hà Giang: in 2024 one late (2 days) and one on time under its national code; in 2025 one on time,
    # one it never completed before the merger …
    Task("VN-03", "HG-1", _at("2024-05-10T17:00"), _at("2024-04-01T09:00"), _at("2024-05-12T09:00")),
    Task("02", "HG-2", _at("2024-06-15T17:00"), _at("2024-04-02T09:00"), _at("2024-06-10T09:00")),
    Task("VN-03", "HG-3", _at("2025-03-01T17:00"), _at("2025-01-05T09:00"), _at("2025-02-20T09:00")),
    Task("VN-03", "HG-4", _at("2025-05-01T17:00"), _at("2025-01-10T09:00")),
    # … and one due after it: Hà Giang is not judged on it (it no longer exists then; no alert fires for it).
    Task("VN-03", "HG-5", _at("2025-08-15T17:00"), _at("2025-03-01T09:00")),
    # Tuyên Quang: on time in 2024; in 2025 one late, one sent under Hà Giang's old code after the merger
    # (it is Tuyên Quang's), one under Tuyên Quang's national code never completed.
    Task("VN-07", "TQ-1", _at("2024-06-01T17:00"), _at("2024-04-01T09:00"), _at("2024-05-30T09:00")),
    Task("VN-07", "TQ-2", _at("2025-09-01T17:00"), _at("2025-07-15T09:00"), _at("2025-09-05T09:00")),
    Task("VN-03", "TQ-3", _at("2025-10-01T17:00"), _at("2025-08-01T09:00"), _at("2025-09-20T09:00")),
    Task("08", "TQ-4", _at("2025-11-01T17:00"), _at("2025-08-02T09:00")),
)


def script_events() -> list[dict[str, Any]]:
    """Every event of the script, in time order."""
    events = []
    for task in TASKS:
        steps = [(task.opened, "in_progress"), (task.completed, "completed")]
        for n, (at, status) in enumerate(steps):
            if at is None:
                continue
            events.append(
                {
                    "event_id": f"{task.task_id}-{n}",
                    "source": "legacy-dvc",
                    "unit_id": task.code,
                    "task_id": task.task_id,
                    "kind": "task",
                    "status": status,
                    "deadline": task.deadline.isoformat(),
                    "occurred_at": at.isoformat(),
                    "title": f"Nhiệm vụ {task.task_id}",
                }
            )
    return sorted(events, key=lambda e: e["occurred_at"])


def expected(first: str, last: str, units_day: str | None = None) -> dict[str, dict[str, Any]]:
    """Each reported unit's figures for the days ``first``..``last``, with the units rolled up into it.

    The report is on the units in force at the end of ``units_day`` (default: ``last``).
    """
    start, end = _at(first), _at(last) + timedelta(days=1)
    units_end = _at(units_day) + timedelta(days=1) if units_day is not None else end
    own: dict[str, dict[str, int]] = {}
    for task in TASKS:
        ended, _ = ENDED.get(task.unit, (None, None))
        until = min(end, ended) if ended is not None else end  # a unit is judged while it exists
        if not start <= task.deadline < until:
            continue
        if task.completed is not None and task.completed < until:
            outcome = "on_time" if task.completed < task.deadline else "late"
        else:
            outcome = "overdue"
        counts = own.setdefault(task.unit, {"on_time": 0, "late": 0, "overdue": 0})
        counts[outcome] += 1
    figures: dict[str, dict[str, Any]] = {}
    for unit, counts in sorted(own.items()):
        ended, into = ENDED.get(unit, (None, None))
        carrier = into if ended is not None and ended < units_end and into is not None else unit
        card = figures.setdefault(carrier, {"on_time": 0, "late": 0, "overdue": 0, "rolled_up": {}})
        for outcome, n in counts.items():
            card[outcome] += n
        if carrier != unit:
            card["rolled_up"][unit] = counts
    for card in figures.values():
        judged = card["on_time"] + card["late"] + card["overdue"]
        card["score"] = round(card["on_time"] / judged, 4) if judged else None
    return figures


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """The test's rules with the bundled province registry (its lineage is what the report follows)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.yaml").write_text(RULES, encoding="utf-8")
    shutil.copy(REPO / "rules" / "packs" / "units" / "vietnam-provinces.yaml", rules)
    return rules


def _report(tmp_path: Path, pack: Path, period: str, fmt: str, *more: str) -> bytes:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in script_events()), encoding="utf-8")
    out = tmp_path / f"{period}.{fmt}"
    args = ["report", "--period", period, "--events", str(events), "--rules", str(pack), "--format", fmt]
    assert main([*args, *more, "--out", str(out)]) == 0
    return out.read_bytes()


def figures_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The same figures, read from a report's JSON."""
    return {
        u["unit_id"]: {
            "on_time": u["deadlines"]["on_time"],
            "late": u["deadlines"]["late"],
            "overdue": u["deadlines"]["overdue"],
            "score": u["score"],
            "rolled_up": {
                r["unit_id"]: {k: r["deadlines"][k] for k in ("on_time", "late", "overdue")} for r in u["rolled_up"]
            },
        }
        for u in report["units"]
    }


def test_a_period_spanning_the_merger_rolls_hà_giang_up_into_tuyên_quang_and_names_it(
    tmp_path: Path, pack: Path
) -> None:
    report = json.loads(_report(tmp_path, pack, "2025", "json"))
    want = expected("2025-01-01", "2025-12-31")
    assert set(want) == {"VN-07"} and want["VN-07"]["rolled_up"]  # the script does what this test is about
    assert figures_of(report) == want
    tuyen_quang = report["units"][0]
    assert tuyen_quang["name"] == "Tuyên Quang"
    assert [(r["name"], r["ended_at"]) for r in tuyen_quang["rolled_up"]] == [("Hà Giang", MERGER.isoformat())]
    # Each deadline says whose it was: Hà Giang's two, and the one sent under VN-03 after the merger is Tuyên Quang's.
    assert {i["task_id"]: i["unit_id"] for i in tuyen_quang["items"]} == {
        "HG-3": "VN-03",
        "HG-4": "VN-03",
        "TQ-2": "VN-07",
        "TQ-3": "VN-07",
        "TQ-4": "VN-07",
    }
    rows = list(csv.DictReader(io.StringIO(_report(tmp_path, pack, "2025", "csv").decode("utf-8-sig"))))
    assert [(r["unit_id"], r["rolled_up"]) for r in rows] == [("VN-07", "VN-03 Hà Giang")]
    html = _report(tmp_path, pack, "2025", "html").decode("utf-8")
    assert "gồm Hà Giang" in html and "Đơn vị sáp nhập vào" in html and "01/07/2025" in html


def test_a_period_before_the_merger_is_reported_on_the_units_of_that_time(tmp_path: Path, pack: Path) -> None:
    report = json.loads(_report(tmp_path, pack, "2024-Q2", "json"))
    want = expected("2024-04-01", "2024-06-30")
    assert set(want) == {"VN-03", "VN-07"}
    assert figures_of(report) == want
    assert {u["unit_id"]: u["name"] for u in report["units"]} == {"VN-03": "Hà Giang", "VN-07": "Tuyên Quang"}
    assert all(u["ended_at"] is None for u in report["units"])  # Hà Giang still existed at the end of 2024-Q2


def test_a_period_after_the_merger_has_no_hà_giang(tmp_path: Path, pack: Path) -> None:
    report = json.loads(_report(tmp_path, pack, "2025-H2", "json"))
    want = expected("2025-07-01", "2025-12-31")
    assert figures_of(report) == want and set(want) == {"VN-07"} and not want["VN-07"]["rolled_up"]


def test_a_unit_asked_for_brings_the_units_merged_into_it(tmp_path: Path, pack: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in script_events()), encoding="utf-8")
    out = tmp_path / "tq.json"
    args = ["report", "--period", "2025", "--events", str(events), "--rules", str(pack), "--unit", "VN-07"]
    assert main([*args, "--format", "json", "--out", str(out)]) == 0
    assert figures_of(json.loads(out.read_bytes())) == expected("2025-01-01", "2025-12-31")
    # Hà Giang asked for by itself: shown within Tuyên Quang, which it became during the period.
    args[-1] = "VN-03"
    assert main([*args, "--format", "json", "--out", str(out)]) == 0
    assert figures_of(json.loads(out.read_bytes())) == expected("2025-01-01", "2025-12-31")


def test_a_period_before_the_merger_on_todays_units_is_like_for_like_with_one_after(tmp_path: Path, pack: Path) -> None:
    report = json.loads(_report(tmp_path, pack, "2024-Q2", "json", "--units-at", "2026-12-05"))
    want = expected("2024-04-01", "2024-06-30", "2026-12-05")
    assert set(want) == {"VN-07"} and set(want["VN-07"]["rolled_up"]) == {"VN-03"}
    assert figures_of(report) == want
    assert report["units_at"].startswith("2026-12-05T23:59:59.999999")


def test_a_units_at_that_is_not_a_day_is_one_line_and_exit_2(
    tmp_path: Path, pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--period", "2024-Q2", "--events", str(tmp_path / "none.jsonl"), "--rules", str(pack)]
    assert main([*args, "--units-at", "hôm nay"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --units-at: 'hôm nay' is not a day (write it 2026-12-05)"]


def test_a_province_s_scorecard_broken_down_by_commune(
    tmp_path: Path, pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(REPO / "rules" / "packs" / "units" / "vietnam-communes.csv", pack)
    # Two wards of Vinh (Nghệ An) and one of Hà Nội report under their national codes.
    lines = [
        ("16681", "A", "2026-10-10T17:00", "2026-10-01T09:00", "2026-10-08T09:00"),  # on time
        ("16681", "B", "2026-11-10T17:00", "2026-10-01T09:00", "2026-11-12T09:00"),  # late
        ("16690", "C", "2026-11-20T17:00", "2026-10-01T09:00", None),  # overdue at the quarter's end
        ("00004", "D", "2026-11-20T17:00", "2026-10-01T09:00", None),  # Hà Nội's: not in Nghệ An's report
    ]
    events = []
    for code, task, due, opened, done in lines:
        for n, (status, at) in enumerate([("in_progress", opened), ("completed", done)]):
            if at is not None:
                events.append(
                    {
                        "event_id": f"{task}-{n}",
                        "source": "xa",
                        "unit_id": code,
                        "task_id": task,
                        "kind": "task",
                        "status": status,
                        "deadline": _at(due).isoformat(),
                        "occurred_at": _at(at).isoformat(),
                    }
                )
    recorded = tmp_path / "communes.jsonl"
    recorded.write_text("".join(json.dumps(e) + "\n" for e in sorted(events, key=lambda e: e["occurred_at"])))
    out = tmp_path / "nghe-an.json"
    args = ["report", "--period", "2026-Q4", "--events", str(recorded), "--rules", str(pack), "--format", "json"]
    assert main([*args, "--communes-of", "VN-22", "--out", str(out)]) == 0
    report = json.loads(out.read_bytes())
    assert report["communes_of"] == {"id": "VN-22", "name": "Nghệ An"}
    cards = {u["unit_id"]: u for u in report["units"]}
    assert len(cards) == 130 and "VN-00004" not in cards  # every commune of Nghệ An, reported or not
    figures = {
        u: (c["deadlines"]["on_time"], c["deadlines"]["late"], c["deadlines"]["overdue"]) for u, c in cards.items()
    }
    assert figures["VN-16681"] == (1, 1, 0) and figures["VN-16690"] == (0, 0, 1)
    assert report["ranking"] == ["VN-16681", "VN-16690"]
    assert sum(not c["reported"] for c in cards.values()) == 128
    html = tmp_path / "nghe-an.html"
    assert main([*args[:-2], "--communes-of", "VN-22", "--out", str(html)]) == 0
    assert "các xã, phường của Nghệ An" in html.read_text(encoding="utf-8")
    capsys.readouterr()
    assert main([*args, "--communes-of", "VN-00004"]) == 2
    assert (
        capsys.readouterr().err.strip() == "error: --communes-of: 'VN-00004' is not a province the unit registry knows"
    )


def test_a_commune_that_reported_is_not_ranked_with_the_provinces(tmp_path: Path, pack: Path) -> None:
    shutil.copy(REPO / "rules" / "packs" / "units" / "vietnam-communes.csv", pack)
    event = {
        "event_id": "w-1",
        "source": "xa",
        "unit_id": "16681",  # Phường Thành Vinh, Nghệ An
        "task_id": "W",
        "kind": "task",
        "status": "completed",
        "deadline": _at("2026-10-10T17:00").isoformat(),
        "occurred_at": _at("2026-10-08T09:00").isoformat(),
    }
    recorded = tmp_path / "ward.jsonl"
    recorded.write_text(json.dumps(event) + "\n")
    args = ["report", "--period", "2026-Q4", "--events", str(recorded), "--rules", str(pack), "--format", "json"]
    national, by_commune = tmp_path / "national.json", tmp_path / "nghe-an.json"
    assert main([*args, "--out", str(national)]) == 0
    assert main([*args, "--communes-of", "VN-22", "--out", str(by_commune)]) == 0
    assert "VN-16681" not in {u["unit_id"] for u in json.loads(national.read_bytes())["units"]}
    assert json.loads(by_commune.read_bytes())["ranking"] == ["VN-16681"]
