"""HTTP on the worker's web port: metrics and health."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from monitor.app import Monitor

__all__ = ["install_routes"]


def install_routes(monitor: Monitor) -> None:
    """Add the monitor's pages to its faust web server."""
    app = monitor.app

    @app.page("/metrics")
    async def metrics(self: web.View, request: web.Request) -> web.Response:
        body = generate_latest(monitor.registry)
        return self.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(self: web.View, request: web.Request) -> web.Response:
        return self.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(self: web.View, request: web.Request) -> web.Response:
        ready = monitor.is_ready()
        body: dict[str, Any] = {
            "status": "ready" if ready else "starting",
            "partitions": sorted(monitor.owned_partitions()),
        }
        return self.json(body, status=200 if ready else 503)
