"""Escalation by age, on the simulated clock: severity and receiver change after a while in the breach stage."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from events.models import TaskStatus
from rules.engine import advance, apply_event
from rules.exceptions import RuleFileError
from rules.state import transition_key
from tests.conftest import vn
from tests.rules.fixtures import indicator, pack, task

DOSSIERS = """
groups:
  - name: test
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: dossier-overdue
        kind: deadline
        severity: warning
        select: {kind: dossier}
        due_from: deadline
        warn_before: [1wd]
        escalate:
          - {after: 3wd, severity: critical, escalate_to: province-chair}
          - {after: 10wd, escalate_to: working-group}
"""

THRESHOLD = """
groups:
  - name: test
    rules:
      - id: online-low
        kind: threshold
        indicator: online_dossier_ratio
        below: 0.5
        escalate:
          - {after: 7d, severity: critical}
"""


def test_an_overdue_dossier_escalates_by_working_days_and_a_completion_resolves_it(tmp_path: Path) -> None:
    rules = pack(tmp_path, DOSSIERS)
    # Due at the end of Friday 19/07/2024: overdue from Saturday 00:00; working days are Monday to Friday.
    event = task(vn(2024, 7, 15), kind="dossier", task_id="HS-1", deadline=date(2024, 7, 19))
    state = apply_event(rules, None, event, vn(2024, 7, 15)).state
    seen = []
    records = []
    for day in range(17, 29):
        result = advance(rules, state, vn(2024, 7, day, 8))
        state = result.state
        records += result.transitions
        seen += [
            (day, t.stage, t.severity, t.annotations.get("escalated_after"), t.labels.get("escalate_to"))
            for t in result.transitions
        ]
    assert seen == [
        (19, "due_soon", "warning", None, None),  # one working day before: from Friday 00:00
        (20, "overdue", "warning", None, None),
        # Mon 22, Tue 23, Wed 24 are the three working days overdue: reached once Wednesday has ended.
        (25, "overdue", "critical", "3wd", "province-chair"),
    ]
    (alert,) = state.alerts.values()
    assert alert.starts_at == vn(2024, 7, 19) and alert.labels["severity"] == "critical"
    assert state.next_wakeup is not None  # the next step, 10 working days overdue
    later = advance(rules, state, vn(2024, 8, 3, 8))  # 10 working days ended on Fri 2/8
    (step,) = later.transitions
    assert (step.severity, step.labels["escalate_to"], step.annotations["escalated_after"]) == (
        "critical",  # the last step that names a severity still counts
        "working-group",
        "10wd",
    )
    assert step.starts_at == vn(2024, 7, 19) and transition_key(step) != transition_key(records[-1])
    done = apply_event(
        rules,
        later.state,
        task(vn(2024, 8, 5), TaskStatus.COMPLETED, kind="dossier", task_id="HS-1", deadline=date(2024, 7, 19)),
        vn(2024, 8, 5, 9),
    )
    (resolved,) = done.transitions
    assert resolved.status == "resolved" and resolved.annotations["resolution"] == "completed_late"


def test_a_step_is_reached_even_when_only_a_tick_much_later_looks(tmp_path: Path) -> None:
    rules = pack(tmp_path, DOSSIERS)
    event = task(vn(2024, 7, 15), kind="dossier", task_id="HS-1", deadline=date(2024, 7, 19))
    state = apply_event(rules, None, event, vn(2024, 7, 15)).state
    (record,) = advance(rules, state, vn(2024, 9, 1)).transitions  # one look, long after: the last word only
    assert (record.stage, record.severity, record.labels["escalate_to"]) == ("overdue", "critical", "working-group")


def test_a_threshold_breach_escalates_a_week_after_it_fired_whatever_reports_came_since(tmp_path: Path) -> None:
    rules = pack(tmp_path, THRESHOLD)
    fired = apply_event(rules, None, indicator(vn(2024, 7, 1, 9), 0.40), vn(2024, 7, 1, 9))
    (first,) = fired.transitions
    assert first.severity == "warning"
    again = apply_event(rules, fired.state, indicator(vn(2024, 7, 5, 9), 0.42), vn(2024, 7, 5, 9))
    assert again.transitions == ()  # still below: the same breach, aging from when it fired
    assert advance(rules, again.state, vn(2024, 7, 8, 8, 59)).transitions == ()
    (escalated,) = advance(rules, again.state, vn(2024, 7, 8, 9)).transitions
    assert (escalated.severity, escalated.starts_at, escalated.annotations["escalated_after"]) == (
        "critical",
        vn(2024, 7, 1, 9),
        "7d",
    )
    assert escalated.labels["severity"] == "critical"


@pytest.mark.parametrize(
    ("steps", "words"),
    [
        ("[{after: 3wd}]", "needs 'severity', 'escalate_to' or both"),
        ("[{after: 0s, severity: critical}]", "longer than 0s"),
        ("[{after: 5wd, severity: critical}, {after: 3wd, escalate_to: x}]", "increasing 'after'"),
        ("[{after: 5wd, severity: critical}, {after: 10d, escalate_to: x}]", "not both"),
        ("[{after: 5wd, severity: urgent}]", "severity"),
    ],
)
def test_a_step_that_makes_no_sense_is_refused_with_its_line(tmp_path: Path, steps: str, words: str) -> None:
    text = DOSSIERS.split("        escalate:")[0] + f"        escalate: {steps}\n"
    with pytest.raises(RuleFileError) as refused:
        pack(tmp_path, text)
    problems = " ".join(str(p) for p in refused.value.problems)
    assert words in problems and "escalate" in problems


def test_escalation_is_not_for_every_kind(tmp_path: Path) -> None:
    staleness = """
groups:
  - name: test
    rules:
      - id: silent
        kind: staleness
        indicator: online_dossier_ratio
        max_age: 30d
        escalate: [{after: 7d, severity: critical}]
"""
    with pytest.raises(RuleFileError) as refused:
        pack(tmp_path, staleness)
    assert "escalate" in str(refused.value.problems[0])


def test_the_clock_of_a_calendar_step_is_instant_to_instant(tmp_path: Path) -> None:
    rules = pack(tmp_path, DOSSIERS.replace("3wd", "36h").replace("10wd", "10d"))
    event = task(vn(2024, 7, 15), kind="dossier", task_id="HS-1", deadline=date(2024, 7, 19))
    state = apply_event(rules, None, event, vn(2024, 7, 15)).state
    state = advance(rules, state, vn(2024, 7, 20, 1)).state  # overdue since Saturday 00:00
    assert advance(rules, state, vn(2024, 7, 21, 11, 59)).transitions == ()
    (step,) = advance(rules, state, vn(2024, 7, 21, 12)).transitions
    assert step.severity == "critical" and step.annotations["escalated_after"] == "1d12h"
    assert vn(2024, 7, 21, 12) - vn(2024, 7, 20) == timedelta(hours=36)


RULE_TEST = """\
rule_files: [rules.yaml]
tests:
  - name: a dossier due Friday 19/07/2024 is critical once 3 working days overdue, the chair told after 10
    start: 2024-07-15T00:00:00+07:00
    events:
      - at: 2024-07-15T09:00:00+07:00
        task: {unit_id: VN-40, task_id: HS-1, kind: dossier, status: in_progress, deadline: "2024-07-19"}
    expect:
      - at: 2024-07-24T23:59:00+07:00
        firing: [{rule_id: dossier-overdue, stage: overdue, severity: warning}]
      - at: 2024-07-25T00:00:01+07:00
        firing: [{rule_id: dossier-overdue, severity: critical, escalate_to: province-chair}]
      - at: 2024-08-03T00:00:01+07:00
        firing: [{rule_id: dossier-overdue, severity: critical, escalate_to: working-group}]
"""


def test_a_rule_test_checks_escalations_on_its_simulated_clock(tmp_path: Path) -> None:
    from rules.simulation import run_test_file

    (tmp_path / "rules.yaml").write_text(DOSSIERS, encoding="utf-8")
    tests = tmp_path / "escalation.test.yaml"
    tests.write_text(RULE_TEST, encoding="utf-8")
    (result,) = run_test_file(tests)
    assert result.failures == [] and result.checks == 3
    tests.write_text(RULE_TEST.replace("escalate_to: working-group", "escalate_to: nobody"), encoding="utf-8")
    (failed,) = run_test_file(tests)
    assert len(failed.failures) == 1 and "escalate_to=nobody" in failed.failures[0].replace(": ", "=")
