"""``monitor rules check`` and ``monitor rules test``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rules.exceptions import RuleFileError
from rules.loader import load_pack, parse_yaml, rule_files_in

__all__ = ["register"]


def cmd_rules_check(args: argparse.Namespace) -> int:
    """Validate rule files; print every problem with file, line, rule and field."""
    try:
        pack = load_pack([Path(p) for p in args.files])
    except RuleFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found", file=sys.stderr)
        return 1
    print(f"ok: {len(pack.rules)} rules")
    return 0


def cmd_rules_test(args: argparse.Namespace) -> int:
    """Run rule unit tests on a simulated clock; print expected vs actual for each failure."""
    from rules.testing import run_test_file

    files = [p for p in rule_files_in([Path(p) for p in args.files]) if parse_yaml(p).kind == "tests"]
    if not files:
        print("no rule test files (YAML with a top-level 'tests:') found", file=sys.stderr)
        return 1
    failed = passed = 0
    for path in files:
        try:
            results = run_test_file(path)
        except RuleFileError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            failed += 1
            continue
        for result in results:
            if result.failures:
                failed += 1
                print(f"FAIL {path}: {result.name}")
                for failure in result.failures:
                    print(f"    {failure}")
            else:
                passed += 1
                print(f"ok   {path}: {result.name} ({result.checks} checks)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def register(commands: Any) -> None:
    """Add ``rules check`` and ``rules test``."""
    rules = commands.add_parser("rules", help="work with rule files")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_commands.add_parser("check", help="validate rule files")
    check.add_argument("files", nargs="+", help="rule files or directories")
    check.set_defaults(func=cmd_rules_check)
    test = rules_commands.add_parser("test", help="run rule unit tests on a simulated clock")
    test.add_argument("files", nargs="+", help="rule test files or directories")
    test.set_defaults(func=cmd_rules_test)
