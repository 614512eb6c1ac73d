from __future__ import annotations

import json
from pathlib import Path

import pytest

from events.files import read_rows
from events.models import IndicatorEvent, TaskStatusEvent
from monitor.cli import main

GOOD = {
    "event_id": "e-{n}",
    "source": "laocai-igate",
    "unit_id": "VN-02",
    "task_id": "T-{n}",
    "status": "in_progress",
    "occurred_at": "2024-07-02T09:00:00+07:00",
}


def _jsonl(tmp_path: Path, bad_lines: dict[int, str], count: int = 10) -> Path:
    path = tmp_path / "tasks.jsonl"
    lines = []
    for n in range(1, count + 1):
        lines.append(bad_lines.get(n) or json.dumps({k: v.format(n=n) for k, v in GOOD.items()}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_file_with_three_bad_lines_is_refused_naming_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = {
        3: '{"event_id": "x"',
        6: json.dumps({**GOOD, "status": "done"}),
        9: json.dumps({k: v for k, v in GOOD.items() if k != "unit_id"}),
    }
    path = _jsonl(tmp_path, bad)
    # No broker is given or reachable: the file is refused before anything is published.
    assert main(["publish", str(path), "--broker", "kafka://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert f"{path}:3: not JSON" in err
    assert f"{path}:6: field 'status'" in err
    assert f"{path}:9: field 'unit_id': Field required" in err
    assert "validated 10 rows: 7 events, 3 bad rows" in err
    assert "nothing published" in err


def test_dry_run_validates_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["publish", str(_jsonl(tmp_path, {})), "--dry-run"]) == 0
    assert "dry run: nothing published" in capsys.readouterr().err


def test_csv_rows_with_labels_and_types(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "event_id,source,unit_id,task_id,indicator,value,status,occurred_at,title,labels.directive\n"
        "a,s,VN-22,NV-1,,,in_progress,2024-07-02T09:00:00+07:00,Kế hoạch số hóa,05\n"
        "b,s,VN-22,,online_dossier_ratio,0.458,,2024-07-02T09:00:00+07:00,,\n"
        "c,s,VN-22,NV-2,,,finished,2024-07-02T09:00:00+07:00,,\n",
        encoding="utf-8-sig",
    )
    rows = list(read_rows(path))
    assert isinstance(rows[0].events[0], TaskStatusEvent) and rows[0].events[0].labels == {"directive": "05"}
    assert rows[0].events[0].title == "Kế hoạch số hóa"
    assert isinstance(rows[1].events[0], IndicatorEvent) and rows[1].events[0].value == 0.458
    assert rows[2].line == 4 and rows[2].error is not None and "status" in rows[2].error


def test_jsonl_lines_may_hold_cloudevents_and_arrays(tmp_path: Path) -> None:
    task = {k: v.format(n=1) for k, v in GOOD.items()}
    cloudevent = {
        "specversion": "1.0",
        "type": "compliance.indicator",
        "id": "ce",
        "source": "s",
        "data": {"unit_id": "VN-02", "indicator": "x", "value": 1, "occurred_at": "2024-07-02T09:00:00+07:00"},
    }
    path = tmp_path / "mixed.jsonl"
    path.write_text(f"{json.dumps([task, task])}\n\n{json.dumps(cloudevent)}\n", encoding="utf-8")
    rows = list(read_rows(path))
    assert [(r.line, len(r.events)) for r in rows] == [(1, 2), (3, 1)]
