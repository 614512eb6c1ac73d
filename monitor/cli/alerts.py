"""``monitor alerts tail``: follow the alerts topic in a terminal, one line per transition.

Times are shown in one zone, whatever offset a transition was written with:
the rule pack's (the zone its days are counted in), or UTC.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from monitor.cli.actions import register_actions
from monitor.cli.common import load_rules, settings_from
from monitor.cli.terminal import json_safe, printable
from monitor.exceptions import MonitorError
from monitor.kafka.client import client_options, start_client
from monitor.kafka.ends import seek_to_newest
from monitor.kafka.topics import Topics
from monitor.settings import Settings
from rules.state import AlertFilter, AlertTransition

__all__ = ["format_line", "line_zone", "register", "tail"]

_COLOURS = {"critical": "\033[1;31m", "warning": "\033[33m", "info": "\033[36m"}
_RESOLVED = "\033[32m"
_RESET = "\033[0m"


def format_line(transition: AlertTransition, colour: bool, *, tz: tzinfo, at: datetime | None = None) -> str:
    """One readable line: when, status, severity, unit, rule, stage, subject, summary.

    When is ``at`` if given (the instant a replay made the transition), else
    the transition's own instant (``ends_at`` of a resolution, else
    ``starts_at``: an escalation keeps the instant its alert began), in
    ``tz``, with its offset: lines of transitions written in different
    offsets show the same zone. A warning's stage names its step
    (``due_soon 1d``), an escalation its age (``overdue 5wd``): the steps of one alert are told apart.

    Every part that came from an event is made printable: a control character
    in a title or unit id shows as an escape, it cannot move the cursor,
    recolour the line or start a new one.
    """
    at = (at or transition.ends_at or transition.starts_at).astimezone(tz)
    step = transition.annotations.get("warn_before") or transition.annotations.get("escalated_after")
    stage = f"{transition.stage} {step}" if step and transition.status == "firing" else transition.stage
    subject = transition.labels.get("task_id") or transition.labels.get("indicator") or "-"
    status = transition.status.upper()
    line = printable(
        f"{at.strftime('%Y-%m-%d %H:%M:%S%z')}  {status:<8} {transition.severity:<8} {transition.unit_id:<8} "
        f"{transition.rule_id}  {stage}  {subject}  {transition.annotations.get('summary', '')}"
    )
    if not colour:
        return line
    start = _RESOLVED if transition.status == "resolved" else _COLOURS.get(transition.severity, "")
    return f"{start}{line}{_RESET}" if start else line


async def tail(
    bootstrap: str,
    topic: str,
    out: TextIO,
    *,
    where: AlertFilter,
    as_json: bool,
    colour: bool,
    from_beginning: bool,
    tz: tzinfo = UTC,
    max_records: int | None = None,
    client: dict[str, Any] | None = None,
    started: asyncio.Event | None = None,
) -> int:
    """Print transitions as they arrive; return how many were printed.

    Without ``from_beginning`` it starts after the last record of every
    partition (``monitor.kafka.ends``) and prints only transitions written
    later; ``started`` is set once it is placed. Lines show times in ``tz``.
    Stops after ``max_records`` printed transitions, or never (Ctrl-C) when
    ``None``.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **(client or {}))
    await start_client(consumer, bootstrap)
    printed = 0
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            raise MonitorError(f"topic {topic} does not exist on {bootstrap} (is a worker running?)")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await seek_to_newest(consumer, tps)
        if started is not None:
            started.set()
        while max_records is None or printed < max_records:
            batches = await consumer.getmany(timeout_ms=1000)
            for record in (r for records in batches.values() for r in records):
                try:
                    transition = AlertTransition.model_validate_json(record.value or b"")
                except ValidationError:
                    continue  # not an alert record: nothing to show
                if not where.matches(transition):
                    continue
                text = (
                    json_safe(json.dumps(transition.model_dump(mode="json"), ensure_ascii=False))
                    if as_json
                    else format_line(transition, colour, tz=tz)
                )
                print(text, file=out, flush=True)
                printed += 1
                if max_records is not None and printed >= max_records:
                    break
    finally:
        await consumer.stop()
    return printed


def line_zone(settings: Settings, utc: bool) -> tzinfo:
    """The zone a line's time is shown in: UTC with ``--utc``, else that of the pack a worker would evaluate.

    The pack is the settings' rule files (``MONITOR_RULES``, the bundled pack
    by default); its zone is the one it counts days in (``RulePack.tz``).
    """
    return UTC if utc else load_rules(settings).tz


def cmd_alerts_tail(args: argparse.Namespace) -> int:
    """Follow the alerts topic."""
    settings = settings_from(args)
    where = AlertFilter(unit_id=args.unit, rule_id=args.rule, severity=args.severity)
    colour = sys.stdout.isatty() and not args.json
    tz = UTC if args.json else line_zone(settings, args.utc)  # JSON keeps each instant as it was written
    asyncio.run(
        tail(
            settings.bootstrap_servers,
            Topics(settings.topic_prefix).alerts,
            sys.stdout,
            where=where,
            as_json=args.json,
            colour=colour,
            from_beginning=args.from_beginning,
            tz=tz,
            max_records=args.max,
            client=client_options(settings),
        )
    )
    return 0


def register(commands: Any) -> None:
    """Add ``alerts tail``, and the commands that act on an alert (``monitor.cli.actions``)."""
    alerts = commands.add_parser("alerts", help="work with alerts")
    alerts_commands = alerts.add_subparsers(dest="alerts_command", required=True)
    tail = alerts_commands.add_parser(
        "tail",
        help="follow the alerts topic, one line per transition",
        description="Print the alert transitions written to the alerts topic from now on (with --from-beginning: "
        "all of them), one line per transition, its time in the rule pack's time zone "
        "(MONITOR_RULES, or the bundled pack) or in UTC with --utc.",
    )
    tail.add_argument("--broker", help="kafka://host:9092 (or MONITOR_BROKER)")
    tail.add_argument("--unit", help="only this unit_id")
    tail.add_argument("--rule", help="only this rule_id")
    tail.add_argument("--severity", choices=["info", "warning", "critical"], help="only this severity")
    tail.add_argument("--json", action="store_true", help="one JSON record per line, for piping (times as written)")
    tail.add_argument(
        "--from-beginning",
        action="store_true",
        help="start at the oldest record (default: print only transitions written after the start)",
    )
    tail.add_argument("--utc", action="store_true", help="show times in UTC (default: the rule pack's time zone)")
    tail.add_argument("--max", type=int, help="stop after this many transitions")
    tail.set_defaults(func=cmd_alerts_tail)
    register_actions(alerts_commands)
