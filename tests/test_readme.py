"""The README stands alone and says what the product does: its paths exist, its tables match the code."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from events.models import IndicatorEvent, TaskStatus, TaskStatusEvent
from monitor.cli.common import ExitCode
from rules.loader import load_pack
from rules.pack import AnyRule
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
TOP = ("deploy/", "rules/", "monitor/", "events/", "tests/", ".ci/")


def _section(title: str) -> str:
    start = README.index(title)
    following = re.search(r"^#{2,3} ", README[start + len(title) :], re.M)
    return README[start : start + len(title) + (following.start() if following else len(README))]


def test_the_readme_points_at_nothing_outside_the_repository() -> None:
    assert "../" not in README
    relative = re.findall(r"\]\(((?!https?://|#)[^)]+)\)", README)
    assert [target for target in relative if not (REPO / target).exists()] == []


def test_every_repository_path_the_readme_names_exists() -> None:
    named = {m for m in re.findall(r"`([^`\s]+)`", README) if m.startswith(TOP)}
    missing = sorted(
        path for path in named if not any(c in path for c in "*{}<>…$") and not (REPO / path.split(":")[0]).exists()
    )
    assert missing == []


@pytest.mark.parametrize("status", list(TaskStatus))
def test_every_task_status_is_explained(status: TaskStatus) -> None:
    assert re.search(rf"^\| `{status.value}` \| .+ \| .+ \|$", _section("### Event fields"), re.M)


@pytest.mark.parametrize("model", [TaskStatusEvent, IndicatorEvent])
def test_every_event_field_is_documented(model: type[TaskStatusEvent] | type[IndicatorEvent]) -> None:
    section = _section("### Event fields")
    assert [f for f in model.model_fields if f"`{f}`" not in section] == []


def test_the_exit_status_table_is_the_code_s() -> None:
    rows = dict(re.findall(r"^\| (\d) \| (.+) \|$", _section("### The `monitor` command"), re.M))
    assert sorted(int(code) for code in rows) == sorted(int(code) for code in ExitCode)


def test_the_complete_rule_file_is_shown_as_it_is_and_holds_every_rule_kind() -> None:
    example = REPO / "rules" / "examples" / "every-kind.yaml"
    text = example.read_text(encoding="utf-8")
    assert f"```yaml\n{text}```" in README
    pack = load_pack([example])
    kinds = {type(compiled.rule) for compiled in pack.rules}
    assert kinds == set(get_args(AnyRule))
    assert pack.indicator_bounds  # the pack-level section too
