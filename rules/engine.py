"""The pure rule engine: (pack, state, input, now) → (state, transitions).

Nothing here reads the clock or does I/O. The worker, the rule test runner
and replay all call these two functions: ``apply_event`` when an event
arrives and ``advance`` when time passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from events.models import Event, TaskStatus, TaskStatusEvent
from rules.alerts import AlertTransition, fingerprint
from rules.base import Condition
from rules.deadline import OVERDUE, DeadlineRule, due_instant, evaluate_deadline, next_deadline_change
from rules.messages import SubjectFacts, summary_for
from rules.pack import CompiledRule, RulePack
from rules.state import AlertState, IndicatorState, TaskState, UnitState
from rules.threshold import ThresholdRule, evaluate_threshold

__all__ = ["RECENT_EVENTS_KEPT", "Outcome", "Result", "advance", "apply_event", "is_overdue"]

#: How many (source, event_id) keys a unit remembers for dedup.
RECENT_EVENTS_KEPT = 256


class Outcome(StrEnum):
    """What became of an input event."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class Result:
    """The engine's answer: the unit's new state and the alert transitions it caused."""

    state: UnitState
    transitions: tuple[AlertTransition, ...]
    outcome: Outcome = Outcome.ACCEPTED


# A subject is what one alert is about: ("task", task_id) or ("indicator", name).
Subject = tuple[str, str]


def apply_event(pack: RulePack, state: UnitState | None, event: Event, now: datetime) -> Result:
    """Fold one event into a unit's state and evaluate the rules it touches.

    Args:
        pack: The rules.
        state: The unit's state, or ``None`` for a unit never seen before.
        event: A validated event of this unit.
        now: The current instant (aware).

    """
    current = state if state is not None else UnitState(unit_id=event.unit_id)
    key = event.dedup_key
    if key in current.recent_events:
        return Result(current, (), Outcome.DUPLICATE)
    recent = (*current.recent_events[-(RECENT_EVENTS_KEPT - 1) :], key)
    subject: Subject
    if isinstance(event, TaskStatusEvent):
        known = current.tasks.get(event.task_id)
        if known is not None and event.occurred_at < known.occurred_at:
            return Result(current, (), Outcome.STALE)
        task = TaskState.from_event(event)
        current = current.model_copy(update={"tasks": {**current.tasks, task.task_id: task}, "recent_events": recent})
        subject = ("task", task.task_id)
    else:
        seen = current.indicators.get(event.indicator)
        if seen is not None and event.occurred_at < seen.occurred_at:
            return Result(current, (), Outcome.STALE)
        report = IndicatorState.from_event(event)
        current = current.model_copy(
            update={"indicators": {**current.indicators, report.indicator: report}, "recent_events": recent}
        )
        subject = ("indicator", report.indicator)
    new_state, transitions = _reconcile(pack, current, [subject], now, resolved_at=max(now, event.occurred_at))
    return Result(_with_wakeup(pack, new_state, now), transitions)


def advance(pack: RulePack, state: UnitState, now: datetime) -> Result:
    """Let time pass to ``now``: deadlines that passed fire, nothing else changes."""
    subjects: list[Subject] = [("task", task_id) for task_id in state.tasks]
    new_state, transitions = _reconcile(pack, state, subjects, now, resolved_at=now)
    return Result(_with_wakeup(pack, new_state, now), transitions)


def _with_wakeup(pack: RulePack, state: UnitState, now: datetime) -> UnitState:
    upcoming = (
        next_deadline_change(compiled.rule, task, compiled.tz, now)
        for task in state.tasks.values()
        for compiled in pack.deadlines
        if isinstance(compiled.rule, DeadlineRule) and compiled.rule.selects(_task_fields(task), task.labels)
    )
    wakeup = min((at for at in upcoming if at is not None), default=None)
    return state if wakeup == state.next_wakeup else state.model_copy(update={"next_wakeup": wakeup})


def _task_fields(task: TaskState) -> dict[str, str]:
    return {"kind": task.kind, "task_id": task.task_id, "status": task.status.value}


def _identity(compiled: CompiledRule, unit_id: str, subject: Subject) -> dict[str, str]:
    kind, name = subject
    return {"alertname": compiled.rule.id, "unit_id": unit_id, ("task_id" if kind == "task" else kind): name}


def _desired(
    compiled: CompiledRule, state: UnitState, subject: Subject, now: datetime, firing: bool
) -> Condition | None:
    rule = compiled.rule
    kind, name = subject
    if kind == "task":
        task = state.tasks.get(name)
        if task is None or not isinstance(rule, DeadlineRule):
            return None
        if not rule.selects({**_task_fields(task), "unit_id": state.unit_id}, task.labels):
            return None
        return evaluate_deadline(rule, task, compiled.tz, now)
    report = state.indicators.get(name)
    if report is None or not isinstance(rule, ThresholdRule) or not rule.applies_to(name):
        return None
    if not rule.selects({"indicator": name, "unit_id": state.unit_id}, report.labels):
        return None
    return evaluate_threshold(rule, report, firing)


def _rules_for(pack: RulePack, subject: Subject) -> tuple[CompiledRule, ...]:
    return pack.deadlines if subject[0] == "task" else pack.thresholds


def _reconcile(
    pack: RulePack, state: UnitState, subjects: Iterable[Subject], now: datetime, *, resolved_at: datetime
) -> tuple[UnitState, tuple[AlertTransition, ...]]:
    alerts = dict(state.alerts)
    transitions: list[AlertTransition] = []
    for subject in subjects:
        subject_key = f"{subject[0]}:{subject[1]}"
        seen: set[str] = set()
        for compiled in _rules_for(pack, subject):
            identity = _identity(compiled, state.unit_id, subject)
            fp = fingerprint(identity)
            seen.add(fp)
            existing = alerts.get(fp)
            condition = _desired(compiled, state, subject, now, firing=existing is not None)
            if condition is None:
                if existing is not None:
                    del alerts[fp]
                    transitions.append(_resolved(pack, compiled, state, subject, existing, resolved_at))
                continue
            if existing is not None and (existing.stage, existing.step) == (condition.stage, condition.step):
                continue
            starts_at = existing.starts_at if existing is not None else condition.since
            alert = AlertState(
                fingerprint=fp,
                rule_id=compiled.rule.id,
                stage=condition.stage,
                step=condition.step,
                severity=condition.severity,
                labels={**compiled.rule.labels, **identity, "severity": condition.severity},
                starts_at=starts_at,
                subject=subject_key,
            )
            alerts[fp] = alert
            transitions.append(_firing(pack, compiled, state, subject, alert, condition, now))
        # Alerts of rules that left the pack resolve instead of firing forever.
        for fp, orphan in list(alerts.items()):
            if orphan.subject == subject_key and fp not in seen and pack.by_id(orphan.rule_id) is None:
                del alerts[fp]
                transitions.append(_orphan_resolved(state, orphan, resolved_at))
    if not transitions:
        return state, ()
    return state.model_copy(update={"alerts": alerts}), tuple(transitions)


def _facts(pack: RulePack, compiled: CompiledRule, state: UnitState, subject: Subject, now: datetime) -> SubjectFacts:
    kind, name = subject
    task = state.tasks.get(name) if kind == "task" else None
    report = state.indicators.get(name) if kind == "indicator" else None
    due = due_instant(compiled.rule, task, compiled.tz) if task and isinstance(compiled.rule, DeadlineRule) else None
    target = compiled.rule.target if isinstance(compiled.rule, ThresholdRule) else None
    return SubjectFacts(
        unit_id=state.unit_id,
        unit_name=pack.unit_name(state.unit_id),
        task=task,
        report=report,
        due=due,
        target=target,
        tz=compiled.tz,
        now=now,
    )


def _event_ids(state: UnitState, subject: Subject) -> list[str]:
    kind, name = subject
    source = state.tasks.get(name) if kind == "task" else state.indicators.get(name)
    return [source.event_id] if source is not None else []


def _firing(
    pack: RulePack,
    compiled: CompiledRule,
    state: UnitState,
    subject: Subject,
    alert: AlertState,
    condition: Condition,
    now: datetime,
) -> AlertTransition:
    facts = _facts(pack, compiled, state, subject, now)
    annotations = {"summary": summary_for(compiled.rule, alert.stage, alert.severity, facts)}
    if facts.due is not None:
        annotations["due"] = facts.due.isoformat()
    if condition.step is not None:
        annotations["warn_before"] = condition.step
    return AlertTransition(
        fingerprint=alert.fingerprint,
        status="firing",
        stage=alert.stage,
        rule_id=alert.rule_id,
        severity=alert.severity,
        labels=alert.labels,
        annotations=annotations,
        starts_at=alert.starts_at,
        value=condition.value,
        event_ids=_event_ids(state, subject),
        rule_version=compiled.version,
    )


def _resolution(compiled: CompiledRule, task: TaskState | None, due: datetime | None) -> str:
    if task is None or not isinstance(compiled.rule, DeadlineRule):
        return "recovered"
    if task.status is TaskStatus.CANCELLED:
        return "cancelled"
    if task.status in compiled.rule.expect_status:
        return "completed_late" if due is not None and task.occurred_at >= due else "completed"
    return "no_longer_due"


def _resolved(
    pack: RulePack, compiled: CompiledRule, state: UnitState, subject: Subject, alert: AlertState, at: datetime
) -> AlertTransition:
    facts = _facts(pack, compiled, state, subject, at)
    resolution = _resolution(compiled, facts.task, facts.due)
    annotations = {
        "summary": summary_for(compiled.rule, alert.stage, alert.severity, facts),
        "resolution": resolution,
    }
    if resolution == "completed_late":
        annotations["late"] = "true"
    report = facts.report
    return AlertTransition(
        fingerprint=alert.fingerprint,
        status="resolved",
        stage=alert.stage,
        rule_id=alert.rule_id,
        severity=alert.severity,
        labels=alert.labels,
        annotations=annotations,
        starts_at=alert.starts_at,
        ends_at=max(at, alert.starts_at),
        value=report.value if report is not None else None,
        event_ids=_event_ids(state, subject),
        rule_version=compiled.version,
    )


def _orphan_resolved(state: UnitState, alert: AlertState, at: datetime) -> AlertTransition:
    kind, _, name = alert.subject.partition(":")
    return AlertTransition(
        fingerprint=alert.fingerprint,
        status="resolved",
        stage=alert.stage,
        rule_id=alert.rule_id,
        severity=alert.severity,
        labels=alert.labels,
        annotations={"summary": f"rule {alert.rule_id} was removed", "resolution": "rule_removed"},
        starts_at=alert.starts_at,
        ends_at=max(at, alert.starts_at),
        event_ids=_event_ids(state, (kind, name)),
        rule_version="",
    )


def is_overdue(alert: AlertState) -> bool:
    """Whether an alert says a task is past its due instant."""
    return alert.stage == OVERDUE and alert.subject.startswith("task:")
