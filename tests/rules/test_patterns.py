"""Rule patterns run on RE2: linear-time matching, whole-value semantics, RE2-only syntax refused with its place."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import pytest

from rules.exceptions import RuleFileError
from rules.language import MAX_MATCHED_CHARS, Matcher, compile_pattern
from rules.loading import load_rule_file


def _rule_file(tmp_path: Path, pattern: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "groups:\n  - name: g\n    rules:\n      - id: r\n        kind: deadline\n        due_from: deadline\n"
        f"        select:\n          task_id: {{\"=~\": '{pattern}'}}\n",
        encoding="utf-8",
    )
    return path


def test_nested_quantifiers_match_in_linear_time() -> None:
    pattern = compile_pattern("(a+)+b")
    started = time.monotonic()
    assert not pattern.fullmatch("a" * 38)  # Python's re backtracks here for minutes
    assert pattern.fullmatch("a" * 38 + "b")
    assert time.monotonic() - started < 1.0


def test_a_pattern_matches_the_whole_value_as_before() -> None:
    pattern = compile_pattern("VN-2.")
    assert pattern.fullmatch("VN-22")
    assert not pattern.fullmatch("VN-221")
    assert not pattern.fullmatch("xVN-22")


def test_a_value_longer_than_the_bound_never_matches() -> None:
    pattern = compile_pattern("a*")
    assert pattern.fullmatch("a" * MAX_MATCHED_CHARS)
    assert not pattern.fullmatch("a" * (MAX_MATCHED_CHARS + 1))


def test_patterns_compare_and_pickle_by_source() -> None:
    matcher = Matcher("=~", "de-an-.*", compile_pattern("de-an-.*"))
    assert matcher == Matcher("=~", "de-an-.*", compile_pattern("de-an-.*"))
    copy = pickle.loads(pickle.dumps(matcher))
    assert copy == matcher and copy.matches("de-an-06")


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [("(a)\\1", "invalid escape sequence"), ("a(?=b)", "invalid perl operator"), ("[", "missing ]")],
)
def test_a_pattern_re2_refuses_is_a_load_error_at_its_line(tmp_path: Path, pattern: str, reason: str) -> None:
    path = _rule_file(tmp_path, pattern)
    with pytest.raises(RuleFileError) as caught:
        load_rule_file(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.rule_id, problem.field) == (8, "r", "groups.0.rules.0.select.task_id")
    assert reason in problem.message and "RE2" in problem.message


def test_an_overlong_pattern_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="at most 1000"):
        load_rule_file(_rule_file(tmp_path, "a" * 1001))
