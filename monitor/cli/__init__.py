"""The ``monitor`` command: one module per command group, wired here."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence

from monitor.cli import alerts, generate, publish, publishers, replay, report, rules, run
from monitor.cli.common import EXIT_CODES, ExitCode
from monitor.cli.parser import CommandParser
from monitor.cli.terminal import SafeLogRecord
from monitor.exceptions import BrokerUnreachable, MonitorError
from monitor.version import VERSION
from rules.exceptions import RuleFileError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar (every command's parser a ``CommandParser``: a mistake is one line)."""
    parser = CommandParser(
        prog="monitor",
        description="Event-driven compliance monitor (Project 06).",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"monitor {VERSION}")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (run, rules, publishers, publish, replay, report, alerts, generate):
        group.register(commands)
    version = commands.add_parser("version", help="print the version and exit")
    version.set_defaults(func=_print_version)
    return parser


def _print_version(args: argparse.Namespace) -> int:
    print(f"monitor {VERSION}")
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``monitor`` console script."""
    args = build_parser().parse_args(argv)
    logging.setLogRecordFactory(SafeLogRecord)  # event text in a log line cannot forge lines or drive the terminal
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
        return ExitCode.USAGE
    except BrokerUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BROKER
    except MonitorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left (| head): stop quietly, as a program killed by SIGPIPE would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing flushed at exit can fail again
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    raise SystemExit(main())
