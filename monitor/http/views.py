"""The HTTP API's answers, as functions over a read-only ``WorkerView`` (no faust, no clock of their own).

How an alert is shown and ordered is ``monitor.http.shown``; what is said of
a unit, ``monitor.http.units``; the answer type and its pages,
``monitor.http.answers``: this module only puts them together per route.

Each route is one function from what the request carries to an ``Answer``
(status, body, content type, headers); ``monitor.http.routes`` only reads
the request, decides which worker answers (``monitor.http.cluster``) and
writes the answer. Nothing in a body depends on which worker gave it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib.resources import files
from typing import Any, get_args

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from events.models import Event
from events.signing import Seal
from monitor.http.answers import (
    Answer,
    json_answer,
    one_page,
    query_param,
    unavailable,
    unknown_value,
)
from monitor.http.download import attachment, unit_id_problem
from monitor.http.figures import ALERT_COLUMNS, alert_display, alert_row, worst_severity
from monitor.http.ingest import authorize, plan_records, read_body
from monitor.http.protocol import WorkerView
from monitor.http.publishers import refusal_answer, who_asks
from monitor.http.shown import (
    SORT_TEXT,
    SORTS,
    Facets,
    admitted,
    alert_view,
    order_key,
    search_text,
    shown_view,
)
from monitor.http.units import overdue_csv, overdue_items, rules_view, unit_summary
from monitor.http.viewers import OPEN, unit_refusal
from monitor.kafka.records import InboundRecord
from monitor.kafka.records import unit_partition as partition_of
from monitor.publishers import Admission, Refusal, refused_header
from monitor.spreadsheet import Sheet
from monitor.state.packs import AppliedPack
from monitor.turns import each_in_turns, sorted_in_turns
from monitor.version import VERSION
from monitor.viewers import Scope
from rules.engine import overdue_by_kind
from rules.language import SEVERITIES, RulePack, Severity
from rules.state import AlertFilter, AlertTransition, UnitState
from rules.units import Level
from rules.vietnamese import SEVERITY_TEXT, datetime_text, search_folded

__all__ = [
    "alert_filter",
    "alerts",
    "asset",
    "feed_page",
    "healthz",
    "ingest",
    "known_unit",
    "local_units",
    "metrics",
    "overdue",
    "readyz",
    "rules",
    "unit_partition",
    "unit_problem",
    "unit_summaries",
    "units",
]

log = logging.getLogger(__name__)

_STATES = ("firing", "resolved", "all")


_STATIC = files("monitor.http").joinpath("static")
#: The files the feed page loads: the Content-Security-Policy (``default-src 'self'``) runs no inline script or style.
_ASSETS = {
    "feed.css": "text/css; charset=utf-8",
    "feed.js": "text/javascript; charset=utf-8",
    "feed-stream.js": "text/javascript; charset=utf-8",  # the event stream, run in a worker
    "silences.js": "text/javascript; charset=utf-8",  # the silences view
    "vietnam-provinces.json": "application/json",  # the overview's map (Natural Earth, public domain)
}


def feed_page() -> Answer:
    """``/``: the live alert feed page."""
    return Answer(200, _STATIC.joinpath("feed.html").read_bytes(), "text/html; charset=utf-8")


def asset(name: str) -> Answer:
    """``/static/{name}``: the feed page's script, style sheet or map (only those: nothing else is served from disk)."""
    content_type = _ASSETS.get(name)
    if content_type is None:
        return json_answer({"error": f"no file {name}; the worker serves {', '.join(sorted(_ASSETS))}"}, status=404)
    return Answer(200, _STATIC.joinpath(name).read_bytes(), content_type, {"Cache-Control": "no-cache"})


def alert_filter(pack: RulePack, query: Mapping[str, str]) -> AlertFilter | Answer:
    """The ``unit_id``, ``rule_id`` and ``severity`` filter a request asks for, or a 400 naming the allowed values.

    A typo must not look like "no alerts".
    """
    unit_id, severity, rule_id = (
        query_param(query, "unit_id"),
        query_param(query, "severity"),
        query_param(query, "rule_id"),
    )
    if unit_id is not None and (problem := unit_problem(unit_id)) is not None:
        return problem
    severities = get_args(Severity)
    if severity is not None and severity not in severities:
        return unknown_value("severity", severity, severities)
    if rule_id is not None and pack.by_id(rule_id) is None:
        return unknown_value("rule_id", rule_id, sorted(r.rule.id for r in pack.rules))
    return AlertFilter(unit_id=unit_id, rule_id=rule_id, severity=severity)


async def alerts(worker: WorkerView, query: Mapping[str, str], scope: Scope = OPEN) -> Answer:
    """``/api/v1/alerts``: firing (default), recently resolved or all alerts of every unit, filtered and ordered.

    ``q`` searches the alerts as shown (``search_text``), with or without
    diacritics; a JSON page says, in ``facets``, how many alerts each
    severity and each unit would list (``Facets``). The work over
    every alert is done in slices (``monitor.turns``): at 20,000
    alerts firing a list takes about 0.4 s and its CSV 1.1 s, and the
    worker goes on handling events meanwhile.
    """
    state = query_param(query, "state") or "firing"
    if state not in _STATES:
        return unknown_value("state", state, _STATES)
    where = alert_filter(worker.pack, query)
    if isinstance(where, Answer):
        return where
    if where.unit_id is not None and (refused := unit_refusal(scope, where.unit_id)) is not None:
        return refused
    sort = query_param(query, "sort") or SORTS[0]
    if sort not in SORTS:
        return unknown_value("sort", sort, SORTS)
    as_csv = query_param(query, "format") == "csv"
    if not as_csv and query_param(query, "format") not in (None, "json"):
        return unknown_value("format", str(query_param(query, "format")), ("json", "csv"))
    if not worker.alerts_topic.current:  # an empty list now would say "no alerts", which nobody knows yet
        return unavailable("this worker is still reading the alerts topic")
    if not worker.operators.current:  # nobody's alert would come first, acknowledged or not
        return unavailable("this worker is still reading the actions topic")
    pack, now = worker.pack, worker.now()
    sources: list[AlertTransition] = []
    if state in ("firing", "all"):
        sources += worker.alerts_topic.firing()
    if state in ("resolved", "all"):
        sources += worker.alerts_topic.resolved()
    if scope.units is not None:  # a viewer who sees some units: the others' alerts are not counted either
        sources = [alert for alert in sources if scope.admits(alert.unit_id)]
    book, silences = worker.operators.book, worker.silences

    def view_of(alert: AlertTransition) -> dict[str, Any]:
        view = alert_view(alert, pack.unit_names, book)
        silence = silences.silencing(view["labels"], now)
        if silence is not None:  # a silenced alert is listed, and says so
            window = silence.window_at(now, silences.calendar)
            until = window[1] if window is not None else now
            view["silenced"] = {
                "id": silence.id,
                "reason": silence.reason,
                "who": silence.who,
                "until": until.isoformat(),
                "until_text": datetime_text(until, pack.tz),
            }
        return view

    pause = worker.yield_to_records
    found = await each_in_turns(sources, view_of, pause=pause)
    source = {id(view): alert for view, alert in zip(found, sources, strict=True)}
    needle = search_folded(query_param(query, "q") or "").strip()
    if needle:  # the texts searched are those shown, computed for every alert only when searching
        hits = await each_in_turns(
            found, lambda view: needle in search_text(view, alert_display(source[id(view)], pack, now)), pause=pause
        )
        found = [view for view, hit in zip(found, hits, strict=True) if hit]
    chosen = await sorted_in_turns(admitted(found, where), order_key(sort), pause=pause)
    if as_csv:  # whole, as the overdue list's: it is what a spreadsheet opens
        name = f"alerts-{where.unit_id}.csv" if where.unit_id else "alerts.csv"
        sheet = Sheet(ALERT_COLUMNS)
        await each_in_turns(
            chosen, lambda view: sheet.add(alert_row(shown_view(view, source[id(view)], pack, now))), pause=pause
        )
        return Answer(200, sheet.bytes(), "text/csv; charset=utf-8", {"Content-Disposition": attachment(name)})
    page = one_page(query, chosen, "alerts")
    if isinstance(page, Answer):
        return page
    # Texts for the page only: they are what costs, and a page is what is shown.
    page["alerts"] = [shown_view(view, source[id(view)], pack, now) for view in page["alerts"]]
    facets = Facets(where)
    await each_in_turns(found, facets.add, pause=pause)
    page["facets"] = facets.as_json()
    return json_answer(page)


def unit_partition(worker: WorkerView, unit_id: str) -> int:
    """The partition that holds a unit's state."""
    return partition_of(unit_id, worker.settings.partitions)


def unit_summaries(worker: WorkerView, partitions: set[int]) -> list[dict[str, Any]]:
    """A summary of every unit of ``partitions`` this worker holds: each that reported, and each rostered one."""
    pack = worker.pack
    states = {s.unit_id: s for s in worker.owned_states() if unit_partition(worker, s.unit_id) in partitions}
    silent = (u for u in pack.rostered_units if u not in states and unit_partition(worker, u) in partitions)
    summaries = [unit_summary(pack, state) for state in states.values()]
    summaries += [unit_summary(pack, UnitState(unit_id=unit)) for unit in silent]
    return summaries


def commune_standings(worker: WorkerView, partitions: set[int]) -> list[dict[str, Any]]:
    """Where each commune of ``partitions`` this worker holds stands: what the communes list sorts and shows.

    Only communes, and only what ``/api/v1/communes`` needs (overdue, firing alerts and the worst of them, tasks,
    last report): the list is asked of every worker on each page, with 3,321 communes reporting.
    """
    registry = worker.pack.units
    kind_of = worker.pack.selected_kind
    found = []
    for state in worker.owned_states():
        unit = registry.get(state.unit_id)
        if unit is None or unit.level is not Level.COMMUNE or unit_partition(worker, state.unit_id) not in partitions:
            continue
        severities = [alert.severity for alert in state.alerts.values()]
        found.append(
            {
                "unit_id": state.unit_id,
                "overdue": sum(overdue_by_kind(state, kind_of).values()),
                "alerts_firing": len(severities),
                "worst_severity": worst_severity(severities),
                "tasks_total": state.task_count(),
                "last_event_at": state.last_event_at.isoformat() if state.last_event_at else None,
            }
        )
    return found


def units(summaries: list[dict[str, Any]], query: Mapping[str, str]) -> Answer:
    """``/api/v1/units``: the summaries of every unit (gathered from every worker), a page at a time, by unit id."""
    page = one_page(query, sorted(summaries, key=lambda u: str(u["unit_id"])), "units")
    return page if isinstance(page, Answer) else json_answer(page)


def local_units(worker: WorkerView, query: Mapping[str, str]) -> Answer:
    """``/api/v1/internal/units?partitions=…``: another worker gathering ``/api/v1/units`` asks this one.

    ``&communes=1``: the communes' standings only (``commune_standings``), for ``/api/v1/communes``.
    """
    try:
        partitions = {int(p) for p in (query.get("partitions") or "").split(",") if p}
    except ValueError:
        return json_answer({"error": "partitions must be whole numbers, comma-separated"}, status=400)
    held = {p for p in partitions if worker.answers_for(p)}
    if held != partitions:
        return unavailable(f"this worker does not hold partition(s) {sorted(partitions - held)} now")
    found = commune_standings(worker, partitions) if query.get("communes") else unit_summaries(worker, partitions)
    return json_answer({"partitions": sorted(partitions), "units": found})


def unit_problem(unit_id: str) -> Answer | None:
    """A 400 for a unit id no unit can have (it is never put in a header or a key), else ``None``."""
    problem = unit_id_problem(unit_id)
    return json_answer({"error": problem}, status=400) if problem is not None else None


def known_unit(worker: WorkerView, unit_id: str) -> UnitState | Answer | None:
    """The unit's state (``None``: rostered, never reported), or a 400 for an impossible id, a 404 for an unknown one."""
    problem = unit_problem(unit_id)
    if problem is not None:
        return problem
    state = worker.unit_state(unit_id)
    if state is None and unit_id not in worker.pack.unit_names:
        return json_answer({"error": f"no unit {unit_id}: it has sent no event and is on no roster"}, status=404)
    return state


def overdue(worker: WorkerView, unit_id: str, query: Mapping[str, str]) -> Answer:
    """``/api/v1/units/{unit_id}/overdue``: the unit's overdue tasks, as JSON or (``format=csv``) CSV (its owner)."""
    state = known_unit(worker, unit_id)
    if isinstance(state, Answer):
        return state
    pack = worker.pack
    items = overdue_items(pack, state, worker.now()) if state is not None else []
    if query_param(query, "format") == "csv":
        disposition = {"Content-Disposition": attachment(f"overdue-{unit_id}.csv")}
        return Answer(200, overdue_csv(items), "text/csv; charset=utf-8", disposition)
    page = one_page(query, items, "overdue")  # the CSV export above is whole: it is what a spreadsheet opens
    return (
        page
        if isinstance(page, Answer)
        else json_answer({"unit_id": unit_id, "unit_name": pack.unit_name(unit_id), **page})
    )


async def ingest(worker: WorkerView, headers: Mapping[str, str], read: Callable[[int], Awaitable[bytes]]) -> Answer:
    """``POST /api/v1/events``: check the token and size, validate, admit, produce; 202 once acknowledged.

    With a publisher registry, the token names the publisher: each event must be its own (its
    ``source``) and about a unit it may report, or nothing is accepted (403, item by item).
    Without one (open mode), one shared token admits every event.
    """
    settings = worker.settings
    admission = worker.admission
    publisher: str | None = None
    if admission is None:
        token = settings.ingest_token.get_secret_value() if settings.ingest_token else None
        refused = authorize(token, headers.get("Authorization"))
        if refused is not None:
            return refusal_answer(refused)
    else:
        who = who_asks(worker, headers.get("Authorization"))  # the same check as a publisher's feedback
        if isinstance(who, Answer):
            return who
        publisher = who
    limit = settings.ingest_max_bytes
    declared = headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return json_answer({"error": f"body of {declared} bytes is over the limit of {limit}"}, status=413)
    body = await read_body(read, limit)
    if body is None:
        return json_answer({"error": f"body is over the limit of {limit} bytes"}, status=413)
    admit = _admitted_from(admission, publisher) if admission is not None and publisher is not None else None
    answer = plan_records(body, headers, worker.topics, limit, admit, worker.pack.units)
    if answer.status == 403 and publisher is not None:
        await _dead_letter_refused(worker, publisher, body, answer.body["errors"])
    if answer.status == 202:
        await worker.produce(answer.records)
    return json_answer(answer.body, status=answer.status)


async def _dead_letter_refused(
    worker: WorkerView, publisher: str, body: bytes, errors: Sequence[Mapping[str, Any]]
) -> None:
    """Count a request's refused events and send it to the dead-letter topic, as a refused Kafka record goes.

    There the publisher's feedback (``/api/v1/publishers/me``, any worker) finds it; ``dlq_topic`` is
    ``http``. The 403 is answered whether or not the broker takes the record (a failure is logged).
    """
    refused = Counter((publisher, str(error["cause"])) for error in errors)
    for (who, cause), count in refused.items():
        worker.metrics.publisher_refusals.labels(who, cause).inc(count)
        worker.metrics.publisher_events.labels(who, "refused").inc(count)
    reason = "; ".join(f"item {error['index']}: {error['reason']}" for error in errors)
    record = InboundRecord("http", -1, -1, publisher.encode(), body, (refused_header(refused),))
    try:
        await worker.dead_letter(record, reason)
    except Exception as exc:  # the answer says it all already; the feedback will lack this one
        log.warning("could not dead-letter a request %s sent: %r", publisher, exc)


def _admitted_from(admission: Admission, publisher: str) -> Callable[[Event, Seal | None, str], Refusal | None]:
    """Why the registry refuses an event ``publisher`` sent (its token, the unit its code named), or ``None``."""

    def admit(event: Event, seal: Seal | None, named: str) -> Refusal | None:
        return admission.refusal_from(publisher, event.source, event.unit_id, seal, named)

    return admit


def rules(worker: WorkerView) -> Answer:
    """``/api/v1/rules``: the rules in force, the pack's version, since when and where from, the monitor's version."""
    pack = worker.pack
    active = _active_entry(worker)
    return json_answer(
        {
            "version": pack.version,
            "applied_at": worker.pack_applied_at.isoformat(),
            "display": {"applied_at": datetime_text(worker.pack_applied_at, pack.tz)},
            "source": active.source if active is not None else None,
            "applied_by": active.applied_by if active is not None else None,
            "message": active.message if active is not None else None,
            "monitor_version": VERSION,
            "rules": rules_view(pack),
            "severities": [{"id": severity, "text": SEVERITY_TEXT[severity]} for severity in SEVERITIES],
            "sorts": [{"id": sort, "text": SORT_TEXT[sort]} for sort in SORTS],
        }
    )


def _active_entry(worker: WorkerView) -> AppliedPack | None:
    """The last entry of the worker's pack log that is the pack in force."""
    return next((e for e in reversed(worker.pack_log.entries()) if e.pack is worker.pack), None)


def rules_history(worker: WorkerView) -> Answer:
    """``/api/v1/rules/history``: the packs this worker has known, newest first, each with what it changed."""
    active = _active_entry(worker)
    versions = [
        {
            "version": entry.version,
            "active": entry is active,
            "applied_at": entry.applied_at.isoformat(),
            "applied_by": entry.applied_by,
            "message": entry.message,
            "source": entry.source,
            "problem": entry.problem,
            "changes": diff.as_json() if diff is not None else None,
            "diff": diff.text() if diff is not None else None,
        }
        for entry, diff in worker.pack_log.with_diffs()
    ]
    return json_answer({"active": worker.pack.version, "versions": versions})


def metrics(worker: WorkerView) -> Answer:
    """``/metrics``: Prometheus text format."""
    return Answer(200, generate_latest(worker.registry), CONTENT_TYPE_LATEST)


def healthz() -> Answer:
    """``/healthz``: the process is up."""
    return json_answer({"status": "ok"})


def reading(worker: WorkerView) -> list[str]:
    """The topics the API answers from that the worker has not read to their end once yet.

    Those topics are the alerts topic, the operators' actions and the silences.
    Until each is read the API would answer 503 ("still reading the actions topic").
    """
    return [
        topic
        for topic, view in (
            (worker.topics.alerts, worker.alerts_topic),
            (worker.topics.actions, worker.operators),
            (worker.topics.silences, worker.silences),
        )
        if not view.current
    ]


def is_ready(worker: WorkerView) -> bool:
    """Whether the worker has joined its group, read its partitions' units and the topics it answers from."""
    return worker.is_ready() and not reading(worker)


def readyz(worker: WorkerView) -> Answer:
    """``/readyz``: 200 once the worker is ready (``is_ready``): a load balancer sends nothing here before."""
    still = reading(worker)
    ready = worker.is_ready() and not still  # ``is_ready``, with what it still reads kept for the body
    problems = worker.problems()
    status = "ready" if ready else "failing" if problems else "starting"
    body: dict[str, Any] = {"status": status, "partitions": sorted(worker.owned_partitions())}
    if still:
        body["reading"] = still
    if problems:
        body["problems"] = problems
    admission = worker.admission
    body["publishers"] = (
        {"enforced": True, "registry": admission.version, "publishers": len(admission.publisher_ids)}
        if admission is not None
        else {"enforced": False, "detail": "open mode: no publisher registry, every publisher may report every unit"}
    )
    if worker.viewers is not None:
        access = worker.viewers.access()
        body["viewers"] = {"enforced": True, "version": access.version, "viewers": len(access.registry.viewers)}
    else:
        body["viewers"] = {"enforced": False, "detail": "no viewers file: anyone who reaches the port reads every unit"}
    return json_answer(body, status=200 if ready else 503)
