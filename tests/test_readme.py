"""The README stands alone and says what the product does: its paths exist, its tables match the code."""

from __future__ import annotations

import re

import pytest

from events.models import IndicatorEvent, TaskStatus, TaskStatusEvent
from monitor.cli.common import ExitCode
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
