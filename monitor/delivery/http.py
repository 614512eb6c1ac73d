"""What the HTTP sinks share: POSTing JSON to a peer (errors become ``DeliveryError``), links back to the feed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp

from monitor.delivery.queue import DeliveryError

__all__ = ["HttpSink", "generator_url", "post_json"]

_TIMEOUT = aiohttp.ClientTimeout(total=10)


def generator_url(public_url: str, unit_id: str) -> str:
    """The link an alert carries back to the feed page, filtered to its unit."""
    return f"{public_url.rstrip('/')}/?unit={quote(unit_id)}"


async def post_json(session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str] | None = None) -> None:
    """POST ``body`` as JSON; raise ``DeliveryError`` unless the peer answers 2xx."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    try:
        async with session.post(
            url, data=data, headers={"Content-Type": "application/json", **(headers or {})}, timeout=_TIMEOUT
        ) as response:
            if response.status >= 300:
                text = (await response.text())[:200]
                raise DeliveryError(f"{url} answered {response.status}: {text}")
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"{url}: {exc}") from exc


class HttpSink:
    """What the HTTP sinks share: one client session and a delivery queue per peer."""

    queues: list[Any]

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def client(self) -> aiohttp.ClientSession:
        """The sink's session, opened on first use (inside the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def start(self) -> None:
        """Start delivering."""
        for queue in self.queues:
            queue.start()

    async def stop(self) -> None:
        """Stop delivering and close connections."""
        for queue in self.queues:
            await queue.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None
