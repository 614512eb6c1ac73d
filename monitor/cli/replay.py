"""``monitor replay``: a recorded event history through the engine on a simulated clock.

Events are delivered at their ``occurred_at``, in order; time advances from
one due instant to the next exactly as in ``monitor rules test``
(``rules.simulation``), so the output is the alert transitions a worker
would have written live.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from events.files import read_rows
from events.models import Event, EventKind
from monitor.cli.alerts import format_line
from monitor.cli.common import existing_files, instant
from monitor.cli.terminal import json_safe, printable
from rules.loader import BUNDLED_PACK, load_pack
from rules.pack import RulePack
from rules.simulation import TimedTransition
from rules.simulation import replay as simulate

__all__ = ["ReplayResult", "register", "replay"]


@dataclass
class ReplayResult:
    """Transitions in the order they happened, with the instant of each; rows that could not be read."""

    transitions: list[TimedTransition] = field(default_factory=list)
    events: int = 0
    bad_rows: list[str] = field(default_factory=list)


def replay(
    paths: Sequence[Path],
    pack: RulePack,
    *,
    start: datetime | None = None,
    until: datetime | None = None,
    kind: EventKind | None = None,
) -> ReplayResult:
    """Replay the events of the files between ``start`` and ``until`` (default: first and last event)."""
    result = ReplayResult()
    events: list[Event] = []
    for path in paths:
        for row in read_rows(path, kind):
            if row.error is not None:
                result.bad_rows.append(f"{path}:{row.line}: {row.error}")
            events.extend(row.events)
    result.events, result.transitions = simulate(pack, events, start=start, until=until)
    return result


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay recorded events on a simulated clock and print the alert transitions."""
    paths = existing_files(args.files)
    pack = load_pack(args.rules or [BUNDLED_PACK])
    result = replay(paths, pack, start=args.start, until=args.until)
    for bad in result.bad_rows[:50]:
        print(printable(f"skipped {bad}"), file=sys.stderr)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115 - closed below
    try:
        for _, transition in result.transitions:
            if args.json or args.out:
                print(json_safe(transition.model_dump_json()), file=out)
            else:
                print(format_line(transition, colour=out.isatty()), file=out)
    finally:
        if args.out:
            out.close()
    print(f"replayed {result.events:,} events: {len(result.transitions):,} transitions", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    """Add ``replay``."""
    replay = commands.add_parser("replay", help="replay recorded events on a simulated clock")
    replay.add_argument("files", nargs="+", help="recorded events: .jsonl (as published) or .csv")
    replay.add_argument("--rules", nargs="+", type=Path, help="rule files or directories (default: bundled pack)")
    replay.add_argument("--from", dest="start", type=instant, help="start instant (ISO 8601 with offset)")
    replay.add_argument("--until", type=instant, help="end instant (ISO 8601 with offset)")
    replay.add_argument("--json", action="store_true", help="one alert record per line, as on the alerts topic")
    replay.add_argument("--out", help="write the alert records (JSON lines) to this file")
    replay.set_defaults(func=cmd_replay)
