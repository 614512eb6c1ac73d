"""``monitor up`` (embedded broker, worker, HTTP, demo data) and ``monitor worker`` (production)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import shutil
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.cli.common import ExitCode, add_worker_flags, check_port_free, load_rules, prepare_data_dir, settings_from
from monitor.clock import utc_now
from monitor.kafka.client import client_options
from monitor.kafka.topics import Topics, ensure_topics
from monitor.redact import redact_url
from monitor.settings import Settings
from monitor.state.heap import tune_collector
from monitor.version import VERSION
from rules.language import RulePack
from rules.review import quarter_of

if TYPE_CHECKING:
    from monitor.http.protocol import WorkerView

__all__ = ["example_periods", "program_name", "register"]

log = logging.getLogger("monitor")

_BROKER_LOST = ExitCode.BROKER  # a worker that gave up waiting for the broker or its topics
_READY_PATIENCE = 60.0  # seconds the banner waits for the worker to be ready before it is printed anyway


def _run_worker(settings: Settings, pack: RulePack, *, demo: bool = False, banner: str | None = None) -> int:
    """Create missing topics, publish the demo data, build the worker, register its routes, run it until stopped.

    The banner (and the demo data's line) is printed once the worker is ready: last in the start-up output.
    """
    from monitor.http import register_routes
    from monitor.worker import Worker
    from monitor.worker.runner import BoundedWorker

    prepare_data_dir(settings.data_dir)
    check_port_free(settings.web_host, settings.web_port)
    topics, client = Topics(settings.topic_prefix), client_options(settings)
    created = asyncio.run(
        ensure_topics(settings.bootstrap_servers, topics, settings.partitions, settings.replication_factor, **client)
    )
    if created:
        log.info("created topics: %s", ", ".join(created))
    announcement = [banner] if banner else []
    if demo:
        from monitor.devtools.demo import apply_demo_registry, publish_demo

        applied = None
        if settings.publishers is None:  # the demo's systems, each bound to its unit: refusals can be seen
            applied = asyncio.run(
                apply_demo_registry(settings.bootstrap_servers, topics, pack, utc_now(), client=client)
            )
        # Before the worker starts: its first read of a partition finds the records there.
        published = asyncio.run(publish_demo(settings.bootstrap_servers, topics, pack, utc_now(), client=client))
        announcement.append(
            f"published {published} demo events; metrics at http://{settings.web_host}:{settings.web_port}/metrics, "
            f"alerts on {topics.alerts}"
        )
        if applied is not None:
            announcement.append(
                f"applied the demo's publisher registry {applied} to {topics.publishers}: each unit's own system "
                "reports it (HTTP token demo-<publisher id>, e.g. demo-nghean-dvc)"
            )
    tune_collector()
    for warning in settings.warnings:
        log.warning("%s", warning)
    worker = Worker(settings, pack)
    if worker.viewers is not None and settings.metrics_token is None and not worker.viewers.access().open_to_anyone:
        log.warning(
            "MONITOR_METRICS_TOKEN is unset: /metrics, with counts per unit, answers anyone who reaches the port "
            "while the API answers viewers only (MONITOR_VIEWERS)"
        )
    register_routes(worker.app, worker)
    if announcement:
        worker.app.task(lambda: _announce_when_ready(worker, "\n".join(announcement)))
    runner = BoundedWorker(worker.app, log_level=settings.log_level, redirect_stdouts=False)
    worker.on_give_up(lambda reason: runner.give_up(_BROKER_LOST, reason))
    runner.on_reload = worker.reload_rules
    code = 0
    try:
        runner.execute_from_commandline()
    except SystemExit as exc:
        code = int(exc.code or 0)
    return BoundedWorker.exit_code if BoundedWorker.exit_code is not None else code


async def _announce_when_ready(
    worker: WorkerView, text: str, *, patience: float = _READY_PATIENCE, poll: float = 0.2
) -> None:
    """Print ``text`` once the worker is ready, as ``/readyz`` says; past ``patience`` seconds, print it anyway and say why not.

    Ready, it answers every API request: its partitions' units and the topics it answers from are read.
    """
    from monitor.http.views import is_ready, reading

    waited = 0.0
    while not is_ready(worker) and waited < patience:
        await asyncio.sleep(poll)
        waited += poll
    print(text, flush=True)
    if not is_ready(worker):
        why = "; ".join(f"{cause}: {problem}" for cause, problem in worker.problems().items())
        still = reading(worker)
        if still:
            why = "; ".join(filter(None, (why, "still reading " + ", ".join(still))))
        log.warning("the worker is not ready after %.0fs (%s)", waited, why or "its partitions are not read yet")


def _rules_line(settings: Settings, topics: Topics, program: str) -> str:
    files = ", ".join(map(str, settings.rules))
    if not settings.rules_from_topic:
        return f"{files} (SIGHUP reloads them)"
    return f"topic {topics.rules}: the newest pack applied ({program} rules apply DIR), else {files}"


def _shown(path: Path) -> Path:
    """A file as the banner names it: relative to the working directory when under it."""
    absolute = path.absolute()
    return absolute.relative_to(Path.cwd()) if absolute.is_relative_to(Path.cwd()) else absolute


def _publishers_line(settings: Settings, topics: Topics, program: str) -> str:
    if settings.publishers is not None:
        return f"publishers bound to their units by {_shown(settings.publishers)}"
    return (
        f"topic {topics.publishers}: the newest registry applied ({program} publishers apply FILE; "
        f"{program} publishers list), else open mode: any system may report for any unit"
    )


def _viewers_line(settings: Settings) -> str:
    from monitor.devtools.demo import DEMO_VIEWERS

    if settings.viewers == DEMO_VIEWERS:
        return (
            "anyone, every unit; to act on alerts sign in with a demo viewer's token: demo-to-cong-tac (every unit), "
            f"demo-nghean-stttt (Nghệ An) ({_shown(DEMO_VIEWERS)})"
        )
    if settings.viewers is not None:
        return f"viewers of {_shown(settings.viewers)} only, each its own units"
    return "anyone who reaches the port, every unit (MONITOR_VIEWERS: who may read which units)"


def program_name(argv0: str, cwd: Path, on_path: str | None) -> str:
    """How a user calls this ``monitor`` from a shell in ``cwd``.

    ``monitor`` when that is what ``PATH`` finds (``on_path``), else its path:
    relative to ``cwd`` when under it (``.venv/bin/monitor`` after ``make run``).
    """
    program = Path(argv0)
    if on_path is not None and Path(on_path).resolve() == (cwd / program).resolve():
        return "monitor"
    absolute = (cwd / program).absolute()
    return str(absolute.relative_to(cwd)) if absolute.is_relative_to(cwd) else str(absolute)


def example_periods(today: date) -> str:
    """Periods a user may ask for, around ``today``: last quarter, last month, this year."""
    last_quarter = quarter_of(quarter_of(today).first - timedelta(days=1))
    last_month = today.replace(day=1) - timedelta(days=1)
    return f"{last_quarter.text}, {last_month:%Y-%m}, {today.year}"


def _banner(settings: Settings, demo: bool, program: str, today: date) -> str:
    topics = Topics(settings.topic_prefix)
    base = f"http://{settings.web_host}:{settings.web_port}"
    lines = [
        f"compliance monitor {VERSION} is running",
        f"  broker    {redact_url(settings.broker)}",
        f"  topics    in:  {topics.task_status}, {topics.indicators}",
        f"            out: {topics.alerts}, {topics.dead_letter}",
        f"  console   {base}/   (live alerts; {base}/?view=overview for every unit)",
        f"  api       {base}/api/v1/alerts  {base}/api/v1/units/VN-22/overdue?format=csv",
        f"  report    {base}/reports   (this quarter's review report; ?period={example_periods(today)}; &format=csv)",
        f"  metrics   {base}/metrics",
        f"  health    {base}/healthz  {base}/readyz",
        f"  rules     {_rules_line(settings, topics, program)}",
        f"  demo data {'published to the ingress topics before the worker started' if demo else 'off'}",
        f"  registry  {_publishers_line(settings, topics, program)}",
        f"  readers   {_viewers_line(settings)}",
        "  publish   echo '{...}' | deploy/dev/kcat -P -b " + settings.bootstrap_servers + f" -t {topics.task_status}",
        f"  alerts    topic {topics.alerts}; in a terminal: {program} alerts tail",
        "  stop      Ctrl-C",
    ]
    return "\n".join(lines)


def cmd_up(args: argparse.Namespace) -> int:
    """Embedded broker + worker + HTTP + demo data, stopped together."""
    from monitor.devtools.broker import EmbeddedBroker

    broker: EmbeddedBroker | None = None
    scratch: Path | None = None
    extra: dict[str, Any] = {}
    if args.broker is None:
        broker = EmbeddedBroker(host="127.0.0.1", port=args.broker_port)
        print(f"starting the embedded broker on {broker.bootstrap} ...", flush=True)
        broker.start()
        extra["broker"] = broker.url
        extra["recovery_consistency_check"] = False  # the embedded broker reports changelog ends short
        if args.data_dir is None:
            # The embedded broker keeps nothing: local table state must start empty too.
            scratch = Path(tempfile.mkdtemp(prefix="monitor-up-"))
            extra["data_dir"] = scratch
    try:
        demo = not args.no_demo
        if demo and settings_from(args, **extra).viewers is None:  # anyone reads; the demo's viewers act
            from monitor.devtools.demo import DEMO_VIEWERS

            extra["viewers"] = DEMO_VIEWERS
        if settings_from(args, **extra).cluster_token is None:  # one worker: its own credential seals extensions
            extra["cluster_token"] = secrets.token_urlsafe(32)
        settings = settings_from(args, **extra)
        pack = load_rules(settings)
        program = program_name(sys.argv[0], Path.cwd(), shutil.which("monitor"))
        today = utc_now().astimezone(pack.tz).date()
        return _run_worker(settings, pack, demo=demo, banner=_banner(settings, demo, program, today))
    finally:
        if broker is not None:
            broker.stop()
            print("embedded broker stopped", flush=True)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def cmd_worker(args: argparse.Namespace) -> int:
    """A production worker against an existing Kafka cluster."""
    settings = settings_from(args)
    return _run_worker(settings, load_rules(settings))


def register(commands: Any) -> None:
    """Add ``up`` and ``worker``."""
    up = commands.add_parser("up", help="embedded broker, worker, HTTP and demo data")
    up.add_argument("--broker", help="use this Kafka instead of starting the embedded broker")
    up.add_argument("--broker-port", type=int, default=9092, help="embedded broker port (default 9092)")
    up.add_argument("--no-demo", action="store_true", help="do not publish the demo data")
    add_worker_flags(up)
    up.set_defaults(func=cmd_up)

    worker = commands.add_parser("worker", help="run a worker against an existing Kafka cluster")
    worker.add_argument("--broker", help="kafka://host:9092 (or MONITOR_BROKER)")
    add_worker_flags(worker)
    worker.set_defaults(func=cmd_worker)
