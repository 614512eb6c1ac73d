"""``monitor publishers check``, ``apply``, ``list``, ``history`` and ``hash-token``: the publisher registry.

``check FILE`` validates a registry against the rule pack the settings name
(``--rules``, ``MONITOR_RULES``): every mistake with file, line and field,
exit 1. ``apply FILE`` checks it the same way, shows what it changes against
the registry in force on the publishers topic, and (unless ``--dry-run``)
publishes it: every worker without a registry file admits events by it from
its next record, without a restart. ``list`` shows who may report what (a
file, ``MONITOR_PUBLISHERS``, or the registry in force on the topic);
``history`` the registries applied. ``hash-token`` turns a token (read from
the terminal, or stdin) into the SHA-256 a registry keeps, so the token
itself is never written into a file.

Exit status: 0 all good, 1 problems found, 2 a usage or configuration error, 3 the broker cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.cli.common import (
    ExitCode,
    add_signing_flags,
    applier,
    existing_files,
    load_rules,
    settings_from,
    signing_key,
    topic_documents,
)
from monitor.clock import utc_now
from monitor.exceptions import MonitorError
from monitor.kafka.client import client_options
from monitor.kafka.topics import Topics
from monitor.publishers import (
    PublishedRegistry,
    PublisherRegistry,
    RegistryFileError,
    load_registry,
    registry_changes,
    registry_version,
    token_hash,
)
from monitor.settings import Settings
from monitor.state.registries import RegistryEntry, RegistryFollower, publish_registry
from rules.language import RulePack

__all__ = ["register"]


def _checked(path: Path, pack: RulePack | None) -> PublisherRegistry | None:
    """The registry in ``path``, or ``None`` once every problem is printed."""
    try:
        return load_registry(path, pack)
    except RegistryFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found", file=sys.stderr)
        return None


def _topic_entries(settings: Settings) -> tuple[str, list[RegistryEntry]]:
    """The publishers topic (created if missing) and every record it holds."""
    topic = Topics(settings.topic_prefix).publishers
    return topic, topic_documents(settings, topic, RegistryFollower)


def _in_force(entries: Sequence[RegistryEntry]) -> PublishedRegistry | None:
    """The registry workers admit events by: the newest record that holds one."""
    return next((e.registry for e in reversed(entries) if e.registry is not None), None)


#: Change lines printed per registry; the rest are counted (``publishers list`` shows every publisher).
_CHANGES_SHOWN = 20


def _print_changes(lines: Sequence[str]) -> None:
    for line in lines[:_CHANGES_SHOWN]:
        print(f"  {line}")
    if len(lines) > _CHANGES_SHOWN:
        print(f"  … and {len(lines) - _CHANGES_SHOWN} more")


def cmd_publishers_check(args: argparse.Namespace) -> int:
    """Validate a registry file against the rule pack's rosters; print every problem with file, line and field."""
    settings = settings_from(args)
    path = _named_file(args, settings)
    pack = load_rules(settings)
    registry = _checked(path, pack)
    if registry is None:
        return int(ExitCode.FAILED)
    tokens = sum(len(p.tokens) for p in registry.publishers)
    print(
        f"ok: {len(registry.publishers)} publishers ({tokens} HTTP tokens), "
        f"registry {registry_version(registry)}, against rule pack {pack.version}"
    )
    return 0


def _named_file(args: argparse.Namespace, settings: Settings) -> Path:
    """The file named, else ``MONITOR_PUBLISHERS``."""
    if args.file is not None:
        (path,) = existing_files([args.file])
        return path
    if settings.publishers is None:
        raise MonitorError("no registry file: name one, or set MONITOR_PUBLISHERS")
    return settings.publishers


def cmd_publishers_apply(args: argparse.Namespace) -> int:
    """Check a registry, show what it changes, and publish it to the publishers topic for every worker."""
    settings = settings_from(args)
    (path,) = existing_files([args.file])
    pack = load_rules(settings)
    registry = _checked(path, pack)
    if registry is None:
        print("nothing published", file=sys.stderr)
        return int(ExitCode.FAILED)
    sign_key = None if args.dry_run else signing_key(args, settings)  # before the broker is asked
    topic, entries = _topic_entries(settings)
    current = _in_force(entries)
    if current is None:
        print(f"in force: none (the publishers topic {topic} holds no registry: open mode)")
    else:
        print(
            f"in force: registry {current.version}, applied {current.applied_at:%Y-%m-%d %H:%M %Z} "
            f"by {current.applied_by}" + (f": {current.message}" if current.message else "")
        )
    _print_changes(registry_changes(current.registry if current is not None else None, registry))
    version = registry_version(registry)
    if current is not None and current.version == version:
        print(f"registry {version} is in force already: nothing published")
        return 0
    if args.dry_run:
        print("dry run: nothing published")
        return 0
    record = PublishedRegistry.of(
        registry, applied_at=utc_now(), applied_by=args.by or applier(), message=args.message or ""
    )
    offset = asyncio.run(
        publish_registry(settings.bootstrap_servers, topic, client_options(settings), record, sign_key)
    )
    print(
        f"applied registry {version} ({len(registry.publishers)} publishers) to {topic} at offset {offset}"
        + (f", signed with key '{sign_key.keyid}'" if sign_key is not None else "")
        + ": every worker admits events by it from its next record"
    )
    return 0


def cmd_publishers_list(args: argparse.Namespace) -> int:
    """Who may report what: a registry file's publishers, or those of the registry in force on the topic."""
    settings = settings_from(args)
    if args.file is not None or settings.publishers is not None:
        path = _named_file(args, settings)
        registry = _checked(path, None)
        if registry is None:
            return int(ExitCode.FAILED)
        where = str(path)
    else:
        topic, entries = _topic_entries(settings)
        current = _in_force(entries)
        if current is None:
            print(f"open mode: the publishers topic {topic} holds no registry; every publisher may report every unit")
            return 0
        registry, where = current.registry, f"topic {topic}"
    if args.format == "json":
        print(json.dumps(_as_json(registry, where), ensure_ascii=False, indent=2))
        return 0
    print(f"registry {registry_version(registry)} ({where}): {len(registry.publishers)} publishers")
    if registry.allow_unrostered:
        print("units on no roster of the rule pack may be reported (allow_unrostered)")
    width = max(len(p.id) for p in registry.publishers)
    for publisher in registry.publishers:
        tokens = f"  {len(publisher.tokens)} token(s)" if publisher.tokens else ""
        print(f"{publisher.id:<{width}}  {publisher.reports}{tokens}")
    return 0


def _as_json(registry: PublisherRegistry, where: str) -> dict[str, Any]:
    return {
        "from": where,
        "version": registry_version(registry),
        "allow_unrostered": registry.allow_unrostered,
        "publishers": [
            {"id": p.id, "name": p.name, "units": list(p.units), "rosters": list(p.rosters), "tokens": len(p.tokens)}
            for p in registry.publishers
        ],
    }


def cmd_publishers_history(args: argparse.Namespace) -> int:
    """The registries applied to the publishers topic, oldest first, each with what it changed."""
    topic, entries = _topic_entries(settings_from(args))
    if not entries:
        print(f"the publishers topic {topic} holds no registry: open mode")
        return 0
    before: PublisherRegistry | None = None
    for entry in entries:
        published = entry.registry or entry.withheld
        if published is None:
            print(f"offset {entry.offset}: not used: {entry.problem}")
            continue
        print(
            f"offset {entry.offset}: registry {published.version} applied {published.applied_at:%Y-%m-%d %H:%M %Z} "
            f"by {published.applied_by}"
            + (f", signed with key '{entry.signed_by}'" if entry.signed_by else "")
            + (f": {published.message}" if published.message else "")
        )
        if entry.withheld is not None:
            print(f"  not used: {entry.problem}")
            continue
        _print_changes(registry_changes(before, published.registry))
        before = published.registry
    return 0


def cmd_publishers_hash_token(args: argparse.Namespace) -> int:
    """Print the SHA-256 a registry keeps for a token (read without echo on a terminal, else one line of stdin)."""
    token = getpass.getpass("token: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if not token.strip():
        raise MonitorError("no token given: type it, or pipe it on stdin")
    digest = token_hash(token)
    label = f", label: {args.label}" if args.label else ""
    print(digest)
    print(f"# in the registry, under the publisher:  tokens: [{{sha256: {digest}{label}}}]", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    """Add ``publishers check``, ``apply``, ``list``, ``history`` and ``hash-token``."""
    publishers = commands.add_parser("publishers", help="the publisher registry: who may report which unit")
    sub = publishers.add_subparsers(dest="publishers_command", required=True)
    check = sub.add_parser("check", help="validate a registry file against the rule pack's rosters")
    check.add_argument("file", nargs="?", help="the registry file (default: MONITOR_PUBLISHERS)")
    check.set_defaults(func=cmd_publishers_check)
    apply = sub.add_parser("apply", help="check a registry file, then publish it: every worker admits events by it")
    apply.add_argument("file", help="the registry file")
    apply.add_argument("--message", "-m", help="why this registry is applied (kept with it in the history)")
    apply.add_argument("--by", help="who applies it (default: login name and host)")
    apply.add_argument("--dry-run", action="store_true", help="show what would change; publish nothing")
    add_signing_flags(apply)
    apply.set_defaults(func=cmd_publishers_apply)
    listing = sub.add_parser("list", help="each publisher with the units it may report")
    listing.add_argument("file", nargs="?", help="a registry file (default: MONITOR_PUBLISHERS, else the topic's)")
    listing.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    listing.set_defaults(func=cmd_publishers_list)
    history = sub.add_parser("history", help="the registries applied to the publishers topic, with their changes")
    history.set_defaults(func=cmd_publishers_history)
    for command in (check, apply, listing, history):
        command.add_argument("--broker", help="kafka://host:9092 (or MONITOR_BROKER)")
    for command in (check, apply):
        command.add_argument("--rules", action="append", help="rule files or directories (default: MONITOR_RULES)")
    hashing = sub.add_parser("hash-token", help="the SHA-256 of a token, as a registry keeps it (token on stdin)")
    hashing.add_argument("--label", help="a label to put beside it in the printed registry line")
    hashing.set_defaults(func=cmd_publishers_hash_token)
