"""The alert history index: intervals, stage changes and resolutions from alert records, read once or twice."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.state.history import AlertHistory, HistoryRecord
from rules.alerts import AlertFilter, AlertTransition

T0 = datetime(2024, 7, 10, 2, 0, tzinfo=UTC)
DUE = datetime(2024, 7, 20, 0, 0, tzinfo=UTC)


def _transition(
    status: str, stage: str, unit: str = "VN-22", task: str = "NV-1", **annotations: str
) -> AlertTransition:
    return AlertTransition(
        fingerprint=f"{unit}/{task}",
        status=status,  # type: ignore[arg-type]
        stage=stage,
        rule_id="task-overdue",
        severity="critical" if stage == "overdue" else "warning",
        labels={"unit_id": unit, "task_id": task, "alertname": "task-overdue"},
        annotations={"summary": f"{unit} {task} {stage}", "due": DUE.isoformat(), **annotations},
        starts_at=T0,
        ends_at=DUE + timedelta(days=5) if status == "resolved" else None,
        event_ids=["e1"],
        rule_version="v1",
    )


def _records(*transitions: AlertTransition, partition: int = 0, first: int = 0) -> list[HistoryRecord]:
    written = int((DUE + timedelta(hours=1)).timestamp() * 1000)
    return [
        HistoryRecord(partition, first + n, written, t.model_dump_json().encode()) for n, t in enumerate(transitions)
    ]


def test_an_alert_warned_then_overdue_then_completed_late_is_one_interval_with_two_stages(tmp_path: Path) -> None:
    history = AlertHistory(tmp_path / "h.sqlite3")
    late = _transition("resolved", "overdue", resolution="completed_late", late="true", late_days="5")
    history.append(_records(_transition("firing", "due_soon"), _transition("firing", "overdue"), late))
    [interval] = list(history)
    assert interval.started_at == T0 and interval.ended_at == DUE + timedelta(days=5)
    # The overdue stage began at the due instant, not when the record was written an hour later.
    assert interval.stages == [
        {"stage": "due_soon", "at": T0.isoformat(timespec="microseconds")},
        {"stage": "overdue", "at": DUE.isoformat(timespec="microseconds")},
    ]
    assert (interval.resolution, interval.late_days) == ("completed_late", 5)


def test_reading_records_again_changes_nothing(tmp_path: Path) -> None:
    history = AlertHistory(tmp_path / "h.sqlite3")
    records = _records(_transition("firing", "overdue"), _transition("resolved", "overdue", resolution="completed"))
    history.append(records)
    history.append(records)  # after a crash, the batch after the index's position is read again
    history.append(_records(_transition("firing", "overdue"), first=2))  # a duplicate firing record
    intervals = list(history)
    assert len(intervals) == 2, "fired again after its resolution: a second interval"
    history.append(_records(_transition("firing", "overdue"), first=3))
    assert len(list(history)) == 2, "firing again while firing is the same interval"
    assert history.positions() == {0: 4}


def test_a_restart_finds_the_positions_the_open_intervals_and_the_last_record_per_alert(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    history = AlertHistory(path)
    history.append(_records(_transition("firing", "due_soon"), _transition("firing", "due_soon", unit="VN-40")))
    history.append(_records(_transition("firing", "overdue"), partition=1, first=7))
    history.close()
    again = AlertHistory(path)
    positions, last = again.snapshot()
    assert positions == {0: 2, 1: 8}
    assert {(t.unit_id, t.stage) for t in last} == {("VN-22", "overdue"), ("VN-40", "due_soon")}
    again.append(_records(_transition("resolved", "overdue", resolution="completed"), first=2))
    closed = [i for i in again if i.unit_id == "VN-22"]
    assert len(closed) == 1 and closed[0].resolution == "completed", "the interval open before the restart closes"


def test_a_full_disk_leaves_the_index_as_it_was_and_the_same_batch_goes_in_later(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    history = AlertHistory(path)
    history.append(_records(_transition("firing", "due_soon")))
    pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]
    history._db.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page: SQLITE_FULL
    big = [_transition("firing", "overdue", unit=f"VN-{n:02d}", task="x" * 200) for n in range(200)]
    with pytest.raises(sqlite3.OperationalError, match="full"):
        history.append(_records(*big, first=1))
    assert history.positions() == {0: 1} and len(list(history)) == 1
    history._db.execute("PRAGMA max_page_count = 1000000")
    history.append(_records(*big, first=1))
    assert history.positions() == {0: 201} and len(list(history)) == 201


def test_intervals_are_filtered_by_unit_and_overlap_with_the_window_and_paged(tmp_path: Path) -> None:
    history = AlertHistory(tmp_path / "h.sqlite3")
    history.append(
        _records(
            _transition("firing", "overdue"),
            _transition("resolved", "overdue", resolution="completed_late", late_days="5"),
            _transition("firing", "overdue", unit="VN-40"),
        )
    )
    count, page = history.intervals(AlertFilter(unit_id="VN-22"), None, None, 10, 0)
    assert count == 1 and page[0].unit_id == "VN-22"
    # Ended five days after the due date: in a window that starts after that, it is not there.
    after = DUE + timedelta(days=6)
    count, page = history.intervals(AlertFilter(), after, None, 10, 0)
    assert [i.unit_id for i in page] == ["VN-40"], "the one still firing overlaps every later window"
    count, page = history.intervals(AlertFilter(), None, T0, 10, 0)
    assert count == 0, "nothing started before it fired"
    count, page = history.intervals(AlertFilter(), None, None, 1, 1)
    assert count == 2 and len(page) == 1
