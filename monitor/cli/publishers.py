"""``monitor publishers check``, ``list`` and ``hash-token``: the publisher registry, read before it is used.

``check FILE`` validates a registry against the rule pack the settings name
(``--rules``, ``MONITOR_RULES``): every mistake with file, line and field,
exit 1. ``list`` shows who may report what. ``hash-token`` turns a token
(read from the terminal, or stdin) into the SHA-256 a registry keeps, so the
token itself is never written into a file.

Exit status: 0 all good, 1 problems found, 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from monitor.cli.common import existing_files, load_rules, settings_from
from monitor.exceptions import MonitorError
from monitor.publishers import PublisherRegistry, RegistryFileError, load_registry, registry_version, token_hash

__all__ = ["register"]


def _registry_file(args: argparse.Namespace) -> Path:
    """The file named, else the settings' ``MONITOR_PUBLISHERS``."""
    if args.file is not None:
        (path,) = existing_files([args.file])
        return path
    configured = settings_from(args).publishers
    if configured is None:
        raise MonitorError("no registry file: name one, or set MONITOR_PUBLISHERS")
    return configured


def cmd_publishers_check(args: argparse.Namespace) -> int:
    """Validate a registry file against the rule pack's rosters; print every problem with file, line and field."""
    path = _registry_file(args)
    pack = load_rules(settings_from(args))
    try:
        registry = load_registry(path, pack)
    except RegistryFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    tokens = sum(len(p.tokens) for p in registry.publishers)
    print(
        f"ok: {len(registry.publishers)} publishers ({tokens} HTTP tokens), "
        f"registry {registry_version(registry)}, against rule pack {pack.version}"
    )
    return 0


def _may_report(publisher: Any) -> str:
    parts = [*publisher.units, *(f"roster {name}" for name in publisher.rosters)]
    return ", ".join(parts)


def cmd_publishers_list(args: argparse.Namespace) -> int:
    """Who may report what: each publisher with its units, tokens and whether it must sign."""
    path = _registry_file(args)
    try:
        registry = load_registry(path)
    except RegistryFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(_as_json(registry, path), ensure_ascii=False, indent=2))
        return 0
    print(f"registry {path} ({registry_version(registry)}): {len(registry.publishers)} publishers")
    if registry.allow_unrostered:
        print("units on no roster of the rule pack may be reported (allow_unrostered)")
    width = max(len(p.id) for p in registry.publishers)
    for publisher in registry.publishers:
        tokens = f"  {len(publisher.tokens)} token(s)" if publisher.tokens else ""
        print(f"{publisher.id:<{width}}  {_may_report(publisher)}{tokens}")
    return 0


def _as_json(registry: PublisherRegistry, path: Path) -> dict[str, Any]:
    return {
        "file": str(path),
        "version": registry_version(registry),
        "allow_unrostered": registry.allow_unrostered,
        "publishers": [
            {
                "id": p.id,
                "name": p.name,
                "units": list(p.units),
                "rosters": list(p.rosters),
                "tokens": len(p.tokens),
            }
            for p in registry.publishers
        ],
    }


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
    """Add ``publishers check``, ``list`` and ``hash-token``."""
    publishers = commands.add_parser("publishers", help="the publisher registry: who may report which unit")
    sub = publishers.add_subparsers(dest="publishers_command", required=True)
    check = sub.add_parser("check", help="validate a registry file against the rule pack's rosters")
    check.add_argument("file", nargs="?", help="the registry file (default: MONITOR_PUBLISHERS)")
    check.add_argument("--rules", action="append", help="rule files or directories (default: MONITOR_RULES)")
    check.set_defaults(func=cmd_publishers_check)
    listing = sub.add_parser("list", help="each publisher with the units it may report")
    listing.add_argument("file", nargs="?", help="the registry file (default: MONITOR_PUBLISHERS)")
    listing.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    listing.set_defaults(func=cmd_publishers_list)
    hashing = sub.add_parser("hash-token", help="the SHA-256 of a token, as a registry keeps it (token on stdin)")
    hashing.add_argument("--label", help="a label to put beside it in the printed registry line")
    hashing.set_defaults(func=cmd_publishers_hash_token)
