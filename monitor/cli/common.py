"""What every command shares: settings from flags, file arguments, instants, the worker flags."""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import re
import socket
from collections.abc import Sequence
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from monitor.exceptions import MonitorError
from monitor.kafka.client import client_options
from monitor.kafka.topics import Topics, ensure_topics
from monitor.publishers import load_trusted_keys
from monitor.publishers.signatures import SignKey, VerifyKey, load_private_key
from monitor.redact import MASK, redact_text
from monitor.settings import (
    DEFAULT_LOG_LEVEL,
    DEFAULT_PARTITIONS,
    DEFAULT_TICK_INTERVAL,
    DEFAULT_WEB_HOST,
    DEFAULT_WEB_PORT,
    LOG_LEVELS,
    Settings,
)
from monitor.state.compacted import DocumentFollower, E, read_entries
from rules.language import RulePack
from rules.loading import load_pack
from rules.review import BOUND_FORMS, Bound, parse_bound

__all__ = [
    "EXIT_CODES",
    "ExitCode",
    "add_signing_flags",
    "add_worker_flags",
    "applier",
    "check_port_free",
    "existing_files",
    "load_rules",
    "prepare_data_dir",
    "settings_from",
    "signing_key",
    "topic_documents",
    "trusted_keys",
    "window_bound",
]

log = logging.getLogger("monitor")

# Where a setting's value may be cut before redacting: a list's separator before an entry (kept as a part of
# its own), or the start of a URL.
_BEFORE_URL = re.compile(
    r"([,;]\s*)(?=(?:[A-Za-z0-9_.-]{1,64}=)?[A-Za-z][A-Za-z0-9+.-]*://)|(?=\b[A-Za-z][A-Za-z0-9+.-]*://)"
)


class ExitCode(IntEnum):
    """What a ``monitor`` command's exit status means (the same for every command)."""

    OK = 0
    FAILED = 1  # the work itself failed: a rule test failed, rows or records were refused
    USAGE = 2  # a usage or configuration mistake: a flag, a setting, a file
    BROKER = 3  # the Kafka cluster could not be reached (or was lost for good)


EXIT_CODES = """exit status:
  0  ok
  1  the work failed (a rule test failed, rows or records were refused)
  2  usage or configuration error (a flag, a MONITOR_* setting, a file)
  3  cannot reach the broker"""


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
        "log_level": getattr(args, "log_level", None) or ("debug" if getattr(args, "verbose", False) else None),
        **extra,
    }
    given = {k: v for k, v in flags.items() if v is not None}
    try:
        return Settings(**given)
    except SettingsError as exc:  # a value the environment gives that cannot be read at all (JSON expected)
        found = re.search(r'field "(\w+)"', str(exc))
        where = f"MONITOR_{found.group(1).upper()}" if found else "a MONITOR_* setting"
        raise MonitorError(f"{where}: cannot be read ({exc.__cause__ or exc})") from None
    except ValidationError as exc:  # an operator's mistake: say which setting and why, no traceback
        problems = []
        for error in exc.errors():
            if not error["loc"]:  # settings that do not fit together: the message names them
                problems.append(error["msg"])
                continue
            name = str(error["loc"][0])
            where = f"--{name.replace('_', '-')}" if name in given else f"MONITOR_{name.upper()}"
            problems.append(f"{where}={_shown(name, error.get('input'))}: {error['msg']}")
        raise MonitorError("; ".join(problems)) from None


def _shown(setting: str, value: object) -> str:
    """A setting's value as an error message may show it: no secret, no token or password in a URL.

    Each URL is redacted from its own start, so in a list (``URL,NAME=URL``) one URL's user
    info or query cannot pass for the path of the URL before it.
    """
    if any(word in setting for word in ("token", "password", "secret")):
        return MASK
    return "".join(redact_text(part) for part in _BEFORE_URL.split(str(value)) if part)


def existing_files(names: Sequence[str], *, directories: bool = False) -> list[Path]:
    """The named files (or, with ``directories``, files or directories); a usage error names those that do not exist."""
    paths = [Path(name) for name in names]
    missing = [str(p) for p in paths if not (p.exists() if directories else p.is_file())]
    if missing:
        raise MonitorError(f"no such {'file or directory' if directories else 'file'}: {', '.join(missing)}")
    return paths


def prepare_data_dir(path: Path) -> None:
    """Create the worker's state directory, or say in one line why it cannot be used."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise MonitorError(
            f"data directory {path} (--data-dir or MONITOR_DATA_DIR) is a file, not a directory"
        ) from None
    except NotADirectoryError:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), path)
        raise MonitorError(
            f"data directory {path} (--data-dir or MONITOR_DATA_DIR) cannot be created: {blocker} is a file"
        ) from None
    except OSError as exc:
        raise MonitorError(
            f"data directory {path} (--data-dir or MONITOR_DATA_DIR) cannot be created: {exc.strerror}"
        ) from None


def check_port_free(host: str, port: int) -> None:
    """Fail early, in one line, when the HTTP port is taken (the web server would fail after the group join)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise MonitorError(
                    f"HTTP port {host}:{port} is in use (--web-port or MONITOR_WEB_PORT): stop what holds it "
                    "or choose another port"
                ) from None
            raise MonitorError(f"cannot listen on {host}:{port} (--web-host/--web-port): {exc.strerror}") from None


def trusted_keys(settings: Settings) -> tuple[VerifyKey, ...] | None:
    """The keys records must be signed with (``MONITOR_TRUSTED_KEYS``), or ``None`` when any record counts."""
    return load_trusted_keys(settings.trusted_keys) if settings.trusted_keys is not None else None


def topic_documents(settings: Settings, topic: str, follower: type[DocumentFollower[E]]) -> list[E]:
    """Every record of a documents topic (the rules or publishers topic; created if missing), read to its end.

    With ``MONITOR_TRUSTED_KEYS`` a record no trusted key signed is an entry with the problem, as workers see it.
    """
    client = client_options(settings)
    trusted = trusted_keys(settings)

    async def read() -> list[E]:
        topics = Topics(settings.topic_prefix)
        await ensure_topics(settings.bootstrap_servers, topics, 1, settings.replication_factor, only=(topic,), **client)
        return await read_entries(follower(settings.bootstrap_servers, topic, client, trusted))

    return asyncio.run(read())


def add_signing_flags(command: argparse.ArgumentParser) -> None:
    """``--sign-key FILE`` and ``--key-id ID``: sign the record an ``apply`` publishes."""
    command.add_argument(
        "--sign-key",
        metavar="FILE",
        help="sign the record with this PEM private key (Ed25519 or ECDSA P-256): workers with MONITOR_TRUSTED_KEYS "
        "take only signed records",
    )
    command.add_argument(
        "--key-id", help="the key's id in the workers' trusted keys file (default: the key file's name, up to a dot)"
    )


def signing_key(args: argparse.Namespace, settings: Settings) -> SignKey | None:
    """The key ``--sign-key FILE`` names (its id: ``--key-id``, else the file's name without its suffix).

    Raises:
        MonitorError: the file cannot be used; or workers here take only signed records
            (``MONITOR_TRUSTED_KEYS``) and no key, or no key they trust, was given.
    """
    trusted = trusted_keys(settings)
    if args.sign_key is None:
        if trusted is not None:
            raise MonitorError(
                f"workers here take only records signed by a trusted key (MONITOR_TRUSTED_KEYS={settings.trusted_keys}):"
                " give --sign-key FILE; nothing published"
            )
        return None
    (path,) = existing_files([args.sign_key])
    keyid = args.key_id or path.name.split(".")[0]
    try:
        key = load_private_key(path.read_bytes(), keyid)
    except OSError as exc:
        raise MonitorError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise MonitorError(f"{path}: {exc}") from None
    if trusted is not None and not any(t.keyid == keyid and t.verifies(key.sign(b"check"), b"check") for t in trusted):
        raise MonitorError(
            f"key '{keyid}' ({path}) is not one of the trusted keys in {settings.trusted_keys}: workers would refuse "
            "the record; nothing published"
        )
    return key


def applier() -> str:
    """Who applies a pack or a registry when ``--by`` is not given: the login name and the host."""
    try:
        user = getpass.getuser()  # the login environment (LOGNAME, USER…), else the password database
    except (KeyError, OSError):  # a container's uid with no name
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def load_rules(settings: Settings) -> RulePack:
    """The rule pack the settings name."""
    pack = load_pack(settings.rules)
    log.info("loaded %d rules from %s", len(pack.rules), ", ".join(map(str, settings.rules)))
    return pack


def window_bound(text: str) -> Bound:
    """A ``--from``/``--until`` value (an argparse type): a date, or an ISO 8601 instant with its UTC offset.

    A date is resolved later, when the pack is known (``rules.review.bound_instant``: the midnight that
    begins it, in the pack's time zone), as the history API's ``from``/``to`` are. A time without an offset
    is refused: which zone it meant is a guess.

    Raises:
        argparse.ArgumentTypeError: one line saying what to write instead.
    """
    try:
        value = parse_bound(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {BOUND_FORMS}") from None
    if isinstance(value, datetime) and value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset; write e.g. {value.isoformat()}+07:00, or a date ({value.date()})"
        )
    return value


def add_worker_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of the commands that run a worker."""
    parser.add_argument("--rules", nargs="+", type=Path, help="rule files or directories (default: bundled pack)")
    parser.add_argument("--web-host", help=f"HTTP bind address (default {DEFAULT_WEB_HOST})")
    parser.add_argument("--web-port", type=int, help=f"HTTP port (default {DEFAULT_WEB_PORT})")
    parser.add_argument(
        "--partitions", type=int, help=f"partitions of topics the monitor creates (default {DEFAULT_PARTITIONS})"
    )
    parser.add_argument(
        "--tick-interval", type=float, help=f"seconds between wall-clock ticks (default {DEFAULT_TICK_INTERVAL:g})"
    )
    parser.add_argument("--data-dir", type=Path, help="local state directory")
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        help=f"level of faust's, mode's and aiokafka's log lines (default {DEFAULT_LOG_LEVEL}; info adds faust's "
        "start-up and recovery lines, debug everything); the monitor's own are written from info up",
    )
