"""``monitor replay``: a recorded event history through the engine on a simulated clock.

Events are delivered at their ``occurred_at``, in order; time advances from
one due instant to the next exactly as in ``monitor rules test``
(``rules.simulation``), so the output is the alert transitions a worker
would have written live.

The rules are one pack (``--rules``, the bundled pack by default) or, with
``--packs FILE``, the packs applied over time: a JSON-lines file of
published pack records, one ``PublishedPack`` per line (what ``monitor rules
history --format jsonl`` prints). Each pack is in force from its
``applied_at``; at that instant every unit is evaluated under it, as on the
live workers. A line that is not such a record, or a pack that does not
load, is a usage error (exit status 2) naming the file and the line.

A roster-wide rule (every listed unit must file a plan, must keep reporting)
gives transitions of every rostered unit, reported or not. By default only
those of the units the replayed events are about are printed (and written
by ``--json``/``--out``); stderr says how many others were left out, and
``--all-units`` prints them too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from events.files import read_rows
from events.models import Event, EventKind
from monitor.cli.alerts import format_line
from monitor.cli.common import existing_files, window_bound
from monitor.cli.terminal import json_safe, printable
from monitor.exceptions import MonitorError
from rules.exceptions import RuleFileError
from rules.language import RulePack
from rules.loading import BUNDLED_PACK, PackTimeline, PublishedPack, load_pack
from rules.review import Bound, bound_instant
from rules.simulation import TimedTransition, simulate

__all__ = [
    "ReplayResult",
    "first_pack",
    "read_events",
    "read_pack_file",
    "register",
    "replay_files",
    "rules_of",
    "window",
]


@dataclass
class ReplayResult:
    """Transitions in the order they happened, with the instant of each; rows that could not be read.

    ``units`` are the units the replayed events were about: a roster-wide rule also gives transitions of every
    other unit its roster lists (``of_units`` keeps those of ``units``).
    """

    transitions: list[TimedTransition] = field(default_factory=list)
    events: int = 0
    bad_rows: list[str] = field(default_factory=list)
    units: set[str] = field(default_factory=set)

    def of_units(self) -> list[TimedTransition]:
        """The transitions of the units the replayed events were about, in order."""
        return [(at, t) for at, t in self.transitions if t.unit_id in self.units]


def replay_files(
    paths: Sequence[Path],
    pack: RulePack | PackTimeline,
    *,
    start: datetime | None = None,
    until: datetime | None = None,
    kind: EventKind | None = None,
) -> ReplayResult:
    """Replay the events of the files between ``start`` and ``until`` (default: first and last event).

    ``pack`` is the rules throughout, or the packs in force over time.
    """
    result = ReplayResult()
    events, result.bad_rows = read_events(paths, kind)
    result.events, simulation = simulate(pack, events, start=start, until=until)
    if simulation is not None:
        result.transitions, result.units = simulation.transitions, simulation.reporting_units
    return result


def read_events(paths: Sequence[Path], kind: EventKind | None = None) -> tuple[list[Event], list[str]]:
    """The events of recorded files (JSON lines or CSV), and a line for each row that could not be read."""
    events: list[Event] = []
    bad: list[str] = []
    for path in paths:
        for row in read_rows(path, kind):
            if row.error is not None:
                bad.append(f"{path}:{row.line}: {row.error}")
            events.extend(row.events)
    return events, bad


def read_pack_file(path: Path) -> PackTimeline:
    """The packs of a JSON-lines file of published pack records, each loaded, in force from its ``applied_at``.

    Raises:
        MonitorError: one line naming the file and the line: not UTF-8, not a
            pack record, a pack that does not load; or no records at all.
    """
    entries: list[tuple[datetime, RulePack]] = []
    with tempfile.TemporaryDirectory(prefix="monitor-packs-") as tmp, path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MonitorError(
                    f"{where}: not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
                ) from None
            if not text.strip():
                continue
            try:
                record = PublishedPack.model_validate_json(text)
            except ValidationError as exc:
                raise MonitorError(printable(f"{where}: not a published pack record: {_first_error(exc)}")) from None
            written = Path(tmp) / str(number)
            try:
                entries.append((record.applied_at, record.load(written)))
            except RuleFileError as exc:
                said = _first_problem(exc, written / record.content)
                raise MonitorError(printable(f"{where}: pack {record.version} does not load: {said}")) from None
    if not entries:
        raise MonitorError(f"{path}: no published pack records")
    return PackTimeline(entries)


def _first_error(exc: ValidationError) -> str:
    """A pydantic error in a few words: the first bad field, and how many more there are."""
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in first["loc"])
    said = f"field '{loc}': {first['msg']}" if loc else first["msg"]
    more = exc.error_count() - 1
    return said + (f" (and {more} more)" if more else "")


def _first_problem(exc: RuleFileError, written: Path) -> str:
    """The first problem of a pack, its file named by its path in the pack, and how many more there are."""
    first = exc.problems[0]
    if first.path.is_relative_to(written):
        first = replace(first, path=first.path.relative_to(written))
    more = len(exc.problems) - 1
    return str(first) + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def rules_of(args: argparse.Namespace) -> RulePack | PackTimeline:
    """The rules a replay runs under: ``--packs`` (a timeline, said on stderr), ``--rules``, or the bundled pack."""
    if args.packs and args.rules:
        raise MonitorError("--packs and --rules cannot be used together: give the packs over time, or one pack")
    if not args.packs:
        return load_pack(args.rules or [BUNDLED_PACK])
    [packs] = existing_files([args.packs])
    timeline = read_pack_file(packs)
    print(printable(_timeline_line(packs, timeline)), file=sys.stderr)
    return timeline


def first_pack(rules: RulePack | PackTimeline) -> RulePack:
    """The pack a replay starts under: the one pack, or the first of the timeline (its time zone reads dates)."""
    return rules.entries[0][1] if isinstance(rules, PackTimeline) else rules


def window(
    rules: RulePack | PackTimeline, start: Bound | None, until: Bound | None
) -> tuple[datetime | None, datetime | None]:
    """``--from`` and ``--until`` as instants: a date is the midnight that begins it in the first pack's time zone."""
    tz = first_pack(rules).tz
    return (
        bound_instant(start, tz) if start is not None else None,
        bound_instant(until, tz) if until is not None else None,
    )


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay recorded events on a simulated clock and print the alert transitions."""
    pack = rules_of(args)
    paths = existing_files(args.files)
    start, until = window(pack, args.start, args.until)
    result = replay_files(paths, pack, start=start, until=until)
    for bad in result.bad_rows[:50]:
        print(printable(f"skipped {bad}"), file=sys.stderr)
    tz = first_pack(pack).tz  # every line in one zone, that of the pack (the first one of a timeline)
    shown = result.transitions if args.all_units else result.of_units()
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115 - closed below
    try:
        for instant, transition in shown:
            if args.json or args.out:
                print(json_safe(transition.model_dump_json()), file=out)
            else:
                print(format_line(transition, colour=out.isatty(), tz=tz, at=instant), file=out)
    finally:
        if args.out:
            out.close()
    if left_out := _left_out_line(result, shown):
        print(left_out, file=sys.stderr)
    print(f"replayed {result.events:,} events: {len(shown):,} transitions", file=sys.stderr)
    return 0


def _left_out_line(result: ReplayResult, shown: Sequence[TimedTransition]) -> str | None:
    """How many transitions of other rostered units were not printed, and how to see them; ``None`` if none."""
    if len(shown) == len(result.transitions):
        return None
    others = [t for _, t in result.transitions if t.unit_id not in result.units]
    units = len({t.unit_id for t in others})
    return (
        f"left out {len(others):,} transitions of {units:,} other rostered unit{'s' if units != 1 else ''} "
        "not in the replayed events (--all-units shows them)"
    )


def _timeline_line(path: Path, timeline: PackTimeline) -> str:
    """How many packs the timeline holds, from when to when."""
    count = len(timeline.entries)
    first, last = timeline.entries[0], timeline.entries[-1]
    span = f"{first[1].version} applied {first[0].isoformat()}"
    if count > 1:
        span += f" … {last[1].version} applied {last[0].isoformat()}"
    return f"{count:,} pack{'s' if count != 1 else ''} in {path}: {span}"


def register(commands: Any) -> None:
    """Add ``replay``."""
    replay = commands.add_parser(
        "replay", help="replay recorded events on a simulated clock, under one rule pack or the packs over time"
    )
    replay.add_argument("files", nargs="+", help="recorded events: .jsonl (as published) or .csv")
    replay.add_argument("--rules", nargs="+", type=Path, help="rule files or directories (default: bundled pack)")
    replay.add_argument(
        "--packs",
        metavar="FILE",
        help="published pack records, one JSON per line (as `monitor rules history --format jsonl` prints): "
        "each pack in force from its applied_at; not with --rules",
    )
    replay.add_argument(
        "--from",
        dest="start",
        type=window_bound,
        help="start: a date (its midnight in the pack's time zone) or an ISO 8601 instant with offset",
    )
    replay.add_argument(
        "--until",
        type=window_bound,
        help="end: a date (2024-08-01: up to the midnight that begins it, as the history API's `to`) "
        "or an ISO 8601 instant with offset",
    )
    replay.add_argument(
        "--all-units",
        action="store_true",
        help="also the transitions of rostered units the events are not about (roster-wide rules give them)",
    )
    replay.add_argument("--json", action="store_true", help="one alert record per line, as on the alerts topic")
    replay.add_argument("--out", help="write the alert records (JSON lines) to this file")
    replay.set_defaults(func=cmd_replay)
