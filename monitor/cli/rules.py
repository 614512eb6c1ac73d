"""``monitor rules check``, ``monitor rules test`` and ``monitor rules diff``.

Exit status: 0 all good, 1 problems found or a rule test failed, 2 a usage or configuration error (a path that
does not exist, nothing to test). ``rules diff`` exits 0 when the packs hold the same rules and rosters, 1 when
they differ, 2 when either cannot be loaded (its problems are listed). ``--format json`` prints the problems as a JSON list on stdout, each with
``file``, ``line``, ``rule_id``, ``field`` and ``message``; text output is coloured only on a terminal and never
when ``NO_COLOR`` is set.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from monitor.cli.common import ExitCode, existing_files, settings_from
from monitor.exceptions import MonitorError
from rules.diff import pack_diff
from rules.exceptions import RuleFileError, RuleProblem
from rules.loader import load_pack, parse_yaml, rule_files_in
from rules.pack import RulePack

__all__ = ["problem_record", "register"]

_RED, _GREEN, _BOLD, _RESET = "\033[31m", "\033[32m", "\033[1m", "\033[0m"


class _Style:
    """ANSI colour for one stream, or none: only on a terminal and only when the settings allow it."""

    def __init__(self, stream: TextIO, allowed: bool) -> None:
        self.stream = stream
        self.on = allowed and stream.isatty()

    def __call__(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.on else text

    def problem(self, problem: RuleProblem) -> str:
        where = f"{problem.path}:{problem.line}" if problem.line else str(problem.path)
        return self(_BOLD, where) + str(problem).removeprefix(where)


def problem_record(problem: RuleProblem) -> dict[str, Any]:
    """One problem as ``--format json`` prints it."""
    return {
        "file": str(problem.path),
        "line": problem.line,
        "rule_id": problem.rule_id,
        "field": problem.field,
        "message": problem.message,
    }


def _print_json(problems: Sequence[RuleProblem]) -> None:
    print(json.dumps([problem_record(p) for p in problems], ensure_ascii=False, indent=2))


def cmd_rules_check(args: argparse.Namespace) -> int:
    """Validate rule files; print every problem with file, line, rule and field."""
    colour = settings_from(args).colour
    pack = _load_or_report(args.files, args)
    if pack is None:
        return 1
    if args.format == "json":
        _print_json([])
    else:
        print(_Style(sys.stdout, colour)(_GREEN, f"ok: {len(pack.rules)} rules"))
    return 0


def cmd_rules_test(args: argparse.Namespace) -> int:
    """Run rule unit tests on a simulated clock; print expected vs actual for each failure."""
    from rules.testing import run_test_file

    colour = settings_from(args).colour
    files = [p for p in rule_files_in(existing_files(args.files, directories=True)) if parse_yaml(p).kind == "tests"]
    if not files:
        raise MonitorError(f"no rule test files (YAML with a top-level 'tests:') in {', '.join(args.files)}")
    out, err = _Style(sys.stdout, colour), _Style(sys.stderr, colour)
    problems: list[RuleProblem] = []
    failed = passed = 0
    for path in files:
        try:
            results = run_test_file(path)
        except RuleFileError as exc:
            problems.extend(exc.problems)
            if args.format != "json":
                for problem in exc.problems:
                    print(err.problem(problem), file=sys.stderr)
            failed += 1
            continue
        for result in results:
            if result.failures:
                failed += 1
                problems.extend(
                    RuleProblem(path, result.line, None, result.field, f"{result.name}: {failure}")
                    for failure in result.failures
                )
                if args.format != "json":
                    print(f"{out(_RED, 'FAIL')} {path}: {result.name}")
                    for failure in result.failures:
                        print(f"    {failure}")
            else:
                passed += 1
                if args.format != "json":
                    print(f"{out(_GREEN, 'ok  ')} {path}: {result.name} ({result.checks} checks)")
    if args.format == "json":
        _print_json(problems)
    else:
        print(out(_RED if failed else _GREEN, f"{passed} passed, {failed} failed"))
    return 1 if failed else 0


def _load_or_report(paths: Sequence[str], args: argparse.Namespace) -> RulePack | None:
    """The pack, or ``None`` once its problems are printed (as ``rules check`` prints them)."""
    try:
        return load_pack(existing_files(paths, directories=True))
    except RuleFileError as exc:
        if args.format == "json":
            _print_json(exc.problems)
        else:
            err = _Style(sys.stderr, settings_from(args).colour)
            for problem in exc.problems:
                print(err.problem(problem), file=sys.stderr)
            print(err(_RED, f"{len(exc.problems)} problem(s) found"), file=sys.stderr)
        return None


def cmd_rules_diff(args: argparse.Namespace) -> int:
    """What changes from the OLD pack to the NEW one: rules added, removed, changed; roster members."""
    old = _load_or_report([args.old], args)
    new = _load_or_report([args.new], args) if old is not None else None
    if old is None or new is None:
        return int(ExitCode.USAGE)
    diff = pack_diff(old, new)
    if args.format == "json":
        print(json.dumps(diff.as_json(), ensure_ascii=False, indent=2))
    else:
        out = _Style(sys.stdout, settings_from(args).colour)
        for line in diff.text().splitlines():
            code = _GREEN if line.lstrip().startswith("+") else _RED if line.lstrip().startswith("-") else ""
            print(out(code, line) if code else line)
    return 0 if diff.empty else 1


def register(commands: Any) -> None:
    """Add ``rules check``, ``rules test`` and ``rules diff``."""
    rules = commands.add_parser("rules", help="work with rule files")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_commands.add_parser("check", help="validate rule files")
    check.add_argument("files", nargs="+", help="rule files or directories")
    check.set_defaults(func=cmd_rules_check)
    test = rules_commands.add_parser("test", help="run rule unit tests on a simulated clock")
    test.add_argument("files", nargs="+", help="rule test files or directories")
    test.set_defaults(func=cmd_rules_test)
    diff = rules_commands.add_parser(
        "diff", help="what changes from one rule pack to another (exit 0: same, 1: different, 2: a pack is broken)"
    )
    diff.add_argument("old", help="the pack in force: a rule file or directory")
    diff.add_argument("new", help="the pack to compare with it")
    diff.set_defaults(func=cmd_rules_diff)
    for command in (check, test, diff):
        command.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="text (default) or json: a list of problems, each with file, line, rule_id, field, message"
            + ("; for diff, the changes as one object" if command is diff else ""),
        )
