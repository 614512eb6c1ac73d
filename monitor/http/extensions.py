"""``POST /api/v1/units/{unit_id}/extensions``: a viewer who may grants one of its units a new deadline.

The extension is recorded as an ``ExtensionEvent`` on the unit's partition of
the events topic, sealed with the cluster credential (``events.grants``), so
that the worker owning the unit applies it in order with the unit's events:
the task's due instant (or the unit's, under a roster deadline) moves, and
its alerts follow. What this worker can check is checked here: the viewer,
the unit, the roster rule. That the unit holds the task is the owner's to
say: an extension of a task it does not hold goes to the dead-letter topic
with the reason.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from events.grants import GRANT_HEADER, grant_seal
from events.models import EXTENSION_SOURCE, EventKind, ExtensionEvent
from monitor.actions import ExtensionRequest
from monitor.http.answers import Answer, json_answer, parsed_body
from monitor.http.protocol import WorkerView
from monitor.http.viewers import actor_refusal
from monitor.kafka.batches import OutboundRecord
from monitor.viewers import Scope
from rules.language import is_roster_deadline
from rules.state import Extension
from rules.units import Refused, place

__all__ = ["MAX_EXTENSION_BYTES", "extension_record", "extension_recorded", "new_extension"]

#: The largest request body an extension may come in.
MAX_EXTENSION_BYTES = 8_192

_EXPECTED = '{"task_id": "…", "due": "2024-08-15", "reference": "125/QĐ-BCĐ06", "note": "…"} (or "rule_id" for a roster deadline)'


def new_extension(
    worker: WorkerView, scope: Scope, unit_id: str, body: bytes, new_id: str | None = None
) -> ExtensionEvent | Answer:
    """The extension a viewer grants ``unit_id``, or the answer that refuses it.

    Args:
        worker: The worker asked.
        scope: Who asks (``viewers.who_reads``).
        unit_id: The unit, as the path names it.
        body: The request's body (``ExtensionRequest`` as JSON).
        new_id: The extension's id (a new UUID by default).
    """
    refused = actor_refusal(worker, scope, unit_id)
    if refused is not None:
        return refused
    if not scope.extends:
        message = (
            f"viewer '{scope.viewer}' may not grant extensions: a deadline is extended by the working group's decision, "
            "recorded by a viewer the viewers file lets ('extends: true')"
        )
        return json_answer({"error": message}, status=403)
    if worker.settings.grant_key is None:
        message = (
            "this worker cannot seal an extension: MONITOR_CLUSTER_TOKEN is unset (the workers' shared credential)"
        )
        return json_answer({"error": message}, status=403)
    request = parsed_body(ExtensionRequest, body, MAX_EXTENSION_BYTES, "an extension", expected=_EXPECTED)
    if isinstance(request, Answer):
        return request
    now = worker.now()
    event = ExtensionEvent(
        event_id=new_id or uuid.uuid4().hex,
        source=EXTENSION_SOURCE,
        unit_id=unit_id,
        occurred_at=now,
        task_id=request.task_id,
        rule_id=request.rule_id,
        due=request.due,
        reference=request.reference,
        granted_by=scope.viewer,
        granted_by_name=scope.name,
        note=request.note,
    )
    return _placed(worker, scope, event, now)


def _placed(worker: WorkerView, scope: Scope, event: ExtensionEvent, now: datetime) -> ExtensionEvent | Answer:
    """The extension on the unit the registry places it on (a former code: its successor), if it may be granted."""
    pack = worker.pack
    if len(pack.units):
        placed = place(event, pack.units)
        if isinstance(placed, Refused):
            return json_answer({"error": placed.reason}, status=404)
        unit_id = placed.event.unit_id
        if unit_id != event.unit_id:  # the unit it is placed on, without the code it came with: that is what is sealed
            if (refused := actor_refusal(worker, scope, unit_id)) is not None:
                return refused
            event = event.model_copy(update={"unit_id": unit_id})
    if event.rule_id is not None:
        compiled = pack.by_id(event.rule_id)
        if compiled is None or not is_roster_deadline(compiled.rule):
            message = f"rule {event.rule_id!r} is no roster deadline of the rules in force: give task_id for a task"
            return json_answer({"error": message}, status=404)
        if not compiled.covers(event.unit_id, now):
            message = f"unit {event.unit_id} is not on the roster of rule {event.rule_id!r}"
            return json_answer({"error": message}, status=409)
    return event


def extension_record(worker: WorkerView, event: ExtensionEvent) -> OutboundRecord:
    """The record that carries ``event`` to its unit's partition: a structured CloudEvent, sealed."""
    key = worker.settings.grant_key
    assert key is not None, "new_extension refuses to grant without a key"
    envelope = {
        "specversion": "1.0",
        "type": EventKind.EXTENSION.value,
        "id": event.event_id,
        "source": event.source,
        "subject": event.unit_id,
        "datacontenttype": "application/json",
        "data": event.model_dump(mode="json", exclude_none=True),
    }
    value = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = (("content-type", b"application/cloudevents+json"), (GRANT_HEADER, grant_seal(key, value)))
    return OutboundRecord(worker.topics.for_event(event), event.unit_id.encode("utf-8"), value, headers)


def extension_recorded(event: ExtensionEvent) -> Answer:
    """The answer to an extension recorded: 202, with what was recorded and what happens next."""
    subject = f"task {event.task_id!r}" if event.task_id is not None else f"the roster deadline {event.rule_id!r}"
    body = {
        "extension": {
            "id": event.event_id,
            "unit_id": event.unit_id,
            "task_id": event.task_id,
            "rule_id": event.rule_id,
            **Extension.from_event(event).as_json(),  # as the report and the overdue list show it
        },
        "note": f"recorded: the worker that holds {event.unit_id} moves the due instant of {subject} and its alerts "
        f"follow; an extension of a task {event.unit_id} has not reported goes to the dead-letter topic, with why",
    }
    return json_answer(body, status=202)
