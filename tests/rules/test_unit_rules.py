"""Roster deadlines, staleness, aggregates, ``for`` and matchers, through the engine."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from events.models import TaskStatus
from rules.engine import advance, apply_event, catch_up_instant, seed
from rules.language import RulePack
from rules.state import UNIT, UnitState
from tests.conftest import vn
from tests.rules.fixtures import indicator, pack, task

ROSTER = """\
roster: three
units:
  - {id: VN-22, name: Nghệ An}
  - {id: VN-02, name: Lào Cai}
  - {id: VN-HN, name: Hà Nội}
"""

UNIT_RULES = """\
groups:
  - name: test
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: inspection-plan-2024
        kind: deadline
        severity: critical
        select: {kind: inspection_plan}
        roster: units.yaml
        expect_status: [completed]
        due: "2024-07-20T00:00:00+07:00"
        warn_before: [7d, 1d]
        summary: "{unit_name}: chưa ban hành kế hoạch kiểm tra (hạn {due})"
      - id: silent-unit
        kind: staleness
        max_age: 30d
      - id: indicator-stale
        kind: staleness
        indicator: "*"
        max_age: 30d
        roster: units.yaml
        start: "2024-07-01T00:00:00+07:00"
      - id: overdue-share
        kind: aggregate
        select: {kind: task}
        measure: overdue_ratio
        above: 0.2
        resolve_below: 0.1
        min_tasks: 4
      - id: online-low-for
        kind: threshold
        indicator: online_dossier_ratio
        below: 0.5
        for: 20d
"""


@pytest.fixture
def rules(tmp_path: Path) -> RulePack:
    (tmp_path / "units.yaml").write_text(ROSTER, encoding="utf-8")
    return pack(tmp_path, UNIT_RULES)


def _firing(state: UnitState) -> set[tuple[str, str, str]]:
    return {
        (a.rule_id, a.stage, a.labels.get("task_id") or a.labels.get("indicator") or "") for a in state.alerts.values()
    }


def _run(rules: RulePack, state: UnitState, at: datetime) -> UnitState:
    return advance(rules, state, at).state


def test_a_rostered_unit_that_never_reports_is_warned_then_overdue(rules: RulePack) -> None:
    result = seed(rules, "VN-HN", vn(2024, 7, 1))
    state = result.state
    log = [(t.rule_id, t.stage, t.labels.get("indicator", "")) for t in result.transitions]
    assert state.next_wakeup == vn(2024, 7, 13).timestamp()  # the 7-day warning
    for at in (vn(2024, 7, 2), vn(2024, 7, 13), vn(2024, 7, 19), vn(2024, 7, 20)):
        step = advance(rules, state, at)
        state = step.state
        log += [(t.rule_id, t.stage, t.labels.get("indicator", "")) for t in step.transitions]
    assert log == [
        ("indicator-stale", "stale", "*"),
        ("inspection-plan-2024", "due_soon", ""),
        ("inspection-plan-2024", "due_soon", ""),
        ("inspection-plan-2024", "overdue", ""),
    ]
    plan = next(a for a in state.alerts.values() if a.rule_id == "inspection-plan-2024")
    assert plan.labels == {"alertname": "inspection-plan-2024", "unit_id": "VN-HN", "severity": "critical"}
    # The rule's due is an instant (not a date): shown with its time, the Vietnamese way.
    assert plan.summary == "Hà Nội: chưa ban hành kế hoạch kiểm tra (hạn 20/07/2024 00:00)"


def test_issuing_the_plan_late_resolves_as_late(rules: RulePack) -> None:
    state = _run(rules, seed(rules, "VN-22", vn(2024, 7, 1)).state, vn(2024, 7, 21))
    event = task(vn(2024, 7, 25, 10), TaskStatus.COMPLETED, unit="VN-22", task_id="KH-2024", kind="inspection_plan")
    state = apply_event(rules, state, event, vn(2024, 7, 25, 10)).state
    result = advance(rules, state, vn(2024, 7, 25, 10, 0, 5))  # unit-wide rules run on the next tick
    (resolved,) = [t for t in result.transitions if t.rule_id == "inspection-plan-2024"]
    assert resolved.status == "resolved" and resolved.annotations["resolution"] == "completed_late"
    assert resolved.ends_at == vn(2024, 7, 25, 10)
    assert resolved.annotations["late_days"] == "5"  # 20/7 00:00 to 25/7 10:00: five whole days
    assert resolved.annotations["summary"] == "Nghệ An: KH-2024 hoàn thành muộn 5 ngày (hạn 20/07/2024 00:00)"


def test_issuing_the_plan_in_time_means_no_alert(rules: RulePack) -> None:
    event = task(vn(2024, 7, 2), TaskStatus.COMPLETED, unit="VN-02", task_id="KH", kind="inspection_plan")
    state = apply_event(rules, None, event, vn(2024, 7, 2)).state
    state = _run(rules, state, vn(2024, 8, 1))
    assert not any(a.rule_id == "inspection-plan-2024" for a in state.alerts.values())


def test_units_outside_the_roster_are_not_expected(rules: RulePack) -> None:
    state = _run(rules, seed(rules, "VN-SG", vn(2024, 7, 1)).state, vn(2024, 8, 1))
    assert _firing(state) == set()


def test_silence_makes_a_unit_stale_and_a_report_clears_it(rules: RulePack) -> None:
    state = apply_event(rules, None, indicator(vn(2024, 7, 1), 0.7, unit="VN-SG"), vn(2024, 7, 1)).state
    state = _run(rules, state, vn(2024, 7, 30, 23))
    assert _firing(state) == set()
    state = _run(rules, state, vn(2024, 7, 31))
    assert _firing(state) == {("silent-unit", "stale", "")}
    state = apply_event(rules, state, indicator(vn(2024, 8, 2), 0.7, unit="VN-SG"), vn(2024, 8, 2)).state
    state = _run(rules, state, vn(2024, 8, 2))
    assert _firing(state) == set()


def test_each_indicator_goes_stale_on_its_own(rules: RulePack) -> None:
    state = seed(rules, "VN-22", vn(2024, 6, 1)).state
    for at, name in ((vn(2024, 6, 1), "online_dossier_ratio"), (vn(2024, 6, 20), "eid_activation_ratio")):
        state = apply_event(rules, state, indicator(at, 0.9, unit="VN-22", name=name), at).state
    state = _run(rules, state, vn(2024, 7, 2))
    assert ("indicator-stale", "stale", "online_dossier_ratio") in _firing(state)
    assert ("indicator-stale", "stale", "eid_activation_ratio") not in _firing(state)
    assert ("indicator-stale", "stale", "*") not in _firing(state)  # it has reported something


def _tasks(rules: RulePack, overdue: int, fine: int) -> UnitState:
    state = None
    for n in range(overdue + fine):
        deadline = date(2024, 7, 1) if n < overdue else date(2024, 12, 31)
        event = task(vn(2024, 6, 1), unit="VN-SG", task_id=f"T-{n}", deadline=deadline)
        state = apply_event(rules, state, event, vn(2024, 6, 1)).state
    assert state is not None
    return state


def test_overdue_share_fires_above_the_limit_and_resolves_below_the_hysteresis_line(rules: RulePack) -> None:
    state = _tasks(rules, overdue=1, fine=3)  # 25% once 1 July passes
    assert state.wakeups[UNIT] <= vn(2024, 6, 1).timestamp()
    state = _run(rules, state, vn(2024, 6, 1))
    # The unit falls silent on 1 July (30 days after its reports); the first deadline passes on 2 July.
    assert state.wakeups[UNIT] == vn(2024, 7, 1).timestamp()
    step = advance(rules, state, vn(2024, 7, 2))
    (firing,) = [t for t in step.transitions if t.rule_id == "overdue-share"]
    assert firing.value == 0.25 and firing.labels == {
        "alertname": "overdue-share",
        "unit_id": "VN-SG",
        "severity": "warning",
    }
    state = step.state
    # Completing the overdue task: 0% < 10% resolves.
    done = task(vn(2024, 7, 3), TaskStatus.COMPLETED, unit="VN-SG", task_id="T-0", deadline=date(2024, 7, 1))
    state = apply_event(rules, state, done, vn(2024, 7, 3)).state
    step = advance(rules, state, vn(2024, 7, 3))
    assert ("overdue-share", "resolved") in [(t.rule_id, t.status) for t in step.transitions]
    assert not any(a.rule_id == "overdue-share" for a in step.state.alerts.values())


def test_aggregate_needs_min_tasks(rules: RulePack) -> None:
    state = _run(rules, _tasks(rules, overdue=1, fine=1), vn(2024, 7, 2))  # 50% but only 2 tasks
    assert not any(a.rule_id == "overdue-share" for a in state.alerts.values())


def test_threshold_for_fires_only_after_the_breach_held_long_enough(rules: RulePack) -> None:
    state = None
    log = []
    for day, value in ((1, 0.45), (10, 0.46), (15, 0.55), (16, 0.40), (30, 0.41), (36, 0.42)):
        at = datetime.fromtimestamp(vn(2024, 7, 1).timestamp() + (day - 1) * 86400, tz=vn(2024, 7, 1).tzinfo)
        result = apply_event(rules, state, indicator(at, value, unit="VN-SG"), at)
        state = result.state
        log += [(day, t.rule_id, t.status) for t in result.transitions if t.rule_id == "online-low-for"]
    # Breach from day 1, interrupted on day 15; again from day 16, held 20 days on day 36.
    assert log == [(36, "online-low-for", "firing")]
    assert state is not None
    (alert,) = [a for a in state.alerts.values() if a.rule_id == "online-low-for"]
    assert alert.starts_at == datetime.fromtimestamp(vn(2024, 7, 1).timestamp() + 15 * 86400, tz=alert.starts_at.tzinfo)


@pytest.mark.parametrize(
    ("select", "hits"),
    [
        ("{kind: task}", {"A", "B", "C"}),
        ('{task_id: {"!=": "B"}}', {"A", "C", "D"}),
        ('{task_id: {"=~": "[AB]"}}', {"A", "B"}),
        ("{directive: {in: ['05', '06']}}", {"A", "D"}),
        ("{directive: '05', kind: task}", {"A"}),
        ('{unit_id: {"=~": "VN-2.*"}}', {"A", "B", "C", "D"}),
    ],
)
def test_matchers(tmp_path: Path, select: str, hits: set[str]) -> None:
    rules = pack(
        tmp_path,
        f"groups:\n  - name: g\n    rules:\n      - {{id: m, kind: deadline, due_from: deadline, select: {select}}}\n",
    )
    state = None
    specs = {"A": ("task", "05"), "B": ("task", None), "C": ("task", "07"), "D": ("dossier", "06")}
    for task_id, (kind, directive) in specs.items():
        labels = {"directive": directive} if directive else {}
        event = task(
            vn(2024, 7, 25), unit="VN-22", task_id=task_id, kind=kind, deadline=date(2024, 7, 1), labels=labels
        )
        state = apply_event(rules, state, event, vn(2024, 7, 25)).state
    assert state is not None
    assert {a.labels["task_id"] for a in state.alerts.values()} == hits


def test_a_rostered_unit_first_heard_of_through_a_task_is_checked_for_indicators_on_the_next_advance(
    rules: RulePack,
) -> None:
    event = task(vn(2024, 7, 2), unit="VN-02", task_id="NV-1")
    result = apply_event(rules, None, event, vn(2024, 7, 2))
    assert _firing(result.state) == set() and result.transitions == ()  # its first report may be the next record
    assert result.state.next_wakeup == vn(2024, 7, 2).timestamp()  # … so the question is due now, at the next tick
    later = advance(rules, result.state, vn(2024, 7, 2, 0, 0, 1))
    assert ("indicator-stale", "stale", "*") in _firing(later.state)


def test_a_unit_whose_first_indicator_follows_its_first_task_within_a_tick_is_never_called_silent(
    rules: RulePack,
) -> None:
    state = apply_event(rules, None, task(vn(2024, 7, 2), unit="VN-02", task_id="NV-1"), vn(2024, 7, 2)).state
    report = apply_event(rules, state, indicator(vn(2024, 7, 2), 0.6, unit="VN-02"), vn(2024, 7, 2))
    later = advance(rules, report.state, vn(2024, 7, 2, 0, 0, 1))
    assert [t for t in (*report.transitions, *later.transitions) if t.rule_id == "indicator-stale"] == []


def test_a_first_indicator_report_resolves_the_alert_that_the_unit_never_reported_one(rules: RulePack) -> None:
    state = _run(rules, seed(rules, "VN-22", vn(2024, 7, 1)).state, vn(2024, 8, 2))
    state = _run(rules, state, vn(2024, 8, 3))  # firing, nothing left to wait for
    assert ("indicator-stale", "stale", "*") in _firing(state)
    at = vn(2024, 8, 4)
    result = apply_event(rules, state, indicator(at, 0.9, unit="VN-22"), at)
    assert ("indicator-stale", "stale", "*") not in _firing(result.state)
    resolved = [t for t in result.transitions if t.rule_id == "indicator-stale" and t.status == "resolved"]
    assert [t.labels["indicator"] for t in resolved] == ["*"]


def test_a_backlog_indicator_of_a_unit_called_silent_is_judged_now(rules: RulePack) -> None:
    # The unit holds "never reported an indicator" (about no indicator of its own): its first report, read from
    # a backlog, is judged now, never at its own earlier instant, before the alert it ends began.
    state = _run(rules, seed(rules, "VN-22", vn(2024, 7, 1)).state, vn(2024, 8, 3))
    assert ("indicator-stale", "stale", "*") in _firing(state)
    now = vn(2024, 8, 10)
    assert catch_up_instant(rules, state, indicator(vn(2024, 8, 4), 0.9, unit="VN-22"), now) == now
    quiet = apply_event(rules, None, task(vn(2024, 7, 2), unit="VN-02", task_id="NV-1"), vn(2024, 7, 2)).state
    assert not quiet.alerts and not quiet.pending  # nothing held: the report is judged at its own instant
    assert catch_up_instant(rules, quiet, indicator(vn(2024, 7, 4), 0.9, unit="VN-02"), now) == vn(2024, 7, 4)
