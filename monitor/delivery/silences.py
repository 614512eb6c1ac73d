"""The monitor's silences told to Alertmanager, so the two agree: one Alertmanager silence per window.

Alertmanager's silences are single windows; a weekly silence of the monitor
is a window every week. Every ``interval`` seconds, and whenever a silence
is made or ended, the worker that forwards
(one at a time: the owner of the first partition) makes each Alertmanager
hold a silence for every window of the monitor's that is in force or begins
within a day, with the same matchers, the creator (``createdBy``) and the
reason (``comment``, tagged with the monitor's silence id and the window's
start), and expires the ones it made for a window no longer wanted (the
silence was ended early). Alertmanager then keeps the silenced alerts quiet
itself, while the monitor still sends them (they are firing).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from monitor.background import Background
from monitor.delivery.http import DEFAULT_TIMEOUT
from monitor.redact import redact_text
from monitor.silences import Silence
from monitor.targets import Target
from rules.language import WorkCalendar

__all__ = ["AlertmanagerSilences", "am_silence", "silence_tag"]

log = logging.getLogger(__name__)

#: How far ahead a window is told to Alertmanager before it begins.
AHEAD = timedelta(days=1)
_TAG = "[monitor-silence "


def silence_tag(silence: Silence, starts_at: datetime) -> str:
    """What names one window of a silence in the comment of Alertmanager's silence."""
    return f"{_TAG}{silence.id} {starts_at.isoformat()}]"


def am_silence(silence: Silence, window: tuple[datetime, datetime]) -> dict[str, Any]:
    """One window of a silence as Alertmanager's API v2 (``postableSilence``) wants it."""
    return {
        "matchers": [
            {"name": name, "value": value, "isRegex": False, "isEqual": True}
            for name, value in silence.matchers.as_label_pairs()
        ],
        "startsAt": window[0].isoformat(),
        "endsAt": window[1].isoformat(),
        "createdBy": silence.who,
        "comment": f"{silence.reason} {silence_tag(silence, window[0])}",
    }


def _endpoint(base_url: str, path: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + path))


class AlertmanagerSilences:
    """Keeps each Alertmanager's silences in line with the monitor's.

    Args:
        targets: The Alertmanagers.
        silences: Every silence of the monitor now.
        calendar: The time zone and holidays weekly windows are read in.
        clock: The wall clock.
        forwards: Whether this worker is the one that forwards now.
        interval: Seconds between two looks.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        silences: Callable[[], list[Silence]],
        calendar: Callable[[], WorkCalendar],
        clock: Callable[[], datetime],
        forwards: Callable[[], bool],
        interval: float = 30.0,
    ) -> None:
        self._targets = tuple(targets)
        self._silences = silences
        self._calendar = calendar
        self._clock = clock
        self._forwards = forwards
        self._interval = interval
        self._session: aiohttp.ClientSession | None = None
        self._loop = Background("alertmanager-silences", self._every_interval)
        self._poked = asyncio.Event()

    def poke(self) -> None:
        """Look now (a silence was made or ended): Alertmanager hears of it within a second, not an interval."""
        self._poked.set()

    def wanted(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Every window that should be an Alertmanager silence now, by its tag."""
        calendar = self._calendar()
        found: dict[str, dict[str, Any]] = {}
        for silence in self._silences():
            window = silence.next_window(now, calendar)
            if window is not None and window[0] <= now + AHEAD:
                found[silence_tag(silence, window[0])] = am_silence(silence, window)
        return found

    async def sync(self, base_url: str) -> tuple[int, int]:
        """Make one Alertmanager hold the windows wanted, and no other of the monitor's; (created, expired)."""
        assert self._session is not None
        async with self._session.get(_endpoint(base_url, "/api/v2/silences"), timeout=DEFAULT_TIMEOUT) as response:
            response.raise_for_status()
            held = await response.json()
        ours: dict[str, str] = {}  # tag → Alertmanager's silence id, for the ones not expired
        for am in held:
            comment = am.get("comment", "")
            if _TAG in comment and am.get("status", {}).get("state") != "expired":
                ours[comment[comment.index(_TAG) :]] = am["id"]
        wanted = self.wanted(self._clock())
        created = expired = 0
        for tag, body in wanted.items():
            if tag not in ours:
                async with self._session.post(
                    _endpoint(base_url, "/api/v2/silences"),
                    data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                    headers={"Content-Type": "application/json"},
                    timeout=DEFAULT_TIMEOUT,
                ) as response:
                    response.raise_for_status()
                created += 1
        for tag, am_id in ours.items():
            if tag not in wanted:
                async with self._session.delete(
                    _endpoint(base_url, f"/api/v2/silence/{am_id}"), timeout=DEFAULT_TIMEOUT
                ) as response:
                    response.raise_for_status()
                expired += 1
        return created, expired

    async def sync_all(self) -> None:
        """Bring every Alertmanager in line (if this worker forwards); a failure is logged, the next look retries."""
        if not self._forwards():
            return
        for target in self._targets:
            try:
                created, expired = await self.sync(target.url)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("%s: silences not brought in line: %s", target.sink, redact_text(str(exc)))
                continue
            if created or expired:
                log.info("%s: %d silence window(s) made, %d expired", target.sink, created, expired)

    async def _every_interval(self) -> None:
        while True:
            self._poked.clear()
            await self.sync_all()
            with contextlib.suppress(TimeoutError):  # the interval passed without a poke: look anyway
                async with asyncio.timeout(self._interval):
                    await self._poked.wait()

    def start(self) -> None:
        """Start looking (on the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._loop.start()

    async def stop(self) -> None:
        """Stop looking; close the session."""
        await self._loop.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None
