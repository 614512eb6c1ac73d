"""Reconciliation: a unit's alerts, pending breaches and wake-ups brought in line with its conditions.

For each subject to evaluate, every rule that judges it is assessed
(``rules.engine.assessment``) and its alert settled: fired, stepped to
another stage, resolved, or left as it is; a threshold with a ``for`` holds
its breach as pending until it has lasted that long; an alert that has aged in
its breach stage escalates (``rules.language.escalation``). Alerts of rules that no
longer apply (the subject's kind or the pack changed) settle too, and those
of rules that left the pack resolve. The subject then sleeps until the
earliest instant one of its rules can change (``UnitState.wakeups``).

An alert is found by its fingerprint (``alert_fingerprint``: the rule, the
unit and the subject), never by a scan. Every change is made to the unit's
maps in place and noted, so the store writes only what changed; the records
of the transitions come from ``rules.engine.records``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from events.models import Event, ExtensionEvent
from rules.engine.assessment import assess, candidates
from rules.engine.records import firing, provenance_of, record, resolved, template_fields
from rules.engine.result import Result
from rules.language import OVERDUE, AnyRule, CompiledRule, Condition, DeadlineRule, RulePack, ThresholdRule, escalated
from rules.state import (
    UNIT,
    AlertState,
    AlertTransition,
    Change,
    SubjectKey,
    SubjectKind,
    TaskState,
    UnitState,
    identity_fingerprint,
    task_named,
)
from rules.vietnamese import render_summary

__all__ = ["alert_fingerprint", "reconcile"]

#: The label that names a subject in an alert's identity, by the subject key's kind (the unit itself: none).
_IDENTITY_LABEL = {SubjectKind.TASK.value: "task_id", SubjectKind.INDICATOR.value: "indicator"}


def _identity(compiled: CompiledRule, unit_id: str, subject: SubjectKey) -> dict[str, str]:
    """The labels that tell a rule's alert about ``subject`` apart: the rule, the unit, the task or indicator."""
    kind, _, name = subject.partition(":")
    identity = {"alertname": compiled.rule.id, "unit_id": unit_id}
    label = _IDENTITY_LABEL.get(kind)
    if label is not None:
        identity[label] = name
    return identity


def alert_fingerprint(compiled: CompiledRule, unit_id: str, subject: SubjectKey) -> str:
    """``fingerprint(_identity(compiled, unit_id, subject))``, without the mapping."""
    return _fingerprint(compiled.rule.id, unit_id, subject)


def _fingerprint(rule_id: str, unit_id: str, subject: SubjectKey) -> str:
    """The fingerprint of rule ``rule_id``'s alert about ``subject`` (the rule may have left the pack)."""
    kind, _, name = subject.partition(":")
    label = _IDENTITY_LABEL.get(kind)
    return identity_fingerprint(rule_id, unit_id, label, name if label is not None else "")


class _Draft:
    """A unit state being reconciled: changes go to its maps in place, each noted in ``changed``.

    ``changed`` is what the store writes; the transitions made are gathered in ``transitions``.
    """

    def __init__(self, state: UnitState, changed: set[Change]) -> None:
        self.state = state
        self.transitions: list[AlertTransition] = []
        self.changed = changed

    def put_alert(self, fp: str, alert: AlertState | None) -> None:
        self.state.put_alert(fp, alert)
        self.changed.add(Change.alert(fp))

    def put_pending(self, fp: str, since: datetime | None) -> None:
        pending = self.state.pending
        if since is None:
            if fp in pending:
                del pending[fp]
                self.changed.add(Change.pending(fp))
        elif pending.get(fp) != since:
            pending[fp] = since
            self.changed.add(Change.pending(fp))

    def put_wakeup(self, subject: SubjectKey, at: float | None) -> None:
        if self.state.set_wakeup(subject, at):
            self.changed.add(Change.subject(subject))

    def finish(self, pack_version: str) -> Result:
        state = self.state
        if state.pack_version != pack_version:
            state.pack_version = pack_version
            self.changed.add(Change.unit())
        return Result(state, tuple(self.transitions), changed=self.changed)


def reconcile(
    pack: RulePack,
    state: UnitState,
    subjects: Iterable[SubjectKey],
    now: datetime,
    event: Event | None = None,
    *,
    reassigned: bool = False,
    unit_due: float | None = None,
    changed: set[Change] | None = None,
    settle: bool = True,
) -> Result:
    """Evaluate the rules of each subject.

    Args:
        pack: The rules.
        state: The unit's state.
        subjects: What to evaluate.
        now: The current instant.
        event: The event that caused this, if any.
        reassigned: Rules may have stopped applying to a subject (its kind, or the pack, changed):
            look for its alerts of other rules too.
        unit_due: Mark the unit-wide subject due at this instant (evaluated on the next advance).
        changed: What the caller changed already.
        settle: The unit is evaluated under ``pack`` from now on (its ``pack_version``); ``False`` when only
            some of its subjects were, under a pack it has not moved to yet (its next ``advance`` moves it).
    """
    draft = _Draft(state, changed if changed is not None else set())
    if unit_due is not None:
        known = state.wakeups.get(UNIT)
        if known is None or unit_due < known:  # else already due by then: nothing to write
            draft.put_wakeup(UNIT, unit_due)
    for subject in subjects:
        task = _task(state, subject)  # read once: which rules judge it, what they say, what its alerts keep
        kind = task.kind if task is not None else ""
        judges = candidates(pack, subject, kind)
        stragglers: list[str] = []
        if reassigned and (held := state.alert_rules_of(subject)):  # its alerts of rules that judge it no more
            seen = {c.rule.id for c in judges}
            stragglers = [r for r in held if r not in seen]
            judges = (*judges, *(r for r in map(pack.by_id, stragglers) if r is not None))
        wakeup: datetime | None = None
        for compiled in judges:
            change = _settle(pack, draft, compiled, subject, task, now, event)
            if change is not None and (wakeup is None or change < wakeup):
                wakeup = change
        for rule_id in stragglers:
            if pack.by_id(rule_id) is None:
                _resolve_orphans(pack, draft, subject, rule_id, now)
        draft.put_wakeup(subject, wakeup.timestamp() if wakeup is not None else None)
    return draft.finish(pack.version if settle else state.pack_version)


def _settle(
    pack: RulePack,
    draft: _Draft,
    compiled: CompiledRule,
    subject: SubjectKey,
    task: TaskState | None,
    now: datetime,
    event: Event | None,
) -> datetime | None:
    """Bring one rule's alert for one subject in line with its condition (``task``: the one it names); when to look again."""
    state = draft.state
    # The fingerprint is a hash: made only when an alert is held about the subject, a breach of the unit waits
    # out a ``for``, or the rule has something to say (most rules of most subjects have none of the three). An
    # alert whose fingerprint is this one is about this subject: none is held when the subject holds none.
    held = bool(state.alerts.of(subject))
    fp = alert_fingerprint(compiled, state.unit_id, subject) if held or state.pending else ""
    existing = state.alerts.get(fp) if held else None
    condition, change = assess(compiled, state, subject, now, existing is not None, task)
    if condition is None and existing is None:  # nothing to say, nothing firing (most rules of most subjects)
        if fp:
            draft.put_pending(fp, None)
        return change
    fp = fp or alert_fingerprint(compiled, state.unit_id, subject)
    kind = task.kind if task is not None else ""
    rule = compiled.rule
    if isinstance(rule, ThresholdRule) and rule.for_.total_seconds() > 0 and existing is None:
        condition = _hold_for(draft, rule, fp, condition)
    elif condition is None:
        draft.put_pending(fp, None)
    if condition is None:
        if existing is not None:
            draft.put_alert(fp, None)
            draft.transitions.append(resolved(pack, compiled, state, subject, existing, now, event))
        return change
    if existing is not None and _extended_out_of_breach(existing, condition, event):
        # An extension took the alert out of its breach (overdue, due soon again): the overdue alert ends
        # (``extended``), and the warning before the new due instant is a new alert, from its own start.
        draft.put_alert(fp, None)
        draft.transitions.append(resolved(pack, compiled, state, subject, existing, now, event))
        existing = None
    if isinstance(rule, DeadlineRule | ThresholdRule) and rule.escalate:
        condition, step_at = escalated(
            rule.escalate, condition, _breach_began(rule, existing, condition), now, compiled.calendar
        )
        if step_at is not None and (change is None or step_at < change):
            change = step_at
    if (
        existing is not None
        and (existing.stage, existing.step) == (condition.stage, condition.step)
        and not _due_moved(rule, existing, condition)
    ):
        if existing.kind != kind:  # the task changed kind under a rule of both: counted under its new kind
            draft.put_alert(fp, msgspec.structs.replace(existing, kind=kind))
        return change
    fields = template_fields(pack, compiled, state, subject, condition, now)
    alert = AlertState(
        fingerprint=fp,
        rule_id=rule.id,
        stage=condition.stage,
        step=condition.step,
        severity=condition.severity,
        labels={
            **rule.labels,
            **condition.labels,
            **_identity(compiled, state.unit_id, subject),
            "severity": condition.severity,
        },
        starts_at=existing.starts_at if existing is not None else condition.since,
        subject=subject,
        summary=render_summary(rule, condition.stage, fields),
        details=dict(condition.details),
        kind=kind,
    )
    draft.put_alert(fp, alert)
    draft.transitions.append(firing(pack, compiled, state, subject, alert, condition))
    return change


def _extended_out_of_breach(existing: AlertState, condition: Condition, event: Event | None) -> bool:
    """Whether the extension ``event`` moved an overdue alert back to an earlier stage (due soon)."""
    return isinstance(event, ExtensionEvent) and existing.stage == OVERDUE and condition.stage != OVERDUE


def _breach_began(rule: AnyRule, existing: AlertState | None, condition: Condition) -> datetime:
    """When the alert entered its breach stage: a deadline's due instant; else when it fired in that stage."""
    if isinstance(rule, DeadlineRule) or existing is None or existing.stage != condition.stage:
        return condition.since
    return existing.starts_at


def _due_moved(rule: AnyRule, existing: AlertState, condition: Condition) -> bool:
    """Whether a deadline's alert names another due instant than its task has now (its deadline moved, still missed).

    The alert fires again in the same stage, from the same start, with the new due instant in its summary and
    annotations: a feed that still said the old date would disagree with the unit's overdue list.
    """
    return isinstance(rule, DeadlineRule) and existing.details.get("due") != condition.details.get("due")


def _task(state: UnitState, subject: SubjectKey) -> TaskState | None:
    """The task ``subject`` names (``None`` for another subject, or a task the unit does not hold)."""
    name = task_named(subject)
    return state.tasks.get(name) if name is not None else None


def _hold_for(draft: _Draft, rule: ThresholdRule, fp: str, condition: Condition | None) -> Condition | None:
    """A breach fires only once it has held for the rule's ``for`` (event time)."""
    if condition is None:
        draft.put_pending(fp, None)
        return None
    since = draft.state.pending.get(fp, condition.since)
    if condition.since - since < rule.for_:
        draft.put_pending(fp, since)
        return None
    draft.put_pending(fp, None)
    return Condition(condition.stage, condition.severity, since, condition.value, condition.step, condition.details)


def _resolve_orphans(pack: RulePack, draft: _Draft, subject: SubjectKey, rule_id: str, now: datetime) -> None:
    """The alert of a rule that left the pack resolves instead of firing forever."""
    alerts = draft.state.alerts
    fp = _fingerprint(rule_id, draft.state.unit_id, subject)
    alert = alerts.get(fp)
    if alert is None:  # kept under another fingerprint (never made so here): looked for among the unit's
        fp, alert = next(
            ((f, a) for f, a in alerts.items() if a.subject == subject and a.rule_id == rule_id), ("", None)
        )
    if alert is None:
        return
    draft.put_alert(fp, None)
    draft.transitions.append(
        record(
            alert,
            annotations={"summary": alert.summary, "resolution": "rule_removed"},
            value=None,
            provenance=provenance_of(draft.state, subject),
            rule_version=pack.rule_version(None),
            ends_at=max(now, alert.starts_at),
        )
    )
