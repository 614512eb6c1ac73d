"""``monitor report``: offline from a recorded history; an operator's mistake is one line and exit 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from monitor.cli import main
from tests.conftest import vn

RULES = """groups:
  - name: g
    timezone: Asia/Ho_Chi_Minh
    rules:
      - {id: task-overdue, kind: deadline, select: {kind: task}, due_from: deadline, expect_status: [completed]}
"""


def _event(event_id: str, unit: str, task: str, status: str, at: str, deadline: str) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "source": "s",
            "unit_id": unit,
            "task_id": task,
            "kind": "task",
            "status": status,
            "deadline": deadline,
            "occurred_at": at,
        }
    )


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    lines = [
        _event("1", "VN-22", "T1", "in_progress", "2024-04-01T09:00:00+07:00", "2024-05-10"),
        _event("2", "VN-22", "T1", "completed", "2024-05-12T09:00:00+07:00", "2024-05-10"),  # 1 day late
        _event("3", "VN-40", "T2", "in_progress", "2024-04-01T09:00:00+07:00", "2024-06-01"),  # never done
        _event("4", "VN-40", "T3", "in_progress", "2024-04-01T09:00:00+07:00", "2024-06-02"),
        _event("5", "VN-40", "T3", "completed", "2024-05-20T09:00:00+07:00", "2024-06-02"),
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return events, tmp_path / "rules.yaml"


def test_an_offline_report_of_a_recorded_history(
    recorded: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events, rules = recorded
    out = tmp_path / "q2.csv"
    args = ["report", "--period", "2024-Q2", "--events", str(events), "--rules", str(rules)]
    assert main([*args, "--format", "csv", "--out", str(out)]) == 0
    assert "Quý II/2024: written to" in capsys.readouterr().err
    rows = {r["unit_id"]: r for r in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig")))}
    assert (rows["VN-22"]["late"], rows["VN-22"]["late_worst_days"], rows["VN-22"]["score"]) == ("1", "1", "0")
    # Due at the end of 1/6, still open at the quarter's end (midnight starting 1/7): 29 whole days overdue.
    assert (rows["VN-40"]["on_time"], rows["VN-40"]["overdue"], rows["VN-40"]["overdue_oldest_days"]) == (
        "1",
        "1",
        "29",
    )
    assert [rows[u]["rank"] for u in ("VN-40", "VN-22")] == ["1", "2"]
    assert main([*args, "--format", "json", "--unit", "VN-22"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [u["unit_id"] for u in report["units"]] == ["VN-22"] and report["judged_at"] == vn(2024, 7, 1).isoformat()


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--period", "2024-Q5"], "--period: '2024-Q5' is not a period"),
        (["--period", "2024-Q2", "--rules", "x.yaml"], "--rules and --packs go with --events"),
        (["--period", "2024-Q2", "--worker", "http://127.0.0.1:9", "--events", "e.jsonl"], "cannot be used together"),
        (["--period", "2024-Q2", "--worker", "http://127.0.0.1:9"], "cannot reach the worker at http://127.0.0.1:9"),
        (["--period", "0001-01-01..9999-12-31"], "not within the years 1900 to 9998"),
    ],
)
def test_a_mistake_is_one_line_and_exit_2(extra: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and said in err[0]


def test_a_report_that_cannot_be_written_is_one_line(
    recorded: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events, rules = recorded
    out = tmp_path / "nowhere" / "q2.html"
    assert (
        main(["report", "--period", "2024-Q2", "--events", str(events), "--rules", str(rules), "--out", str(out)]) == 2
    )
    assert f"cannot write the report to {out}: No such file or directory" in capsys.readouterr().err
