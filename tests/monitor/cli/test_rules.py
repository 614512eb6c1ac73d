"""``monitor rules check`` / ``rules test``: machine-readable problems, colour only where it belongs, exit codes."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import main
from rules.loading import BUNDLED_PACK
from tests.conftest import REPO

BAD_RULES = """\
groups:
  - name: g
    rules:
      - id: a
        kind: deadlin
      - {id: b, kind: threshold, indicator: x, below: 1, labels: {bad-name: x}}
"""

RULES = "groups:\n  - name: g\n    rules:\n      - {id: task-overdue, kind: deadline, due_from: deadline}\n"

FAILING_TEST = """\
rule_files: [rules.yaml]
tests:
  - name: passes
    start: 2024-07-01T00:00:00+07:00
    expect:
      - {at: 2024-07-02T00:00:00+07:00, firing: []}
  - name: wrongly expects an alert
    start: 2024-07-01T00:00:00+07:00
    expect:
      - {at: 2024-07-02T00:00:00+07:00, firing: [{rule_id: task-overdue}]}
"""


def test_check_json_lists_every_problem_with_its_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BAD_RULES, encoding="utf-8")
    assert main(["rules", "check", "--format", "json", str(path)]) == 1
    out = capsys.readouterr().out
    problems = json.loads(out)
    assert [(p["file"], p["line"], p["rule_id"], p["field"]) for p in problems] == [
        (str(path), 5, "a", "groups.0.rules.0.kind"),
        (str(path), 6, "b", "groups.0.rules.1.labels.bad-name"),
    ]
    assert problems[0]["message"] == "unknown kind 'deadlin'; did you mean 'deadline'?"
    assert all(set(p) == {"file", "line", "rule_id", "field", "message"} for p in problems)
    assert main(["rules", "check", "--format", "json", str(BUNDLED_PACK)]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_test_json_lists_failures_and_file_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    path = tmp_path / "rules.test.yaml"
    path.write_text(FAILING_TEST, encoding="utf-8")
    assert main(["rules", "test", "--format", "json", str(path)]) == 1
    (problem,) = json.loads(capsys.readouterr().out)
    assert (problem["file"], problem["line"], problem["rule_id"], problem["field"]) == (str(path), 7, None, "tests.1")
    assert problem["message"].startswith("wrongly expects an alert: at 2024-07-02T00:00:00+07:00: expected firing")
    path.write_text(FAILING_TEST.replace("rule_files:", "rule_file:"), encoding="utf-8")
    assert main(["rules", "test", "--format", "json", str(path)]) == 1
    (problem,) = [p for p in json.loads(capsys.readouterr().out) if p["field"] == "rule_file"]
    assert problem["line"] == 1 and problem["message"] == "unknown field 'rule_file'; did you mean 'rule_files'?"
    assert main(["rules", "test", "--format", "json", str(BUNDLED_PACK / "tests")]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(tmp_path / "missing.yaml")]) == 2
    assert capsys.readouterr().err == f"error: no such file or directory: {tmp_path / 'missing.yaml'}\n"
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    assert main(["rules", "test", str(tmp_path)]) == 2
    assert "no rule test files" in capsys.readouterr().err


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run the command with stdout and stderr on a pseudo-terminal; what it wrote."""
    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR" and not k.startswith("MONITOR_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        cwd=REPO,
        stdout=follower,
        stderr=follower,
        env={**environ, "PYTHONPATH": str(REPO), **env},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BAD_RULES, encoding="utf-8")
    coloured = _on_a_terminal(["rules", "check", str(path)], {})
    assert f"\033[1m{path}:5\033[0m: rule 'a'" in coloured and "\033[31m2 problem(s) found\033[0m" in coloured
    for value in ("1", "0", "false"):  # no-color.org: any value but the empty string
        plain = _on_a_terminal(["rules", "check", str(path)], {"NO_COLOR": value})
        assert "\033[" not in plain and f"{path}:5: rule 'a'" in plain
    assert "\033[" in _on_a_terminal(["rules", "check", str(path)], {"NO_COLOR": ""})
    assert main(["rules", "check", str(path)]) == 1  # captured: not a terminal
    assert "\033[" not in capsys.readouterr().err


def test_diff_shows_what_changes_and_exits_like_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.rules.test_diff import edited_copy

    new = edited_copy(tmp_path)
    assert main(["rules", "diff", str(BUNDLED_PACK), str(new)]) == 1
    out = capsys.readouterr().out
    assert "+ rule eid-activation-very-low (added)" in out and "    -below: 0.5" in out and "    - BQP" in out
    assert main(["rules", "diff", "--format", "json", str(BUNDLED_PACK), str(new)]) == 1
    assert json.loads(capsys.readouterr().out)["rules_removed"] == ["eid-activation-low"]
    assert main(["rules", "diff", str(BUNDLED_PACK), str(BUNDLED_PACK)]) == 0
    assert "no rule or roster changes" in capsys.readouterr().out
    broken = tmp_path / "broken.yaml"
    broken.write_text(BAD_RULES, encoding="utf-8")
    assert main(["rules", "diff", str(BUNDLED_PACK), str(broken)]) == 2
    err = capsys.readouterr().err
    assert f"{broken}:5" in err and "2 problem(s) found" in err


def test_apply_refuses_a_pack_with_problems_or_failing_tests_before_it_reaches_for_the_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unreachable = "kafka://127.0.0.1:9"  # never asked: the pack is refused first
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "rules.yaml").write_text(BAD_RULES, encoding="utf-8")
    assert main(["rules", "apply", str(broken), "--broker", unreachable]) == 1
    err = capsys.readouterr().err
    assert f"{broken / 'rules.yaml'}:5" in err and "did you mean 'deadline'" in err
    assert "2 problem(s) found; nothing published" in err
    failing = tmp_path / "failing"
    failing.mkdir()
    (failing / "rules.yaml").write_text(RULES, encoding="utf-8")
    (failing / "rules.test.yaml").write_text(FAILING_TEST, encoding="utf-8")
    assert main(["rules", "apply", str(failing), "--broker", unreachable]) == 1
    err = capsys.readouterr().err
    assert "wrongly expects an alert" in err and "nothing published" in err


def test_apply_takes_a_directory_and_says_so_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    single = tmp_path / "rules.yaml"
    single.write_text(RULES, encoding="utf-8")
    assert main(["rules", "apply", str(single), "--broker", "kafka://127.0.0.1:9"]) == 2
    assert "rules apply takes the pack's directory" in capsys.readouterr().err
    assert main(["rules", "apply", str(tmp_path / "nowhere"), "--broker", "kafka://127.0.0.1:9"]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_apply_of_a_good_pack_to_a_broker_that_does_not_answer_is_one_line_and_exit_3(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "rules.yaml").write_text(RULES, encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "rules", "apply", str(pack), "--broker", "kafka://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=environment,
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: cannot reach the broker at 127.0.0.1:9 (--broker or MONITOR_BROKER): no broker answered"
    ]
