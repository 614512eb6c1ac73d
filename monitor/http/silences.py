"""``/api/v1/silences``: viewers silence alerts by unit, rule, severity or label, for a window or every week.

Making or ending a silence needs a viewer (``viewers.actor_refusal``): one
who sees every unit may silence anything; one who sees some units must name
one of them (``matchers.unit_id``). Every viewer sees the silences that may
touch its units: those of its units, and those that name no unit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from monitor.http.answers import Answer, json_answer, parsed_body, unavailable
from monitor.http.protocol import WorkerView
from monitor.http.viewers import actor_refusal
from monitor.silences import Silence, SilenceRequest, Weekly
from monitor.viewers import Scope
from rules.language import WorkCalendar
from rules.vietnamese import SEVERITY_TEXT, date_text, datetime_text, span_text

__all__ = ["MAX_SILENCE_BYTES", "expired_silence", "new_silence", "one_silence", "silence_view", "silences_answer"]

#: The largest request body a silence may come in.
MAX_SILENCE_BYTES = 16_384
_STATES = ("active", "pending", "expired")


#: Each day a weekly schedule may name, as the console says it.
_DAY_TEXT = {
    "mon": "thứ Hai",
    "tue": "thứ Ba",
    "wed": "thứ Tư",
    "thu": "thứ Năm",
    "fri": "thứ Sáu",
    "sat": "thứ Bảy",
    "sun": "Chủ nhật",
    "holiday": "ngày lễ",
}


def silence_view(worker: WorkerView, silence: Silence, now: datetime) -> dict[str, Any]:
    """A silence as the API shows it: what it matches, when, who and why, its state now and its next window."""
    calendar = worker.silences.calendar
    window = silence.next_window(now, calendar)
    body = silence.model_dump(mode="json", exclude_none=True)
    body |= {"who": silence.who, "state": silence.state(now, calendar)}
    body["display"] = {"matches": _matches_text(worker, silence), "schedule": _schedule_text(silence, calendar)}
    if window is not None:
        body["window"] = {"starts_at": window[0].isoformat(), "ends_at": window[1].isoformat()}
        body["display"] |= {
            "from": datetime_text(window[0], calendar.tz),
            "until": datetime_text(window[1], calendar.tz),
        }
    return body


def _matches_text(worker: WorkerView, silence: Silence) -> str:
    """What a silence matches, in words: "Nghệ An (VN-22) · quy tắc task-overdue · mức Nghiêm trọng"."""
    matchers = silence.matchers
    parts = []
    if matchers.unit_id is not None:
        parts.append(f"{worker.pack.unit_name(matchers.unit_id)} ({matchers.unit_id})")
    if matchers.rule_id is not None:
        parts.append(f"quy tắc {matchers.rule_id}")
    if matchers.severity is not None:
        parts.append(f"mức {SEVERITY_TEXT.get(matchers.severity, matchers.severity)}")
    parts += [f"{name}={value}" for name, value in sorted(matchers.labels.items())]
    return " · ".join(parts) or "mọi cảnh báo"


def _schedule_text(silence: Silence, calendar: WorkCalendar) -> str:
    """When, in words: "một lần", or "hằng tuần: Chủ nhật, từ 22:00, trong 4 giờ, đến 31/12/2026"."""
    schedule = silence.schedule
    if not isinstance(schedule, Weekly):
        return "một lần"
    days = ", ".join(_DAY_TEXT[day] for day in schedule.days)
    until = f", đến {date_text(schedule.until, calendar.tz)}" if schedule.until is not None else ""
    return f"hằng tuần: {days}, từ {schedule.start:%H:%M}, trong {span_text(schedule.duration)}{until}"


def _sees(scope: Scope, silence: Silence) -> bool:
    unit = silence.matchers.unit_id
    return unit is None or scope.admits(unit)


def silences_answer(worker: WorkerView, scope: Scope, query: Mapping[str, str]) -> Answer:
    """``GET``: the silences that may touch the viewer's units, newest first; ``?state=`` one state only."""
    if not worker.silences.current:
        return unavailable("this worker is still reading the silences topic")
    state = query.get("state")
    if state is not None and state not in _STATES:
        return json_answer({"error": f"state must be one of {', '.join(_STATES)}", "parameter": "state"}, status=400)
    now = worker.now()
    shown = [silence_view(worker, s, now) for s in worker.silences.book.all() if _sees(scope, s)]
    if state is not None:
        shown = [s for s in shown if s["state"] == state]
    return json_answer({"silences": shown, "count": len(shown)})


def one_silence(worker: WorkerView, scope: Scope, silence_id: str) -> Answer:
    """``GET`` one silence, to a viewer it may touch the units of."""
    silence = worker.silences.book.get(silence_id)
    if silence is None or not _sees(scope, silence):
        return json_answer({"error": f"no silence has id {silence_id[:64]!r}"}, status=404)
    return json_answer(silence_view(worker, silence, worker.now()))


def _may_silence(worker: WorkerView, scope: Scope, unit_id: str | None) -> Answer | None:
    if scope.identified and scope.units is not None and unit_id is None:
        return json_answer(
            {"error": f"viewer '{scope.viewer}' sees some units only: name one of them (matchers.unit_id)"},
            status=403,
        )
    return actor_refusal(worker, scope, unit_id or "")


def new_silence(worker: WorkerView, scope: Scope, body: bytes) -> Silence | Answer:
    """``POST``: the silence a viewer asks for, or the answer that refuses it."""
    request = parsed_body(SilenceRequest, body, MAX_SILENCE_BYTES, "a silence")
    if isinstance(request, Answer):
        return request
    refused = _may_silence(worker, scope, request.matchers.unit_id)
    if refused is not None:
        return refused
    return Silence(
        id=uuid.uuid4().hex,
        matchers=request.matchers,
        schedule=request.schedule,
        reason=request.reason,
        created_by=scope.viewer,
        created_by_name=scope.name,
        user=scope.user,
        created_at=worker.now(),
    )


def expired_silence(worker: WorkerView, scope: Scope, silence_id: str) -> Silence | Answer:
    """``DELETE``: the silence ended now, or the answer that refuses it."""
    silence = worker.silences.book.get(silence_id)
    if silence is None or not _sees(scope, silence):
        return json_answer({"error": f"no silence has id {silence_id[:64]!r}"}, status=404)
    refused = _may_silence(worker, scope, silence.matchers.unit_id)
    if refused is not None:
        return refused
    now = worker.now()
    if silence.state(now, worker.silences.calendar) == "expired":
        return json_answer({"error": "the silence has ended already"}, status=409)
    return silence.model_copy(update={"expired_at": now, "expired_by": scope.viewer})
