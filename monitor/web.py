"""HTTP on the worker's web port: the feed page, the API, metrics and health.

With several workers, each answers for the units of the partitions it owns
and says so in ``scope``; a unit owned by another worker gets a 404 that
names its partition.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web as aio
from faust import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.api import alert_view, filter_alerts, overdue_csv, overdue_items, rules_view, unit_summary
from monitor.ingest import authorize, plan_records
from monitor.records import partition_for
from monitor.ticks import utc_now

if TYPE_CHECKING:
    from monitor.app import Monitor

__all__ = ["install_routes"]

_KEEPALIVE_SECONDS = 15.0
_STATES = ("firing", "resolved", "all")


_PAGE = Path(__file__).parent / "static" / "feed.html"


def install_routes(monitor: Monitor) -> None:
    """Add the monitor's pages to its faust web server."""
    app = monitor.app
    page = _PAGE.read_bytes()

    def scope() -> dict[str, Any]:
        return {
            "worker": monitor.settings.base_url,
            "partitions": sorted(monitor.owned_partitions()),
            "partitions_total": monitor.settings.partitions,
            "answers_for": "units in the partitions this worker owns",
        }

    def query(request: web.Request, name: str) -> str | None:
        value = request.query.get(name)
        return value or None

    @app.page("/")
    async def feed_page(self: web.View, request: web.Request) -> web.Response:
        return self.bytes(page, headers={"Content-Type": "text/html; charset=utf-8"})

    @app.page("/api/v1/alerts")
    async def alerts(self: web.View, request: web.Request) -> web.Response:
        state = query(request, "state") or "firing"
        if state not in _STATES:
            return _json(self, {"error": f"state must be one of {', '.join(_STATES)}"}, status=400)
        names = monitor.pack.unit_names
        found: list[dict[str, Any]] = []
        if state in ("firing", "all"):
            found += [alert_view(a, names) for a in monitor.firing_alerts()]
        if state in ("resolved", "all"):
            found += [
                _transition_view(t.model_dump(mode="json"), names)
                for t in monitor.feed.recent()
                if t.status == "resolved"
            ]
        chosen = filter_alerts(
            found,
            unit_id=query(request, "unit_id"),
            rule_id=query(request, "rule_id"),
            severity=query(request, "severity"),
        )
        return _json(self, {"scope": scope(), "count": len(chosen), "alerts": chosen})

    @app.page("/api/v1/alerts/stream")
    async def stream(self: web.View, request: web.Request) -> Any:
        response = aio.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)  # type: ignore[arg-type]
        queue = monitor.feed.subscribe()
        names = monitor.pack.unit_names
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
                body = json.dumps(_transition_view(item.model_dump(mode="json"), names), ensure_ascii=False)
                await response.write(f"event: transition\ndata: {body}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            monitor.feed.unsubscribe(queue)
        return response

    @app.page("/api/v1/units")
    async def units(self: web.View, request: web.Request) -> web.Response:
        summaries = [unit_summary(monitor.pack, s) for s in monitor.owned_states()]
        return _json(self, {"scope": scope(), "units": sorted(summaries, key=lambda u: str(u["unit_id"]))})

    @app.page("/api/v1/units/{unit_id}/overdue")
    async def overdue(self: web.View, request: web.Request, unit_id: str) -> web.Response:
        partitions = monitor.settings.partitions
        home = partition_for(unit_id.encode("utf-8"), partitions)
        if home not in monitor.owned_partitions():
            message = f"unit {unit_id} is in partition {home}, which this worker does not own; ask the worker that does"
            return _json(self, {"error": message, "scope": scope()}, status=404)
        state = monitor.unit_state(unit_id)
        if state is None and unit_id not in monitor.pack.unit_names:
            return _json(self, {"error": f"no unit {unit_id}: it has sent no event and is on no roster"}, status=404)
        items = overdue_items(monitor.pack, state, utc_now()) if state is not None else []
        if query(request, "format") == "csv":
            return self.bytes(
                overdue_csv(items),
                headers={
                    "Content-Type": "text/csv; charset=utf-8",
                    "Content-Disposition": f'attachment; filename="overdue-{unit_id}.csv"',
                },
            )
        return _json(
            self,
            {"unit_id": unit_id, "unit_name": monitor.pack.unit_name(unit_id), "count": len(items), "overdue": items},
        )

    @app.page("/api/v1/events")
    class Events(web.View):
        async def post(self, request: web.Request) -> web.Response:
            settings = monitor.settings
            token = settings.ingest_token.get_secret_value() if settings.ingest_token else None
            refused = authorize(token, request.headers.get("Authorization"))
            if refused is not None:
                headers = {"WWW-Authenticate": "Bearer"} if refused.status == 401 else None
                return _json(self, refused.body, status=refused.status, headers=headers)
            limit = settings.ingest_max_bytes
            declared = request.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                return _json(self, {"error": f"body of {declared} bytes is over the limit of {limit}"}, status=413)
            body = await request.content.read(limit + 1)  # type: ignore[attr-defined]
            if len(body) > limit:
                return _json(self, {"error": f"body is over the limit of {limit} bytes"}, status=413)
            answer = plan_records(body, request.headers, monitor.topics, limit)
            if answer.status == 202:
                await monitor.publish_acked(answer.records)
            return _json(self, answer.body, status=answer.status)

    @app.page("/api/v1/rules")
    async def rules(self: web.View, request: web.Request) -> web.Response:
        return _json(self, {"version": monitor.pack.version, "rules": rules_view(monitor.pack)})

    @app.page("/metrics")
    async def metrics(self: web.View, request: web.Request) -> web.Response:
        body = generate_latest(monitor.registry)
        return self.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(self: web.View, request: web.Request) -> web.Response:
        return _json(self, {"status": "ok"})

    @app.page("/readyz")
    async def readyz(self: web.View, request: web.Request) -> web.Response:
        ready = monitor.is_ready()
        body: dict[str, Any] = {
            "status": "ready" if ready else "starting",
            "partitions": sorted(monitor.owned_partitions()),
        }
        return _json(self, body, status=200 if ready else 503)


def _json(view: web.View, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with Vietnamese text as UTF-8 rather than escaped."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return view.bytes(
        data, status=status, headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    )


def _transition_view(record: dict[str, Any], names: dict[str, str] | Any) -> dict[str, Any]:
    unit = record.get("labels", {}).get("unit_id", "")
    return {
        **record,
        "unit_id": unit,
        "unit_name": names.get(unit, unit),
        "summary": record.get("annotations", {}).get("summary", ""),
    }
