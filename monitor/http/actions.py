"""``/api/v1/alerts/{fingerprint}/actions``: a viewer acts on an alert, and every action taken on it.

Acting needs a viewer who may see the alert's unit (``viewers.actor_refusal``).
An acknowledgement, an owner or taking an acknowledgement back is for an
alert that fires; a note may also be added to one that has ended (its last
firing interval), for the review meeting.
"""

from __future__ import annotations

import uuid
from typing import Any

from monitor.actions import ActionKind, ActionRequest, AlertAction
from monitor.http.answers import Answer, json_answer, parsed_body, unavailable
from monitor.http.protocol import WorkerView
from monitor.http.shown import shown_alert
from monitor.http.viewers import actor_refusal, unit_refusal
from monitor.viewers import Scope
from rules.state import AlertTransition

__all__ = ["MAX_ACTION_BYTES", "action_taken", "alert_actions", "content_refusal", "new_action"]

#: The largest request body an action may come in.
MAX_ACTION_BYTES = 16_384


_EXPECTED = (
    '{"action": "acknowledge", "note": "…"} | {"action": "unacknowledge"} | {"action": "assign", "owner": "…"} '
    '| {"action": "note", "note": "…"}'
)


def content_refusal(content_type: str | None) -> Answer | None:
    """The 415 for a body that is not said to be JSON, else ``None``.

    A form on another site cannot send ``application/json`` without the browser asking first (CORS), which this
    worker never allows: with the session cookie's ``SameSite=Strict``, a page elsewhere cannot act as a viewer.
    """
    if (content_type or "").split(";")[0].strip().lower() == "application/json":
        return None
    return json_answer({"error": "send the action as JSON: Content-Type: application/json"}, status=415)


def _alert(worker: WorkerView, fingerprint: str) -> AlertTransition | Answer:
    if not worker.alerts_topic.current:
        return unavailable("this worker is still reading the alerts topic")
    alert = worker.alerts_topic.last_record(fingerprint)
    if alert is None:
        return json_answer({"error": f"no alert has fingerprint {fingerprint[:100]!r}"}, status=404)
    return alert


def new_action(
    worker: WorkerView, scope: Scope, fingerprint: str, body: bytes, new_id: str | None = None
) -> AlertAction | Answer:
    """The action a viewer asks for on the alert ``fingerprint``, or the answer that refuses it.

    Args:
        worker: The worker asked.
        scope: Who asks (``viewers.who_reads``).
        fingerprint: The alert's fingerprint.
        body: The request's body (``ActionRequest`` as JSON).
        new_id: The action's id (a new UUID by default).
    """
    alert = _alert(worker, fingerprint)
    if isinstance(alert, Answer):
        return alert
    refused = actor_refusal(worker, scope, alert.unit_id)
    if refused is not None:
        return refused
    request = parsed_body(ActionRequest, body, MAX_ACTION_BYTES, "an action", expected=_EXPECTED)
    if isinstance(request, Answer):
        return request
    if alert.status != "firing" and request.action is not ActionKind.NOTE:
        ended = alert.ends_at.isoformat() if alert.ends_at is not None else "?"
        return json_answer(
            {
                "error": f"the alert ended at {ended}: it can only be given a note ({request.action.value} is for one "
                "that fires)"
            },
            status=409,
        )
    return AlertAction(
        id=new_id or uuid.uuid4().hex,
        action=request.action,
        fingerprint=alert.fingerprint,
        starts_at=alert.starts_at,
        unit_id=alert.unit_id,
        stage=alert.stage,
        severity=alert.severity,
        by=scope.viewer,
        by_name=scope.name,
        user=scope.user,
        at=worker.now(),
        owner=request.owner,
        note=request.note,
    )


def action_taken(worker: WorkerView, action: AlertAction, read_back: bool) -> Answer:
    """The answer to an action published: it, and the alert as it now stands (201; 202 when not read back yet)."""
    body: dict[str, Any] = {"action": action.as_json()}
    alert = worker.alerts_topic.last_record(action.fingerprint)
    if alert is not None:
        body["alert"] = shown_alert(alert, worker.pack, worker.now(), worker.operators.book)
    if not read_back:
        body["note"] = "published; this worker has not read it back yet, so the alert may not show it for a moment"
    return json_answer(body, status=201 if read_back else 202)


def alert_actions(worker: WorkerView, scope: Scope, fingerprint: str) -> Answer:
    """``GET``: every action taken on the alert, each firing interval's, in the order they were taken."""
    alert = _alert(worker, fingerprint)
    if isinstance(alert, Answer):
        return alert
    if (refused := unit_refusal(scope, alert.unit_id)) is not None:
        return refused
    if not worker.operators.current:
        return unavailable("this worker is still reading the actions topic")
    standing = worker.operators.book.standing(alert.fingerprint, alert.starts_at, alert.stage, alert.severity)
    return json_answer(
        {
            "fingerprint": alert.fingerprint,
            "status": alert.status,
            "starts_at": alert.starts_at.isoformat(),
            "standing": standing.as_json(),
            "actions": [action.as_json() for action in worker.operators.book.of_alert(alert.fingerprint)],
        }
    )
