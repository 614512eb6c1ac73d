"""The alert history index: intervals, stage changes and resolutions from alert records, read once or twice."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.state.history import _CLOSED_FIRING, _FIRING, AlertHistory, HistoryRecord, TopicReset
from rules.state import AlertFilter, AlertTransition

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
    history.append(_records(_transition("resolved", "overdue", resolution="completed"), first=2))  # twice on the topic
    history.append(_records(_transition("firing", "overdue", **{"summary": "again"}), first=3))
    intervals = list(history)
    assert len(intervals) == 1, "a resolution read twice, and the same firing stated again: one interval"
    assert intervals[0].ended_at is None and intervals[0].summary == "again"
    history.append(_records(_transition("firing", "overdue"), first=4))
    assert len(list(history)) == 1, "firing again while firing is the same interval"
    later = _transition("firing", "overdue").model_copy(update={"starts_at": T0 + timedelta(days=30)})
    history.append(_records(later, first=5))
    history.append(_records(_transition("resolved", "overdue", resolution="completed"), first=6))
    history.append(_records(later, first=7))
    assert len(list(history)) == 2, "fired again, from a later start, after a resolution: a second interval"
    assert history.positions() == {0: 8}


def test_a_restart_finds_the_positions_the_open_intervals_and_the_last_record_per_alert(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    history = AlertHistory(path)
    history.append(_records(_transition("firing", "due_soon"), _transition("firing", "due_soon", unit="VN-40")))
    history.append(_records(_transition("firing", "overdue"), partition=1, first=7))
    history.close()
    again = AlertHistory(path)
    positions, last = again.snapshot(resolved=10)
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


def test_a_record_from_before_the_position_means_another_topic_and_nothing_is_added(tmp_path: Path) -> None:
    history = AlertHistory(tmp_path / "h.sqlite3")
    ended = [_transition("firing", "overdue", task="NV-0"), _transition("resolved", "overdue", task="NV-0")]
    history.append(_records(*ended, _transition("firing", "overdue"), first=500))
    with pytest.raises(TopicReset, match="offset 0"):
        history.append(_records(_transition("resolved", "overdue", resolution="completed"), first=0))
    assert history.positions() == {0: 503} and [i.ended_at is None for i in history] == [False, True]
    history.clear()
    assert history.positions() == {} and history.snapshot(resolved=10) == ({}, [])
    [kept] = list(history)
    assert kept.fingerprint == "VN-22/NV-0" and kept.ended_at is not None, "the history that ended is kept"
    history.append(_records(_transition("firing", "overdue"), first=0))  # the open alert, restated on the new topic
    assert [(i.fingerprint, i.ended_at is None) for i in history] == [("VN-22/NV-0", False), ("VN-22/NV-1", True)]
    assert history.positions() == {0: 1}


def test_the_same_firing_stated_again_after_its_resolution_reopens_its_interval(tmp_path: Path) -> None:
    history = AlertHistory(tmp_path / "h.sqlite3")
    history.append(
        _records(_transition("firing", "overdue"), _transition("resolved", "overdue", resolution="completed"))
    )
    history.append(_records(_transition("firing", "overdue"), first=2))  # restated by a takeover: same start
    [interval] = list(history)
    assert interval.ended_at is None and interval.resolution is None
    count, _ = history.intervals(AlertFilter(), None, None, 10, 0)
    assert count == 1


def test_a_record_the_index_cannot_read_a_due_from_is_indexed_and_holds_nothing_up(tmp_path: Path) -> None:
    history = AlertHistory(tmp_path / "h.sqlite3")
    naive_due = _transition("firing", "due_soon").model_copy(
        update={"annotations": {"summary": "s", "due": "2024-05-02"}}
    )
    overdue = naive_due.model_copy(update={"stage": "overdue"})
    history.append(_records(naive_due, overdue))
    [interval] = list(history)
    assert [s["stage"] for s in interval.stages] == ["due_soon", "overdue"]
    assert interval.stages[1]["at"] == (DUE + timedelta(hours=1)).isoformat(timespec="microseconds"), "when written"
    assert history.positions() == {0: 2}


def test_the_marks_say_where_the_index_stands_and_what_it_read_there(tmp_path: Path) -> None:
    history = AlertHistory(tmp_path / "h.sqlite3")
    records = _records(_transition("firing", "overdue"), partition=3, first=41)
    history.append(records)
    assert history.marks() == {3: (42, records[0].timestamp_ms)}
    history.close()
    assert AlertHistory(tmp_path / "h.sqlite3").marks() == {3: (42, records[0].timestamp_ms)}


def test_an_index_of_an_older_layout_is_built_again(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema', '1');"
        "CREATE TABLE positions (partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL);"
        "INSERT INTO positions VALUES (0, 99);"
    )
    old.close()
    history = AlertHistory(path)
    assert history.positions() == {}
    history.append(_records(_transition("firing", "overdue")))
    assert history.positions() == {0: 1}


def test_the_deadlines_warned_about_are_those_the_records_say(tmp_path: Path) -> None:
    from rules.review import warned_deadlines

    history = AlertHistory(tmp_path / "h.sqlite3")
    transitions = [
        _transition("firing", "due_soon", task="NV-1"),
        _transition("resolved", "due_soon", task="NV-1", resolution="completed"),
        _transition("firing", "overdue", task="NV-2"),  # overdue at once: never warned
        _transition("firing", "due_soon", unit="VN-40", task="NV-3"),
        _transition("firing", "overdue", unit="VN-40", task="NV-3"),
    ]
    history.append(_records(*transitions))
    assert history.warned() == {"VN-22": {("task-overdue", "NV-1")}, "VN-40": {("task-overdue", "NV-3")}}
    assert set().union(*history.warned().values()) == warned_deadlines(transitions)


@pytest.mark.parametrize("lookup", [_FIRING, _CLOSED_FIRING], ids=["firing", "closed firing"])
def test_an_interval_is_found_by_its_firing_through_an_index_not_a_scan_of_those_that_began_together(
    tmp_path: Path, lookup: str
) -> None:
    # Thousands of alerts fire at one instant (every dossier due that day): a lookup that scanned the
    # intervals begun at the same instant made each batch of the index quadratic in their number.
    history = AlertHistory(tmp_path / "h.sqlite3")
    history.append(_records(*(_transition("firing", "overdue", task=f"HS-{n}") for n in range(50))))
    history.close()
    db = sqlite3.connect(tmp_path / "h.sqlite3")
    plan = " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {lookup}", ("VN-22/HS-7", T0.isoformat())))
    db.close()
    assert "intervals_by_firing (fingerprint=? AND started_at=?)" in plan


def test_an_alert_fired_again_in_its_stage_keeps_its_interval_and_says_its_new_summary(tmp_path: Path) -> None:
    """A deadline moved while still missed: the same interval and stages, the summary the alert says now."""
    history = AlertHistory(tmp_path / "h.sqlite3")
    first = _transition("firing", "overdue")
    moved = first.model_copy(update={"annotations": {**first.annotations, "summary": "VN-22 NV-1 hạn 25/07/2024"}})
    history.append(_records(first, moved))
    [interval] = list(history)
    assert interval.summary == "VN-22 NV-1 hạn 25/07/2024"
    assert [s["stage"] for s in interval.stages] == ["overdue"] and interval.ended_at is None


def test_a_record_that_cannot_be_indexed_is_left_out_alone_and_the_rest_of_its_batch_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = AlertHistory(tmp_path / "h.sqlite3")
    apply = history._apply

    def failing(opened: Any, transition: AlertTransition, written: datetime) -> None:
        if transition.fingerprint == "VN-22/NV-2":
            raise ValueError("a record this index cannot take")
        apply(opened, transition, written)

    monkeypatch.setattr(history, "_apply", failing)
    added = history.append(_records(*(_transition("firing", "overdue", task=f"NV-{n}") for n in range(4))))
    assert added == 3
    assert [i.fingerprint for i in history] == ["VN-22/NV-0", "VN-22/NV-1", "VN-22/NV-3"]
    assert history.positions() == {0: 4}, "past the record left out: it is never read again"


def test_a_restart_reads_the_alerts_firing_and_the_resolved_last_and_finds_the_others_on_disk(tmp_path: Path) -> None:
    history = AlertHistory(tmp_path / "h.sqlite3")
    ended = [
        _transition("resolved", "overdue", task=f"NV-{n}").model_copy(update={"ends_at": DUE + timedelta(days=n)})
        for n in range(5)
    ]
    history.append(_records(*ended, _transition("firing", "overdue", task="NV-9"), first=0))
    assert history.indexed(0) == 6 and history.indexed(1) == 0
    positions, held = history.snapshot(resolved=2)
    assert positions == {0: 6}
    assert sorted(t.fingerprint for t in held) == ["VN-22/NV-3", "VN-22/NV-4", "VN-22/NV-9"], (
        "every alert firing, and of the resolved ones only the two that ended last"
    )
    old = history.last_record("VN-22/NV-0")
    assert old is not None and old.status == "resolved" and old.ends_at == DUE
    assert history.last_record("VN-22/NV-77") is None


def test_an_index_written_in_layout_3_is_brought_to_this_one_and_keeps_what_it_read(tmp_path: Path) -> None:
    fixture = Path(__file__).parents[2] / "fixtures" / "history_v3" / "history.sqlite3"
    path = tmp_path / "h.sqlite3"
    shutil.copy(fixture, path)
    history = AlertHistory(path)
    assert history.positions() == {0: 10}, "nothing to read again"
    assert len(list(history)) == 6 and sum(i.ended_at is not None for i in history) == 4
    _, held = history.snapshot(resolved=2)
    assert sorted(t.fingerprint for t in held) == ["fp-3", "fp-4", "fp-5", "fp-6"]
    assert {t.fingerprint: t.status for t in held} == {
        "fp-3": "resolved",
        "fp-4": "resolved",
        "fp-5": "firing",
        "fp-6": "firing",
    }
    gone = history.last_record("fp-1")
    assert gone is not None and gone.status == "resolved"
    history.close()
    assert sqlite3.connect(path).execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("4",)
