"""Replay under a timeline of packs: each unit is evaluated under a new pack the instant it is applied."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rules.language import RulePack
from rules.loading import PackTimeline, load_pack
from rules.simulation import TimedTransition, replay
from tests.conftest import vn
from tests.rules.fixtures import indicator, task

ROSTER = """
roster: provinces
units:
  - {id: VN-01, name: Hà Nội}
  - {id: VN-22, name: Nghệ An}
  - {id: VN-40, name: Bình Thuận}
"""

# Pack A: a low online ratio below 0.5 fires; a backlog above 10 fires.
PACK_A = """
groups:
  - name: g
    timezone: Asia/Ho_Chi_Minh
    rules:
      - {id: online-low, kind: threshold, indicator: online_dossier_ratio, below: 0.5}
      - {id: backlog-high, kind: threshold, indicator: backlog, above: 10}
"""

# Pack B: the ratio's threshold raised to 0.7 (and bounded), the backlog rule removed, a rostered plan added.
PACK_B = """
indicators:
  online_dossier_ratio: {min: 0, max: 1}
groups:
  - name: g
    timezone: Asia/Ho_Chi_Minh
    rules:
      - {id: online-low, kind: threshold, indicator: online_dossier_ratio, below: 0.7}
      - id: inspection-plan
        kind: deadline
        severity: critical
        select: {kind: inspection_plan}
        roster: [units.yaml]
        expect_status: [completed]
        due: "2024-07-20T00:00:00+07:00"
"""

SWITCH = vn(2024, 7, 21, 9)


def _pack(directory: Path, rules: str, roster: str | None = None) -> RulePack:
    directory.mkdir()
    (directory / "rules.yaml").write_text(rules, encoding="utf-8")
    if roster is not None:
        (directory / "units.yaml").write_text(roster, encoding="utf-8")
    return load_pack([directory])


def _at(transitions: list[TimedTransition], instant: datetime) -> list[tuple[str, str, str, str]]:
    """(status, rule, unit, resolution) of the transitions at ``instant``, sorted."""
    return sorted(
        (t.status, t.rule_id, t.labels["unit_id"], t.annotations.get("resolution", ""))
        for at, t in transitions
        if at == instant
    )


def test_a_new_pack_is_in_force_for_every_unit_from_the_instant_it_is_applied(tmp_path: Path) -> None:
    a = _pack(tmp_path / "a", PACK_A)
    b = _pack(tmp_path / "b", PACK_B, ROSTER)
    timeline = PackTimeline([(SWITCH, b), (vn(2024, 7, 1), a)])
    at_switch = indicator(SWITCH, 0.65, unit="VN-01")  # at the switch instant: under B already
    events = [
        indicator(vn(2024, 7, 10), 20, unit="VN-40", name="backlog"),  # fires under A
        indicator(vn(2024, 7, 10), 0.6, unit="VN-40"),  # fine under A (0.5), low under B (0.7)
        at_switch,
        indicator(SWITCH, 1.5, unit="VN-22"),  # fine under A, out of B's bounds: refused, never delivered
        indicator(vn(2024, 7, 22), 0.9, unit="VN-40"),  # recovers under B
    ]
    delivered, transitions = replay(timeline, events, start=vn(2024, 7, 1), until=vn(2024, 7, 23))
    assert delivered == 4
    assert [(t.status, t.rule_id) for at, t in transitions if at < SWITCH] == [("firing", "backlog-high")]
    assert _at(transitions, SWITCH) == [
        # the rostered plan fires for every unit on its roster, VN-22 never reported anything
        ("firing", "inspection-plan", "VN-01", ""),
        ("firing", "inspection-plan", "VN-22", ""),
        ("firing", "inspection-plan", "VN-40", ""),
        # the raised threshold: VN-40's last report, re-evaluated, and VN-01's report at the switch
        ("firing", "online-low", "VN-01", ""),
        ("firing", "online-low", "VN-40", ""),
        # the backlog rule left the pack: its firing alert resolves
        ("resolved", "backlog-high", "VN-40", "rule_removed"),
    ]
    # The switch comes first, then the event at its instant is delivered under B (and its report fires).
    last = [t for at, t in transitions if at == SWITCH][-1]
    assert (last.rule_id, last.labels["unit_id"], last.event_ids) == ("online-low", "VN-01", [at_switch.event_id])
    removed = next(t for at, t in transitions if t.annotations.get("resolution") == "rule_removed")
    assert removed.ends_at == SWITCH
    assert _at(transitions, vn(2024, 7, 22)) == [("resolved", "online-low", "VN-40", "recovered")]
    assert all(at <= vn(2024, 7, 23) for at, _ in transitions)


def test_the_first_pack_is_in_force_before_it_was_applied_and_a_later_one_only_from_its_instant(
    tmp_path: Path,
) -> None:
    a = _pack(tmp_path / "a", PACK_A)
    b = _pack(tmp_path / "b", PACK_B, ROSTER)
    events = [indicator(vn(2024, 7, 10), 20, unit="VN-40", name="backlog")]
    timeline = PackTimeline([(vn(2024, 7, 15), a), (SWITCH, b)])
    # Started before A was applied: A all the same (the backlog fires); B's switch is after ``until``: never applied.
    _, transitions = replay(timeline, events, start=vn(2024, 7, 1), until=SWITCH.replace(hour=8))
    assert [(t.status, t.rule_id) for _, t in transitions] == [("firing", "backlog-high")]
    # Started after B was applied: B from the start (its roster seeded; the backlog rule is not there).
    _, transitions = replay(timeline, events, start=vn(2024, 7, 22), until=vn(2024, 7, 23))
    assert {(t.rule_id, t.labels["unit_id"]) for _, t in transitions} == {
        ("inspection-plan", unit) for unit in ("VN-01", "VN-22", "VN-40")
    }


def test_a_timeline_of_one_pack_replays_exactly_as_that_pack(tmp_path: Path) -> None:
    plan = PACK_B.replace("below: 0.7", "below: 0.5")
    pack = _pack(tmp_path / "p", plan, ROSTER)
    events = [
        task(vn(2024, 7, 5), unit="VN-22", task_id="KH-1", kind="inspection_plan"),
        indicator(vn(2024, 7, 10), 0.3, unit="VN-40"),
        task(vn(2024, 7, 22), "completed", unit="VN-22", task_id="KH-1", kind="inspection_plan"),
        indicator(vn(2024, 7, 24), 0.8, unit="VN-40"),
    ]
    for applied_at in (vn(2024, 1, 1), vn(2024, 7, 12)):  # before the first event, and after it
        for start, until in ((None, None), (vn(2024, 7, 1), vn(2024, 7, 30))):
            expected = replay(pack, events, start=start, until=until)
            assert expected[1], "the pack gives transitions to compare"
            assert replay(PackTimeline([(applied_at, pack)]), events, start=start, until=until) == expected
