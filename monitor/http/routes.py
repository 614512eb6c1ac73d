"""The monitor's routes, declared on a faust blueprint and registered on a worker's app from outside.

Views reach the worker through ``self.app`` (as faust's own web apps do):
``register_routes`` attaches the worker's read-only view to the app. Every
answer but the live stream is a function of ``monitor.http.views``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web as aio
from faust import web

from monitor.http import (
    actions,
    communes,
    console,
    extensions,
    history,
    publishers,
    reports,
    silences,
    viewers,
    views,
)
from monitor.http.answers import Answer, json_answer, unavailable
from monitor.http.cluster import (
    ANSWERED_BY,
    CLUSTER_CREDENTIAL,
    FORWARDED,
    Ask,
    PeerAnswer,
    PeerClient,
    Unavailable,
    peer_refusal,
    plan_gather,
    route,
)
from monitor.http.protocol import WorkerView
from monitor.http.stream import StreamTexts, next_text
from monitor.viewers import Scope
from rules.review import UnitScorecard

__all__ = ["blueprint", "register_routes"]

_WORKER = "compliance_worker"  # the app attribute the views read the worker from
_PEERS = "compliance_peers"  # … and the client that asks the other workers
_STREAMS = "compliance_streams"  # … and the queues of the event streams open now
_TEXTS = "compliance_stream_texts"  # … and the texts of the items they send, made once for all

blueprint = web.Blueprint("monitor")
T = TypeVar("T")


def register_routes(app: Any, worker: WorkerView) -> None:
    """Serve the monitor's pages on ``app``'s web server, answering from ``worker`` (and the workers it asks)."""
    setattr(app, _WORKER, worker)
    settings = worker.settings
    peers = PeerClient(credential=settings.cluster_token.get_secret_value() if settings.cluster_token else None)
    setattr(app, _PEERS, peers)
    streams: set[asyncio.Queue[Any]] = set()
    setattr(app, _STREAMS, streams)
    setattr(app, _TEXTS, StreamTexts())

    async def close_peers(*args: Any, **kwargs: Any) -> None:
        # Open event streams end now (a client that left is otherwise noticed at the next keepalive only,
        # and the web server would wait for it past the worker's time to stop).
        for queue in list(streams):
            queue.put_nowait(None)
        await peers.close()

    app.on_before_shutdown.connect(close_peers)
    blueprint.register(app)


def _worker(view: web.View) -> WorkerView:
    worker: WorkerView = getattr(view.app, _WORKER)
    return worker


def _peers(view: web.View) -> PeerClient:
    peers: PeerClient = getattr(view.app, _PEERS)
    return peers


def _peer_only(view: web.View, request: web.Request) -> web.Response | None:
    """The 401 for a request to ``/api/v1/internal/*`` without the cluster credential (when one is configured)."""
    settings = _worker(view).settings
    token = settings.cluster_token
    refused = peer_refusal(
        token.get_secret_value() if token else None,
        request.headers.get(CLUSTER_CREDENTIAL),
        closed=settings.viewers is not None,
    )
    if refused is None:
        return None
    return _send(view, json_answer({"error": refused}, status=401))


def _reader(view: web.View, request: web.Request) -> Scope | web.Response:
    """The units the viewer asking may see (every unit without a viewers file), or the 401 or 403 that refuses it."""
    scope = viewers.who_reads(_worker(view), request.headers)
    return _send(view, scope) if isinstance(scope, Answer) else scope


async def _posted(view: web.View, request: web.Request, limit: int) -> tuple[Scope, bytes] | web.Response:
    """Who posts a viewer's JSON body (an action, a silence, an extension) and the body read up to ``limit`` + 1 bytes.

    Or the refusal: the 401 or 403 of ``_reader``, the 415 of a body not sent as JSON.
    """
    scope = _reader(view, request)
    if not isinstance(scope, Scope):
        return scope
    if (refused := actions.content_refusal(request.headers.get("Content-Type"))) is not None:
        return _send(view, refused)
    body: bytes = await request.content.read(limit + 1)  # type: ignore[attr-defined]
    return scope, body


def _send(view: web.View, answer: Answer | PeerAnswer, answered_by: str | None = None) -> web.Response:
    headers = {"Content-Type": answer.content_type, **answer.headers}
    if answered_by is not None:
        headers[ANSWERED_BY] = answered_by
    return view.bytes(answer.body, status=answer.status, headers=headers)


async def _unit_answer(view: web.View, request: web.Request, unit_id: str, local: Any) -> web.Response:
    """The answer about one unit from the worker that holds it (here, or asked over HTTP), to a viewer who may see it."""
    worker = _worker(view)
    scope = _reader(view, request)
    if not isinstance(scope, Scope):
        return scope
    problem = views.unit_problem(unit_id) or viewers.unit_refusal(scope, unit_id)
    if problem is not None:
        return _send(view, problem)
    partition = views.unit_partition(worker, unit_id)
    me = worker.settings.peer_url
    forwarded = FORWARDED in request.headers
    where = route(partition, worker.partition_owners(), me, answers=worker.answers_for(partition), forwarded=forwarded)
    if isinstance(where, Unavailable):
        return _send(view, unavailable(where.reason))
    if isinstance(where, Ask):
        credentials = viewers.forward_headers(worker, request.headers)  # it checks the viewer too
        asked = await _peers(view).get(where.url, request.path_qs, credentials)  # type: ignore[attr-defined]
        if isinstance(asked, Unavailable):
            return _send(view, unavailable(asked.reason))
        return _send(view, asked, answered_by=where.url)
    return _send(view, local(worker), answered_by=me)


async def _gather(
    view: web.View,
    local: Callable[[set[int]], T | Answer | Awaitable[T | Answer]],
    ask: Callable[[str], str],
    read: Callable[[bytes], T | Awaitable[T]],
    timeout: float | None = None,
) -> list[T] | Answer:
    """One part per worker, for every partition: this worker's own, the others' asked of them meanwhile.

    Args:
        view: The request being answered.
        local: This worker's part for its partitions (or an answer that says why not), made at once or awaited.
        ask: The path and query that ask another worker for its part of the partitions given (comma-separated).
        read: Another worker's part from its answer's body, made at once or awaited.
        timeout: Seconds another worker has for its part (``None``: the peer client's, for a quick answer).
    """
    worker = _worker(view)
    me = worker.settings.peer_url
    plan = plan_gather(worker.partition_owners(), worker.settings.partitions, me)
    if isinstance(plan, Unavailable):
        return unavailable(plan.reason)
    unready = [p for p in plan.local if not worker.answers_for(p)]
    if unready:
        return unavailable(f"this worker is reading the units of partition(s) {unready}")
    peers = _peers(view)
    asking = asyncio.gather(
        *(peers.get(url, ask(",".join(map(str, p))), timeout=timeout) for url, p in plan.remote.items())
    )
    made = local(set(plan.local))
    try:
        mine = await made if inspect.isawaitable(made) else made
    except BaseException:
        asking.cancel()
        raise
    if isinstance(mine, Answer):
        asking.cancel()
        return mine
    parts = [mine]
    asked = await asking
    for url, answer in zip(plan.remote, asked, strict=True):
        if isinstance(answer, Unavailable):
            return unavailable(answer.reason)
        if answer.status != 200:
            return unavailable(f"the worker at {url} cannot answer for its units now")
        part = read(answer.body)
        parts.append(await part if inspect.isawaitable(part) else part)
    return parts


async def _gather_units(view: web.View, communes: bool = False) -> list[dict[str, Any]] | Answer:
    """Every unit's summary (or, with ``communes``, every commune's standing), from every worker."""
    worker = _worker(view)
    local = views.commune_standings if communes else views.unit_summaries
    parts = await _gather(
        view,
        lambda partitions: local(worker, partitions),
        lambda partitions: f"/api/v1/internal/units?partitions={partitions}" + ("&communes=1" if communes else ""),
        lambda body: list(json.loads(body)["units"]),
    )
    return parts if isinstance(parts, Answer) else [summary for part in parts for summary in part]


@blueprint.route("/reports", name="reports")
class ReportsView(web.View):
    """The review report of a period: every unit's scorecard, ranked (HTML, CSV or JSON)."""

    async def get(self, request: web.Request) -> web.Response:
        worker = _worker(self)
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        now = worker.now()
        today = now.astimezone(worker.pack.tz).date()
        units = request.query.getall("unit", [])  # type: ignore[attr-defined]
        asked = reports.parse_report_query(request.query, units, today, worker.pack)
        if isinstance(asked, Answer):
            return _send(self, asked)
        for unit_id in asked.units:
            if (refused := viewers.unit_refusal(scope, unit_id)) is not None:
                return _send(self, refused)
        period = asked.period
        communes_of = asked.communes_of
        shown = reports.SHOWN[asked.format]  # a worker of an earlier version ignores it: every deadline
        query = urlencode(
            {"period": period.text, "now": now.isoformat()}
            | ({"communes_of": communes_of} if communes_of else {})
            | ({"shown": shown} if shown is not None else {})
        )
        parts: list[list[UnitScorecard]] | Answer = await _gather(
            self,
            lambda partitions: reports.local_scorecards(worker, partitions, period, now, communes_of, shown),
            lambda partitions: f"/api/v1/internal/scorecards?partitions={partitions}&lines=1&{query}",
            lambda body: reports.decode_scorecards(body, worker.yield_to_records),
            timeout=reports.SCORECARDS_SECONDS,
        )
        if isinstance(parts, Answer):
            return _send(self, parts)
        cards = [card for part in parts for card in part if scope.admits(card.unit_id)]
        return _send(self, await reports.report_answer(worker, asked, cards, now))


@blueprint.route("/api/v1/internal/scorecards", name="internal-scorecards")
class LocalScorecardsView(web.View):
    """The scorecards of the units of some partitions of this worker (asked by a worker making a report)."""

    async def get(self, request: web.Request) -> web.Response:
        if (refused := _peer_only(self, request)) is not None:
            return refused
        worker = _worker(self)
        answer = await reports.scorecards_answer(worker, request.query)
        return _send(self, answer, answered_by=worker.settings.peer_url)


@blueprint.route("/", name="feed")
class FeedPageView(web.View):
    """The live alert feed page."""

    async def get(self, request: web.Request) -> web.Response:
        return _send(self, views.feed_page())


@blueprint.route("/static/{name}", name="asset")
class AssetView(web.View):
    """The feed page's script and style sheet."""

    async def get(self, request: web.Request, name: str) -> web.Response:
        return _send(self, views.asset(name))


@blueprint.route("/api/v1/alerts", name="alerts")
class AlertsView(web.View):
    """Alerts, filtered."""

    async def get(self, request: web.Request) -> web.Response:
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        return _send(self, await views.alerts(_worker(self), request.query, scope))


@blueprint.route("/api/v1/alerts/history", name="alerts-history")
class AlertHistoryView(web.View):
    """Each alert's firing intervals, stage changes and resolution (read off the event loop)."""

    async def get(self, request: web.Request) -> web.Response:
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        return _send(self, await asyncio.to_thread(history.history, _worker(self), dict(request.query), scope))


@blueprint.route("/api/v1/alerts/{fingerprint}/actions", name="alert-actions")
class AlertActionsView(web.View):
    """Operators' actions on one alert: every one taken (GET), a new one (POST, a viewer of its unit)."""

    async def get(self, request: web.Request, fingerprint: str) -> web.Response:
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        return _send(self, actions.alert_actions(_worker(self), scope, fingerprint))

    async def post(self, request: web.Request, fingerprint: str) -> web.Response:
        posted = await _posted(self, request, actions.MAX_ACTION_BYTES)
        if not isinstance(posted, tuple):  # the refusal
            return posted
        scope, body = posted
        worker = _worker(self)
        action = actions.new_action(worker, scope, fingerprint, body)
        if isinstance(action, Answer):
            return _send(self, action)
        read_back = await worker.operators.act(action)
        return _send(self, actions.action_taken(worker, action, read_back))


@blueprint.route("/api/v1/silences", name="silences")
class SilencesRoute(web.View):
    """Silences: those that may touch the viewer's units (GET), a new one (POST, a viewer)."""

    async def get(self, request: web.Request) -> web.Response:
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        return _send(self, silences.silences_answer(_worker(self), scope, request.query))

    async def post(self, request: web.Request) -> web.Response:
        posted = await _posted(self, request, silences.MAX_SILENCE_BYTES)
        if not isinstance(posted, tuple):  # the refusal
            return posted
        scope, body = posted
        worker = _worker(self)
        made = silences.new_silence(worker, scope, body)
        if isinstance(made, Answer):
            return _send(self, made)
        read_back = await worker.silences.put(made)
        return _send(
            self, json_answer(silences.silence_view(worker, made, worker.now()), status=201 if read_back else 202)
        )


@blueprint.route("/api/v1/silences/{silence_id}", name="silence")
class SilenceRoute(web.View):
    """One silence (GET), ended now (DELETE, a viewer who may silence its unit)."""

    async def get(self, request: web.Request, silence_id: str) -> web.Response:
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        return _send(self, silences.one_silence(_worker(self), scope, silence_id))

    async def delete(self, request: web.Request, silence_id: str) -> web.Response:
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        worker = _worker(self)
        ended = silences.expired_silence(worker, scope, silence_id)
        if isinstance(ended, Answer):
            return _send(self, ended)
        read_back = await worker.silences.put(ended)
        return _send(
            self, json_answer(silences.silence_view(worker, ended, worker.now()), status=200 if read_back else 202)
        )


@blueprint.route("/api/v1/alerts/stream", name="alerts-stream")
class AlertStreamView(web.View):
    """Server-sent events: every transition as it is written."""

    async def get(self, request: web.Request) -> Any:
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        response = aio.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)  # type: ignore[arg-type]
        worker = _worker(self)
        queue = worker.feed.subscribe()
        streams: set[asyncio.Queue[Any]] = getattr(self.app, _STREAMS)
        streams.add(queue)
        texts: StreamTexts = getattr(self.app, _TEXTS)
        try:
            await response.write(b"event: hello\ndata: {}\n\n")
            ended = False
            while not ended:
                text, ended = await next_text(queue, scope, worker, texts)
                if text:
                    await response.write(text)
                await asyncio.sleep(0)  # the other consoles, and the worker's records, between two writes
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            streams.discard(queue)
            worker.feed.unsubscribe(queue)
        return response


@blueprint.route("/api/v1/units", name="units")
class UnitsView(web.View):
    """A summary of every unit, from every worker."""

    async def get(self, request: web.Request) -> web.Response:
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        summaries = await _gather_units(self)
        if isinstance(summaries, Answer):
            return _send(self, summaries)
        seen = [summary for summary in summaries if scope.admits(str(summary["unit_id"]))]
        return _send(self, views.units(seen, request.query))


@blueprint.route("/api/v1/communes", name="communes")
class CommunesView(web.View):
    """The communes in force (of one province, or all), each with its figures, a page at a time."""

    async def get(self, request: web.Request) -> web.Response:
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        summaries = await _gather_units(self, communes=True)
        if isinstance(summaries, Answer):
            return _send(self, summaries)
        worker = _worker(self)
        return _send(self, communes.communes(worker.pack, summaries, worker.now(), request.query, scope))


@blueprint.route("/api/v1/internal/units", name="internal-units")
class LocalUnitsView(web.View):
    """The summaries of the units of some partitions of this worker (asked by the other workers)."""

    async def get(self, request: web.Request) -> web.Response:
        if (refused := _peer_only(self, request)) is not None:
            return refused
        worker = _worker(self)
        return _send(self, views.local_units(worker, request.query), answered_by=worker.settings.peer_url)


@blueprint.route("/api/v1/units/{unit_id}", name="unit")
class UnitView(web.View):
    """One unit in full: summary, overdue list, indicators against targets (the console's unit view)."""

    async def get(self, request: web.Request, unit_id: str) -> web.Response:
        return await _unit_answer(self, request, unit_id, lambda w: console.unit_detail(w, unit_id))


@blueprint.route("/api/v1/units/{unit_id}/extensions", name="extensions")
class ExtensionsView(web.View):
    """A new deadline for one of a unit's tasks, or for the unit under a roster deadline (POST, a viewer who may)."""

    async def post(self, request: web.Request, unit_id: str) -> web.Response:
        posted = await _posted(self, request, extensions.MAX_EXTENSION_BYTES)
        if not isinstance(posted, tuple):  # the refusal
            return posted
        scope, body = posted
        worker = _worker(self)
        extension = extensions.new_extension(worker, scope, unit_id, body)
        if isinstance(extension, Answer):
            return _send(self, extension)
        await worker.produce([extensions.extension_record(worker, extension)])
        return _send(self, extensions.extension_recorded(extension))


@blueprint.route("/api/v1/rosters", name="rosters")
class RostersView(web.View):
    """The rosters the rules name, with their units in order."""

    async def get(self, request: web.Request) -> web.Response:
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        return _send(self, console.rosters(_worker(self), scope))


@blueprint.route("/api/v1/units/{unit_id}/overdue", name="overdue")
class OverdueView(web.View):
    """One unit's overdue list."""

    async def get(self, request: web.Request, unit_id: str) -> web.Response:
        return await _unit_answer(self, request, unit_id, lambda w: views.overdue(w, unit_id, request.query))


@blueprint.route("/api/v1/publishers/me", name="publisher-feedback")
class PublisherFeedbackView(web.View):
    """What the publisher whose token is sent is told of its events: taken and refused lately, why, its units."""

    async def get(self, request: web.Request) -> web.Response:
        worker = _worker(self)
        who = publishers.who_asks(worker, request.headers.get("Authorization"))
        if isinstance(who, Answer):
            return _send(self, who)
        asked = urlencode({"publisher": who})
        parts = await _gather(
            self,
            lambda partitions: publishers.local_part(worker, who, partitions),
            lambda partitions: f"/api/v1/internal/publisher?partitions={partitions}&{asked}",
            publishers.decode_part,
        )
        if isinstance(parts, Answer):
            return _send(self, parts)
        return _send(self, publishers.feedback_answer(worker, who, parts))


@blueprint.route("/api/v1/internal/publisher", name="internal-publisher")
class LocalPublisherView(web.View):
    """This worker's part of a publisher's feedback (asked by the worker gathering it)."""

    async def get(self, request: web.Request) -> web.Response:
        if (refused := _peer_only(self, request)) is not None:
            return refused
        worker = _worker(self)
        return _send(self, publishers.local_part_answer(worker, request.query), answered_by=worker.settings.peer_url)


@blueprint.route("/api/v1/events", name="events")
class EventsView(web.View):
    """HTTP ingestion."""

    async def post(self, request: web.Request) -> web.Response:
        answer = await views.ingest(_worker(self), request.headers, request.content.read)  # type: ignore[attr-defined]
        return _send(self, answer)


@blueprint.route("/api/v1/rules", name="rules")
class RulesView(web.View):
    """The loaded rules."""

    async def get(self, request: web.Request) -> web.Response:
        scope = _reader(self, request)
        return scope if not isinstance(scope, Scope) else _send(self, views.rules(_worker(self)))


@blueprint.route("/api/v1/rules/history", name="rules-history")
class RulesHistoryView(web.View):
    """The rule packs this worker has known, with their diffs."""

    async def get(self, request: web.Request) -> web.Response:
        scope = _reader(self, request)
        return scope if not isinstance(scope, Scope) else _send(self, views.rules_history(_worker(self)))


@blueprint.route("/metrics", name="metrics")
class MetricsView(web.View):
    """Prometheus metrics."""

    async def get(self, request: web.Request) -> web.Response:
        worker = _worker(self)
        refused = viewers.metrics_refusal(worker, request.headers.get("Authorization"))
        return _send(self, refused if refused is not None else views.metrics(worker))


@blueprint.route("/healthz", name="healthz")
class HealthzView(web.View):
    """Liveness."""

    async def get(self, request: web.Request) -> web.Response:
        return _send(self, views.healthz())


@blueprint.route("/readyz", name="readyz")
class ReadyzView(web.View):
    """Readiness."""

    async def get(self, request: web.Request) -> web.Response:
        return _send(self, views.readyz(_worker(self)))


@blueprint.route("/api/v1/viewers/me", name="viewer")
class ViewerView(web.View):
    """Who the request reads as, and which units it sees (the console's header)."""

    async def get(self, request: web.Request) -> web.Response:
        scope = _reader(self, request)
        if not isinstance(scope, Scope):
            return scope
        return _send(self, viewers.viewer_answer(_worker(self), scope))


@blueprint.route("/api/v1/session", name="session")
class SessionView(web.View):
    """The console's sign-in: a viewer's token becomes a session cookie (HttpOnly), which the stream and links send."""

    async def post(self, request: web.Request) -> web.Response:
        body = await request.content.read(4096)  # type: ignore[attr-defined]
        forwarded_https = request.headers.get("X-Forwarded-Proto", "").lower() == "https"
        return _send(self, viewers.sign_in(_worker(self), body, secure=forwarded_https))

    async def delete(self, request: web.Request) -> web.Response:
        return _send(self, viewers.sign_out())
