"""What the HTTP sinks share: a session, POSTing JSON to a peer (errors become ``DeliveryError``), feed links."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from monitor.clock import Clock, utc_now
from monitor.delivery.queue import DeliveryError, DeliveryRejected
from monitor.notifications import Delivery, Notified, Outcome
from monitor.redact import redact_text

__all__ = ["DEFAULT_TIMEOUT", "HttpSink", "Recorder", "generator_url", "is_rejection", "post_json"]

#: Where a sink hands each delivery attempt worth recording (the worker publishes it to the deliveries topic).
Recorder = Callable[[Delivery], None]

#: How long one POST to a peer may take, connecting included; past it the batch is retried.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=10)
_RETRYABLE_4XX = frozenset({408, 429})  # request timeout, too many requests: the same body succeeds later


def generator_url(public_url: str, unit_id: str) -> str:
    """The link an alert carries back to the feed page, filtered to its unit.

    The unit id is one query value whatever it holds: every character but the
    unreserved ones is percent-encoded (``/`` and ``?`` too), as a form would.
    """
    return f"{public_url.rstrip('/')}/?{urlencode({'unit': unit_id}, quote_via=quote, safe='')}"


async def post_json(session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] | None = None) -> int:
    """POST ``body`` as JSON; the peer's status (2xx).

    Raises:
        DeliveryRejected: The peer answered 4xx (other than 408 or 429): it will never accept this body.
        DeliveryError: It answered anything else but 2xx, or could not be reached: worth retrying.
    """
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    try:
        async with session.post(
            url, data=data, headers={"Content-Type": "application/json", **(headers or {})}, timeout=DEFAULT_TIMEOUT
        ) as response:
            if response.status >= 300:
                text = " ".join((await response.text(errors="replace"))[:200].split())
                error = DeliveryRejected if is_rejection(response.status) else DeliveryError
                raise error(f"answered {response.status}: {redact_text(text)}", response.status)
            return response.status
    except aiohttp.ClientError as exc:  # its text may name the URL: redacted
        raise DeliveryError(redact_text(f"{type(exc).__name__}: {exc}")) from exc


def is_rejection(status: int) -> bool:
    """Whether an HTTP status refuses the request itself (4xx), as opposed to a peer busy or down (408, 429, 5xx)."""
    return 400 <= status < 500 and status not in _RETRYABLE_4XX


class HttpSink:
    """What the HTTP sinks share: one client session and a delivery queue per peer.

    Args:
        session: The session to send through (a test's, pointed at its own server); it stays the
            caller's to close. Without one, the sink opens its own at ``start`` and closes it at ``stop``.
    """

    queues: list[Any]

    def __init__(
        self, session: aiohttp.ClientSession | None = None, clock: Clock = utc_now, record: Recorder | None = None
    ) -> None:
        self._given = session
        self._session = session
        self._ledger_clock = clock
        self._record = record

    def record_attempt(
        self, told: Notified, sink: str, attempt: int, outcome: Outcome, status: int | None, answer: str
    ) -> None:
        """Hand one attempt at a transition's notification to the delivery ledger (if one is kept)."""
        if self._record is None:
            return
        self._record(
            Delivery(
                fingerprint=told.fingerprint,
                unit_id=told.unit_id,
                starts_at=datetime.fromisoformat(told.starts_at),
                status=told.status,  # type: ignore[arg-type]
                stage=told.stage,
                severity=told.severity,
                sink=sink,
                attempt=attempt,
                at=self._ledger_clock(),
                outcome=outcome,
                http_status=status,
                answer=answer,
            )
        )

    def client(self) -> aiohttp.ClientSession:
        """The session the sink sends through (its queues send only once it has started)."""
        if self._session is None:
            raise RuntimeError(f"{type(self).__name__} sends only between start() and stop()")
        return self._session

    def start(self) -> None:
        """Start delivering (on the running loop, which a session of its own is opened on)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        for queue in self.queues:
            queue.start()

    async def stop(self) -> None:
        """Stop delivering and close the session the sink opened (a session it was given stays open)."""
        for queue in self.queues:
            await queue.stop()
        if self._session is not None and self._session is not self._given:
            await self._session.close()
        self._session = self._given
