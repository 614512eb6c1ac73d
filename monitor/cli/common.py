"""What every command shares: settings from flags, file arguments, instants, the worker flags."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.exceptions import MonitorError
from monitor.settings import Settings
from rules.loader import load_pack
from rules.pack import RulePack

__all__ = ["add_worker_flags", "existing_files", "instant", "load_rules", "settings_from"]

log = logging.getLogger("monitor")


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    """The one settings object: ``MONITOR_*`` environment, overridden by the flags given."""
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
    given = {k: v for k, v in flags.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:  # an operator's mistake: say which setting and why, no traceback
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            where = f"--{name.replace('_', '-')}" if name in given else f"MONITOR_{name.upper()}"
            problems.append(f"{where}={error.get('input')!s}: {error['msg']}")
        raise MonitorError("; ".join(problems)) from None


def existing_files(names: Sequence[str]) -> list[Path]:
    """The named files, or a clear error naming those that do not exist."""
    paths = [Path(name) for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise MonitorError(f"no such file: {', '.join(missing)}")
    return paths


def load_rules(settings: Settings) -> RulePack:
    """The rule pack the settings name."""
    pack = load_pack(settings.rules)
    log.info("loaded %d rules from %s", len(pack.rules), ", ".join(map(str, settings.rules)))
    return pack


def instant(text: str) -> datetime:
    """An ISO 8601 instant with its UTC offset (an argparse type)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset; write e.g. 2024-07-20T00:00:00+07:00")
    return value


def add_worker_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of the commands that run a worker."""
    parser.add_argument("--rules", nargs="+", type=Path, help="rule files or directories (default: bundled pack)")
    parser.add_argument("--web-host", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--web-port", type=int, help="HTTP port (default 6066)")
    parser.add_argument("--partitions", type=int, help="partitions of topics the monitor creates (default 4)")
    parser.add_argument("--tick-interval", type=float, help="seconds between wall-clock ticks (default 5)")
    parser.add_argument("--data-dir", type=Path, help="local state directory")
