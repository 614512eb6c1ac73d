"""Hostile rule files: what a careless or malicious pack author hands ``monitor rules check`` / ``rules test``.

Pure (no broker): each case runs the real command in a subprocess, with a timeout, because the point is what the
operator sees — one clear line per problem, no traceback, bounded time and memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _monitor(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    environ["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**environ, **(env or {})},
        check=False,
    )


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr and "Error:" not in done.stderr.replace("error: ", ""), done.stderr[-2000:]


REDOS_RULES = """\
groups:
  - name: g
    rules:
      - id: evil
        kind: deadline
        due_from: deadline
        select: {task_id: {"=~": "(a+)+b"}}
"""

REDOS_TESTS = """\
rule_files: [rules.yaml]
tests:
  - name: a long task id of a's
    start: 2024-07-01T00:00:00+07:00
    events:
      - at: 2024-07-02T09:00:00+07:00
        task: {unit_id: VN-22, task_id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, status: in_progress, deadline: 2024-07-05}
    expect:
      - at: 2024-07-06T00:00:00+07:00
        firing: []
"""


def test_a_backtracking_pattern_runs_in_linear_time(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(REDOS_RULES, encoding="utf-8")
    (tmp_path / "rules.test.yaml").write_text(REDOS_TESTS, encoding="utf-8")
    assert "a" * 38 in REDOS_TESTS
    done = _monitor("rules", "test", str(tmp_path / "rules.test.yaml"), timeout=30)  # Python's re: minutes
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout


def test_a_pattern_re2_cannot_run_is_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(REDOS_RULES.replace("(a+)+b", "(a+)\\\\1"), encoding="utf-8")
    done = _monitor("rules", "check", str(path), timeout=30)
    assert done.returncode == 1
    _no_traceback(done)
    assert (
        f"{path}:7: rule 'evil' field 'groups.0.rules.0.select.task_id': '(a+)\\1' is not a pattern RE2" in done.stderr
    )
