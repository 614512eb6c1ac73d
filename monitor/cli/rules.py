"""``monitor rules check``, ``test``, ``diff``, ``apply`` and ``history``.

``rules apply DIR`` refuses a pack that does not load or whose rule tests fail
(exit 1, every problem listed), shows what it changes against the pack in
force on the rules topic, and (unless ``--dry-run``) publishes it as one
record; ``rules history`` lists the packs applied, with their diffs.

Exit status: 0 all good, 1 problems found or a rule test failed, 2 a usage or configuration error (a path that
does not exist, nothing to test). ``rules diff`` exits 0 when the packs hold the same rules and rosters, 1 when
they differ, 2 when either cannot be loaded (its problems are listed). ``--format json`` prints the problems as a JSON list on stdout, each with
``file``, ``line``, ``rule_id``, ``field`` and ``message``; text output is coloured only on a terminal and never
when ``NO_COLOR`` is set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from monitor.cli.common import (
    ExitCode,
    add_signing_flags,
    applier,
    existing_files,
    settings_from,
    signing_key,
    topic_documents,
)
from monitor.clock import utc_now
from monitor.exceptions import MonitorError
from monitor.kafka.client import client_options
from monitor.kafka.topics import Topics
from monitor.settings import Settings
from monitor.state.packs import PackEntry, PackFollower, publish_pack
from rules.exceptions import RuleFileError, RuleProblem
from rules.language import RulePack
from rules.loading import (
    BUNDLED_PACK,
    PackDiff,
    PublishedPack,
    load_pack,
    pack_diff,
    pack_files,
    parse_yaml,
    rule_files_in,
    successive_diffs,
)
from rules.simulation import checked_pack

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
        print(_Style(sys.stdout, colour)(_GREEN, f"ok: {len(pack.rules)} rules{_units_line(pack)}"))
    return 0


def _units_line(pack: RulePack) -> str:
    """``, 13,467 units (3,378 in force today: 34 province, 3,321 commune, 23 ministry)``; nothing without units."""
    units = pack.units
    if not len(units):
        return ""
    today = Counter(u.level.value for u in units.in_force(utc_now()))
    levels = ", ".join(f"{count:,} {level}" for level, count in today.most_common())
    return f", {len(units):,} units ({sum(today.values()):,} in force today: {levels})"


def cmd_rules_test(args: argparse.Namespace) -> int:
    """Run rule unit tests on a simulated clock; print expected vs actual for each failure."""
    from rules.simulation import run_test_file

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
        _print_diff(diff, _Style(sys.stdout, settings_from(args).colour))
    return 0 if diff.empty else 1


def _print_diff(diff: PackDiff, out: _Style) -> None:
    for line in diff.text().splitlines():
        code = _GREEN if line.lstrip().startswith("+") else _RED if line.lstrip().startswith("-") else ""
        print(out(code, line) if code else line, file=out.stream)


def _rules_topic(args: argparse.Namespace) -> tuple[Settings, str, list[PackEntry]]:
    """The settings, the rules topic (created if missing) and every record it holds."""
    settings = settings_from(args)
    topic = Topics(settings.topic_prefix).rules
    return settings, topic, topic_documents(settings, topic, PackFollower)


def _in_force(entries: Sequence[PackEntry]) -> PackEntry | None:
    """The entry workers evaluate under: the newest record that holds a pack."""
    return next((e for e in reversed(entries) if e.pack is not None), None)


def cmd_rules_apply(args: argparse.Namespace) -> int:
    """Check and test a pack, show what it changes, and publish it to the rules topic for every worker."""
    (directory,) = existing_files([args.directory], directories=True)
    if not directory.is_dir():
        raise MonitorError(f"{directory} is a file; rules apply takes the pack's directory (rules, rosters, tests)")
    err = _Style(sys.stderr, settings_from(args).colour)
    try:
        pack = checked_pack([directory])  # it loads, and its own rule tests pass
        files = pack_files(directory)
        record = PublishedPack.of(
            pack, files, applied_at=utc_now(), applied_by=args.by or applier(), message=args.message or ""
        )
        record.load()  # as every worker will load it: from the record's files alone
    except RuleFileError as exc:
        for problem in exc.problems:
            print(err.problem(problem), file=sys.stderr)
        print(err(_RED, f"{len(exc.problems)} problem(s) found; nothing published"), file=sys.stderr)
        return int(ExitCode.FAILED)
    except OSError as exc:  # a file that cannot be read
        raise MonitorError(f"cannot read the pack in {directory}: {exc}; nothing published") from None
    sign_key = None if args.dry_run else signing_key(args, settings_from(args))  # before the broker is asked
    settings, topic, entries = _rules_topic(args)
    current = _in_force(entries)
    if current is not None and current.pack is not None:
        print(
            f"in force: pack {current.pack.version}, applied {current.pack.applied_at:%Y-%m-%d %H:%M %Z} "
            f"by {current.pack.applied_by}" + (f": {current.pack.message}" if current.pack.message else "")
        )
        try:
            before = current.pack.load()
        except RuleFileError:
            before = None
            print(err(_RED, f"the pack in force ({current.pack.version}) does not load here; no diff"), file=sys.stderr)
    else:
        print(f"in force: the bundled pack (the rules topic {topic} holds none)")
        before = load_pack([BUNDLED_PACK])
    if before is not None:
        _print_diff(pack_diff(before, pack), _Style(sys.stdout, settings.colour))
    if current is not None and current.pack is not None and current.pack.version == pack.version:
        print(f"pack {pack.version} is in force already: nothing published")
        return 0
    if args.dry_run:
        print("dry run: nothing published")
        return 0
    offset = asyncio.run(publish_pack(settings.bootstrap_servers, topic, client_options(settings), record, sign_key))
    print(
        f"applied pack {pack.version} ({len(pack.rules)} rules) to {topic} at offset {offset}"
        + (f", signed with key '{sign_key.keyid}'" if sign_key is not None else "")
        + ": every worker evaluates under it from its next tick"
    )
    return 0


def cmd_rules_history(args: argparse.Namespace) -> int:
    """The packs applied to the rules topic, oldest first, each with what it changed."""
    _, topic, entries = _rules_topic(args)
    if args.format == "jsonl":  # the records themselves: what ``monitor replay --packs`` reads
        for entry in entries:
            if entry.pack is not None:
                print(entry.pack.model_dump_json())
        return 0
    shown: list[dict[str, Any]] = []
    out = _Style(sys.stdout, settings_from(args).colour)
    loaded: list[RulePack | None] = []
    problems: list[str | None] = []
    for entry in entries:
        try:
            loaded.append(entry.pack.load() if entry.pack is not None else None)
            problems.append(None if entry.pack is not None else entry.problem)
        except RuleFileError as exc:
            loaded.append(None)
            problems.append(f"does not load: {exc.problems[0]}")
    for entry, diff, problem in zip(entries, successive_diffs(loaded), problems, strict=True):
        item: dict[str, Any] = {"offset": entry.offset, "published_at": entry.published_at.isoformat()}
        shown_pack = entry.pack or entry.withheld  # a pack whose signature is refused: shown, with the problem
        if shown_pack is not None:
            item |= {
                "version": shown_pack.version,
                "applied_at": shown_pack.applied_at.isoformat(),
                "applied_by": shown_pack.applied_by,
                "message": shown_pack.message,
                "signed_by": entry.signed_by,
            }
        if problem is not None:
            item["problem"] = problem
        elif entry.pack is not None:
            item["changes"] = diff.as_json() if diff is not None else None
        shown.append(item)
        if args.format == "text":
            head = f"offset {entry.offset}: "
            if shown_pack is None:
                print(head + f"not a pack ({entry.problem})")
                continue
            print(
                out(_BOLD, head + f"pack {shown_pack.version}") + f" applied {shown_pack.applied_at:%Y-%m-%d %H:%M %Z} "
                f"by {shown_pack.applied_by}"
                + (f", signed with key '{entry.signed_by}'" if entry.signed_by else "")
                + (f": {shown_pack.message}" if shown_pack.message else "")
            )
            if "problem" in item:
                print(f"  {item['problem']}")
            elif diff is not None:
                _print_diff(diff, out)
    if args.format == "json":
        print(json.dumps(shown, ensure_ascii=False, indent=2))
    elif not entries:
        print(f"the rules topic {topic} holds no pack: workers evaluate the bundled pack")
    return 0


def register(commands: Any) -> None:
    """Add ``rules check``, ``test``, ``diff``, ``apply`` and ``history``."""
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
    apply = rules_commands.add_parser(
        "apply",
        help="check and test a pack directory, then publish it to the rules topic: every worker switches to it",
    )
    apply.add_argument("directory", help="the pack: a directory of rule, roster and rule-test files")
    apply.add_argument("--broker", help="kafka://host:9092 (or MONITOR_BROKER)")
    apply.add_argument("--message", "-m", help="why this pack is applied (kept with it in the history)")
    apply.add_argument("--by", help="who applies it (default: login name and host)")
    apply.add_argument("--dry-run", action="store_true", help="show what would change; publish nothing")
    add_signing_flags(apply)
    apply.set_defaults(func=cmd_rules_apply)
    history = rules_commands.add_parser("history", help="the packs applied to the rules topic, with their diffs")
    history.add_argument("--broker", help="kafka://host:9092 (or MONITOR_BROKER)")
    history.add_argument(
        "--format",
        choices=("text", "json", "jsonl"),
        default="text",
        help="text (default), json, or jsonl: the pack records themselves, for monitor replay --packs",
    )
    history.set_defaults(func=cmd_rules_history)
    for command in (check, test, diff):
        command.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="text (default) or json: a list of problems, each with file, line, rule_id, field, message"
            + ("; for diff, the changes as one object" if command is diff else ""),
        )
