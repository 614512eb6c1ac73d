"""The HTTP API's answers, as functions over a read-only ``WorkerView`` (no faust, no clock of their own).

Each route is one function from what the request carries to an ``Answer``
(status, body, content type, headers); ``monitor.http.routes`` only reads
the request, decides which worker answers (``monitor.http.cluster``) and
writes the answer. Nothing in a body depends on which worker gave it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any, get_args

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.http.cluster import RETRY_AFTER_SECONDS
from monitor.http.download import attachment, unit_id_problem
from monitor.http.figures import ALERT_COLUMNS, alert_display, alert_row, worst_severity
from monitor.http.ingest import authorize, plan_records, read_body
from monitor.http.protocol import WorkerView
from monitor.kafka.records import unit_partition as partition_of
from monitor.spreadsheet import csv_bytes
from monitor.state.history import stage_began
from monitor.state.packs import AppliedPack
from monitor.version import VERSION
from rules.engine import is_overdue, is_unit_overdue, overdue_by_kind
from rules.language import SEVERITIES, STAGES, DeadlineRule, RulePack, Severity, task_due, urgency
from rules.state import AlertFilter, AlertState, AlertTransition, Subject, UnitState
from rules.vietnamese import SEVERITY_TEXT, datetime_text, days_overdue

__all__ = [
    "OVERDUE_COLUMNS",
    "SORTS",
    "SORT_TEXT",
    "Answer",
    "alert_filter",
    "alert_view",
    "alerts",
    "asset",
    "attention_order",
    "feed_page",
    "filter_alerts",
    "healthz",
    "ingest",
    "json_answer",
    "known_unit",
    "local_units",
    "metrics",
    "newest_order",
    "overdue",
    "overdue_csv",
    "overdue_items",
    "page_of",
    "page_window",
    "readyz",
    "rules",
    "rules_view",
    "shown_alert",
    "unavailable",
    "unit_order",
    "unit_partition",
    "unit_problem",
    "unit_summaries",
    "unit_summary",
    "units",
]

JSON = "application/json; charset=utf-8"
_STATES = ("firing", "resolved", "all")

OVERDUE_COLUMNS = (
    "unit_id",
    "unit_name",
    "task_id",
    "title",
    "kind",
    "status",
    "due",
    "days_overdue",
    "rule_id",
    "severity",
)


def alert_view(alert: AlertState | AlertTransition, unit_names: Mapping[str, str]) -> dict[str, Any]:
    """An alert as the API and the feed page show it: a firing alert, or a transition record, with names."""
    unit = alert.labels.get("unit_id", "")
    named = {"unit_id": unit, "unit_name": unit_names.get(unit, unit)}
    if isinstance(alert, AlertTransition):
        return {**alert.model_dump(mode="json"), **named, "summary": alert.annotations.get("summary", "")}
    return {
        "fingerprint": alert.fingerprint,
        "status": "firing",
        "rule_id": alert.rule_id,
        "stage": alert.stage,
        "severity": alert.severity,
        **named,
        "labels": alert.labels,
        "summary": alert.summary,
        "starts_at": alert.starts_at.isoformat(),
    }


def shown_alert(alert: AlertState | AlertTransition, pack: RulePack, now: datetime) -> dict[str, Any]:
    """An alert as the API, its event stream and the console show it.

    ``alert_view`` with ``display`` texts (``monitor.http.figures.alert_display``,
    computed at ``now``) and its ``attention`` order key (``attention_order``:
    compared element by element, the smaller comes first).
    """
    return _shown(alert_view(alert, pack.unit_names), alert, pack, now)


def _shown(view: dict[str, Any], alert: AlertState | AlertTransition, pack: RulePack, now: datetime) -> dict[str, Any]:
    order = {
        sort: [int(part) if isinstance(part, bool) else part for part in key(view)] for sort, key in _ORDERS.items()
    }
    return {**view, "display": alert_display(alert, pack, now), "attention": order["attention"], "order": order}


#: The orders an alert list can be asked for (``?sort=``); the first is the default.
SORTS = ("attention", "newest", "unit")


def _since(alert: Mapping[str, Any]) -> str:
    """When the alert's trouble began (``stage_began``), as ISO in UTC."""
    starts_at = datetime.fromisoformat(str(alert.get("starts_at")))
    return stage_began(str(alert.get("stage")), alert.get("annotations", {}), starts_at).astimezone(UTC).isoformat()


def attention_order(alert: Mapping[str, Any]) -> tuple[Any, ...]:
    """What to chase first: firing before resolved, critical before warning, overdue before due soon, oldest first.

    Ties are broken by unit and fingerprint, so every worker lists the same alerts in the same order.
    """
    return (
        alert.get("status") != "firing",
        urgency(SEVERITIES, alert.get("severity")),
        urgency(STAGES, alert.get("stage")),
        _since(alert),
        str(alert.get("unit_id")),
        str(alert.get("fingerprint")),
    )


def newest_order(alert: Mapping[str, Any]) -> tuple[float, str]:
    """The latest change first, then by fingerprint.

    A change is when it ended, or started firing: as an instant, so instants
    written with different offsets compare. The key travels in JSON: no
    infinity (an alert without an instant, which none is, would come last).
    """
    at = alert.get("ends_at") or alert.get("starts_at")
    return (-datetime.fromisoformat(str(at)).timestamp() if at else 0.0), str(alert.get("fingerprint"))


def unit_order(alert: Mapping[str, Any]) -> tuple[Any, ...]:
    """By unit id, then in ``attention_order`` within a unit."""
    return (str(alert.get("unit_id")), *attention_order(alert))


#: Each order an alert list can be asked for (``?sort=``), as the key every alert the API shows carries (``order``):
#: the console sorts by it and repeats none of it.
_ORDERS: dict[str, Callable[[Mapping[str, Any]], tuple[Any, ...]]] = {
    "attention": attention_order,
    "newest": newest_order,
    "unit": unit_order,
}
assert tuple(_ORDERS) == SORTS, "an order for every sort"
#: What the console calls each order.
SORT_TEXT = {"attention": "Cần xử lý trước", "newest": "Mới nhất", "unit": "Nhóm theo đơn vị"}
assert tuple(SORT_TEXT) == SORTS, "a name for every sort"


def filter_alerts(alerts: Iterable[dict[str, Any]], where: AlertFilter, sort: str = SORTS[0]) -> list[dict[str, Any]]:
    """Alert views matching every given filter, in ``sort`` order (``SORTS``)."""
    kept = [a for a in alerts if where.admits(a.get("unit_id"), a.get("rule_id"), a.get("severity"))]
    return sorted(kept, key=_ORDERS.get(sort, attention_order))


def _unit_overdue_item(pack: RulePack, state: UnitState, alert: AlertState, now: datetime) -> dict[str, Any] | None:
    """A unit's own missed deadline (a roster deadline) as an overdue-list row: its task of that kind, if it has one."""
    compiled = pack.by_id(alert.rule_id)
    if compiled is None or not isinstance(compiled.rule, DeadlineRule) or compiled.rule.due is None:
        return None
    rule, due = compiled.rule, compiled.rule.due
    reported = sorted(
        (t for t in state.tasks.values() if rule.selects(t.fields(state.unit_id), t.labels)), key=lambda t: t.task_id
    )
    task = reported[0] if reported else None
    return {
        "unit_id": state.unit_id,
        "unit_name": pack.unit_name(state.unit_id),
        "task_id": task.task_id if task is not None else "",
        "title": (task.title or "") if task is not None else alert.summary,
        "kind": pack.selected_kind(alert.rule_id),
        "status": task.status.value if task is not None else "not_reported",
        "due": due.astimezone(compiled.tz).isoformat(),
        "days_overdue": days_overdue(compiled, due, now),
        "rule_id": alert.rule_id,
        "severity": alert.severity,
    }


def overdue_items(pack: RulePack, state: UnitState, now: datetime) -> list[dict[str, Any]]:
    """The unit's overdue tasks (a firing ``overdue`` alert) and missed unit deadlines, most overdue first.

    ``days_overdue`` counts as the rule does (``rules.vietnamese.days_overdue``): whole calendar days
    since the due instant, or whole working days for a rule that counts working days.
    """
    items = []
    for alert in state.alerts.values():
        if is_unit_overdue(alert):
            if (row := _unit_overdue_item(pack, state, alert, now)) is not None:
                items.append(row)
            continue
        if not is_overdue(alert):
            continue
        task = state.tasks.get(Subject.parse(alert.subject).name)
        compiled = pack.by_id(alert.rule_id)
        if task is None or compiled is None or not isinstance(compiled.rule, DeadlineRule):
            continue
        due = task_due(compiled.rule, task, compiled.calendar)
        items.append(
            {
                "unit_id": state.unit_id,
                "unit_name": pack.unit_name(state.unit_id),
                "task_id": task.task_id,
                "title": task.title or "",
                "kind": task.kind,
                "status": task.status.value,
                "due": due.astimezone(compiled.tz).isoformat() if due else "",
                "days_overdue": days_overdue(compiled, due, now) if due else 0,
                "rule_id": alert.rule_id,
                "severity": alert.severity,
            }
        )
    # By due instant, not by days_overdue: a working-day rule's count and a calendar one's do not compare.
    return sorted(items, key=_most_overdue_first)


def _most_overdue_first(item: Mapping[str, Any]) -> tuple[float, str]:
    due = item["due"]
    return (datetime.fromisoformat(due).timestamp() if due else math.inf), item["task_id"]


def overdue_csv(items: list[dict[str, Any]]) -> bytes:
    """The overdue list as CSV a spreadsheet opens correctly, with no cell it would run as a formula."""
    return csv_bytes(OVERDUE_COLUMNS, items)


def unit_summary(pack: RulePack, state: UnitState) -> dict[str, Any]:
    """Per unit: tasks by status, overdue count, firing alerts by severity and the most urgent of them."""
    statuses = Counter(task.status.value for task in state.tasks.values())
    firing = Counter(alert.severity for alert in state.alerts.values())
    return {
        "unit_id": state.unit_id,
        "unit_name": pack.unit_name(state.unit_id),
        "tasks": dict(sorted(statuses.items())),
        "tasks_total": len(state.tasks),
        "overdue": sum(overdue_by_kind(state, pack.selected_kind).values()),
        "alerts_firing": sum(firing.values()),
        "alerts_by_severity": dict(sorted(firing.items())),
        "worst_severity": worst_severity(firing),
        "indicators": {name: report.value for name, report in sorted(state.indicators.items())},
        "last_event_at": state.last_event_at.isoformat() if state.last_event_at else None,
    }


def rules_view(pack: RulePack) -> list[dict[str, Any]]:
    """The loaded rules, as written plus their version and roster size."""
    return [
        {
            "id": compiled.rule.id,
            "kind": compiled.rule.kind,
            "severity": compiled.rule.severity,
            "group": compiled.group,
            "timezone": compiled.tz.key,
            "version": compiled.version,
            "roster_units": len(compiled.roster) if compiled.roster is not None else None,
            "definition": compiled.rule.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        for compiled in pack.rules
    ]


# --- routes: request parts in, Answer out -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send back."""

    status: int
    body: bytes
    content_type: str = JSON
    headers: Mapping[str, str] = field(default_factory=dict)


def json_answer(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Answer:
    """JSON with Vietnamese text as UTF-8 rather than escaped."""
    return Answer(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), JSON, headers or {})


_json = json_answer


def _param(query: Mapping[str, str], name: str) -> str | None:
    return query.get(name) or None


def _unknown(parameter: str, value: str, allowed: Iterable[str]) -> Answer:
    """A 400 for a filter value nothing can have: the message names the allowed ones, as do the fields beside it."""
    allowed = list(allowed)
    return _json(
        {
            "error": f"unknown {parameter} '{value}': one of {', '.join(allowed)}",
            "parameter": parameter,
            "value": value,
            "allowed": allowed,
        },
        status=400,
    )


#: Items per page of a list answer by default, and at most (``?limit=``).
PAGE_DEFAULT, PAGE_MAX = 500, 5000


def page_window(query: Mapping[str, str], default: int = PAGE_DEFAULT) -> tuple[int, int] | Answer:
    """The ``limit`` and ``offset`` a list request asks for, or a 400 saying what is wrong with them."""
    try:
        limit = int(query.get("limit") or default)
        offset = int(query.get("offset") or 0)
    except ValueError:
        return json_answer({"error": "limit and offset must be whole numbers"}, status=400)
    if not 1 <= limit <= PAGE_MAX or offset < 0:
        return json_answer({"error": f"limit must be 1 to {PAGE_MAX} and offset 0 or more"}, status=400)
    return limit, offset


def page_of(items: list[Any], count: int, limit: int, offset: int, key: str) -> dict[str, Any]:
    """A page answer: ``items`` (the page) under ``key``, with the total ``count`` and where the next page starts."""
    following = offset + limit
    return {
        "count": count,
        "offset": offset,
        "limit": limit,
        "next_offset": following if following < count else None,
        key: items,
    }


def _page(query: Mapping[str, str], items: list[Any], key: str) -> dict[str, Any] | Answer:
    """One page of ``items`` under ``key``, with the total and where the next page starts; a 400 for a bad page."""
    window = page_window(query)
    if isinstance(window, Answer):
        return window
    limit, offset = window
    return page_of(items[offset : offset + limit], len(items), limit, offset, key)


def unavailable(reason: str) -> Answer:
    """A 503 that says why and when to ask again: the workers are moving partitions between them."""
    return _json({"error": reason}, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


_STATIC = files("monitor.http").joinpath("static")
#: The files the feed page loads: the Content-Security-Policy (``default-src 'self'``) runs no inline script or style.
_ASSETS = {
    "feed.css": "text/css; charset=utf-8",
    "feed.js": "text/javascript; charset=utf-8",
    "feed-stream.js": "text/javascript; charset=utf-8",  # the event stream, run in a worker
}


def feed_page() -> Answer:
    """``/``: the live alert feed page."""
    return Answer(200, _STATIC.joinpath("feed.html").read_bytes(), "text/html; charset=utf-8")


def asset(name: str) -> Answer:
    """``/static/{name}``: the feed page's script or style sheet (only those: nothing else is served from disk)."""
    content_type = _ASSETS.get(name)
    if content_type is None:
        return _json({"error": f"no file {name}; the worker serves {', '.join(sorted(_ASSETS))}"}, status=404)
    return Answer(200, _STATIC.joinpath(name).read_bytes(), content_type, {"Cache-Control": "no-cache"})


def alert_filter(pack: RulePack, query: Mapping[str, str]) -> AlertFilter | Answer:
    """The ``unit_id``, ``rule_id`` and ``severity`` filter a request asks for, or a 400 naming the allowed values.

    A typo must not look like "no alerts".
    """
    unit_id, severity, rule_id = _param(query, "unit_id"), _param(query, "severity"), _param(query, "rule_id")
    if unit_id is not None and (problem := unit_problem(unit_id)) is not None:
        return problem
    severities = get_args(Severity)
    if severity is not None and severity not in severities:
        return _unknown("severity", severity, severities)
    if rule_id is not None and pack.by_id(rule_id) is None:
        return _unknown("rule_id", rule_id, sorted(r.rule.id for r in pack.rules))
    return AlertFilter(unit_id=unit_id, rule_id=rule_id, severity=severity)


def alerts(worker: WorkerView, query: Mapping[str, str]) -> Answer:
    """``/api/v1/alerts``: firing (default), recently resolved or all alerts of every unit, filtered and ordered."""
    state = _param(query, "state") or "firing"
    if state not in _STATES:
        return _unknown("state", state, _STATES)
    where = alert_filter(worker.pack, query)
    if isinstance(where, Answer):
        return where
    sort = _param(query, "sort") or SORTS[0]
    if sort not in SORTS:
        return _unknown("sort", sort, SORTS)
    as_csv = _param(query, "format") == "csv"
    if not as_csv and _param(query, "format") not in (None, "json"):
        return _unknown("format", str(_param(query, "format")), ("json", "csv"))
    if not worker.alerts_current():  # an empty list now would say "no alerts", which nobody knows yet
        return unavailable("this worker is still reading the alerts topic")
    pack, now = worker.pack, worker.now()
    sources: list[AlertTransition] = []
    if state in ("firing", "all"):
        sources += worker.published_firing()
    if state in ("resolved", "all"):
        sources += worker.published_resolved()
    found = [alert_view(a, pack.unit_names) for a in sources]
    source = {id(view): alert for view, alert in zip(found, sources, strict=True)}
    chosen = filter_alerts(found, where, sort)
    if as_csv:  # whole, as the overdue list's: it is what a spreadsheet opens
        name = f"alerts-{where.unit_id}.csv" if where.unit_id else "alerts.csv"
        rows = [alert_row(_shown(view, source[id(view)], pack, now)) for view in chosen]
        return Answer(
            200, csv_bytes(ALERT_COLUMNS, rows), "text/csv; charset=utf-8", {"Content-Disposition": attachment(name)}
        )
    page = _page(query, chosen, "alerts")
    if isinstance(page, Answer):
        return page
    # Texts for the page only: they are what costs, and a page is what is shown.
    page["alerts"] = [_shown(view, source[id(view)], pack, now) for view in page["alerts"]]
    return _json(page)


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


def units(summaries: list[dict[str, Any]], query: Mapping[str, str]) -> Answer:
    """``/api/v1/units``: the summaries of every unit (gathered from every worker), a page at a time, by unit id."""
    page = _page(query, sorted(summaries, key=lambda u: str(u["unit_id"])), "units")
    return page if isinstance(page, Answer) else _json(page)


def local_units(worker: WorkerView, query: Mapping[str, str]) -> Answer:
    """``/api/v1/internal/units?partitions=…``: another worker gathering ``/api/v1/units`` asks this one."""
    try:
        partitions = {int(p) for p in (query.get("partitions") or "").split(",") if p}
    except ValueError:
        return _json({"error": "partitions must be whole numbers, comma-separated"}, status=400)
    held = {p for p in partitions if worker.answers_for(p)}
    if held != partitions:
        return unavailable(f"this worker does not hold partition(s) {sorted(partitions - held)} now")
    return _json({"partitions": sorted(partitions), "units": unit_summaries(worker, partitions)})


def unit_problem(unit_id: str) -> Answer | None:
    """A 400 for a unit id no unit can have (it is never put in a header or a key), else ``None``."""
    problem = unit_id_problem(unit_id)
    return _json({"error": problem}, status=400) if problem is not None else None


def known_unit(worker: WorkerView, unit_id: str) -> UnitState | Answer | None:
    """The unit's state (``None``: rostered, never reported), or a 400 for an impossible id, a 404 for an unknown one."""
    problem = unit_problem(unit_id)
    if problem is not None:
        return problem
    state = worker.unit_state(unit_id)
    if state is None and unit_id not in worker.pack.unit_names:
        return _json({"error": f"no unit {unit_id}: it has sent no event and is on no roster"}, status=404)
    return state


def overdue(worker: WorkerView, unit_id: str, query: Mapping[str, str]) -> Answer:
    """``/api/v1/units/{unit_id}/overdue``: the unit's overdue tasks, as JSON or (``format=csv``) CSV (its owner)."""
    state = known_unit(worker, unit_id)
    if isinstance(state, Answer):
        return state
    pack = worker.pack
    items = overdue_items(pack, state, worker.now()) if state is not None else []
    if _param(query, "format") == "csv":
        disposition = {"Content-Disposition": attachment(f"overdue-{unit_id}.csv")}
        return Answer(200, overdue_csv(items), "text/csv; charset=utf-8", disposition)
    page = _page(query, items, "overdue")  # the CSV export above is whole: it is what a spreadsheet opens
    return (
        page if isinstance(page, Answer) else _json({"unit_id": unit_id, "unit_name": pack.unit_name(unit_id), **page})
    )


async def ingest(worker: WorkerView, headers: Mapping[str, str], read: Callable[[int], Awaitable[bytes]]) -> Answer:
    """``POST /api/v1/events``: check the token and size, validate, produce; 202 once acknowledged."""
    settings = worker.settings
    token = settings.ingest_token.get_secret_value() if settings.ingest_token else None
    refused = authorize(token, headers.get("Authorization"))
    if refused is not None:
        challenge = {"WWW-Authenticate": "Bearer"} if refused.status == 401 else None
        return _json(refused.body, status=refused.status, headers=challenge)
    limit = settings.ingest_max_bytes
    declared = headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return _json({"error": f"body of {declared} bytes is over the limit of {limit}"}, status=413)
    body = await read_body(read, limit)
    if body is None:
        return _json({"error": f"body is over the limit of {limit} bytes"}, status=413)
    answer = plan_records(body, headers, worker.topics, limit)
    if answer.status == 202:
        await worker.produce(answer.records)
    return _json(answer.body, status=answer.status)


def rules(worker: WorkerView) -> Answer:
    """``/api/v1/rules``: the rules in force, the pack's version, since when and where from, the monitor's version."""
    pack = worker.pack
    active = _active_entry(worker)
    return _json(
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
    return _json({"active": worker.pack.version, "versions": versions})


def metrics(worker: WorkerView) -> Answer:
    """``/metrics``: Prometheus text format."""
    return Answer(200, generate_latest(worker.registry), CONTENT_TYPE_LATEST)


def healthz() -> Answer:
    """``/healthz``: the process is up."""
    return _json({"status": "ok"})


def readyz(worker: WorkerView) -> Answer:
    """``/readyz``: 200 once the worker has joined its group and read its partitions' units."""
    ready = worker.is_ready()
    problems = worker.problems()
    status = "ready" if ready else "failing" if problems else "starting"
    body: dict[str, Any] = {"status": status, "partitions": sorted(worker.owned_partitions())}
    if problems:
        body["problems"] = problems
    return _json(body, status=200 if ready else 503)
