"""Rule unit tests on a simulated clock: a start, a timeline of events, the alerts expected.

Each scenario runs in a ``Simulation`` (``rules.simulation``): the engine the
worker runs, on a clock that jumps from one due instant to the next.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from events.codec import describe_validation_error
from events.models import Event, IndicatorEvent, TaskStatusEvent
from rules.exceptions import RuleFileError, RuleProblem
from rules.language import RulePack
from rules.loading import (
    Expectation,
    Parsed,
    RuleTestCase,
    RuleTestFile,
    TimelineEvent,
    confined,
    load_pack,
    parse_yaml,
    rule_files_in,
    validate,
)
from rules.simulation.clock import Simulation
from rules.state import AlertState, AlertTransition

__all__ = ["CaseResult", "checked_pack", "failed_expectations", "pack_directory", "run_test_file"]


def _alert_fields(alert: AlertState | AlertTransition) -> dict[str, str]:
    fields = {**alert.labels, "rule_id": alert.rule_id, "stage": alert.stage, "severity": alert.severity}
    if isinstance(alert, AlertTransition):
        fields |= {k: v for k, v in alert.annotations.items() if k in ("resolution", "late", "late_days")}
    return fields


def _matches(expected: Mapping[str, str], actual: Mapping[str, str]) -> bool:
    return all(actual.get(k) == str(v) for k, v in expected.items())


def _firing(simulation: Simulation) -> list[dict[str, str]]:
    """Every alert firing now."""
    return [_alert_fields(a) for s in simulation.states.values() for a in s.alerts.values()]


def _resolved(simulation: Simulation) -> list[dict[str, str]]:
    """Every resolution so far."""
    return [_alert_fields(t) for _, t in simulation.transitions if t.status == "resolved"]


def _event(entry: TimelineEvent, serial: int) -> Event:
    body = entry.task if entry.task is not None else entry.indicator
    assert body is not None
    data = {"event_id": f"rule-test-{serial}", "source": "rule-test", "occurred_at": entry.at, **body}
    model = TaskStatusEvent if entry.task is not None else IndicatorEvent
    return model.model_validate(data)


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one scenario: failure messages, empty when it passed; where the scenario is in its file."""

    name: str
    failures: list[str]
    checks: int
    line: int | None = None
    field: str = "tests"


def run_case(pack: RulePack, case: RuleTestCase) -> CaseResult:
    """Run one scenario on a simulated clock."""
    failures: list[str] = []
    simulation = Simulation.start(pack, case.start)
    serial = itertools.count(1)
    events = []
    for entry in case.events:
        try:
            events.append((entry.at, _event(entry, next(serial))))
        except ValidationError as exc:
            failures.append(f"event at {entry.at.isoformat()}: {describe_validation_error(exc)}")
    if failures:
        return CaseResult(case.name, failures, 0)
    timeline: list[tuple[datetime, int, Event | Expectation]] = [(at, 0, e) for at, e in events]
    timeline += [(x.at, 1, x) for x in case.expect]  # at the same instant, events come first
    checks = 0
    for at, _, item in sorted(timeline, key=lambda t: (t[0], t[1])):
        if isinstance(item, Expectation):
            simulation.run_until(at)
            checks += 1
            failures += _check(item, simulation)
        else:
            simulation.deliver(item, at)
    return CaseResult(case.name, failures, checks)


def _show(alerts: Iterable[Mapping[str, str]]) -> str:
    keys = ("rule_id", "unit_id", "task_id", "indicator", "stage", "severity", "escalate_to", "resolution", "late_days")
    shown = [", ".join(f"{k}={a[k]}" for k in keys if k in a) for a in alerts]
    return "; ".join(f"{{{s}}}" for s in shown) or "nothing"


def _check(expectation: Expectation, simulation: Simulation) -> list[str]:
    at = expectation.at.isoformat()
    failures = []
    firing = _firing(simulation)
    if expectation.firing is not None:
        if not expectation.firing and firing:
            failures.append(f"at {at}: expected nothing firing\n      actual firing: {_show(firing)}")
        for wanted in expectation.firing:
            if not any(_matches(wanted, actual) for actual in firing):
                failures.append(f"at {at}: expected firing {_show([wanted])}\n      actual firing: {_show(firing)}")
    for unwanted in expectation.absent or []:
        hits = [actual for actual in firing if _matches(unwanted, actual)]
        if hits:
            failures.append(f"at {at}: expected not firing {_show([unwanted])}\n      actual firing: {_show(hits)}")
    if expectation.resolved is not None:
        resolved = _resolved(simulation)
        for wanted in expectation.resolved:
            if not any(_matches(wanted, actual) for actual in resolved):
                failures.append(
                    f"at {at}: expected resolved {_show([wanted])}\n      actual resolved: {_show(resolved)}"
                )
    return failures


def run_test_file(path: Path) -> list[CaseResult]:
    """Load a rule test file and the rules it names, and run every scenario.

    Raises:
        RuleFileError: the test file or a rule file is invalid.
    """
    parsed = parse_yaml(path)
    spec = validate(parsed, RuleTestFile)
    if spec is None or parsed.problems:
        raise RuleFileError(parsed.problems or [RuleProblem(path, None, None, "(file)", "not a rule test file")])
    pack = load_pack(_rule_files(parsed, spec))
    return [
        replace(run_case(pack, case), line=parsed.line("tests", i), field=f"tests.{i}")
        for i, case in enumerate(spec.tests)
    ]


def pack_directory(test_file: Path) -> Path:
    """The directory a rule test file's ``rule_files`` must lie in: the pack's.

    That is the directory above when the test file is in a ``tests`` directory (a pack's layout), else its own.
    """
    return test_file.parent.parent if test_file.parent.name == "tests" else test_file.parent


def _rule_files(parsed: Parsed, spec: RuleTestFile) -> list[Path]:
    """The rule files a test names, each confined to the pack's directory.

    Raises:
        RuleFileError: a name that leads outside it, at its line.
    """
    root = pack_directory(parsed.path)
    files: list[Path] = []
    problems: list[RuleProblem] = []
    for i, name in enumerate(spec.rule_files):
        target = confined(parsed.path.parent, name, root)
        if target is None:
            message = f"'{name}' is outside the pack's directory {root}; name a file in it or below it"
            problems.append(RuleProblem(parsed.path, parsed.line("rule_files", i), None, f"rule_files.{i}", message))
        else:
            files.append(target)
    if problems:
        raise RuleFileError(problems)
    return files


def failed_expectations(path: Path) -> list[RuleProblem]:
    """Every failed expectation of one rule test file as a problem (its file's own mistakes too); ``[]``: it passes."""
    try:
        results = run_test_file(path)
    except RuleFileError as exc:
        return list(exc.problems)
    return [
        RuleProblem(path, result.line, None, result.field, f"{result.name}: {failure}")
        for result in results
        for failure in result.failures
    ]


def checked_pack(paths: Iterable[Path]) -> RulePack:
    """The pack in ``paths``, once it loads and the rule tests among ``paths`` pass.

    What ``rules check`` and ``rules test`` would both say before a pack is put in force.

    Raises:
        RuleFileError: every problem, of the pack or of a failed test.
    """
    paths = list(paths)
    pack = load_pack(paths)
    problems = [
        p for path in rule_files_in(paths) if parse_yaml(path).kind == "tests" for p in failed_expectations(path)
    ]
    if problems:
        raise RuleFileError(problems)
    return pack
