"""``monitor report``: the review report of a period — a scorecard per unit, ranked — as HTML, CSV or JSON.

Two sources, the same figures:

- a running worker (``--worker URL``, default the local one): it reads the
  alert history index and every unit's current state across the cluster
  (``GET /reports``);
- a recorded event history (``--events FILE …``, offline): the events are
  replayed through the engine as ``monitor replay`` does, under ``--rules``
  or the ``--packs`` timeline, and the report is made from the result.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.cli.common import existing_files, settings_from
from monitor.cli.replay import first_pack, read_events, rules_of
from monitor.cli.terminal import printable
from monitor.clock import utc_now
from monitor.exceptions import MonitorError
from monitor.report import build_report, report_csv, report_html, report_json
from monitor.report.html import SHOWN
from rules.review import PERIOD_FORMS, Period, day_end, parse_day, parse_period, province_problem, warned_deadlines
from rules.simulation import simulate

__all__ = ["register", "render"]


def render(report: Any, fmt: str) -> bytes:
    """The report in ``fmt`` (html, csv or json)."""
    if fmt == "html":
        return report_html(report).encode("utf-8")
    if fmt == "csv":
        return report_csv(report)
    return (json.dumps(report_json(report), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _period(text: str) -> Period:
    try:
        return parse_period(text)
    except ValueError as exc:
        raise MonitorError(f"--period: {exc}") from None


def _offline(args: argparse.Namespace, period: Period, now: datetime) -> bytes:
    rules = rules_of(args)
    first = first_pack(rules)
    paths = existing_files(args.events)
    events, bad = read_events(paths)
    for line in bad[:50]:
        print(printable(f"skipped {line}"), file=sys.stderr)
    judged = min(period.bounds(first.tz)[1], now)
    events = [e for e in events if e.occurred_at < judged]
    delivered, simulation = simulate(rules, events, until=judged)
    if simulation is None:
        raise MonitorError(f"no events before {judged.isoformat()} in {', '.join(map(str, paths))}: nothing to report")
    by_unit: dict[str, list[Any]] = {}
    for _, transition in simulation.transitions:
        by_unit.setdefault(transition.unit_id, []).append(transition)
    warned = {unit: warned_deadlines(records) for unit, records in by_unit.items()}
    units_at = day_end(args.units_at, first.tz) if args.units_at is not None else None
    pack = simulation.pack
    if args.communes_of is not None and (problem := province_problem(pack, args.communes_of, "--communes-of")):
        raise MonitorError(problem)
    states, chosen, shown = simulation.states, args.unit or (), SHOWN[args.format]
    report = build_report(pack, period, states, warned, judged, chosen, units_at, args.communes_of, shown)
    print(f"replayed {delivered:,} events; {period.label}: {len(report.cards)} units", file=sys.stderr)
    return render(report, args.format)


def _from_worker(args: argparse.Namespace, period: Period) -> bytes:
    settings = settings_from(args)
    base = (args.worker or f"http://{settings.web_host}:{settings.web_port}").rstrip("/")
    asked = [("period", period.text), ("format", args.format)] + [("unit", u) for u in args.unit or ()]
    if args.units_at is not None:
        asked.append(("units_at", args.units_at.isoformat()))
    if args.communes_of is not None:
        asked.append(("communes_of", args.communes_of))
    query = urllib.parse.urlencode(asked)
    url = f"{base}/reports?{query}"
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")
        try:
            said = json.loads(body).get("error", body)
        except (ValueError, AttributeError):
            said = body[:300]
        raise MonitorError(printable(f"the worker at {base} answered {exc.code}: {said}")) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MonitorError(f"cannot reach the worker at {base} (--worker): {reason}") from None


def cmd_report(args: argparse.Namespace) -> int:
    """Make the review report of a period and write it to --out or stdout."""
    period = _period(args.period)
    if args.units_at is not None:
        try:
            args.units_at = parse_day(args.units_at, "--units-at")
        except ValueError as exc:
            raise MonitorError(str(exc)) from None
    if not args.events and (args.rules or args.packs):
        raise MonitorError("--rules and --packs go with --events (a worker reports under the rules it evaluates)")
    if args.events and args.worker:
        raise MonitorError("--events and --worker cannot be used together: report from a recording, or from a worker")
    body = _offline(args, period, utc_now()) if args.events else _from_worker(args, period)
    if args.out:
        try:
            Path(args.out).write_bytes(body)
        except OSError as exc:
            raise MonitorError(f"cannot write the report to {args.out}: {exc.strerror or exc}") from None
        print(f"{period.label}: written to {args.out} ({len(body):,} bytes)", file=sys.stderr)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    return 0


def register(commands: Any) -> None:
    """Add ``report``."""
    report = commands.add_parser(
        "report", help="the review report of a period: a scorecard per unit, ranked (HTML, CSV or JSON)"
    )
    report.add_argument("--period", required=True, help=f"the period: {PERIOD_FORMS}")
    report.add_argument("--unit", action="append", help="only this unit (repeat for more)")
    report.add_argument(
        "--units-at",
        metavar="DAY",
        help="report on the units in force on DAY (e.g. today's, to set 2024 beside 2026); "
        "default: the period's last day. A unit merged by then is counted in the one it became",
    )
    report.add_argument(
        "--communes-of",
        metavar="PROVINCE",
        help="the scorecards of this province's communes (e.g. VN-22), not of the rostered units",
    )
    report.add_argument("--format", choices=("html", "csv", "json"), default="html", help="html (default), csv or json")
    report.add_argument("--out", help="write the report to this file (default: stdout)")
    report.add_argument("--worker", help="a running worker's URL (default: http://MONITOR_WEB_HOST:MONITOR_WEB_PORT)")
    report.add_argument("--events", nargs="+", help="offline: recorded events (.jsonl or .csv), replayed")
    report.add_argument("--rules", nargs="+", type=Path, help="with --events: rule files or directories")
    report.add_argument(
        "--packs", help="with --events: published pack records over time (rules history --format jsonl)"
    )
    report.set_defaults(func=cmd_report)
