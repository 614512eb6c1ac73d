"""What a publisher is told of its events (``/api/v1/publishers/me``), asked with its own token.

Gathered like ``/api/v1/units``: each worker gives its part for the
partitions it owns (the publisher's units there, each with the last report
the publisher made of it, and the events the worker took from the
publisher), and the worker asked adds the refusals, which every worker
reads from the dead-letter topic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.http.answers import Answer, json_answer, query_param
from monitor.http.ingest import IngestAnswer, identify
from monitor.http.protocol import WorkerView
from monitor.kafka.records import unit_partition
from monitor.metrics import UNREGISTERED
from rules.state import UnitState
from rules.vietnamese import REFUSAL_TEXT, datetime_text

__all__ = ["decode_part", "feedback_answer", "local_part", "local_part_answer", "refusal_answer", "who_asks"]


def who_asks(worker: WorkerView, authorization: str | None) -> str | Answer:
    """The publisher whose token the request carries, or the answer that refuses it (404 in open mode)."""
    admission = worker.admission
    if admission is None:
        return json_answer(
            {"error": "no publisher registry is in force (open mode): there are no publishers to answer for"},
            status=404,
        )
    who = identify(admission, authorization)
    if isinstance(who, IngestAnswer):
        if who.status == 403:
            worker.metrics.publisher_refusals.labels(UNREGISTERED, "wrong_token").inc()
        return refusal_answer(who)
    return who


def refusal_answer(refused: IngestAnswer) -> Answer:
    """A missing or wrong token's answer (a 401 says how to send one)."""
    challenge = {"WWW-Authenticate": "Bearer"} if refused.status == 401 else None
    return json_answer(refused.body, status=refused.status, headers=challenge)


def _last_report(state: UnitState, publisher: str) -> datetime | None:
    """When ``publisher`` last reported a task or an indicator of the unit (the state keeps each one's latest)."""
    instants = [t.occurred_at for t in state.tasks.values() if t.source == publisher]
    instants += [i.occurred_at for i in state.indicators.values() if i.source == publisher]
    return max(instants, default=None)


def local_part(worker: WorkerView, publisher: str, partitions: set[int]) -> dict[str, Any]:
    """This worker's part: the publisher's units in ``partitions`` it holds, and the events it took from it lately."""
    admission = worker.admission
    allowed = admission.units_of(publisher) if admission is not None else frozenset()
    units = []
    for state in worker.owned_states():
        if state.unit_id in allowed and unit_partition(state.unit_id, worker.settings.partitions) in partitions:
            last = _last_report(state, publisher)
            units.append({"unit_id": state.unit_id, "last_report_at": last.isoformat() if last else None})
    return {
        "units": units,
        "accepted": worker.tally.last_day(publisher, worker.now()),
        "counted_since": worker.tally.started.isoformat(),
    }


def local_part_answer(worker: WorkerView, query: Mapping[str, str]) -> Answer:
    """``/api/v1/internal/publisher?publisher=…&partitions=…``: another worker gathering a publisher's feedback."""
    publisher = query_param(query, "publisher")
    try:
        partitions = {int(p) for p in (query.get("partitions") or "").split(",") if p}
    except ValueError:
        return json_answer({"error": "partitions must be whole numbers, comma-separated"}, status=400)
    if not publisher:
        return json_answer({"error": "which publisher: ?publisher=ID"}, status=400)
    return json_answer(local_part(worker, publisher, partitions))


def feedback_answer(worker: WorkerView, publisher: str, parts: Iterable[Mapping[str, Any]]) -> Answer:
    """The publisher's feedback from every worker's part."""
    admission = worker.admission
    assert admission is not None
    registered = admission.publisher(publisher)
    now = worker.now()
    parts = list(parts)
    reported = {u["unit_id"]: u["last_report_at"] for part in parts for u in part["units"]}
    refused = worker.refusals.last_day(publisher, now)
    pack = worker.pack
    since = max((str(part["counted_since"]) for part in parts), default=None)
    body: dict[str, Any] = {
        "publisher": publisher,
        "name": registered.name if registered is not None else None,
        "registry": admission.version,
        "may_report": registered.reports if registered is not None else "",
        "last_day": {
            "accepted": sum(int(part["accepted"]) for part in parts),
            "accepted_counted_since": since,
            "refused": sum(refused.values()),
            "refused_by_cause": refused,
        },
        "refusals": [
            {
                **r.as_json(),
                "display": {"at": datetime_text(r.at, pack.tz), "cause": REFUSAL_TEXT.get(r.cause, r.cause)},
            }
            for r in worker.refusals.recent(publisher)
        ],
        "units": [
            {
                "unit_id": unit,
                "unit_name": pack.unit_name(unit),
                "last_report_at": reported.get(unit),
                "display": {"last_report": _instant_text(reported.get(unit), pack.tz)},
            }
            for unit in sorted(admission.units_of(publisher))
        ],
    }
    body["display"] = {
        "accepted_counted_since": _instant_text(since, pack.tz),
        "refused_by_cause": {cause: REFUSAL_TEXT.get(cause, cause) for cause in refused},
    }
    return json_answer(body)


def _instant_text(iso: str | None, tz: ZoneInfo) -> str | None:
    """An ISO instant as the console shows it (``03/12/2026 09:00``), or ``None``."""
    return datetime_text(datetime.fromisoformat(iso), tz) if iso else None


def decode_part(body: bytes) -> dict[str, Any]:
    """Another worker's part, from its answer."""
    part: dict[str, Any] = json.loads(body)
    return part
