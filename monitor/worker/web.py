"""The worker's web server: faust's aiohttp driver, carrying only the monitor's routes, safe to face any client.

Three things aiohttp leaves open are closed here:

- **Slow clients.** A client has ``header_timeout`` seconds, from connecting
  or from its last answer, to send a complete request head; aiohttp's
  keep-alive timer, which it starts when the connection opens and which
  closes only a connection waiting for a request, enforces exactly that.
  A request in progress (the alert stream, an ingestion) is not cut.
- **Many clients.** At most ``max_connections`` connections are open at
  once; one more is answered ``503`` with ``Retry-After`` and closed, so a
  flood of idle connections cannot exhaust the worker's file descriptors.
  Stream processing runs on the same loop and is never held by either.
- **Headers.** Every answer, errors included, carries a
  ``Content-Security-Policy`` (``default-src 'self'``, no framing), ``nosniff``
  and ``X-Frame-Options: DENY``; no ``Server`` header names the software.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_runner import BaseSite
from faust.web.drivers.aiohttp import Web as AiohttpWeb

__all__ = ["SECURITY_HEADERS", "MonitorWeb", "WebLimits", "busy_answer"]

_log = logging.getLogger(__name__)

#: Sent with every answer (OWASP secure headers): the feed page loads its script and style from the
#: worker itself, and no other site may frame a page or make a browser guess a content type.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_RETRY_AFTER_SECONDS = 5
_BUSY_LOG_INTERVAL = 10.0  # seconds between warnings while connections are refused


@dataclass(frozen=True, slots=True)
class WebLimits:
    """What the web server allows a client (from ``Settings.web_header_timeout`` and ``web_max_connections``)."""

    header_timeout: float
    max_connections: int


def busy_answer(max_connections: int) -> bytes:
    """The whole HTTP answer to a connection over the cap: 503, when to retry, and the security headers."""
    body = f"the worker has {max_connections} connections open, its limit; retry in {_RETRY_AFTER_SECONDS} s\n"
    headers = {
        **SECURITY_HEADERS,
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": str(len(body.encode())),
        "Retry-After": str(_RETRY_AFTER_SECONDS),
        "Connection": "close",
    }
    head = "HTTP/1.1 503 Service Unavailable\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n" + body).encode()


class _Busy(asyncio.Protocol):
    """A connection over the cap: answered 503 at once and closed, its request never read."""

    def __init__(self, answer: bytes) -> None:
        self._answer = answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(self._answer)
        transport.close()


class _CountedHandler(RequestHandler):
    """aiohttp's connection handler, which leaves the set of open connections when its connection closes."""

    def __init__(self, open_handlers: weakref.WeakSet[_CountedHandler], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open_handlers = open_handlers
        open_handlers.add(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._open_handlers.discard(self)
        super().connection_lost(exc)


class _CappedSite(web.TCPSite):
    """A TCP site that admits at most ``limits.max_connections`` connections at once.

    A handler counts from the moment it is created (not when its connection is made, which comes a
    loop iteration later: a burst of accepts would otherwise all pass the check); one whose
    connection never opened is dropped from the count when it is garbage.
    """

    def __init__(self, runner: web.AppRunner, host: str, port: int, limits: WebLimits, **kwargs: Any) -> None:
        super().__init__(runner, host, port, **kwargs)
        self._limits = limits
        self._handler_args: dict[str, Any] = {"keepalive_timeout": limits.header_timeout, "access_log": None}
        self._open: weakref.WeakSet[_CountedHandler] = weakref.WeakSet()
        self._busy = busy_answer(limits.max_connections)
        self._last_warned = float("-inf")

    def _admit(self) -> asyncio.BaseProtocol:
        loop = asyncio.get_running_loop()
        if len(self._open) >= self._limits.max_connections:
            if loop.time() - self._last_warned >= _BUSY_LOG_INTERVAL:
                self._last_warned = loop.time()
                _log.warning(
                    "web server has %d connections open, its limit (MONITOR_WEB_MAX_CONNECTIONS): refusing more",
                    self._limits.max_connections,
                )
            return _Busy(self._busy)
        server = self._runner.server
        assert server is not None
        return _CountedHandler(self._open, server, loop=loop, **self._handler_args)

    async def start(self) -> None:
        await BaseSite.start(self)  # registers the site with its runner
        self._server = await asyncio.get_running_loop().create_server(
            self._admit,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer gets the security headers (one that set its own policy keeps it) and loses ``Server``."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.popall("Server", None)


class MonitorWeb(AiohttpWeb):
    """faust's aiohttp web driver without faust's own pages, with the limits and headers above."""

    default_blueprints: ClassVar[list[Any]] = []
    production_blueprints: ClassVar[list[Any]] = []
    debug_blueprints: ClassVar[list[Any]] = []

    def __init__(self, app: Any, limits: WebLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits
        self._runner = web.AppRunner(self.web_app, access_log=None, keepalive_timeout=limits.header_timeout)
        self.web_app.on_response_prepare.append(_secure)

    def _new_transport_tcp(self) -> BaseSite:
        conf = self.app.conf
        return _CappedSite(self._runner, conf.web_bind, conf.web_port, self.limits, ssl_context=conf.web_ssl_context)
