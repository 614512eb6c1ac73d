"""The README, CONTRIBUTING.md and docs/ stand alone and say what the product does and how its code is changed.

Over README.md, CONTRIBUTING.md and every docs/*.md: the paths they name exist, their links resolve, every command
line they show parses with the real argument parser, their tables match the code (statuses, event fields, exit
statuses, settings, metrics, HTTP routes), and the examples they show load and run.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import pytest

from events.models import IndicatorEvent, TaskStatus, TaskStatusEvent
from monitor.cli import build_parser
from monitor.cli.common import ExitCode
from monitor.settings import Settings
from rules.language import AnyRule
from rules.loading import load_pack
from rules.simulation import run_test_file
from tests.conftest import REPO

README_PATH = REPO / "README.md"
CONTRIBUTING_PATH = REPO / "CONTRIBUTING.md"
DOCS = REPO / "docs"
PAGES = [README_PATH, CONTRIBUTING_PATH, *sorted(DOCS.glob("*.md"))]
TEXT = {page: page.read_text(encoding="utf-8") for page in PAGES}
README = TEXT[README_PATH]
README_MAX_LINES = 350
TOP = ("deploy/", "rules/", "monitor/", "events/", "tests/", "docs/", ".ci/")
MONITOR = (".venv/bin/monitor", "monitor")


def _name(page: Path) -> str:
    return str(page.relative_to(REPO))


def _section(text: str, title: str) -> str:
    start = text.index(title)
    following = re.search(r"^#{2,3} ", text[start + len(title) :], re.M)
    return text[start : start + len(title) + (following.start() if following else len(text))]


def _blocks(text: str) -> Iterator[tuple[str, int, str]]:
    """Each fenced block: its language, the line its body starts at, its body."""
    for match in re.finditer(r"^```(\w*)\n(.*?)^```[ \t]*$", text, re.M | re.S):
        yield match.group(1), text.count("\n", 0, match.start(2)) + 1, match.group(2)


def _without_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.M | re.S)


def _command_lines(text: str) -> Iterator[tuple[int, str]]:
    """Every command line of the sh, bash and console blocks (continuations joined; a console's `$ ` lines)."""
    for language, first, body in _blocks(text):
        if language not in ("sh", "bash", "console"):
            continue
        pending, start = "", 0
        for number, raw in enumerate(body.splitlines(), first):
            line = raw.strip()
            if not pending:
                start = number
                if language == "console":
                    if not line.startswith("$ "):
                        continue
                    line = line[2:]
                if not line or line.startswith("#"):
                    continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            yield start, pending + line
            pending = ""


_SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")"}
_REDIRECTS = {">", ">>", "<"}


def _segments(line: str) -> Iterator[list[str]]:
    """The simple commands of a shell line, as words, without their redirections and leading assignments."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words: list[str] = []
    tokens = iter(lexer)
    for token in tokens:
        if token in _SEPARATORS:
            yield words
            words = []
        elif token in _REDIRECTS:
            next(tokens, None)  # the file
        else:
            words.append(token)
    yield words


def _commands(words: list[str]) -> list[str]:
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        words = words[1:]
    return words


def _parse_error(words: list[str]) -> str | None:
    """What the real parser says about these words; None when it takes them."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(words)
    except SystemExit as exc:
        if exc.code not in (0, None):  # --help and --version exit 0
            return (errors.getvalue().strip().splitlines() or ["?"])[-1]
    return None


def _monitor_invocations() -> Iterator[tuple[str, list[str]]]:
    """Every `monitor` command shown (`make run ARGS=...` is `monitor up ...`), with where it is shown."""
    for page, text in TEXT.items():
        for number, line in _command_lines(text):
            for segment in _segments(line):
                words = _commands(segment)
                where = f"{_name(page)}:{number}: {line}"
                if words and words[0] in MONITOR:
                    yield where, words[1:]
                elif words[:2] == ["make", "run"]:
                    args = next((w.removeprefix("ARGS=") for w in words if w.startswith("ARGS=")), "")
                    yield where, ["up", *shlex.split(args)]


INVOCATIONS = list(_monitor_invocations())


def test_the_readme_is_short() -> None:
    assert README.count("\n") <= README_MAX_LINES


def test_every_page_is_linked_from_the_readme() -> None:
    linked = set(re.findall(r"\]\(([^)#\s]+\.md)", README))
    assert sorted(_name(page) for page in PAGES[1:] if _name(page) not in linked) == []


def test_contributing_names_every_package_of_the_code() -> None:
    """Its table of where each concern lives keeps up with the tree: every package is named, as a path."""
    packages = sorted(
        f"{_name(init.parent)}/" for top in ("events", "rules", "monitor") for init in (REPO / top).rglob("__init__.py")
    )
    assert len(packages) > 10
    text = TEXT[CONTRIBUTING_PATH]
    assert [p for p in packages if f"`{p}" not in text] == []


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(text: str) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", _without_blocks(text), re.M)}


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    text = _without_blocks(TEXT[page])
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(REPO) or not resolved.exists():
            broken.append(target)
        elif anchor and (resolved.suffix != ".md" or anchor not in _anchors(resolved.read_text(encoding="utf-8"))):
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_nothing_points_at_files_outside_the_repository(page: Path) -> None:
    text = TEXT[page]
    assert "/work/" not in text
    assert "../shared" not in text


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_repository_path_named_exists(page: Path) -> None:
    named = {m for m in re.findall(r"`([^`\s]+)`", TEXT[page]) if m.startswith(TOP)}
    missing = sorted(
        path for path in named if not any(c in path for c in "*{}<>…$") and not (REPO / path.split(":")[0]).exists()
    )
    assert missing == []


@pytest.mark.parametrize("status", list(TaskStatus))
def test_every_task_status_is_explained(status: TaskStatus) -> None:
    assert re.search(rf"^\| `{status.value}` \| .+ \| .+ \|$", _section(README, "### Event fields"), re.M)


@pytest.mark.parametrize("model", [TaskStatusEvent, IndicatorEvent])
def test_every_event_field_is_documented(model: type[TaskStatusEvent] | type[IndicatorEvent]) -> None:
    section = _section(README, "### Event fields")
    assert [f for f in model.model_fields if f"`{f}`" not in section] == []


def test_what_a_field_left_out_of_an_event_means_is_said() -> None:
    section = _section(README, "### Event fields")
    for field in ("deadline", "title", "kind", "labels", "period"):
        assert f"`{field}`" in section
    assert "left out" in section and "deadline in force" in section and "`null`" in section


def test_the_exit_status_table_is_the_code_s() -> None:
    rows = dict(re.findall(r"^\| (\d) \| (.+) \|$", _section(README, "## The `monitor` command"), re.M))
    assert sorted(int(code) for code in rows) == sorted(int(code) for code in ExitCode)


def test_the_complete_rule_file_is_shown_as_it_is_and_holds_every_rule_kind() -> None:
    example = REPO / "rules" / "examples" / "every-kind.yaml"
    text = example.read_text(encoding="utf-8")
    assert f"```yaml\n{text}```" in TEXT[DOCS / "rules.md"]
    pack = load_pack([example])
    kinds = {type(compiled.rule) for compiled in pack.rules}
    assert kinds == set(get_args(AnyRule))
    assert pack.indicator_bounds  # the pack-level section too


def test_the_readme_s_rule_loads_and_the_docs_test_of_it_passes(tmp_path: Path) -> None:
    (rule,) = [body for language, _, body in _blocks(README) if language == "yaml" and "\ngroups:" in f"\n{body}"]
    (test,) = [body for language, _, body in _blocks(TEXT[DOCS / "rules.md"]) if "../complaints.yaml" in body]
    (tmp_path / "tests").mkdir()
    (tmp_path / "complaints.yaml").write_text(rule, encoding="utf-8")
    (tmp_path / "tests" / "complaints.test.yaml").write_text(test, encoding="utf-8")
    assert [c.rule.id for c in load_pack([tmp_path / "complaints.yaml"]).rules] == ["complaint-answer"]
    results = run_test_file(tmp_path / "tests" / "complaints.test.yaml")
    assert results and [r.failures for r in results if r.failures] == []


def _events_shown() -> Iterator[tuple[str, str]]:
    """Every event a page shows: JSON blocks, and the printf templates of shell lines (with an instant in)."""
    now = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    for page, text in TEXT.items():
        for language, first, body in _blocks(text):
            if language == "json" and '"event_id"' in body:
                yield f"{_name(page)}:{first}", body
        for number, line in _command_lines(text):
            for template in re.findall(r"printf '(\{\"event_id\".*?\})\\n'", line):
                yield f"{_name(page)}:{number}", template.replace("%s", now)


EVENTS = list(_events_shown())


def test_events_are_shown() -> None:
    assert len(EVENTS) >= 3


@pytest.mark.parametrize(("where", "event"), EVENTS, ids=[where for where, _ in EVENTS])
def test_every_event_shown_is_valid(where: str, event: str) -> None:
    model = TaskStatusEvent if '"task_id"' in event else IndicatorEvent
    model.model_validate_json(event)


def test_commands_are_found() -> None:
    assert len(INVOCATIONS) >= 30


@pytest.mark.parametrize(("where", "words"), INVOCATIONS, ids=[where.split(": ")[0] for where, _ in INVOCATIONS])
def test_every_monitor_command_shown_parses(where: str, words: list[str]) -> None:
    error = _parse_error(words)
    assert error is None, f"{where}\n  -> {error}"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_commands_work_in_a_fresh_shell(page: Path) -> None:
    """A new shell has no `monitor` on its PATH, and the system kcat cannot talk to the embedded broker."""
    wrong = [
        line
        for _, line in _command_lines(TEXT[page])
        for segment in _segments(line)
        if (words := _commands(segment)) and words[0] in ("monitor", "kcat")
    ]
    assert wrong == []


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_make_target_shown_exists(page: Path) -> None:
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO / "Makefile").read_text(encoding="utf-8"), re.M))
    shown = {
        words[1]
        for _, line in _command_lines(TEXT[page])
        for segment in _segments(line)
        if len(words := _commands(segment)) > 1 and words[0] == "make"
    }
    assert sorted(shown - targets) == []


def test_the_readme_s_figures_are_the_performance_page_s() -> None:
    table = _section(README, "## Figures")
    rows = re.findall(r"^(\| (?!figure|---).+ \|)$", table, re.M)
    assert rows
    performance = TEXT[DOCS / "performance.md"]
    assert [row for row in rows if row not in performance] == []


def test_every_setting_is_documented() -> None:
    configuration = TEXT[DOCS / "configuration.md"]
    names = [
        str(field.validation_alias) if field.validation_alias else f"MONITOR_{name.upper()}"
        for name, field in Settings.model_fields.items()
    ]
    assert [name for name in names if f"`{name}`" not in configuration] == []


def test_every_metric_is_documented() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "monitor").rglob("*.py"))
    declared = re.findall(r"\b(Counter|Gauge|Histogram|GaugeMetricFamily)\(\s*\"(compliance_\w+)\"", source)
    assert len(declared) > 20
    metrics = TEXT[DOCS / "metrics.md"]
    names = {f"{name}_total" if kind == "Counter" else name for kind, name in declared}
    assert sorted(name for name in names if f"`{name}`" not in metrics) == []


def test_every_http_route_is_documented() -> None:
    routes = re.findall(r"@blueprint\.route\(\"([^\"]+)\"", (REPO / "monitor/http/routes.py").read_text("utf-8"))
    public = [r for r in routes if not r.startswith(("/api/v1/internal/", "/static/"))]
    assert len(public) > 10
    api = TEXT[DOCS / "api.md"]
    assert [r for r in public if not re.search(rf"`(GET|POST) {re.escape(r)}`", api)] == []
