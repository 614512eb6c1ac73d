"""A unit evaluated under a new pack: new rules fire, removed ones resolve, a roster that drops it resolves its alerts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rules.engine import advance, apply_event, catch_up_instant, move, seed
from rules.language import RulePack
from rules.state import UnitState
from tests.conftest import vn
from tests.rules.fixtures import pack, task
from tests.rules.test_extensions import extension

ROSTER = """
roster: provinces
units:
  - {id: VN-22, name: Nghệ An}
  - {id: VN-40, name: Bình Thuận}
"""

PLAN = """
groups:
  - name: g
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: inspection-plan
        kind: deadline
        severity: critical
        select: {kind: inspection_plan}
        roster: [units.yaml]
        expect_status: [completed]
        due: "2024-07-20T00:00:00+07:00"
"""


def test_a_unit_taken_off_a_roster_has_its_alert_resolved_as_no_longer_rostered(tmp_path: Path) -> None:
    (tmp_path / "units.yaml").write_text(ROSTER, encoding="utf-8")
    before = pack(tmp_path, PLAN)
    state = seed(before, "VN-40", vn(2024, 7, 21)).state
    assert [a.stage for a in state.alerts.values()] == ["overdue"]
    (tmp_path / "units.yaml").write_text(ROSTER.replace("  - {id: VN-40, name: Bình Thuận}\n", ""), encoding="utf-8")
    after = pack(tmp_path, PLAN)
    result = advance(after, state, vn(2024, 7, 21, 1))
    [resolved] = result.transitions
    assert resolved.status == "resolved" and resolved.annotations["resolution"] == "no_longer_rostered"
    assert not result.state.alerts and result.state.pack_version == after.version


TASK_DEADLINE = """
groups:
  - name: g
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: task-deadline
        kind: deadline
        severity: critical
        select: {kind: task}
        due_from: deadline
"""


def test_an_extension_first_after_a_pack_change_leaves_the_units_other_tasks_to_be_evaluated_under_it(
    tmp_path: Path,
) -> None:
    before = pack(tmp_path, TASK_DEADLINE)
    at = vn(2024, 7, 1)
    state = None
    for task_id in ("T-1", "T-2"):
        event = task(at, unit="VN-40", task_id=task_id, deadline=date(2024, 7, 30))
        state = apply_event(before, state, event, at).state
    assert state is not None
    after = pack(tmp_path, TASK_DEADLINE + "        warn_before: [30d]\n")  # a warning a month ahead, new
    granted = extension(vn(2024, 7, 2), date(2024, 8, 15), task_id="T-1", unit="VN-40")
    result = apply_event(after, state, granted, vn(2024, 7, 2))
    assert result.state.pack_version != after.version, "only T-1 was evaluated under the new pack so far"
    moved = advance(after, result.state, vn(2024, 7, 2, 0, 1))
    warned = {t.labels["task_id"] for t in moved.transitions if t.stage == "due_soon"}
    assert "T-2" in warned, "T-2's new warning fires at the next tick: the unit's other tasks are evaluated under it"
    assert moved.state.pack_version == after.version


def _tracked(tmp_path: Path, count: int) -> tuple[object, object]:
    """A unit with ``count`` tasks under a pack without warnings; the same pack with a warning a month ahead."""
    before = pack(tmp_path, TASK_DEADLINE)
    at = vn(2024, 7, 1)
    state = None
    for n in range(count):
        event = task(at, unit="VN-40", task_id=f"T-{n:03d}", deadline=date(2024, 7, 20 + n % 10), event_id=f"e-{n}")
        state = apply_event(before, state, event, at).state
    return state, pack(tmp_path, TASK_DEADLINE + "        warn_before: [30d]\n")


def test_a_unit_moved_to_a_pack_in_parts_ends_as_one_moved_at_once(tmp_path: Path) -> None:
    whole, after = _tracked(tmp_path, 50)
    parted, _ = _tracked(tmp_path, 50)
    assert isinstance(whole, UnitState) and isinstance(parted, UnitState) and isinstance(after, RulePack)
    now = vn(2024, 7, 2)
    at_once = advance(after, whole, now)
    fired: list[str] = []
    cursor: str | None = None
    parts = 0
    while True:
        result, cursor = move(after, parted, now, cursor, 7)
        parts += 1
        fired += [t.labels["task_id"] for t in result.transitions]
        if cursor is None:
            break
        assert result.state.pack_version != after.version, "not under the new pack until every task moved"
    assert parts == 8, "50 tasks in parts of 7: seven parts and the last"
    assert sorted(fired) == sorted(t.labels["task_id"] for t in at_once.transitions)
    assert len(fired) == 50, "each task's new warning fires once"
    assert parted == at_once.state and parted.pack_version == after.version


def test_an_event_during_a_move_is_judged_under_the_new_pack_and_the_move_does_not_repeat_it(tmp_path: Path) -> None:
    state, after = _tracked(tmp_path, 20)
    assert isinstance(state, UnitState) and isinstance(after, RulePack)
    now = vn(2024, 7, 2)
    first, cursor = move(after, state, now, None, 5)
    assert cursor == "T-004" and len(first.transitions) == 5
    late = task(now, unit="VN-40", task_id="T-015", deadline=date(2024, 7, 25), title="moved by an event")
    judged = apply_event(after, state, late, now)
    assert [t.labels["task_id"] for t in judged.transitions] == ["T-015"], "its own task, under the new pack"
    assert judged.state.pack_version != after.version, "the rest of the unit is still moving"
    rest, cursor = move(after, state, now, cursor, None)
    assert cursor is None and state.pack_version == after.version
    assert "T-015" not in {t.labels["task_id"] for t in rest.transitions}, "already warned: not warned twice"
    assert len(rest.transitions) == 14


def test_a_backlog_read_while_a_unit_moves_to_a_pack_is_judged_at_its_own_time(tmp_path: Path) -> None:
    state, after = _tracked(tmp_path, 3)
    assert isinstance(state, UnitState) and isinstance(after, RulePack)
    now = vn(2024, 7, 25)  # a worker back after a week, under a pack applied meanwhile, reads what it missed
    backlog = [
        task(vn(2024, 7, 10), unit="VN-40", task_id="T-5", deadline=date(2024, 7, 20), event_id="b-1"),
        task(vn(2024, 7, 15), "completed", unit="VN-40", task_id="T-5", deadline=date(2024, 7, 20), event_id="b-2"),
    ]
    stages = []
    for event in backlog:
        result = apply_event(after, state, event, catch_up_instant(after, state, event, now))
        stages += [(t.status, t.stage) for t in result.transitions]
    assert ("firing", "overdue") not in stages, "completed on time: never overdue, though the unit is still moving"
    assert state.pack_version != after.version
