"""The rule test runner: it must fail when the rules do not do what a test says."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from rules.exceptions import RuleFileError
from rules.loading import BUNDLED_PACK
from rules.simulation import run_test_file

RULES = """\
groups:
  - name: g
    rules:
      - {id: task-overdue, kind: deadline, severity: critical, due_from: deadline, warn_before: [1d]}
"""


def _write(tmp_path: Path, tests: str) -> Path:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    path = tmp_path / "rules.test.yaml"
    path.write_text("rule_files: [rules.yaml]\ntests:\n" + tests, encoding="utf-8")
    return path


TIMELINE = """\
  - name: one task
    start: 2024-07-01T00:00:00+07:00
    events:
      - at: 2024-07-02T09:00:00+07:00
        task: {unit_id: VN-22, task_id: T, status: in_progress, deadline: 2024-07-05}
    expect:
"""


@pytest.mark.parametrize(
    ("expect", "failure"),
    [
        ("      - at: 2024-07-05T00:00:00+07:00\n        firing: []\n", "expected nothing firing"),
        (
            "      - at: 2024-07-05T00:00:00+07:00\n        firing: [{rule_id: task-overdue, stage: overdue}]\n",
            "expected firing {rule_id=task-overdue, stage=overdue}\n      actual firing: {rule_id=task-overdue, unit_id=VN-22, task_id=T, stage=due_soon",
        ),
        (
            "      - at: 2024-07-06T00:00:00+07:00\n        absent: [{task_id: T}]\n",
            "expected not firing {task_id=T}",
        ),
        (
            "      - at: 2024-07-06T00:00:00+07:00\n        resolved: [{rule_id: task-overdue}]\n",
            "expected resolved {rule_id=task-overdue}\n      actual resolved: nothing",
        ),
    ],
)
def test_a_wrong_expectation_fails_with_expected_and_actual(tmp_path: Path, expect: str, failure: str) -> None:
    (result,) = run_test_file(_write(tmp_path, TIMELINE + expect))
    assert len(result.failures) == 1
    assert failure in result.failures[0]


def test_right_expectations_pass(tmp_path: Path) -> None:
    expect = (
        "      - at: 2024-07-05T00:00:00+07:00\n        firing: [{rule_id: task-overdue, stage: due_soon, severity: warning}]\n"
        "      - at: 2024-07-06T00:00:00+07:00\n        firing: [{unit_id: VN-22, stage: overdue, severity: critical}]\n"
    )
    (result,) = run_test_file(_write(tmp_path, TIMELINE + expect))
    assert result.failures == [] and result.checks == 2


def test_an_invalid_timeline_event_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    tests = (
        TIMELINE.replace("status: in_progress", "status: finished")
        + "      - at: 2024-07-06T00:00:00+07:00\n        firing: []\n"
    )
    (result,) = run_test_file(_write(tmp_path, tests))
    assert "field 'status'" in result.failures[0]


def test_an_invalid_test_file_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError) as caught:
        run_test_file(_write(tmp_path, TIMELINE + "      - firing: []\n"))
    assert caught.value.problems[0].line == 9


def test_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing = _write(tmp_path, TIMELINE + "      - at: 2024-07-06T00:00:00+07:00\n        firing: []\n")
    assert main(["rules", "test", str(failing)]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["rules", "test", str(BUNDLED_PACK / "tests")]) == 0
    assert " passed, 0 failed" in capsys.readouterr().out
