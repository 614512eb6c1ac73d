"""The alert records: what the alerts topic carries of a transition, and its Vietnamese texts.

A transition's record (``record``) is an alert's identity, stage and
severity with the annotations of the moment, the value that caused it and
the report it rests on (``Provenance``: the event ids, who sent it and
when). A firing record (``firing``) carries the alert as it was built; a
resolved one (``resolved``) says how the alert ended (completed, completed
late and by how many days, cancelled, recovered, no longer rostered, the
unit ended…). The texts come from ``rules.vietnamese``; ``template_fields``
are the fields a rule's summary template is filled with.

Nothing here decides whether an alert fires: reconciliation
(``rules.engine.reconciliation``) does, and asks for the records.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from events.models import Event, ExtensionEvent, TaskStatus
from rules.engine.assessment import roster
from rules.language import CompiledRule, Condition, DeadlineRule, RulePack, roster_due, task_due
from rules.state import (
    AlertState,
    AlertTransition,
    Extension,
    Subject,
    SubjectKey,
    SubjectKind,
    TaskState,
    UnitState,
)
from rules.vietnamese import days_overdue, extension_summary, resolution_summary, subject_fields

__all__ = ["Provenance", "firing", "provenance_of", "record", "resolved", "template_fields"]


def template_fields(
    pack: RulePack, compiled: CompiledRule, state: UnitState, subject: SubjectKey, condition: Condition, now: datetime
) -> dict[str, str]:
    """The fields a rule's summary template is filled with for ``subject`` (with the unit's name)."""
    return {
        **subject_fields(compiled, state, subject, condition, now, pack.indicator_bounds),
        "unit_name": pack.unit_name(state.unit_id),
    }


@dataclass(frozen=True, slots=True)
class Provenance:
    """The report a transition rests on: its event ids, who sent it and when (nothing, for a unit never heard of)."""

    event_ids: list[str]
    reported_by: str | None = None
    reported_at: datetime | None = None
    reported_as: str | None = None


def provenance_of(
    state: UnitState, subject: SubjectKey, event: Event | None = None, report: TaskState | None = None
) -> Provenance:
    """Whose report a transition of ``subject`` rests on.

    The item's last report (``report``: for a roster deadline, the task that met it), else the event being applied.
    """
    kind, name = Subject.parse(subject)
    item = (
        report
        if report is not None
        else state.tasks.get(name)
        if kind is SubjectKind.TASK
        else state.indicators.get(name)
        if kind is SubjectKind.INDICATOR
        else None
    )
    if item is not None:
        return Provenance([item.event_id], item.source, item.occurred_at, item.unit_code or None)
    if event is not None:
        return Provenance([event.event_id], event.source, event.occurred_at, event.unit_code)
    return Provenance([])


def record(
    alert: AlertState,
    *,
    annotations: dict[str, str],
    value: float | None,
    provenance: Provenance,
    rule_version: str,
    ends_at: datetime | None = None,
) -> AlertTransition:
    """The alerts-topic record of a transition of ``alert`` (resolved when ``ends_at`` is given)."""
    return AlertTransition(
        fingerprint=alert.fingerprint,
        status="firing" if ends_at is None else "resolved",
        stage=alert.stage,
        rule_id=alert.rule_id,
        severity=alert.severity,
        labels=alert.labels,
        annotations=annotations,
        starts_at=alert.starts_at,
        ends_at=ends_at,
        value=value,
        event_ids=provenance.event_ids,
        rule_version=rule_version,
        reported_by=provenance.reported_by,
        reported_at=provenance.reported_at,
        reported_as=provenance.reported_as,
    )


def firing(
    pack: RulePack,
    compiled: CompiledRule,
    state: UnitState,
    subject: SubjectKey,
    alert: AlertState,
    condition: Condition,
) -> AlertTransition:
    """The firing record of ``alert``, just built from ``condition``."""
    return record(
        alert,
        annotations=alert.annotations,  # the alert was built from this condition: its details and step
        value=condition.value,
        provenance=provenance_of(state, subject),
        rule_version=pack.rule_version(compiled),
    )


@dataclass(frozen=True, slots=True)
class _Ending:
    """How an alert ended (completed, completed late, cancelled…), when, and for a deadline what met it and its due."""

    resolution: str
    at: datetime
    task: TaskState | None = None
    due: datetime | None = None


def _resolution(compiled: CompiledRule, state: UnitState, subject: SubjectKey, now: datetime) -> _Ending:
    """How an alert ended (completed, completed late, cancelled, no longer rostered…) and when."""
    rule = compiled.rule
    if not compiled.covers(state.unit_id):  # the unit left the rule's roster (a new pack)
        return _Ending("no_longer_rostered", now)
    if not compiled.covers(state.unit_id, now):  # the unit no longer exists: merged into another
        ended = (compiled.lifetimes.get(state.unit_id) or (None, None))[1]
        return _Ending("unit_ended", ended if ended is not None and ended <= now else now)
    if not isinstance(rule, DeadlineRule):
        return _Ending("recovered", now)
    kind, name = Subject.parse(subject)
    if kind is SubjectKind.UNIT:
        unit_due = roster_due(rule, state.extensions.get(rule.id), compiled.calendar)
        done = roster(compiled, state).first()
        if done is None:
            return _Ending("no_longer_due", now, due=unit_due)
        late = done.occurred_at >= unit_due
        return _Ending("completed_late" if late else "completed", done.occurred_at, done, unit_due)
    task = state.tasks.get(name)
    if task is None:
        return _Ending("no_longer_due", now)
    due = task_due(rule, task, compiled.calendar)
    if task.status is TaskStatus.CANCELLED:
        return _Ending("cancelled", task.occurred_at, task, due)
    if task.status in rule.expect_status:
        late = due is not None and task.occurred_at >= due
        return _Ending("completed_late" if late else "completed", task.occurred_at, task, due)
    return _Ending("no_longer_due", now, task, due)


def _extension_of(state: UnitState, subject: SubjectKey, event: Event | None) -> Extension | None:
    """The extension ``event`` put in force on ``subject``, when ``event`` is one (else ``None``)."""
    if not isinstance(event, ExtensionEvent):
        return None
    kind, name = Subject.parse(subject)
    if kind is SubjectKind.TASK:
        task = state.tasks.get(name)
        return task.extension if task is not None else None
    return state.extensions.get(event.rule_id) if kind is SubjectKind.UNIT and event.rule_id is not None else None


def resolved(
    pack: RulePack,
    compiled: CompiledRule,
    state: UnitState,
    subject: SubjectKey,
    alert: AlertState,
    now: datetime,
    event: Event | None,
) -> AlertTransition:
    """The resolved record of ``alert``: a deadline's says how it ended, and a late completion how late."""
    ending = _resolution(compiled, state, subject, now)
    unit_name = pack.unit_name(state.unit_id)
    extension = _extension_of(state, subject, event)
    provenance = provenance_of(state, subject, event, ending.task)
    if extension is not None and event is not None and ending.resolution == "no_longer_due":
        # The extension moved its due instant on: it ended the alert, and the record rests on it.
        ending = dataclasses.replace(ending, resolution="extended")
        summary: str | None = extension_summary(compiled, unit_name, ending.task, extension)
        provenance = Provenance([event.event_id], event.source, event.occurred_at)
    else:
        summary = resolution_summary(compiled, unit_name, ending.task, ending.resolution, ending.due, ending.at)
    annotations = {"summary": summary or alert.summary, "resolution": ending.resolution}
    if ending.resolution == "completed_late":
        annotations["late"] = "true"
        if ending.due is not None:
            annotations["late_days"] = str(days_overdue(compiled, ending.due, ending.at))
    if extension is not None and ending.resolution == "extended":
        annotations["extended_to"] = extension.due.isoformat()
        annotations["extension_reference"] = extension.reference
    kind, name = Subject.parse(subject)
    report = state.indicators.get(name) if kind is SubjectKind.INDICATOR else None
    return record(
        alert,
        annotations=annotations,
        value=report.value if report is not None else None,
        provenance=provenance,
        rule_version=pack.rule_version(compiled),
        ends_at=max(ending.at, alert.starts_at),
    )
