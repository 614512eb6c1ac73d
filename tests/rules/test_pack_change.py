"""A unit evaluated under a new pack: new rules fire, removed ones resolve, a roster that drops it resolves its alerts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rules.engine import advance, apply_event, seed
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
