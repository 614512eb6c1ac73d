"""Hostile rule files: what a careless or malicious pack author hands ``monitor rules check`` / ``rules test``.

Pure (no broker): each case runs the real command in a subprocess, with a timeout, because the point is what the
operator sees — one clear line per problem, no traceback, bounded time and memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO


def _monitor(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None, preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
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
        preexec_fn=preexec,
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


def _limit_memory() -> None:
    import resource

    gib = 1024**3
    resource.setrlimit(resource.RLIMIT_AS, (gib, gib))  # the unbounded loader asked for 3 GB: fail, don't swap


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BILLION_LAUGHS, ":6: field '(file)': YAML aliases expand the file to more than 100000 values"),
        ("a: &a [*a]\n", ":1: field '(file)': a recursive alias: the value contains itself"),
        ("a: &a {b: *a}\n", ":1: field '(file)': a recursive alias: the value contains itself"),
        ("groups: " + "[" * 5000 + "]" * 5000 + "\n", ":1: field '(file)': values nested more than 64 levels deep"),
        ("groups:\n" + "".join("  " * i + "- \n" for i in range(1, 500)), ": field '(file)': values nested more than"),
        ("a: [" + "1," * 600_000 + "1]\n", ": field '(file)': the file is larger than 1048576 bytes"),
    ],
    ids=["billion-laughs", "recursive-sequence", "recursive-mapping", "deep-flow", "deep-block", "too-large"],
)
def test_a_yaml_bomb_is_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    done = _monitor("rules", "check", str(path), timeout=60, preexec=_limit_memory)
    _no_traceback(done)
    assert done.returncode == 1, done.stderr[-2000:]
    (problem, summary) = done.stderr.splitlines()
    assert problem.startswith(f"{path}:") and expected in problem and summary == "1 problem(s) found"


def test_a_bomb_in_a_roster_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "units.yaml").write_text("roster: r\n" + BILLION_LAUGHS, encoding="utf-8")
    done = _monitor("rules", "check", str(tmp_path), timeout=60, preexec=_limit_memory)
    _no_traceback(done)
    assert done.returncode == 1 and "more than 100000 values" in done.stderr


ESCAPING_ROSTER = """\
groups:
  - name: g
    rules:
      - id: plan
        kind: deadline
        due: "2024-07-20T00:00:00+07:00"
        roster: [units/ok.yaml, ../../../../../../../../etc/passwd]
"""


def test_a_roster_path_outside_the_pack_is_not_read(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    (pack / "units").mkdir(parents=True)
    (pack / "units" / "ok.yaml").write_text("roster: ok\nunits:\n  - {id: VN-22, name: Nghệ An}\n", encoding="utf-8")
    (tmp_path / "secret.yaml").write_text("roster: secret\nunits:\n  - {id: X, name: Secret}\n", encoding="utf-8")
    (pack / "rules.yaml").write_text(ESCAPING_ROSTER, encoding="utf-8")
    done = _monitor("rules", "check", str(pack), timeout=30)
    assert done.returncode == 1
    assert (
        f"{pack / 'rules.yaml'}:7: rule 'plan' field 'roster': roster '../../../../../../../../etc/passwd' is outside"
        in done.stderr
    )
    # A valid roster outside the pack, by a relative path or through a link, is refused all the same.
    (pack / "units" / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    for ref in ("../secret.yaml", "units/link.yaml", str(tmp_path / "secret.yaml")):
        (pack / "rules.yaml").write_text(ESCAPING_ROSTER.replace("../../../../../../../../etc/passwd", ref), "utf-8")
        done = _monitor("rules", "check", str(pack / "rules.yaml"), timeout=30)
        assert done.returncode == 1 and f"roster '{ref}' is outside the rule file's directory" in done.stderr


def test_a_rule_test_cannot_name_rule_files_outside_the_pack(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(REDOS_RULES, encoding="utf-8")
    tests = tmp_path / "pack" / "tests"
    tests.mkdir(parents=True)
    path = tests / "x.test.yaml"
    path.write_text(REDOS_TESTS.replace("[rules.yaml]", "[../../rules.yaml]"), encoding="utf-8")
    done = _monitor("rules", "test", str(path), timeout=30)
    _no_traceback(done)
    assert done.returncode == 1
    assert f"{path}:1: field 'rule_files.0': '../../rules.yaml' is outside the pack's directory" in done.stderr
    # One level up, from the pack's tests directory to the pack, is the bundled layout and allowed.
    (tmp_path / "pack" / "rules.yaml").write_text(REDOS_RULES, encoding="utf-8")
    path.write_text(REDOS_TESTS.replace("[rules.yaml]", "[../rules.yaml]"), encoding="utf-8")
    assert _monitor("rules", "test", str(path), timeout=30).returncode == 0


def test_a_link_in_the_pack_directory_to_a_file_outside_is_not_read(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "rules.yaml").write_text(REDOS_RULES, encoding="utf-8")
    (tmp_path / "secret.yaml").write_text("roster: secret\nunits:\n  - {id: X, name: Secret}\n", encoding="utf-8")
    (pack / "units.yaml").symlink_to(tmp_path / "secret.yaml")
    done = _monitor("rules", "check", str(pack), timeout=30)
    _no_traceback(done)
    assert done.returncode == 1
    assert f"{pack / 'units.yaml'}: field '(file)': a link to {tmp_path / 'secret.yaml'}, outside {pack}" in done.stderr
