"""The checker itself: it must see what it is for (it shares no code with the engine, so it is tested here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.faults.checker import Workload, check_alerts, check_generations, check_views

DONE = datetime(2024, 7, 26, tzinfo=UTC)


def _record(fp: str, status: str, task: str = "T-1", **annotations: str) -> dict[str, Any]:
    return {
        "fingerprint": fp,
        "status": status,
        "stage": "overdue",
        "rule_id": "task-overdue",
        "labels": {"unit_id": "VN-01", "task_id": task},
        "annotations": annotations,
        "ends_at": DONE.isoformat() if status == "resolved" else None,
    }


def _workload() -> Workload:
    workload = Workload()
    workload.overdue("VN-01", "T-1")
    workload.completed("VN-01", "T-1", DONE)
    workload.overdue("VN-01", "T-2")
    return workload


def test_an_exact_topic_is_clean() -> None:
    records = [
        _record("a", "firing"),
        _record("b", "firing", "T-2"),
        _record("a", "resolved", resolution="completed_late"),
    ]
    assert check_alerts(_workload(), records).clean


def test_lost_duplicated_and_wrong_are_counted() -> None:
    records = [
        _record("a", "firing"),
        _record("a", "firing"),  # the same transition twice
        _record("a", "resolved", resolution="reconciled"),  # not the real reason
        _record("b", "firing", "T-2"),
        _record("b", "resolved", "T-2", resolution="reconciled"),  # T-2 is still overdue
    ]
    report = check_alerts(_workload(), records)
    assert (report.lost, report.duplicated, report.wrong) == (0, 2, 2)
    assert check_alerts(_workload(), [_record("a", "firing")]).lost == 2  # T-1 never resolved, T-2 never fired
    assert check_alerts(_workload(), [_record("a", "firing")]).unresolved == [("VN-01", "T-1")]


def test_views_are_compared_with_what_was_published() -> None:
    good = {"units": [{"unit_id": "VN-01", "tasks": {"completed": 1, "in_progress": 1}, "overdue": 1}]}
    assert check_views(_workload(), [good]).clean
    stale = {"units": [{"unit_id": "VN-01", "tasks": {"in_progress": 2}, "overdue": 2}]}
    assert check_views(_workload(), [stale]).views_wrong == 2
    assert check_views(_workload(), [good, good]).clean  # every worker answers for every unit, the same
    assert check_views(_workload(), [good, stale]).views_wrong == 1  # two workers that disagree
    assert check_views(_workload(), []).views_wrong == 1
    assert check_views(_workload(), [{"units": []}]).views_wrong == 1  # a unit nobody answers for


def test_a_record_written_under_an_older_generation_is_a_zombie_write() -> None:
    assert check_generations({0: [1, 1, 2, 2, 3], 1: [None, 2, None, 2]}).clean
    report = check_generations({0: [1, 2, 1, 2], 1: [3, 2, -1]})  # -1: written while not a member, unknown
    assert report.zombie == 2 and not report.clean


def test_a_missed_unit_deadline_is_expected_on_the_overdue_count() -> None:
    with_plan = {"units": [{"unit_id": "VN-01", "tasks": {"completed": 1, "in_progress": 1}, "overdue": 2}]}
    assert check_views(_workload(), [with_plan], missed={"VN-01": 1}).clean
    assert check_views(_workload(), [with_plan]).views_wrong == 1


def test_a_task_due_long_after_the_run_must_not_fire_and_is_not_counted_overdue() -> None:
    workload = _workload()
    workload.pending("VN-01", "T-3")
    records = [_record("a", "firing", "T-1"), _record("a", "resolved", "T-1", resolution="completed_late")]
    records.append(_record("b", "firing", "T-2"))
    assert check_alerts(workload, records).clean
    fired = check_alerts(workload, [*records, _record("c", "firing", "T-3")])
    assert fired.wrong == 1 and "due long after the run" in fired.detail[0]
    view = {"units": [{"unit_id": "VN-01", "tasks": {"completed": 1, "in_progress": 2}, "overdue": 1}]}
    assert check_views(workload, [view]).clean
    assert check_views(workload, [{"units": [{**view["units"][0], "overdue": 2}]}]).views_wrong == 1
