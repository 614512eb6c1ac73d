"""The ``monitor`` command: up, worker, rules check, schemas."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.exceptions import MonitorError
from monitor.kafka_auth import client_options
from monitor.settings import Settings
from rules.exceptions import RuleFileError
from rules.loader import BUNDLED_PACK, load_pack, parse_yaml, rule_files_in
from rules.pack import RulePack

__all__ = ["main"]

log = logging.getLogger("monitor")


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    flags = {
        "broker": getattr(args, "broker", None),
        "rules": tuple(args.rules) if getattr(args, "rules", None) else None,
        "web_host": getattr(args, "web_host", None),
        "web_port": getattr(args, "web_port", None),
        "partitions": getattr(args, "partitions", None),
        "tick_interval": getattr(args, "tick_interval", None),
        "data_dir": getattr(args, "data_dir", None),
        **extra,
    }
    return Settings(**{k: v for k, v in flags.items() if v is not None})


def _files(names: Sequence[str]) -> list[Path]:
    """The named files, or a clear error naming those that do not exist."""
    paths = [Path(name) for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise MonitorError(f"no such file: {', '.join(missing)}")
    return paths


def _load_rules(settings: Settings) -> RulePack:
    pack = load_pack(settings.rules)
    log.info("loaded %d rules from %s", len(pack.rules), ", ".join(map(str, settings.rules)))
    return pack


def _run_worker(settings: Settings, pack: RulePack, *, demo: bool = False, banner: str | None = None) -> int:
    from faust.worker import Worker

    from monitor.app import Monitor
    from monitor.topics import ensure_topics

    created = asyncio.run(
        ensure_topics(
            settings.bootstrap_servers,
            Monitor.topics_for(settings),
            settings.partitions,
            settings.replication_factor,
            **client_options(settings),
        )
    )
    if created:
        log.info("created topics: %s", ", ".join(created))
    monitor = Monitor(settings, pack)
    if demo:
        from monitor.demo_publisher import publish_demo_when_ready

        monitor.app.task(lambda: publish_demo_when_ready(monitor))
    if banner:
        print(banner, flush=True)
    worker = Worker(monitor.app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _banner(settings: Settings, demo: bool) -> str:
    from monitor.topics import Topics

    topics = Topics(settings.topic_prefix)
    base = f"http://{settings.web_host}:{settings.web_port}"
    lines = [
        "compliance monitor is starting",
        f"  broker    {settings.bootstrap_servers}",
        f"  topics    in:  {topics.task_status}, {topics.indicators}",
        f"            out: {topics.alerts}, {topics.dead_letter}",
        f"  feed      {base}/   (live alert page)",
        f"  api       {base}/api/v1/alerts  {base}/api/v1/units/VN-22/overdue?format=csv",
        f"  metrics   {base}/metrics",
        f"  health    {base}/healthz  {base}/readyz",
        f"  rules     {', '.join(map(str, settings.rules))}",
        f"  demo data {'published once the worker is ready' if demo else 'off'}",
        "  publish   echo '{...}' | deploy/dev/kcat -P -b " + settings.bootstrap_servers + f" -t {topics.task_status}",
        f"  alerts    topic {topics.alerts}; in a terminal: monitor alerts tail",
        "  stop      Ctrl-C",
    ]
    return "\n".join(lines)


def cmd_up(args: argparse.Namespace) -> int:
    """Embedded broker + worker + HTTP + demo data, stopped together."""
    from monitor.broker import EmbeddedBroker

    broker: EmbeddedBroker | None = None
    scratch: Path | None = None
    extra: dict[str, Any] = {}
    if args.broker is None:
        broker = EmbeddedBroker(host="127.0.0.1", port=args.broker_port)
        print(f"starting the embedded broker on {broker.bootstrap} ...", flush=True)
        broker.start()
        extra["broker"] = broker.url
        if args.data_dir is None:
            # The embedded broker keeps nothing: local table state must start empty too.
            scratch = Path(tempfile.mkdtemp(prefix="monitor-up-"))
            extra["data_dir"] = scratch
    try:
        settings = _settings(args, **extra)
        pack = _load_rules(settings)
        demo = not args.no_demo
        return _run_worker(settings, pack, demo=demo, banner=_banner(settings, demo))
    finally:
        if broker is not None:
            broker.stop()
            print("embedded broker stopped", flush=True)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def cmd_worker(args: argparse.Namespace) -> int:
    """A production worker against an existing Kafka cluster."""
    settings = _settings(args)
    return _run_worker(settings, _load_rules(settings))


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


def cmd_alerts_tail(args: argparse.Namespace) -> int:
    """Follow the alerts topic."""
    from monitor.tail import AlertFilter, tail
    from monitor.topics import Topics

    settings = _settings(args)
    where = AlertFilter(unit_id=args.unit, rule_id=args.rule, severity=args.severity)
    colour = sys.stdout.isatty() and not args.json
    asyncio.run(
        tail(
            settings.bootstrap_servers,
            Topics(settings.topic_prefix).alerts,
            sys.stdout,
            where=where,
            as_json=args.json,
            colour=colour,
            from_beginning=args.from_beginning,
            max_records=args.max,
            client=client_options(settings),
        )
    )
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Validate event files, then publish them (or, with bad rows, refuse unless --skip-invalid)."""
    from events.models import EventKind
    from monitor.publish import publish_files, validate_files
    from monitor.topics import Topics

    paths = _files(args.files)
    kind = {"task-status": EventKind.TASK_STATUS, "indicator": EventKind.INDICATOR}.get(args.type or "")
    report = validate_files(paths, kind, sys.stderr)
    for bad in report.bad[:50]:
        print(bad, file=sys.stderr)
    if len(report.bad) > 50:
        print(f"... and {len(report.bad) - 50} more bad rows", file=sys.stderr)
    print(f"validated {report.rows:,} rows: {report.events:,} events, {len(report.bad):,} bad rows", file=sys.stderr)
    if report.bad and not args.skip_invalid:
        print("nothing published: fix the rows above, or publish the valid ones with --skip-invalid", file=sys.stderr)
        return 1
    if args.dry_run:
        print("dry run: nothing published", file=sys.stderr)
        return 0
    settings = _settings(args)
    topics = Topics(settings.topic_prefix)
    asyncio.run(
        publish_files(
            paths,
            kind,
            bootstrap=settings.bootstrap_servers,
            topics=topics,
            report=report,
            batch_size=args.batch_size,
            progress=sys.stderr,
            client=client_options(settings),
        )
    )
    print(f"published {report.published:,} events in {report.records:,} records", file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay recorded events on a simulated clock and print the alert transitions."""
    from monitor.replay import replay
    from monitor.tail import format_line

    paths = _files(args.files)
    pack = load_pack(args.rules or [BUNDLED_PACK])
    result = replay(paths, pack, start=args.start, until=args.until)
    for bad in result.bad_rows[:50]:
        print(f"skipped {bad}", file=sys.stderr)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115 - closed below
    try:
        for _, transition in result.transitions:
            if args.json or args.out:
                print(transition.model_dump_json(), file=out)
            else:
                print(format_line(transition, colour=out.isatty()), file=out)
    finally:
        if args.out:
            out.close()
    print(f"replayed {result.events:,} events: {len(result.transitions):,} transitions", file=sys.stderr)
    return 0


def cmd_dashboards(args: argparse.Namespace) -> int:
    """Write the Grafana dashboard generated from code."""
    from monitor.grafana import render_dashboard

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "compliance.json"
    path.write_text(render_dashboard(), encoding="utf-8")
    print(path)
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    """Write the JSON Schemas generated from the models."""
    from events.schema import write_schemas
    from rules.schema import render_rule_schemas

    for path in write_schemas(Path(args.out), render_rule_schemas()):
        print(path)
    return 0


def _worker_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", nargs="+", type=Path, help="rule files or directories (default: bundled pack)")
    parser.add_argument("--web-host", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--web-port", type=int, help="HTTP port (default 6066)")
    parser.add_argument("--partitions", type=int, help="partitions of topics the monitor creates (default 4)")
    parser.add_argument("--tick-interval", type=float, help="seconds between wall-clock ticks (default 5)")
    parser.add_argument("--data-dir", type=Path, help="local state directory")


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset; write e.g. 2024-07-20T00:00:00+07:00")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = argparse.ArgumentParser(prog="monitor", description="Event-driven compliance monitor (Project 06).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="embedded broker, worker, HTTP and demo data")
    up.add_argument("--broker", help="use this Kafka instead of starting the embedded broker")
    up.add_argument("--broker-port", type=int, default=9092, help="embedded broker port (default 9092)")
    up.add_argument("--no-demo", action="store_true", help="do not publish the demo data")
    _worker_flags(up)
    up.set_defaults(func=cmd_up)

    worker = commands.add_parser("worker", help="run a worker against an existing Kafka cluster")
    worker.add_argument("--broker", help="kafka://host:9092 (or MONITOR_BROKER)")
    _worker_flags(worker)
    worker.set_defaults(func=cmd_worker)

    rules = commands.add_parser("rules", help="work with rule files")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_commands.add_parser("check", help="validate rule files")
    check.add_argument("files", nargs="+", help="rule files or directories")
    check.set_defaults(func=cmd_rules_check)
    test = rules_commands.add_parser("test", help="run rule unit tests on a simulated clock")
    test.add_argument("files", nargs="+", help="rule test files or directories")
    test.set_defaults(func=cmd_rules_test)

    publish = commands.add_parser("publish", help="publish JSON-lines or CSV event files")
    publish.add_argument("files", nargs="+", help=".jsonl (one event, CloudEvent or array per line) or .csv files")
    publish.add_argument("--broker", help="kafka://host:9092 (or MONITOR_BROKER)")
    publish.add_argument(
        "--type", choices=["task-status", "indicator"], help="type of bare rows (default: from fields)"
    )
    publish.add_argument("--skip-invalid", action="store_true", help="publish the valid rows of a file with bad rows")
    publish.add_argument("--dry-run", action="store_true", help="validate only")
    publish.add_argument("--batch-size", type=int, default=500, help="events per record, per unit (default 500)")
    publish.set_defaults(func=cmd_publish)

    replay = commands.add_parser("replay", help="replay recorded events on a simulated clock")
    replay.add_argument("files", nargs="+", help="recorded events: .jsonl (as published) or .csv")
    replay.add_argument("--rules", nargs="+", type=Path, help="rule files or directories (default: bundled pack)")
    replay.add_argument("--from", dest="start", type=_instant, help="start instant (ISO 8601 with offset)")
    replay.add_argument("--until", type=_instant, help="end instant (ISO 8601 with offset)")
    replay.add_argument("--json", action="store_true", help="one alert record per line, as on the alerts topic")
    replay.add_argument("--out", help="write the alert records (JSON lines) to this file")
    replay.set_defaults(func=cmd_replay)

    alerts = commands.add_parser("alerts", help="work with alerts")
    alerts_commands = alerts.add_subparsers(dest="alerts_command", required=True)
    tail = alerts_commands.add_parser("tail", help="follow the alerts topic, one line per transition")
    tail.add_argument("--broker", help="kafka://host:9092 (or MONITOR_BROKER)")
    tail.add_argument("--unit", help="only this unit_id")
    tail.add_argument("--rule", help="only this rule_id")
    tail.add_argument("--severity", choices=["info", "warning", "critical"], help="only this severity")
    tail.add_argument("--json", action="store_true", help="one JSON record per line, for piping")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest record, not the newest")
    tail.add_argument("--max", type=int, help="stop after this many transitions")
    tail.set_defaults(func=cmd_alerts_tail)

    dashboards = commands.add_parser("dashboards", help="write the Grafana dashboard")
    dashboards.add_argument(
        "--out", default="deploy/grafana/dashboards", help="directory (default deploy/grafana/dashboards)"
    )
    dashboards.set_defaults(func=cmd_dashboards)

    schemas = commands.add_parser("schemas", help="write the event JSON Schemas")
    schemas.add_argument("--out", default="deploy/schemas", help="directory (default deploy/schemas)")
    schemas.set_defaults(func=cmd_schemas)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``monitor`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per tick is noise
        logging.getLogger("aiokafka").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except RuleFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except MonitorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
