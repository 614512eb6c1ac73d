"""A unit evaluated under a new pack: new rules fire, removed ones resolve, a roster that drops it resolves its alerts."""

from __future__ import annotations

from pathlib import Path

from rules.engine import advance, seed
from tests.conftest import vn
from tests.rules.fixtures import pack

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
