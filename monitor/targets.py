"""Where alerts are delivered: each peer's URL, and the short name it goes by in metrics and log lines.

A peer's URL may carry a secret (a token in its query, a user in its
authority), so it is used for sending only; the ``sink`` label of every
delivery metric and every log line name the peer by a stable short name: the
one configured (``NAME=URL``) or else its host (``host:port`` when two peers
share a host, numbered when they share that too).

The settings read their target lists here (``MONITOR_ALERTMANAGER_URL``,
``MONITOR_WEBHOOK_URL``), so a bad entry is refused when the settings are
built, before anything starts; the delivery sinks take the targets as built.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.exceptions import MonitorError
from monitor.redact import redact_url

__all__ = ["Target", "TargetError", "parse_targets", "split_entries"]

_NAMED = re.compile(r"^(?P<name>[A-Za-z0-9_.-]{1,64})=(?P<url>[A-Za-z][A-Za-z0-9+.-]*://.*)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_FORMS = "write http(s)://host[:port][/path] or NAME=URL"


@dataclass(frozen=True, slots=True)
class Target:
    """One peer: its name (safe to show) and its URL (may hold a secret: for sending only)."""

    kind: str
    name: str
    url: str

    @property
    def sink(self) -> str:
        """The ``sink`` label of its metrics and the prefix of its log lines, e.g. ``alertmanager/am-1``."""
        return f"{self.kind}/{self.name}"

    def __repr__(self) -> str:  # a Target in a log line or a traceback shows no secret
        return f"Target({self.sink!r}, {redact_url(self.url)!r})"


class TargetError(MonitorError):
    """A setting's list of targets cannot be used: which setting, which entry (its URL redacted), and why.

    Attributes:
        setting: The setting's name (``MONITOR_WEBHOOK_URL``).
        detail: What is wrong without the setting's name, for a line that names it already.
    """

    def __init__(self, setting: str, problem: str, entry: str = "") -> None:
        self.setting = setting
        self.detail = f"{entry}: {problem}" if entry else problem
        super().__init__(f"{setting} {self.detail}" if entry else f"{setting}: {problem}")


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str | None
    url: str
    host: str
    port: int


def _entry(setting: str, position: int, text: str) -> _Entry:
    named = _NAMED.match(text)
    name, url = (named["name"], named["url"]) if named else (None, text)
    where = f"entry {position} ({redact_url(url)})"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetError(setting, f"not a URL ({exc}); {_FORMS}", where) from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise TargetError(setting, f"not an http(s) URL with a host; {_FORMS}", where)
    return _Entry(name, url, parts.hostname, port or _DEFAULT_PORTS[parts.scheme])


def _default_names(entries: Sequence[_Entry]) -> list[str]:
    """Host alone where it is unique; ``host:port`` where hosts repeat; numbered where that repeats too."""
    hosts = Counter(e.host for e in entries)
    bases = [e.host if hosts[e.host] == 1 else f"{e.host}:{e.port}" for e in entries]
    repeats = Counter(bases)
    seen: Counter[str] = Counter()
    names = []
    for base in bases:
        seen[base] += 1
        names.append(base if repeats[base] == 1 else f"{base}-{seen[base]}")
    return names


def split_entries(text: str) -> list[str]:
    """A target setting's entries as written in the environment: separated by commas (or semicolons)."""
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def parse_targets(kind: str, setting: str, values: Sequence[str]) -> list[Target]:
    """The peers one setting lists, each ``URL`` or ``NAME=URL``.

    Args:
        kind: What the peers are (``alertmanager``, ``webhook``): the first part of their sink label.
        setting: The setting's name, for errors (``MONITOR_WEBHOOK_URL``).
        values: The setting's entries.

    Returns:
        One target per entry, in order, with unique names.

    Raises:
        TargetError: An entry is not an http(s) URL, or two entries are given the same name
            (the message shows no secret of the URL).
    """
    entries = [_entry(setting, n, value) for n, value in enumerate(values, start=1)]
    defaults = _default_names(entries)
    names = [e.name or default for e, default in zip(entries, defaults, strict=True)]
    for name, count in Counter(names).items():
        if count > 1:
            raise TargetError(setting, f"{count} entries are named {name!r}; give each a different name with NAME=URL")
    return [Target(kind, name, e.url) for e, name in zip(entries, names, strict=True)]
