"""The pure rule engine: (pack, state, input, now) → (state, transitions).

Nothing here reads the clock or does I/O. The worker, the rule test runner
and replay all call the same three functions: ``apply_event`` when an event
arrives, ``advance`` when time passes, ``seed`` for a rostered unit that has
never reported. The Vietnamese texts of an alert (its summary, its resolution)
come from ``rules.vietnamese``.

State is evaluated per *subject*: a task (``task:ID``), an indicator
(``indicator:NAME``; ``indicator:*`` for "no indicator ever"), or the unit as
a whole (``unit:``). Each subject remembers when its rules next change
(``UnitState.wakeups``), so time costs nothing until something is due.
Unit-wide rules (roster deadlines, aggregates, unit staleness) are marked due
when a unit's data changes and evaluated on the next ``advance``: once per
tick however many events arrived, instead of a scan of the unit's tasks per
event.

The module is over the house limit of 400 lines (about 650) on purpose, for
now: the entry points share private steps (assess, reconcile, settle,
resolve) that keep a unit's alerts and wake-ups consistent, and a split would
make those steps public between modules. Splitting it (assessment apart from
reconciliation) is a change of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from events.models import Event, TaskStatus, TaskStatusEvent
from rules.language import (
    OVERDUE,
    AggregateIndex,
    AggregateRule,
    CompiledRule,
    Condition,
    DeadlineRule,
    RosterIndex,
    RulePack,
    StalenessRule,
    ThresholdRule,
    deadline_stage,
    evaluate_aggregate,
    evaluate_staleness,
    evaluate_threshold,
    is_waiting,
    next_aggregate_change,
    next_deadline_boundary,
    next_staleness_change,
    next_target_change,
    task_due,
)
from rules.state import (
    NO_INDICATOR,
    UNIT,
    AlertState,
    AlertTransition,
    Change,
    IndicatorState,
    Subject,
    SubjectKey,
    SubjectKind,
    TaskState,
    UnitState,
    has_seen,
    identity_fingerprint,
    indicator_key,
    task_key,
)
from rules.vietnamese import days_overdue, render_summary, resolution_summary, subject_fields

__all__ = [
    "Outcome",
    "Result",
    "advance",
    "apply_event",
    "catch_up_instant",
    "is_overdue",
    "is_unit_overdue",
    "overdue_by_kind",
    "restate",
    "seed",
]


class Outcome(StrEnum):
    """What became of an input event."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class Result:
    """The engine's answer: the unit's new state, the alert transitions it caused, what changed."""

    state: UnitState
    transitions: tuple[AlertTransition, ...]
    outcome: Outcome = Outcome.ACCEPTED
    changed: frozenset[Change] = frozenset()


def apply_event(pack: RulePack, state: UnitState | None, event: Event, now: datetime) -> Result:
    """Fold one event into a unit's state and evaluate the rules about what it changed.

    ``state`` is updated in place (its tasks, indicators, alerts, pending
    breaches, wake-ups and newest event time), because copying a unit with a
    hundred thousand tracked items on every event would cost more than
    everything else together; the result holds the same object (a new one
    for a unit never seen before).

    An event whose (source, event_id) is among the latest few that updated
    its task or indicator is a duplicate; one older than what the state holds
    is stale. Neither changes anything.

    Args:
        pack: The rules.
        state: The unit's state, or ``None`` for a unit never seen before.
        event: A validated event of this unit.
        now: The current instant (aware).
    """
    current = state if state is not None else UnitState(unit_id=event.unit_id, pack_version=pack.version)
    subjects: list[SubjectKey]
    if isinstance(event, TaskStatusEvent):
        task = current.tasks.get(event.task_id)
        if (outcome := _refused(task, event)) is not None:
            return Result(current, (), outcome)
        current.put_task(TaskState.from_event(event, task), task)  # in place: see above
        subjects = [task_key(event.task_id)]
        reassigned = task is not None and task.kind != event.kind
    else:
        report = current.indicators.get(event.indicator)
        if (outcome := _refused(report, event)) is not None:
            return Result(current, (), outcome)
        current.indicators[event.indicator] = IndicatorState.from_event(event, report)
        subjects = [indicator_key(event.indicator)]
        reassigned = False
        if _awaits_first_indicator(pack, current):
            subjects.append(NO_INDICATOR)
    # The unit's own fields hold its newest event and its tasks counted by kind and status: written with every event.
    changed: set[Change] = {Change.subject(subjects[0]), Change.unit()}
    if state is None and NO_INDICATOR not in subjects and pack.indicator_rules_for("*"):
        # A unit's first contact: "has it ever reported an indicator?" is asked on the next advance, not
        # now: its first indicator may be the very next record (of the other topic), and an alert that
        # fires and resolves within a tick says nothing but noise.
        current.set_wakeup(NO_INDICATOR, now.timestamp())  # a new unit: no wake-up of its own yet
        changed.add(Change.subject(NO_INDICATOR))
    last = current.last_event_at
    if last is None or last < event.occurred_at:
        _note_last_event(current, event)
    if current.pack_version != pack.version:
        subjects = sorted({*subjects, *_every_subject(pack, current)})
        reassigned = True
    # Unit-wide rules look at every task: evaluate them once on the next advance, not per event.
    unit_due = now.timestamp() if pack.unit_rules else None
    return _reconcile(
        pack, current, subjects, now, event=event, reassigned=reassigned, unit_due=unit_due, changed=changed
    )


def catch_up_instant(pack: RulePack, state: UnitState | None, event: Event, now: datetime) -> datetime:
    """The instant at which to judge an event read from a backlog: what the broker held before the worker read it.

    Its own time, as if it had been handled when it was published: a task
    reported in progress and the completion that followed it are judged in
    their order, so one completed on time never fires "overdue" first, and a
    report followed by a newer one is never called stale in between. Never
    after ``now``. Judged at ``now`` when what the event is about already
    holds an alert (firing, or pending a rule's ``for``), or the unit was last
    judged under another pack: what was judged at an instant is never judged
    again at an earlier one (an alert fired is not taken back in the past).
    Costs a lookup per rule of the event's subject.

    Args:
        pack: The rules.
        state: The unit's state before the event, ``None`` for a unit never seen before.
        event: The event.
        now: The current instant.
    """
    at = min(event.occurred_at, now)
    if state is None:
        return at
    if state.pack_version != pack.version or state.pending:
        return now
    if isinstance(event, TaskStatusEvent):
        subject = task_key(event.task_id)
        known = state.tasks.get(event.task_id)
        kinds = {event.kind, known.kind} if known is not None else {event.kind}
        rules = [compiled for kind in kinds for compiled in pack.task_rules_for(kind)]
        watched = [(compiled, subject) for compiled in rules]
    else:
        watched = [(compiled, indicator_key(event.indicator)) for compiled in pack.indicator_rules_for(event.indicator)]
        watched += [(compiled, NO_INDICATOR) for compiled in pack.indicator_rules_for("*")]
    return now if any(_holds_alert(state, compiled, subject) for compiled, subject in watched) else at


def _holds_alert(state: UnitState, compiled: CompiledRule, subject: SubjectKey) -> bool:
    """Whether the unit holds the rule's alert about ``subject`` (looked up by fingerprint, not scanned)."""
    return _fingerprint(compiled, state.unit_id, subject) in state.alerts


def _awaits_first_indicator(pack: RulePack, state: UnitState) -> bool:
    """Whether "has the unit ever reported an indicator?" is pending or firing."""
    if NO_INDICATOR in state.wakeups:
        return True
    return any(_holds_alert(state, c, NO_INDICATOR) for c in pack.indicator_rules_for("*"))


def _refused(known: TaskState | IndicatorState | None, event: Event) -> Outcome | None:
    """Why an event about a known task or indicator changes nothing, if it does not."""
    if known is None:
        return None
    if has_seen(known, event):
        return Outcome.DUPLICATE
    if event.occurred_at < known.occurred_at:
        return Outcome.STALE
    return None


def _note_last_event(state: UnitState, event: Event) -> None:
    """The unit's newest event is ``event`` (in place, like the maps: see ``apply_event``)."""
    state.last_event_at = event.occurred_at


def advance(pack: RulePack, state: UnitState, now: datetime) -> Result:
    """Let time pass to ``now``: evaluate every subject whose rules were due to change."""
    instant = now.timestamp()
    reassigned = state.pack_version != pack.version
    due = _every_subject(pack, state) if reassigned else state.due(instant)
    if not due:
        return Result(state, ())
    return _reconcile(pack, state, due, now, reassigned=reassigned)


def _every_subject(pack: RulePack, state: UnitState) -> list[SubjectKey]:
    """All subjects of a unit: what to re-evaluate when the rules themselves changed."""
    subjects = {task_key(t) for t in state.tasks} | {indicator_key(i) for i in state.indicators}
    subjects |= {UNIT, NO_INDICATOR} | {a.subject for a in state.alerts.values()}
    return sorted(subjects)


def seed(pack: RulePack, unit_id: str, now: datetime) -> Result:
    """The state of a rostered unit that has never reported, evaluated at ``now``."""
    state = UnitState(unit_id=unit_id, pack_version=pack.version)
    return _reconcile(pack, state, [UNIT, NO_INDICATOR], now, changed={Change.unit()})


def restate(pack: RulePack, alert: AlertState) -> AlertTransition:
    """The firing record of an alert the state holds (to re-publish what the topic lost)."""
    compiled = pack.by_id(alert.rule_id)
    return _record(
        alert,
        annotations={**alert.annotations, "reconciled": "true"},
        value=None,
        provenance=_Provenance([]),
        rule_version=pack.rule_version(compiled),
    )


def is_overdue(alert: AlertState) -> bool:
    """Whether an alert says a task is past its due instant."""
    return alert.stage == OVERDUE and Subject.parse(alert.subject).kind is SubjectKind.TASK


def is_unit_overdue(alert: AlertState) -> bool:
    """Whether an alert says a unit is past a deadline of its own (a roster deadline: the 20/7 inspection plan)."""
    return alert.stage == OVERDUE and Subject.parse(alert.subject).kind is SubjectKind.UNIT


def overdue_by_kind(state: UnitState, kind_of_rule: Callable[[str], str]) -> Counter[str]:
    """What of a unit is overdue, by task kind: what ``/metrics`` and ``/api/v1/units`` count.

    Each task with an overdue alert once, however many rules say so; each of
    the unit's own missed deadlines (a roster deadline) once, under the kind
    ``kind_of_rule`` gives its rule (``RulePack.selected_kind``). Costs O(the unit's alerts).
    """
    counts: Counter[str] = Counter()
    tasks = {Subject.parse(alert.subject).name for alert in state.alerts.values() if is_overdue(alert)}
    for task_id in tasks:
        task = state.tasks.get(task_id)
        if task is not None:
            counts[task.kind] += 1
    for alert in state.alerts.values():
        if is_unit_overdue(alert):
            counts[kind_of_rule(alert.rule_id)] += 1
    return counts


# --- evaluation of one rule for one subject -------------------------------------------------------

Assessment = tuple[Condition | None, datetime | None]
_NOTHING: Assessment = (None, None)


def _candidates(pack: RulePack, state: UnitState, subject: SubjectKey) -> tuple[CompiledRule, ...]:
    kind, name = Subject.parse(subject)
    if kind is SubjectKind.TASK:
        task = state.tasks.get(name)
        return pack.task_rules_for(task.kind) if task is not None else ()
    if kind is SubjectKind.INDICATOR:
        return pack.indicator_rules_for(name)
    return pack.unit_rules


def _assess(compiled: CompiledRule, state: UnitState, subject: SubjectKey, now: datetime, firing: bool) -> Assessment:
    unit = state.unit_id
    if not compiled.covers(unit, now):  # not on the roster, or not existing now (merged into another, not yet formed)
        return None, compiled.life_change(unit, now)
    ending = compiled.life_change(unit, now) if compiled.lifetimes else None
    if ending is not None:  # the unit ceases to exist (a merger): its alerts end then
        condition, wake = _assess_covered(compiled, state, subject, now, firing)
        return condition, ending if wake is None else min(wake, ending)
    return _assess_covered(compiled, state, subject, now, firing)


def _assess_covered(
    compiled: CompiledRule, state: UnitState, subject: SubjectKey, now: datetime, firing: bool
) -> Assessment:
    rule, unit = compiled.rule, state.unit_id
    kind, name = Subject.parse(subject)
    if kind is SubjectKind.TASK:
        return _assess_task(compiled, state.tasks.get(name), unit, now)
    if kind is SubjectKind.INDICATOR:
        return _assess_indicator(compiled, state, name, now, firing)
    if isinstance(rule, DeadlineRule):
        assert rule.due is not None
        if _roster(compiled, state).first() is not None:
            return _NOTHING
        return deadline_stage(rule, rule.due, compiled.calendar, now), next_deadline_boundary(
            rule, rule.due, compiled.calendar, now
        )
    if isinstance(rule, StalenessRule):
        since = (compiled.lifetimes.get(unit) or (None, None))[0]  # a unit formed after the rule's start
        last = state.last_event_at
        return evaluate_staleness(rule, last, now, since), next_staleness_change(rule, last, now, since)
    if isinstance(rule, AggregateRule):
        index = state.task_index(
            _index_key(compiled), lambda: AggregateIndex(rule, compiled.tz, unit), rule.kinds_selected()
        )
        return evaluate_aggregate(rule, index, now, firing), next_aggregate_change(rule, index, now)
    return _NOTHING


def _roster(compiled: CompiledRule, state: UnitState) -> RosterIndex:
    """The tasks of the unit that satisfy a roster deadline, kept as tasks change."""
    rule = compiled.rule
    assert isinstance(rule, DeadlineRule)
    return state.task_index(_index_key(compiled), lambda: RosterIndex(rule, state.unit_id), rule.kinds_selected())


def _index_key(compiled: CompiledRule) -> str:
    """The key of a rule's view of a unit's tasks: a changed rule (another version) gets a view of its own."""
    return f"{compiled.rule.id}@{compiled.version}"


def _assess_task(compiled: CompiledRule, task: TaskState | None, unit: str, now: datetime) -> Assessment:
    rule = compiled.rule
    if task is None or not isinstance(rule, DeadlineRule) or not rule.selects(task.fields(unit), task.labels):
        return _NOTHING
    due = task_due(rule, task, compiled.calendar)
    if due is None or not is_waiting(rule, task):
        return _NOTHING
    return deadline_stage(rule, due, compiled.calendar, now), next_deadline_boundary(rule, due, compiled.calendar, now)


def _assess_indicator(compiled: CompiledRule, state: UnitState, name: str, now: datetime, firing: bool) -> Assessment:
    rule, unit = compiled.rule, state.unit_id
    if name == "*":  # a rostered unit that has never reported any indicator
        if not isinstance(rule, StalenessRule) or rule.indicator != "*" or state.indicators:
            return _NOTHING
        return evaluate_staleness(rule, None, now), next_staleness_change(rule, None, now)
    report = state.indicators.get(name)
    if not compiled.judges_indicator(unit, name, report):
        return _NOTHING
    if isinstance(rule, ThresholdRule):
        if report is None:
            return _NOTHING
        return evaluate_threshold(rule, report, firing, now), next_target_change(rule, now)
    if isinstance(rule, StalenessRule):
        last = report.occurred_at if report is not None else None
        return evaluate_staleness(rule, last, now), next_staleness_change(rule, last, now)
    return _NOTHING


# --- reconciliation: desired conditions against firing alerts ----------------------------------------


#: The label that names a subject in an alert's identity, by the subject key's kind (the unit itself: none).
_IDENTITY_LABEL = {SubjectKind.TASK.value: "task_id", SubjectKind.INDICATOR.value: "indicator"}


def _identity(compiled: CompiledRule, unit_id: str, subject: SubjectKey) -> dict[str, str]:
    kind, _, name = subject.partition(":")
    identity = {"alertname": compiled.rule.id, "unit_id": unit_id}
    label = _IDENTITY_LABEL.get(kind)
    if label is not None:
        identity[label] = name
    return identity


def _fingerprint(compiled: CompiledRule, unit_id: str, subject: SubjectKey) -> str:
    """``fingerprint(_identity(compiled, unit_id, subject))``, without the mapping."""
    kind, _, name = subject.partition(":")
    label = _IDENTITY_LABEL.get(kind)
    return identity_fingerprint(compiled.rule.id, unit_id, label, name if label is not None else "")


class _Draft:
    """A unit state being reconciled: changes go to its maps in place, each noted in ``changed``.

    ``changed`` is what the store writes; the transitions made are gathered in ``transitions``.
    """

    def __init__(self, state: UnitState, changed: set[Change]) -> None:
        self.state = state
        self.transitions: list[AlertTransition] = []
        self.changed = changed

    def put_alert(self, fp: str, alert: AlertState | None) -> None:
        if alert is None:
            self.state.alerts.pop(fp, None)
        else:
            self.state.alerts[fp] = alert
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
        return Result(state, tuple(self.transitions), changed=frozenset(self.changed))


def _reconcile(
    pack: RulePack,
    state: UnitState,
    subjects: Iterable[SubjectKey],
    now: datetime,
    event: Event | None = None,
    *,
    reassigned: bool = False,
    unit_due: float | None = None,
    changed: set[Change] | None = None,
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
    """
    draft = _Draft(state, changed if changed is not None else set())
    if unit_due is not None:
        known = state.wakeups.get(UNIT)
        draft.put_wakeup(UNIT, unit_due if known is None else min(known, unit_due))
    for subject in subjects:
        candidates = _candidates(pack, state, subject)
        stragglers: list[str] = []
        if reassigned:
            seen = {c.rule.id for c in candidates}
            stragglers = [a.rule_id for a in state.alerts.values() if a.subject == subject and a.rule_id not in seen]
        wakeup: datetime | None = None
        for compiled in (*candidates, *(r for r in map(pack.by_id, stragglers) if r is not None)):
            change = _settle(pack, draft, compiled, subject, now, event)
            if change is not None and (wakeup is None or change < wakeup):
                wakeup = change
        for rule_id in stragglers:
            if pack.by_id(rule_id) is None:
                _resolve_orphans(pack, draft, subject, rule_id, now)
        draft.put_wakeup(subject, wakeup.timestamp() if wakeup is not None else None)
    return draft.finish(pack.version)


def _settle(
    pack: RulePack, draft: _Draft, compiled: CompiledRule, subject: SubjectKey, now: datetime, event: Event | None
) -> datetime | None:
    """Bring one rule's alert for one subject in line with its condition; return when to look again."""
    state = draft.state
    fp = _fingerprint(compiled, state.unit_id, subject)
    existing = draft.state.alerts.get(fp)
    condition, change = _assess(compiled, state, subject, now, firing=existing is not None)
    rule = compiled.rule
    if isinstance(rule, ThresholdRule) and rule.for_.total_seconds() > 0 and existing is None:
        condition = _hold_for(draft, rule, fp, condition)
    elif condition is None:
        draft.put_pending(fp, None)
    if condition is None:
        if existing is not None:
            draft.put_alert(fp, None)
            draft.transitions.append(_resolved(pack, compiled, state, subject, existing, now, event))
        return change
    if existing is not None and (existing.stage, existing.step) == (condition.stage, condition.step):
        return change
    fields = _template_fields(pack, compiled, state, subject, condition, now)
    alert = AlertState(
        fingerprint=fp,
        rule_id=rule.id,
        stage=condition.stage,
        step=condition.step,
        severity=condition.severity,
        labels={**rule.labels, **_identity(compiled, state.unit_id, subject), "severity": condition.severity},
        starts_at=existing.starts_at if existing is not None else condition.since,
        subject=subject,
        summary=render_summary(rule, condition.stage, fields),
        details=dict(condition.details),
    )
    draft.put_alert(fp, alert)
    draft.transitions.append(_firing(pack, compiled, state, subject, alert, condition))
    return change


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


def _template_fields(
    pack: RulePack, compiled: CompiledRule, state: UnitState, subject: SubjectKey, condition: Condition, now: datetime
) -> dict[str, str]:
    return {
        **subject_fields(compiled, state, subject, condition, now, pack.indicator_bounds),
        "unit_name": pack.unit_name(state.unit_id),
    }


@dataclass(frozen=True, slots=True)
class _Provenance:
    """The report a transition rests on: its event ids, who sent it and when (nothing, for a unit never heard of)."""

    event_ids: list[str]
    reported_by: str | None = None
    reported_at: datetime | None = None
    reported_as: str | None = None


def _provenance(
    state: UnitState, subject: SubjectKey, event: Event | None = None, report: TaskState | None = None
) -> _Provenance:
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
        return _Provenance([item.event_id], item.source, item.occurred_at, item.unit_code or None)
    if event is not None:
        return _Provenance([event.event_id], event.source, event.occurred_at, event.unit_code)
    return _Provenance([])


def _record(
    alert: AlertState,
    *,
    annotations: dict[str, str],
    value: float | None,
    provenance: _Provenance,
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


def _firing(
    pack: RulePack,
    compiled: CompiledRule,
    state: UnitState,
    subject: SubjectKey,
    alert: AlertState,
    condition: Condition,
) -> AlertTransition:
    return _record(
        alert,
        annotations=alert.annotations,  # the alert was built from this condition: its details and step
        value=condition.value,
        provenance=_provenance(state, subject),
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
        assert rule.due is not None
        done = _roster(compiled, state).first()
        if done is None:
            return _Ending("no_longer_due", now)
        late = done.occurred_at >= rule.due
        return _Ending("completed_late" if late else "completed", done.occurred_at, done, rule.due)
    task = state.tasks.get(name)
    if task is None:
        return _Ending("no_longer_due", now)
    due = task_due(rule, task, compiled.calendar)
    if task.status is TaskStatus.CANCELLED:
        return _Ending("cancelled", task.occurred_at, task, due)
    if task.status in rule.expect_status:
        late = due is not None and task.occurred_at >= due
        return _Ending("completed_late" if late else "completed", task.occurred_at, task, due)
    return _Ending("no_longer_due", now)


def _resolved(
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
    summary = resolution_summary(
        compiled, pack.unit_name(state.unit_id), ending.task, ending.resolution, ending.due, ending.at
    )
    annotations = {"summary": summary or alert.summary, "resolution": ending.resolution}
    if ending.resolution == "completed_late":
        annotations["late"] = "true"
        if ending.due is not None:
            annotations["late_days"] = str(days_overdue(compiled, ending.due, ending.at))
    kind, name = Subject.parse(subject)
    report = state.indicators.get(name) if kind is SubjectKind.INDICATOR else None
    return _record(
        alert,
        annotations=annotations,
        value=report.value if report is not None else None,
        provenance=_provenance(state, subject, event, ending.task),
        rule_version=pack.rule_version(compiled),
        ends_at=max(ending.at, alert.starts_at),
    )


def _resolve_orphans(pack: RulePack, draft: _Draft, subject: SubjectKey, rule_id: str, now: datetime) -> None:
    """Alerts of a rule that left the pack resolve instead of firing forever."""
    for fp, alert in list(draft.state.alerts.items()):
        if alert.subject != subject or alert.rule_id != rule_id:
            continue
        draft.put_alert(fp, None)
        draft.transitions.append(
            _record(
                alert,
                annotations={"summary": alert.summary, "resolution": "rule_removed"},
                value=None,
                provenance=_provenance(draft.state, subject),
                rule_version=pack.rule_version(None),
                ends_at=max(now, alert.starts_at),
            )
        )
