"""``/api/v1/alerts/history``: each alert's firing intervals, stage changes and resolution, from the history index.

Every worker indexes the whole alerts topic, so every worker gives the same
answer. An interval still firing has no ``ended_at`` and no duration (it is
still growing); an ended one says how long it lasted and how it ended
(``completed``, ``completed_late`` with ``late_days``, ``cancelled``,
``reconciled``…). Each stage names the publisher whose report it rests on
(``reported_by``, ``reported_at``), and an ended interval the one whose
report ended it (``resolved_by``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.http.answers import PAGE_DEFAULT, PAGE_MAX, Answer, json_answer, page_of, page_window, unavailable
from monitor.http.download import attachment
from monitor.http.protocol import WorkerView
from monitor.http.viewers import OPEN, unit_refusal
from monitor.http.views import alert_filter
from monitor.spreadsheet import csv_bytes
from monitor.state.history import Interval
from monitor.viewers import Scope
from rules.review import BOUND_FORMS, parse_instant
from rules.vietnamese import RESOLUTION_TEXT, datetime_text

__all__ = ["HISTORY_COLUMNS", "history", "interval_view"]

HISTORY_COLUMNS = (
    "unit_id",
    "unit_name",
    "rule_id",
    "severity",
    "task_id",
    "indicator",
    "started_at",
    "ended_at",
    "duration_seconds",
    "stages",
    "resolution",
    "late_days",
    "resolved_by",
    "summary",
    "fingerprint",
)


def interval_view(interval: Interval, unit_names: Mapping[str, str], tz: ZoneInfo | None = None) -> dict[str, Any]:
    """An interval as the API shows it; with ``tz``, its instants and resolution as the console prints them."""
    ended = interval.ended_at
    view: dict[str, Any] = {
        "fingerprint": interval.fingerprint,
        "unit_id": interval.unit_id,
        "unit_name": unit_names.get(interval.unit_id, interval.unit_id),
        "rule_id": interval.rule_id,
        "severity": interval.severity,
        "labels": interval.labels,
        "started_at": interval.started_at.isoformat(),
        "ended_at": ended.isoformat() if ended else None,
        "duration_seconds": round((ended - interval.started_at).total_seconds()) if ended else None,
        "stages": interval.stages,
        "resolution": interval.resolution,
        "late_days": interval.late_days,
        "resolved_by": interval.resolved_by,
        "resolved_reported_at": interval.resolved_reported_at.isoformat() if interval.resolved_reported_at else None,
        "summary": interval.summary,
    }
    if tz is not None:
        view["display"] = {
            "started": datetime_text(interval.started_at, tz),
            "ended": datetime_text(ended, tz) if ended else "",
            "resolution": RESOLUTION_TEXT.get(interval.resolution or "", interval.resolution or ""),
        }
    return view


def _csv_row(view: Mapping[str, Any]) -> dict[str, Any]:
    stages = " → ".join(
        f"{s['stage']} {s['at']}" + (f" ({s['reported_by']})" if s.get("reported_by") else "") for s in view["stages"]
    )
    labels = view["labels"]
    return {
        **view,
        "task_id": labels.get("task_id", ""),
        "indicator": labels.get("indicator", ""),
        "stages": stages,
        "ended_at": view["ended_at"] or "",
        "duration_seconds": "" if view["duration_seconds"] is None else view["duration_seconds"],
        "resolution": view["resolution"] or "",
        "late_days": "" if view["late_days"] is None else view["late_days"],
        "resolved_by": view["resolved_by"] or "",
    }


def history(worker: WorkerView, query: Mapping[str, str], scope: Scope = OPEN) -> Answer:
    """``GET /api/v1/alerts/history?unit_id=&rule_id=&severity=&from=&to=&format=csv&limit=&offset=``.

    A viewer who sees some units (``scope``) is shown theirs only, and refused another's ``unit_id``.
    """
    where = alert_filter(worker.pack, query)
    if isinstance(where, Answer):
        return where
    if where.unit_id is not None and (refused := unit_refusal(scope, where.unit_id)) is not None:
        return refused
    tz = worker.pack.tz
    bounds: dict[str, datetime | None] = {}
    for name in ("from", "to"):
        text = query.get(name) or None
        try:
            bounds[name] = parse_instant(text, tz).astimezone(UTC) if text else None  # year 1 at +07:00 overflows
        except (ValueError, OverflowError):
            message = f"{name} must be {BOUND_FORMS}"
            return json_answer({"error": message}, status=400)
    start, end = bounds["from"], bounds["to"]
    if start is not None and end is not None and start >= end:
        return json_answer({"error": "from must be before to"}, status=400)
    csv = query.get("format") == "csv"
    window = page_window(query, default=PAGE_MAX if csv else PAGE_DEFAULT)
    if isinstance(window, Answer):
        return window
    limit, offset = window
    index, problem = worker.alerts_topic.history_state()
    if index is None or problem is not None:
        return unavailable(problem or "no alert history index")
    count, intervals = index.intervals(where, start, end, limit, offset, units=scope.units)
    names = worker.pack.unit_names
    views = [interval_view(i, names, None if csv else tz) for i in intervals]
    if csv:
        headers = {"Content-Disposition": attachment("alert-history.csv"), "X-Total-Count": str(count)}
        if offset + limit < count:
            headers["X-Next-Offset"] = str(offset + limit)
        return Answer(200, csv_bytes(HISTORY_COLUMNS, [_csv_row(v) for v in views]), "text/csv; charset=utf-8", headers)
    acted = worker.operators.current  # what the operators did about each interval (none for a half-read topic)
    for view, interval in zip(views, intervals, strict=True):
        if acted:
            taken = worker.operators.book.actions(interval.fingerprint, interval.started_at)
            view["actions"] = [action.as_json() for action in taken]
        sent = worker.deliveries.of_interval(interval.fingerprint, interval.started_at)
        view["deliveries"] = [delivery.model_dump(mode="json") for delivery in sent]
    window_text = {
        "from": start.astimezone(tz).isoformat() if start else None,
        "to": end.astimezone(tz).isoformat() if end else None,
    }
    return json_answer({**window_text, **page_of(views, count, limit, offset, "intervals")})
