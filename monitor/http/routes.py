"""The monitor's routes, declared on a faust blueprint and registered on a worker's app from outside.

Views reach the worker through ``self.app`` (as faust's own web apps do):
``register_routes`` attaches the worker's read-only view to the app. Every
answer but the live stream is a function of ``monitor.http.views``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web as aio
from faust import web

from monitor.http import views
from monitor.http.protocol import WorkerView
from monitor.http.views import Answer, alert_view

__all__ = ["blueprint", "register_routes"]

_KEEPALIVE_SECONDS = 15.0
_WORKER = "compliance_worker"  # the app attribute the views read the worker from

blueprint = web.Blueprint("monitor")


def register_routes(app: Any, worker: WorkerView) -> None:
    """Serve the monitor's pages on ``app``'s web server, answering from ``worker``."""
    setattr(app, _WORKER, worker)
    blueprint.register(app)


def _worker(view: web.View) -> WorkerView:
    worker: WorkerView = getattr(view.app, _WORKER)
    return worker


def _send(view: web.View, answer: Answer) -> web.Response:
    headers = {"Content-Type": answer.content_type, **answer.headers}
    return view.bytes(answer.body, status=answer.status, headers=headers)


@blueprint.route("/", name="feed")
class FeedPage(web.View):
    """The live alert feed page."""

    async def get(self, request: web.Request) -> web.Response:
        return _send(self, views.feed_page())


@blueprint.route("/static/{name}", name="asset")
class Asset(web.View):
    """The feed page's script and style sheet."""

    async def get(self, request: web.Request, name: str) -> web.Response:
        return _send(self, views.asset(name))


@blueprint.route("/api/v1/alerts", name="alerts")
class Alerts(web.View):
    """Alerts, filtered."""

    async def get(self, request: web.Request) -> web.Response:
        return _send(self, views.alerts(_worker(self), request.query))


@blueprint.route("/api/v1/alerts/stream", name="alerts-stream")
class AlertStream(web.View):
    """Server-sent events: every transition as it is written."""

    async def get(self, request: web.Request) -> Any:
        response = aio.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)  # type: ignore[arg-type]
        worker = _worker(self)
        queue = worker.feed.subscribe()
        names = worker.pack.unit_names
        try:
            await response.write(b"event: hello\ndata: {}\n\n")
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=_KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if item is None:
                    await response.write(b"event: reload\ndata: {}\n\n")
                    break
                body = json.dumps(alert_view(item, names), ensure_ascii=False)
                await response.write(f"event: transition\ndata: {body}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            worker.feed.unsubscribe(queue)
        return response


@blueprint.route("/api/v1/units", name="units")
class Units(web.View):
    """A summary per owned unit."""

    async def get(self, request: web.Request) -> web.Response:
        return _send(self, views.units(_worker(self), request.query))


@blueprint.route("/api/v1/units/{unit_id}/overdue", name="overdue")
class Overdue(web.View):
    """One unit's overdue list."""

    async def get(self, request: web.Request, unit_id: str) -> web.Response:
        return _send(self, views.overdue(_worker(self), unit_id, request.query))


@blueprint.route("/api/v1/events", name="events")
class Events(web.View):
    """HTTP ingestion."""

    async def post(self, request: web.Request) -> web.Response:
        answer = await views.ingest(_worker(self), request.headers, request.content.read)  # type: ignore[attr-defined]
        return _send(self, answer)


@blueprint.route("/api/v1/rules", name="rules")
class Rules(web.View):
    """The loaded rules."""

    async def get(self, request: web.Request) -> web.Response:
        return _send(self, views.rules(_worker(self)))


@blueprint.route("/metrics", name="metrics")
class Metrics(web.View):
    """Prometheus metrics."""

    async def get(self, request: web.Request) -> web.Response:
        return _send(self, views.metrics(_worker(self)))


@blueprint.route("/healthz", name="healthz")
class Healthz(web.View):
    """Liveness."""

    async def get(self, request: web.Request) -> web.Response:
        return _send(self, views.healthz())


@blueprint.route("/readyz", name="readyz")
class Readyz(web.View):
    """Readiness."""

    async def get(self, request: web.Request) -> web.Response:
        return _send(self, views.readyz(_worker(self)))
